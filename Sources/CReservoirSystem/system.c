#define _GNU_SOURCE
#include "CReservoirSystem.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/futex.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

uint64_t reservoir_load_acquire_u64(const uint64_t *word) { return __atomic_load_n(word, __ATOMIC_ACQUIRE); }
void reservoir_store_release_u64(uint64_t *word, uint64_t value) { __atomic_store_n(word, value, __ATOMIC_RELEASE); }
uint32_t reservoir_load_acquire_u32(const uint32_t *word) { return __atomic_load_n(word, __ATOMIC_ACQUIRE); }
void reservoir_store_release_u32(uint32_t *word, uint32_t value) { __atomic_store_n(word, value, __ATOMIC_RELEASE); }
uint32_t reservoir_fetch_add_u32(uint32_t *word, uint32_t value) { return __atomic_fetch_add(word, value, __ATOMIC_SEQ_CST); }
uint64_t reservoir_fetch_add_u64(uint64_t *word, uint64_t value) { return __atomic_fetch_add(word, value, __ATOMIC_SEQ_CST); }
void reservoir_fence(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

#ifdef __linux__
int reservoir_futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ms) {
    struct timespec timeout = {.tv_sec = timeout_ms / 1000, .tv_nsec = (timeout_ms % 1000) * 1000000};
    long result = syscall(SYS_futex, word, FUTEX_WAIT, expected, &timeout, NULL, 0);
    if (result == 0 || errno == EAGAIN || errno == ETIMEDOUT || errno == EINTR) return 0;
    // A futex that cannot be waited on must not turn a waiter's loop into a busy one.
    int error = errno;
    struct timespec step = {.tv_sec = 0, .tv_nsec = 50 * 1000000};
    nanosleep(&step, NULL);
    errno = error;
    return -1;
}

int reservoir_futex_wake_all(uint32_t *word) { return (int)syscall(SYS_futex, word, FUTEX_WAKE, 0x7fffffff, NULL, NULL, 0); }
#else
// Without futexes (Darwin), a waiter sleeps in short steps until the word changes or time is up.
int reservoir_futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ms) {
    struct timespec step = {.tv_sec = 0, .tv_nsec = 5 * 1000000};
    for (int64_t waited = 0; waited < timeout_ms && __atomic_load_n(word, __ATOMIC_ACQUIRE) == expected; waited += 5) {
        nanosleep(&step, NULL);
    }
    return 0;
}

int reservoir_futex_wake_all(uint32_t *word) { return 0; }
#endif

#ifndef F_OFD_SETLK
// Without open-file-description locks, process-owned locks stand in (a reader in the writer's own
// process then cannot tell that the writer holds it).
#define F_OFD_SETLK F_SETLK
#define F_OFD_GETLK F_GETLK
#endif

// A lock of `type` on the file's first byte.
static struct flock first_byte(short type) {
    struct flock lock;
    memset(&lock, 0, sizeof lock);
    lock.l_type = type;
    lock.l_whence = SEEK_SET;
    lock.l_start = 0;
    lock.l_len = 1;
    return lock;
}

int reservoir_ofd_lock(int fd) {
    struct flock lock = first_byte(F_WRLCK);
    return fcntl(fd, F_OFD_SETLK, &lock);
}

int reservoir_ofd_unlock(int fd) {
    struct flock lock = first_byte(F_UNLCK);
    return fcntl(fd, F_OFD_SETLK, &lock);
}

int reservoir_ofd_lock_held(int fd) {
    struct flock lock = first_byte(F_WRLCK);
    if (fcntl(fd, F_OFD_GETLK, &lock) != 0) return -1;
    return lock.l_type == F_UNLCK ? 0 : 1;
}

void reservoir_set_thread_name(const char *name) {
#ifdef __linux__
    char truncated[16];
    strncpy(truncated, name, sizeof truncated - 1);
    truncated[sizeof truncated - 1] = 0;
    prctl(PR_SET_NAME, truncated, 0, 0, 0);
#else
    (void)name;
#endif
}
