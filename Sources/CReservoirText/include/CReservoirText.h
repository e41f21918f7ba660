#ifndef RESERVOIR_CRESERVOIRTEXT_H
#define RESERVOIR_CRESERVOIRTEXT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Writes the `length` bytes at `text` as the inside of a JSON string at `out` and returns how
/// many bytes it wrote: `"` and `\` take a backslash; newline, carriage return and tab are written
/// as `\n`, `\r` and `\t`; other bytes below 0x20 as `\u00xx` (lowercase hex); every other byte as
/// it is (the caller has checked that the text is valid UTF-8). `out` must have room for
/// 6 × `length` bytes; bytes past the returned count may be overwritten within that room.
///
/// Sixteen bytes are tested at once where the processor has SSSE3 and POPCNT (checked once at
/// load time); a run of them with only quotes and backslashes is expanded by one byte shuffle per
/// eight bytes.
size_t reservoir_json_escape(const uint8_t *text, size_t length, uint8_t *out);

/// The same bytes as `reservoir_json_escape`, one byte at a time: the path on processors without
/// SSSE3, and the reference the tests compare it with.
size_t reservoir_json_escape_portable(const uint8_t *text, size_t length, uint8_t *out);

/// 1 when none of the `length` bytes at `text` has its high bit set (the text is ASCII), else 0.
int reservoir_is_ascii(const uint8_t *text, size_t length);

/// Writes `value` in decimal at `out` (room for 20 bytes) and returns how many bytes it wrote:
/// a minus sign when negative, then the digits without leading zeros; two digits at a time.
size_t reservoir_decimal(int64_t value, uint8_t *out);

/// The decimal text of the number last written through it, so that a number a little above
/// it (the next offset, a timestamp a few milliseconds on) is written by adding to its digits.
/// Zero-initialized before first use.
typedef struct reservoir_decimal_memo {
    int64_t value;
    uint32_t length;
    uint8_t text[20];
} reservoir_decimal_memo;

/// Writes `value` in decimal at `out` (room for 20 bytes, all of which may be written) as
/// `reservoir_decimal` does and returns how many bytes the number takes; when `value` is 0 to 9
/// above the memo's non-negative number, by adding the difference to the memo's digits.
size_t reservoir_decimal_memoized(reservoir_decimal_memo *memo, int64_t value, uint8_t *out);

#ifdef __cplusplus
}
#endif

#endif
