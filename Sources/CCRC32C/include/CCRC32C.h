#ifndef RESERVOIR_CCRC32C_H
#define RESERVOIR_CCRC32C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) of `length` bytes, continuing from `crc`.
/// Start with 0; the pre- and post-inversion are done inside. Uses carry-less multiplication from
/// 256 bytes on and the SSE4.2 instruction below when the processor has them (checked once at load
/// time), else the portable slice-by-8 table path.
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
/// The folding path (carry-less multiplication, VPCLMULQDQ with AVX2; the hardware path below
/// 256 bytes). Only call it when `reservoir_crc32c_folding_available()` returns 1.
uint32_t reservoir_crc32c_folding(uint32_t crc, const void *data, size_t length);
/// 1 when this processor has what the folding path uses (and `reservoir_crc32c` uses it from
/// 256 bytes on), else 0.
int reservoir_crc32c_folding_available(void);

#ifdef __cplusplus
}
#endif

#endif
