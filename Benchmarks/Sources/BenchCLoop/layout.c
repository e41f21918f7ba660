#include "BenchCLoop.h"

#include <string.h>

static inline uint8_t *put_varint(uint8_t *p, int64_t value) {
    uint64_t v = ((uint64_t)value << 1) ^ (uint64_t)(value >> 63);
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static inline size_t varint_size(int64_t value) {
    uint64_t v = ((uint64_t)value << 1) ^ (uint64_t)(value >> 63);
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static inline uint8_t *put_be16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return p + 2;
}

static inline uint8_t *put_be32(uint8_t *p, uint32_t v) {
    v = __builtin_bswap32(v);
    memcpy(p, &v, 4);
    return p + 4;
}

static inline uint8_t *put_be64(uint8_t *p, uint64_t v) {
    v = __builtin_bswap64(v);
    memcpy(p, &v, 8);
    return p + 8;
}

size_t bench_layout_batch(const bench_record *records, size_t count, uint8_t *out) {
    enum { header = 61 };
    int64_t base_timestamp = count > 0 ? records[0].timestamp : 0;
    int64_t max_timestamp = INT64_MIN;
    uint8_t *p = out + header;
    for (size_t i = 0; i < count; i++) {
        const bench_record *r = &records[i];
        if (r->timestamp > max_timestamp) max_timestamp = r->timestamp;
        int64_t timestamp_delta = r->timestamp - base_timestamp;
        size_t body = 1 + varint_size(timestamp_delta) + varint_size((int64_t)i)
            + (r->key ? varint_size(r->key_length) + (size_t)r->key_length : 1)
            + (r->value ? varint_size(r->value_length) + (size_t)r->value_length : 1) + 1;
        p = put_varint(p, (int64_t)body);
        *p++ = 0;
        p = put_varint(p, timestamp_delta);
        p = put_varint(p, (int64_t)i);
        if (r->key) {
            p = put_varint(p, r->key_length);
            memcpy(p, r->key, (size_t)r->key_length);
            p += r->key_length;
        } else {
            *p++ = 1;
        }
        if (r->value) {
            p = put_varint(p, r->value_length);
            memcpy(p, r->value, (size_t)r->value_length);
            p += r->value_length;
        } else {
            *p++ = 1;
        }
        *p++ = 0;
    }
    size_t size = (size_t)(p - out);
    uint8_t *h = out;
    h = put_be64(h, 0);                          /* base offset */
    h = put_be32(h, (uint32_t)(size - 12));      /* batch length */
    h = put_be32(h, 0);                          /* partition leader epoch */
    *h++ = 2;                                    /* magic */
    h = put_be32(h, 0);                          /* CRC, filled by the caller */
    h = put_be16(h, 0);                          /* attributes */
    h = put_be32(h, (uint32_t)(count - 1));      /* last offset delta */
    h = put_be64(h, (uint64_t)base_timestamp);
    h = put_be64(h, (uint64_t)max_timestamp);
    h = put_be64(h, UINT64_MAX);                 /* producer id -1 */
    h = put_be16(h, 0xFFFF);                     /* producer epoch -1 */
    h = put_be32(h, UINT32_MAX);                 /* base sequence -1 */
    put_be32(h, (uint32_t)count);
    return size;
}
