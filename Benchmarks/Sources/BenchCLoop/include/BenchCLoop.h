#ifndef BENCH_C_LOOP_H
#define BENCH_C_LOOP_H

#include <stddef.h>
#include <stdint.h>

/* One record as a C program holds it: pointers to its key and value (NULL for null), lengths,
   and the timestamp in epoch milliseconds. */
typedef struct {
    const uint8_t *key;
    const uint8_t *value;
    int32_t key_length;
    int32_t value_length;
    int64_t timestamp;
} bench_record;

/* Lays out `count` records as one uncompressed Kafka record batch v2 (base offset 0, leader
   epoch 0, no producer, no headers) at `out`, everything but the CRC field, which the caller
   fills; returns the batch's size. `out` has room for the batch. The baseline that
   Reservoir's encoder is measured against: the same bytes, written by a plain C loop. */
size_t bench_layout_batch(const bench_record *records, size_t count, uint8_t *out);

#endif
