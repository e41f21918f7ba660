# Reservoir: `make test` builds and runs the tests, `make demo` runs the peak-traffic benchmark
# on a temporary store (about 70 s; report in reservoir-report/). Both install what a fresh
# Debian machine is missing (pkg-config and the codec libraries: liblz4-dev, zlib1g-dev,
# libzstd-dev, libsnappy-dev; kcat and librdkafka-dev, Kafka clients the protocol tests run).

SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
ORACLE_VENV := .build/oracle-venv

.PHONY: deps test lint format tsan demo bench bench-deps bench-kafka fuzz oracle docs clean

# The suites whose code runs on several threads at once, for the thread-sanitizer run.
TSAN_SUITES := ReadOnlyStoreTests|BatchProducerTests|ConsumerGroupTests|WorkQueueTests|CompactionTests|CompactionCrashTests|FlushPolicyTests|ReaderTests|PartitionLogTests|RetentionTests

deps:
	@missing=""; \
	command -v pkg-config >/dev/null 2>&1 || missing="$$missing pkg-config"; \
	for pair in liblz4:liblz4-dev zlib:zlib1g-dev libzstd:libzstd-dev snappy:libsnappy-dev; do \
		command -v pkg-config >/dev/null 2>&1 && pkg-config --exists $${pair%%:*} || missing="$$missing $${pair##*:}"; \
	done; \
	command -v kcat >/dev/null 2>&1 || missing="$$missing kcat"; \
	command -v pkg-config >/dev/null 2>&1 && pkg-config --exists rdkafka || missing="$$missing librdkafka-dev"; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $$missing; \
	fi

# The independent Kafka decoder (kafka-python + lz4) that the interoperability tests run.
oracle:
	@Tests/Oracle/ensure-venv.sh $(ORACLE_VENV)

# Every Swift file of the repository, for the formatter (configuration in .swift-format).
FORMATTED := Sources Tests/ReservoirTests Tests/DocExamples Tests/Fuzz/Sources Tests/Fuzz/Package.swift \
	Benchmarks/Sources Benchmarks/Package.swift Package.swift

# The format check, the tests, the documentation's Swift examples type-checked against the library
# (Tests/DocExamples/check.sh), then a short fixed fuzz run of every decoder and of recovery.
test: deps oracle lint
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-xctest
	Tests/DocExamples/check.sh
	Tests/Fuzz/run.sh --smoke

# Fails on any file swift-format would change; `make format` changes them.
lint:
	$(SWIFT) format lint --strict --recursive $(FORMATTED)

format:
	$(SWIFT) format format --in-place --recursive $(FORMATTED)

# The concurrent suites under ThreadSanitizer (see Docs/OPERATIONS.md); any report fails the run.
tsan: deps oracle
	$(SWIFT) build --build-tests --sanitize=thread --scratch-path .build-tsan -Xswiftc -DRESERVOIR_TSAN
	$(SWIFT) test --skip-build --disable-xctest --sanitize=thread --scratch-path .build-tsan -Xswiftc -DRESERVOIR_TSAN \
		--filter '$(TSAN_SUITES)'

# The command line as it is shipped: one self-contained binary, the Swift runtime and Foundation
# linked in, which also starts in about 12 ms instead of 20 (no shared libraries to relocate).
CLI_RELEASE = $(SWIFT) build -c release --product reservoir --static-swift-stdlib

demo: deps
	$(CLI_RELEASE)
	.build/release/reservoir bench peak --report reservoir-report --disk-budget 1GB --drain-objective 45

bench: deps bench-deps
	$(CLI_RELEASE)
	cd Benchmarks && $(SWIFT) run -c release ReservoirBenchmarks

# The peers the benchmarks measure Reservoir against (SQLite, LMDB): only the benchmark package links them.
bench-deps:
	@missing=""; \
	for pair in sqlite3:libsqlite3-dev lmdb:liblmdb-dev; do \
		pkg-config --exists $${pair%%:*} || missing="$$missing $${pair##*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $$missing; \
	fi

# kcat against `reservoir serve` on loopback, beside the library's append figure (Docs/KAFKA.md).
bench-kafka: deps oracle
	Benchmarks/kafka.sh

fuzz: deps
	Tests/Fuzz/run.sh

# The DocC catalog of the library (Sources/Reservoir/Reservoir.docc), built with every warning
# an error; the archive lands in .build/plugins/Swift-DocC/outputs/.
docs: deps
	$(SWIFT) package --disable-sandbox generate-documentation --target Reservoir --warnings-as-errors

clean:
	rm -rf .build .build-tsan Benchmarks/.build Tests/Fuzz/.build
