/* What librdkafka's rdkafka_performance example takes from librdkafka's internal rd.h and
 * rdtime.h, which Debian's librdkafka-dev does not ship: a microsecond clock, two macros, the
 * headers they need. Benchmarks/kafka.sh builds the example with this file standing in for both. */
#pragma once
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
typedef int64_t rd_ts_t;
#define rd_snprintf snprintf
#define RD_MAX(a, b) ((a) > (b) ? (a) : (b))
#define RD_MIN(a, b) ((a) < (b) ? (a) : (b))
static inline rd_ts_t rd_clock(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (rd_ts_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}
