#!/usr/bin/env bash
# `make bench-kafka`: kcat (librdkafka) producing and fetching RECORDS (default 1 M) 100-byte
# records against `reservoir serve` on loopback, beside the library's own append figure
# measured in the same run (Benchmarks' `append` scenario, the builder row), and the broker's fetch
# path alone (Benchmarks/kafka_fetch.py: raw Fetch requests, records not decoded). Prints tables.
set -euo pipefail
cd "$(dirname "$0")/.."
records=${RECORDS:-1000000}
swift build -c release --product reservoir >/dev/null
(cd Benchmarks && swift build -c release >/dev/null)
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
python3 -c "
import sys
line = ('x' * 99 + '\n').encode()
with open('$work/records', 'wb') as f:
    for _ in range($records): f.write(line)
"
.build/release/reservoir serve --dir "$work/store" --listen 127.0.0.1:0 --auto-create-topics > "$work/log" 2>&1 &
server=$!
for _ in $(seq 100); do grep -q "listening on" "$work/log" && break; sleep 0.1; done
broker=$(grep -o "listening on [0-9.:]*" "$work/log" | cut -d' ' -f3)
now() { date +%s%N; }
for acks in 1 -1; do
    topic="bench-acks${acks}"
    start=$(now)
    kcat -b "$broker" -t "$topic" -P -l "$work/records" -X acks=$acks -X linger.ms=5 -X batch.num.messages=10000 \
        -X queue.buffering.max.messages=2000000 -X enable.idempotence=false
    produced=$(( ($(now) - start) / 1000000 ))
    echo "produce acks=$acks ${produced}"
done > "$work/times"
start=$(now)
count=$(kcat -b "$broker" -t bench-acks1 -C -e -o beginning -q -f '\n' | wc -l)
fetched=$(( ($(now) - start) / 1000000 ))
[ "$count" = "$records" ] || { echo "fetched $count records, expected $records" >&2; exit 1; }
# The broker's fetch path alone: raw Fetch requests of 1 MiB, records not decoded, the whole
# partition 10 times; the server's CPU time from /proc before and after.
cpu() { awk '{print $14 + $15}' "/proc/$server/stat"; }
ticks=$(getconf CLK_TCK)
before=$(cpu)
read -r raw_bytes raw_seconds < <(python3 Benchmarks/kafka_fetch.py "$broker" bench-acks1 0 10 1048576)
raw_cpu=$(( $(cpu) - before ))
library=$(BENCH_QUICK=1 BENCH_ROUNDS=1 BENCH_WARM=0 Benchmarks/.build/release/ReservoirBenchmarks append | grep "| none | builder |" | awk -F'|' '{print $7}')
rate() { python3 -c "print('%.2f M' % ($records / ($1 / 1000.0) / 1e6))"; }
echo "| path ($records records of 100 bytes, loopback) | records/s |"
echo "|---|---|"
while read -r _ acks ms; do echo "| kcat produce, $acks | $(rate "$ms") |"; done < "$work/times"
echo "| kcat fetch, from the beginning | $(rate "$fetched") |"
echo "| library, RecordBatchBuilder appends, buffered (same run) |$library |"
python3 -c "
gb = $raw_bytes / 1e9
print('')
print('| raw Fetch v4, 1 MiB requests, records not decoded | GB/s | server CPU s per GB |')
print('|---|---|---|')
print('| whole partition 10 times (%.2f GB) | %.2f | %.2f |' % (gb, gb / $raw_seconds, $raw_cpu / $ticks / gb))
"
