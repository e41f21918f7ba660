# Reservoir: `make test` builds and runs the tests, `make demo` runs the peak-traffic benchmark
# on a temporary store (about 70 s; report in reservoir-report/). Both install what a fresh
# Debian machine is missing (liblz4-dev, pkg-config).

SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
ORACLE_VENV := .build/oracle-venv

.PHONY: deps test demo bench fuzz oracle clean

deps:
	@if ! command -v pkg-config >/dev/null 2>&1 || ! pkg-config --exists liblz4; then \
		echo "installing liblz4-dev and pkg-config"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq liblz4-dev pkg-config; \
	fi

# The independent Kafka decoder (kafka-python + lz4) that the interoperability tests run.
oracle:
	@Tests/Oracle/ensure-venv.sh $(ORACLE_VENV)

test: deps oracle
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-xctest

demo: deps
	$(SWIFT) build -c release --product reservoir
	.build/release/reservoir bench peak --report reservoir-report

bench: deps
	cd Benchmarks && $(SWIFT) run -c release ReservoirBenchmarks

fuzz: deps
	Tests/Fuzz/run.sh

clean:
	rm -rf .build Benchmarks/.build
