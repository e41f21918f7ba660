#include "CCRC32C.h"

#include <string.h>

#define POLY 0x82F63B78u

static uint32_t table[8][256];
static int hardware = 0;

/* Runs once when the library is loaded, before any Swift code can call in, so the tables are
   immutable afterwards and safe to read from any thread. */
__attribute__((constructor)) static void reservoir_crc32c_init(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
        table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = table[0][n];
        for (int k = 1; k < 8; k++) {
            c = table[0][c & 0xFF] ^ (c >> 8);
            table[k][n] = c;
        }
    }
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    hardware = __builtin_cpu_supports("sse4.2") ? 1 : 0;
#endif
}

uint32_t reservoir_crc32c_portable(uint32_t crc, const void *data, size_t length) {
    const unsigned char *p = (const unsigned char *)data;
    uint32_t c = ~crc;
    while (length > 0 && ((uintptr_t)p & 7) != 0) {
        c = table[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
        length--;
    }
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        /* Little-endian: the low byte of `word` is the first byte of the stream. */
        uint32_t lo = (uint32_t)word ^ c;
        uint32_t hi = (uint32_t)(word >> 32);
        c = table[7][lo & 0xFF] ^ table[6][(lo >> 8) & 0xFF] ^ table[5][(lo >> 16) & 0xFF] ^ table[4][lo >> 24] ^
            table[3][hi & 0xFF] ^ table[2][(hi >> 8) & 0xFF] ^ table[1][(hi >> 16) & 0xFF] ^ table[0][hi >> 24];
        p += 8;
        length -= 8;
    }
    while (length > 0) {
        c = table[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
        length--;
    }
    return ~c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
uint32_t reservoir_crc32c_hardware(uint32_t crc, const void *data, size_t length) {
    const unsigned char *p = (const unsigned char *)data;
    uint64_t c = (uint32_t)~crc;
    while (length > 0 && ((uintptr_t)p & 7) != 0) {
        c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
        length--;
    }
    while (length >= 32) {
        uint64_t w0, w1, w2, w3;
        memcpy(&w0, p, 8);
        memcpy(&w1, p + 8, 8);
        memcpy(&w2, p + 16, 8);
        memcpy(&w3, p + 24, 8);
        c = __builtin_ia32_crc32di(c, w0);
        c = __builtin_ia32_crc32di(c, w1);
        c = __builtin_ia32_crc32di(c, w2);
        c = __builtin_ia32_crc32di(c, w3);
        p += 32;
        length -= 32;
    }
    while (length >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = __builtin_ia32_crc32di(c, w);
        p += 8;
        length -= 8;
    }
    while (length > 0) {
        c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
        length--;
    }
    return ~(uint32_t)c;
}
#else
uint32_t reservoir_crc32c_hardware(uint32_t crc, const void *data, size_t length) {
    return reservoir_crc32c_portable(crc, data, length);
}
#endif

int reservoir_crc32c_hardware_available(void) { return hardware; }

uint32_t reservoir_crc32c(uint32_t crc, const void *data, size_t length) {
    return hardware ? reservoir_crc32c_hardware(crc, data, length) : reservoir_crc32c_portable(crc, data, length);
}
