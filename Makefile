# The front door. A newcomer on Debian 12 needs only:
#   make run    install what is missing, build, start `tickpipe run` on the embedded default
#   make test   install what is missing, build, run every test suite
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: run test build build-asan deps test-deps bench fmt clean node-deps fuzz web-deps crash faults soak fuzz-campaign

run: deps build
	./build/tickpipe run

test: test-deps build build-asan node-deps
	@scripts/run-tests.sh

deps:
	@scripts/install-deps.sh run

test-deps:
	@scripts/install-deps.sh test

build: web-deps
	@cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE="-O2 -g -DNDEBUG" >/dev/null
	@cmake --build build -j $(JOBS)

build-asan: web-deps
	@cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-O1 -g" -DTP_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)

# The dashboard's charting library (web/package-lock.json) is embedded at build time, so the
# build needs npm; `npm ci` runs only when web/node_modules is missing or older than the lock.
web-deps:
	@command -v npm >/dev/null 2>&1 || { echo "error: npm is required to build tickpipe's dashboard (web/): install it with scripts/install-deps.sh run (Debian: apt-get install npm)" >&2; exit 1; }
	@if [ ! -f web/node_modules/.package-lock.json ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then \
	  echo "npm ci in web/"; cd web && npm ci --no-audit --no-fund --loglevel=error; fi

node-deps:
	@if [ -f tests/package-lock.json ]; then \
	  if [ ! -d tests/node_modules ] || [ tests/package-lock.json -nt tests/node_modules ]; then \
	    cd tests && npm ci --no-audit --no-fund --loglevel=error; fi; fi

bench: deps build
	@bench/run.sh

# The crash campaign's long form (tests/crash/crash.sh, docs/testing.md): the optimized binary
# SIGKILLed CRASH_KILLS times while it replays into its journals and lake, then compared with
# an uninterrupted run. CRASH_ROWS and CRASH_SEED are passed through when set;
# CRASH_ARGS=--postgres adds the PostgreSQL sink; CRASH_ARGS=--kafka runs the Kafka leg instead
# (tests/crash/crash_kafka.sh: `run --role process` SIGKILLed CRASH_KILLS times on librdkafka's
# mock cluster, its topics compared with `tickpipe replay`; needs kcat).
CRASH_KILLS ?= 100
CRASH_ARGS ?=

crash: test-deps build node-deps
	@CRASH_KILLS=$(CRASH_KILLS) TICKPIPE=$(CURDIR)/build/tickpipe TP_BUILD=$(CURDIR)/build tests/crash/crash.sh $(CRASH_ARGS)

# The fault campaign's long form (tests/integration/fault_*.sh, docs/operations.md "Faults"):
# disk full, fsync failure, clock jumps, a stalled and a slow sink, a malformed flood, with
# FAULT_ROWS rows of input and the optimized binary under test (the short forms run in
# `make test` under ASan). The disk-full test mounts tmpfs: run as root.
FAULT_ROWS ?= 300000

faults: test-deps build node-deps
	@set -e; for t in tests/integration/fault_*.sh; do \
	  echo "faults: $$t"; \
	  FAULT_DISK_ROWS=$(FAULT_ROWS) FAULT_FSYNC_ROWS=$(FAULT_ROWS) FAULT_MALFORMED_ROWS=$(FAULT_ROWS) \
	  TICKPIPE=$(CURDIR)/build/tickpipe TP_RELEASE_BIN=$(CURDIR)/build/tickpipe \
	  TP_BUILD=$(CURDIR)/build TP_SRC=$(CURDIR) TP_SHARED=$(CURDIR)/../shared bash $$t; \
	done

# Coverage-guided fuzzing with clang's libFuzzer: each tests/fuzz/fuzz_*.c for FUZZ_SECONDS,
# starting from its seed corpus; new inputs go to build-fuzz/corpus/<name>, crashes to ./crash-*.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS = $(basename $(notdir $(wildcard tests/fuzz/fuzz_*.c)))

fuzz:
	@CC=clang cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-O1 -g" -DTP_WERROR=OFF >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target $(FUZZ_TARGETS)
	@set -e; for name in $(FUZZ_TARGETS); do \
	  mkdir -p build-fuzz/corpus/$$name; \
	  echo "fuzz: $$name for $(FUZZ_SECONDS)s"; \
	  build-fuzz/$$name -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    build-fuzz/corpus/$$name tests/fuzz/corpus/$$name; \
	done

# The long fuzz campaign (tests/fuzz/campaign.sh): every target FUZZ_SECONDS (default 600 here)
# two at a time at nice 19, one line of figures per target (tests/fuzz/README.md).
fuzz-campaign:
	@CC=clang cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-O1 -g" -DTP_WERROR=OFF >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target $(FUZZ_TARGETS)
	@tests/fuzz/campaign.sh -t $(if $(filter command line environment,$(origin FUZZ_SECONDS)),$(FUZZ_SECONDS),600) -j 2

# The memory soak (tests/soak/soak.sh): the optimized binary at SOAK_RATE simulated events/s
# plus SOAK_INSTRUMENTS replayed instruments for SOAK_SECONDS, a WebSocket client connected
# throughout; RSS sampled into build/soak/rss.csv and checked bounded, and flat after
# SOAK_WARMUP (RSS rises for ~9 minutes as bounded stores fill; bench/RESULTS.md). Then the leak
# check: the ASan binary for SOAK_LEAK_SECONDS under LeakSanitizer.
SOAK_SECONDS ?= 1200
SOAK_WARMUP ?= 540
SOAK_RATE ?= 100000
SOAK_LEAK_SECONDS ?= 60

soak: build build-asan
	@SOAK_SECONDS=$(SOAK_SECONDS) SOAK_WARMUP=$(SOAK_WARMUP) SOAK_RATE=$(SOAK_RATE) nice -n 19 tests/soak/soak.sh
	@SOAK_BIN=build-asan/tickpipe SOAK_SECONDS=$(SOAK_LEAK_SECONDS) SOAK_RATE=20000 SOAK_INSTRUMENTS=50 \
	  SOAK_TICKS=$$(seq -f 'soak:S%03g' 1 20 | paste -sd,) \
	  SOAK_REPLAY_RATE=500 SOAK_FLAT=0 SOAK_LEAKS=1 SOAK_RSS_MAX_MB=1024 SOAK_OUT=build/soak-leaks \
	  nice -n 19 tests/soak/soak.sh

fmt:
	clang-format -i $$(git ls-files 'src/*.[ch]' 'tests/*.[ch]' 'bench/*.[ch]')

clean:
	rm -rf build build-asan
