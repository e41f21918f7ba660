#include "CReservoirText.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RESERVOIR_TEXT_X86 1
#endif

static const char hex_digits[16] = "0123456789abcdef";

static inline uint8_t *escape_byte(uint8_t byte, uint8_t *out) {
    if (byte >= 0x20 && byte != '"' && byte != '\\') {
        *out = byte;
        return out + 1;
    }
    out[0] = '\\';
    switch (byte) {
    case '"':
    case '\\': out[1] = byte; return out + 2;
    case '\n': out[1] = 'n'; return out + 2;
    case '\r': out[1] = 'r'; return out + 2;
    case '\t': out[1] = 't'; return out + 2;
    default:
        out[1] = 'u';
        out[2] = '0';
        out[3] = '0';
        out[4] = (uint8_t)hex_digits[byte >> 4];
        out[5] = (uint8_t)hex_digits[byte & 15];
        return out + 6;
    }
}

size_t reservoir_json_escape_portable(const uint8_t *text, size_t length, uint8_t *out) {
    uint8_t *end = out;
    for (size_t index = 0; index < length; index++) end = escape_byte(text[index], end);
    return (size_t)(end - out);
}

#ifdef RESERVOIR_TEXT_X86
/* For each set of positions (a bit per byte of eight) that take a backslash, the byte shuffle
   that spreads the eight bytes out: 0x80 (which the shuffle turns into a zero byte, and the
   escape then into a backslash) before each such byte, the byte's index otherwise. Built once
   at load time, before any Swift code can call in; read-only afterwards. */
static _Alignas(16) uint8_t spread[256][16];
static int vectors;

__attribute__((constructor)) static void reservoir_text_init(void) {
    for (unsigned mask = 0; mask < 256; mask++) {
        unsigned position = 0;
        for (unsigned index = 0; index < 8; index++) {
            if (mask & (1u << index)) spread[mask][position++] = 0x80;
            spread[mask][position++] = (uint8_t)index;
        }
        while (position < 16) spread[mask][position++] = 0x80;
    }
    __builtin_cpu_init();
    vectors = __builtin_cpu_supports("ssse3") && __builtin_cpu_supports("popcnt");
}

/* Writes the eight bytes of `bytes` picked by `shuffle` (0x80 lanes become backslashes) as 16
   bytes at `out`; the caller advances by 8 plus the number of backslashes. */
__attribute__((target("ssse3"))) static inline void spread_store(__m128i bytes, __m128i shuffle, uint8_t *out) {
    __m128i backslashes = _mm_and_si128(_mm_cmplt_epi8(shuffle, _mm_setzero_si128()), _mm_set1_epi8('\\'));
    _mm_storeu_si128((__m128i *)out, _mm_or_si128(_mm_shuffle_epi8(bytes, shuffle), backslashes));
}

__attribute__((target("ssse3,popcnt"))) static size_t escape_vectors(const uint8_t *text, size_t length, uint8_t *out) {
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i last_control = _mm_set1_epi8(0x1F);
    const __m128i eight = _mm_set1_epi8(8);
    uint8_t *end = out;
    size_t index = 0;
    /* Every store below writes 16 bytes at `end`: at most 8 past what it counts, within the
       6 × length the caller provides, since 16 input bytes give at most 32 output bytes here. */
    while (length - index >= 16) {
        __m128i bytes = _mm_loadu_si128((const __m128i *)(text + index));
        __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(bytes, last_control), bytes);
        __m128i marked = _mm_or_si128(_mm_cmpeq_epi8(bytes, quote), _mm_cmpeq_epi8(bytes, backslash));
        unsigned mask = (unsigned)_mm_movemask_epi8(_mm_or_si128(marked, control));
        if (mask == 0) {
            _mm_storeu_si128((__m128i *)end, bytes);
            end += 16;
        } else if (_mm_movemask_epi8(control) != 0) {
            for (size_t offset = 0; offset < 16; offset++) end = escape_byte(text[index + offset], end);
        } else {
            unsigned low = mask & 0xFF, high = mask >> 8;
            spread_store(bytes, _mm_load_si128((const __m128i *)spread[low]), end);
            end += 8 + (unsigned)__builtin_popcount(low);
            spread_store(bytes, _mm_add_epi8(_mm_load_si128((const __m128i *)spread[high]), eight), end);
            end += 8 + (unsigned)__builtin_popcount(high);
        }
        index += 16;
    }
    for (; index < length; index++) end = escape_byte(text[index], end);
    return (size_t)(end - out);
}
#endif

int reservoir_is_ascii(const uint8_t *text, size_t length) {
    size_t index = 0;
#ifdef RESERVOIR_TEXT_X86
    /* SSE2 is part of x86-64 itself: no check needed. */
    __m128i high = _mm_setzero_si128();
    for (; length - index >= 16; index += 16)
        high = _mm_or_si128(high, _mm_loadu_si128((const __m128i *)(text + index)));
    if (_mm_movemask_epi8(high) != 0) return 0;
#endif
    uint8_t rest = 0;
    for (; index < length; index++) rest |= text[index];
    return rest < 0x80;
}

static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

static const uint64_t powers_of_ten[20] = {
    1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull, 100000000ull, 1000000000ull,
    10000000000ull, 100000000000ull, 1000000000000ull, 10000000000000ull, 100000000000000ull,
    1000000000000000ull, 10000000000000000ull, 100000000000000000ull, 1000000000000000000ull,
    10000000000000000000ull,
};

static inline void write_pair(uint8_t *out, uint32_t pair) {
    out[0] = (uint8_t)digit_pairs[2 * pair];
    out[1] = (uint8_t)digit_pairs[2 * pair + 1];
}

/* Exactly eight digits of `value` (below 10^8), leading zeros included: four pairs from two
   independent halves, so that the divisions do not wait on each other. */
static inline void write_eight(uint8_t *out, uint32_t value) {
    uint32_t high = value / 10000, low = value % 10000;
    write_pair(out, high / 100);
    write_pair(out + 2, high % 100);
    write_pair(out + 4, low / 100);
    write_pair(out + 6, low % 100);
}

size_t reservoir_decimal(int64_t value, uint8_t *out) {
    size_t sign = 0;
    /* The magnitude of INT64_MIN fits an unsigned 64-bit value. */
    uint64_t magnitude = value < 0 ? 0 - (uint64_t)value : (uint64_t)value;
    if (value < 0) {
        out[0] = '-';
        sign = 1;
    }
    /* The digit count from the bit length: 1233 / 4096 is just above log10(2), so `guess` is
       the count or one more, and the power of ten decides. */
    size_t digits = 1;
    if (magnitude >= 10) {
        unsigned guess = ((unsigned)(64 - __builtin_clzll(magnitude)) * 1233) >> 12;
        digits = guess + 1 - (magnitude < powers_of_ten[guess]);
    }
    uint8_t *end = out + sign + digits;
    /* Eight digits at a time from the end while more than eight are left (a millisecond
       timestamp takes one step), then pairs. */
    while (magnitude >= 100000000) {
        end -= 8;
        write_eight(end, (uint32_t)(magnitude % 100000000));
        magnitude /= 100000000;
    }
    uint32_t rest = (uint32_t)magnitude;
    while (rest >= 100) {
        end -= 2;
        write_pair(end, rest % 100);
        rest /= 100;
    }
    if (rest >= 10) {
        write_pair(end - 2, rest);
    } else {
        end[-1] = (uint8_t)('0' + rest);
    }
    return sign + digits;
}

size_t reservoir_decimal_memoized(reservoir_decimal_memo *memo, int64_t value, uint8_t *out) {
    if (memo->length != 0 && memo->value >= 0 && value >= memo->value && value - memo->value <= 9) {
        /* The old digits are copied out before any of them changes, and each changed digit is
           stored to both: copying them out after byte stores to them would stall the load that
           cannot take its bytes from those stores. */
        memcpy(out, memo->text, sizeof memo->text);
        unsigned carry = (unsigned)(value - memo->value);
        size_t index = memo->length;
        while (carry != 0 && index > 0) {
            index--;
            unsigned digit = (unsigned)(memo->text[index] - '0') + carry;
            uint8_t text = (uint8_t)('0' + digit % 10);
            memo->text[index] = text;
            out[index] = text;
            carry = digit / 10;
        }
        /* A carry out of the first digit (999 + 1) needs one digit more: written afresh below. */
        if (carry == 0) {
            memo->value = value;
            return memo->length;
        }
    }
    memo->length = (uint32_t)reservoir_decimal(value, out);
    memo->value = value;
    memcpy(memo->text, out, memo->length);
    return memo->length;
}

size_t reservoir_json_escape(const uint8_t *text, size_t length, uint8_t *out) {
#ifdef RESERVOIR_TEXT_X86
    if (vectors && length >= 16) return escape_vectors(text, length, out);
#endif
    return reservoir_json_escape_portable(text, length, out);
}
