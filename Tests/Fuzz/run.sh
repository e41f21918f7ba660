#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer target (batch decoder + segment scanner, with AddressSanitizer)
# and runs it for FUZZ_SECONDS (default 120), seeded with the golden vectors. Crashes are written
# to Tests/Fuzz/.build/artifacts/ and fail the run.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${FUZZ_SECONDS:-120}
swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
corpus=.build/corpus
mkdir -p "$corpus" .build/artifacts
cp -n ../ReservoirTests/Fixtures/*.bin "$corpus"/ 2>/dev/null || true
.build/release/ReservoirFuzz "$corpus" -max_total_time="$seconds" -max_len=65536 \
    -artifact_prefix=.build/artifacts/ -print_final_stats=1
