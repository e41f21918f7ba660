#ifndef RESERVOIR_BENCH_SQLITE_SHIM_H
#define RESERVOIR_BENCH_SQLITE_SHIM_H
#include <sqlite3.h>
#endif
