#ifndef RESERVOIR_CCRC32C_H
#define RESERVOIR_CCRC32C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) of `length` bytes, continuing from `crc`.
/// Start with 0; the pre- and post-inversion are done inside. Uses the SSE4.2 instruction when the
/// processor has it (checked once at load time), else the portable slice-by-8 table path.
uint32_t reservoir_crc32c(uint32_t crc, const void *data, size_t length);

/// The portable slice-by-8 path, always available.
uint32_t reservoir_crc32c_portable(uint32_t crc, const void *data, size_t length);

/// The SSE4.2 path. Only call it when `reservoir_crc32c_hardware_available()` returns 1.
uint32_t reservoir_crc32c_hardware(uint32_t crc, const void *data, size_t length);

/// The checksum of `length` bytes at `data` as `reservoir_crc32c`, after asking the processor to
/// bring the `ahead_length` bytes at `ahead` into its caches (a hint that never faults), so that
/// a checksum taken in steps finds each step's bytes already loaded.
uint32_t reservoir_crc32c_prefetching(uint32_t crc, const void *data, size_t length, const void *ahead, size_t ahead_length);

/// 1 when this processor has the CRC32 instruction the hardware path uses, else 0.
int reservoir_crc32c_hardware_available(void);

#ifdef __cplusplus
}
#endif

#endif
