#!/usr/bin/env bash
# Builds the libFuzzer targets (with AddressSanitizer) and runs them, seeded from the corpus kept
# in the repository (Tests/Fuzz/corpus/decoders, and the golden vectors for the store target).
#
#   run.sh           `make fuzz`: each target for FUZZ_SECONDS (default 120; DecoderFuzz gets it,
#                    ReservoirFuzz a third of it); new inputs go to .build/corpus-*.
#   run.sh --smoke   `make test`: a fixed number of executions from a fixed seed (FUZZ_RUNS,
#                    default 20000 in memory, 300 on disk), nothing written to the repository.
#
# A crash is written to Tests/Fuzz/.build/artifacts/ and fails the run.
set -euo pipefail
cd "$(dirname "$0")"
mode=${1:-long}
swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -enable-testing
mkdir -p .build/artifacts
vectors=../ReservoirTests/Fixtures
requests=../ReservoirTests/Fixtures/kafka-requests
common=(-max_len=65536 -artifact_prefix=.build/artifacts/ -print_final_stats=1)
if [ "$mode" = "--smoke" ]; then
    scratch=$(mktemp -d)
    trap 'rm -rf "$scratch"' EXIT
    mkdir -p "$scratch/decoders" "$scratch/recovery"
    .build/release/DecoderFuzz "$scratch/decoders" corpus/decoders "${common[@]}" -seed=1 -runs="${FUZZ_RUNS:-20000}"
    .build/release/ReservoirFuzz "$scratch/recovery" "$vectors" "${common[@]}" -seed=1 -runs="${FUZZ_RECOVERY_RUNS:-300}"
    mkdir -p "$scratch/requests"
    .build/release/RequestFuzz "$scratch/requests" "$requests" "${common[@]}" -seed=1 -runs="${FUZZ_RUNS:-20000}"
else
    seconds=${FUZZ_SECONDS:-120}
    mkdir -p .build/corpus-decoders .build/corpus-recovery
    .build/release/DecoderFuzz .build/corpus-decoders corpus/decoders "${common[@]}" -max_total_time="$seconds"
    .build/release/ReservoirFuzz .build/corpus-recovery "$vectors" "${common[@]}" -max_total_time="$((seconds / 3 + 1))"
    mkdir -p .build/corpus-requests
    .build/release/RequestFuzz .build/corpus-requests "$requests" "${common[@]}" -max_total_time="$((seconds / 3 + 1))"
fi
