#ifndef RESERVOIR_BENCH_LMDB_SHIM_H
#define RESERVOIR_BENCH_LMDB_SHIM_H
#include <lmdb.h>
#endif
