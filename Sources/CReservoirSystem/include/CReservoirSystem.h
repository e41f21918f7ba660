#ifndef RESERVOIR_CSYSTEM_H
#define RESERVOIR_CSYSTEM_H

#include <stdint.h>

// System calls Swift cannot reach directly (variadic, or behind _GNU_SOURCE): atomic access to
// words of a memory mapping shared between processes, futex waits and wakes on them,
// open-file-description locks that can be tested without being taken, and thread names.
// Swift's atomics live in Swift storage; these work on any aligned word of a shared mapping.

uint64_t reservoir_load_acquire_u64(const uint64_t *word);
void reservoir_store_release_u64(uint64_t *word, uint64_t value);
uint32_t reservoir_load_acquire_u32(const uint32_t *word);
void reservoir_store_release_u32(uint32_t *word, uint32_t value);
/// Adds `value` and returns the previous value (sequentially consistent).
uint32_t reservoir_fetch_add_u32(uint32_t *word, uint32_t value);
uint64_t reservoir_fetch_add_u64(uint64_t *word, uint64_t value);
/// A full fence, for seqlock readers between the data loads and the final sequence load.
void reservoir_fence(void);

/// Waits while `*word == expected`, at most `timeout_ms` milliseconds (shared futex: the word may
/// be in a mapping of another process). Returns 0 when woken or the value differed, -1 with errno.
int reservoir_futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ms);
/// Wakes every waiter on `word`.
int reservoir_futex_wake_all(uint32_t *word);

/// Takes a write lock on byte 0 of `fd` as an open-file-description lock (held until every
/// descriptor of that description closes). Returns 0, or -1 with errno (EAGAIN when held).
int reservoir_ofd_lock(int fd);
/// Releases the lock ``reservoir_ofd_lock`` took.
int reservoir_ofd_unlock(int fd);
/// 1 when some open file description holds a write lock on byte 0 of the file, 0 when none does,
/// -1 with errno. Takes no lock.
int reservoir_ofd_lock_held(int fd);

/// Names the calling thread (at most 15 bytes are kept), for `ps -L` and `top -H`.
void reservoir_set_thread_name(const char *name);

#endif
