# The two commands a newcomer needs: `make demo` and `make test`.
# Both install what is missing (Debian 12), build, and then run.
BUILD      ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: all deps configure build test test-asan demo bench fuzz format clean

all: build

deps:
	@scripts/install-deps.sh

# Unity builds (CMake compiles several sources of a target in one run, so
# the JSON and Asio templates are parsed and instantiated once per batch, not
# once per file) and line tables only in RelWithDebInfo (backtraces, perf and
# sanitizers keep file:line): the build takes half the time it did.
FAST_BUILD = -DCMAKE_UNITY_BUILD=ON "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG"

configure: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(FAST_BUILD) $(CMAKE_ARGS)

build: configure
	cmake --build $(BUILD) -j $(JOBS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

# The same tests built with AddressSanitizer and UndefinedBehaviorSanitizer.
test-asan:
	$(MAKE) test BUILD=build-asan BUILD_TYPE=Debug CMAKE_ARGS=-DHIVE_SANITIZE=ON

# Only what the demo runs: the tests and fuzz replays are `make test`'s.
DEMO_TARGETS = hived hive-agent hivectl hive-demo-service hive-demo-traffic

demo: configure
	cmake --build $(BUILD) -j $(JOBS) --target $(DEMO_TARGETS)
	scripts/demo.sh $(BUILD)

bench: deps
	cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DHIVE_BUILD_BENCH=ON
	cmake --build build-bench -j $(JOBS)
	ctest --test-dir build-bench -L bench --output-on-failure

# Every libFuzzer target in fuzz/ for FUZZ_SECONDS each, over a copy of its
# seeds and past crashers in build-fuzz/corpus (the committed files stay as
# they are).
# Fails on the first crash, leak, sanitizer report or timeout; the input is
# left in build-fuzz/artifacts/<target>/.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS = $(sort $(notdir $(wildcard fuzz/corpus/*)))

fuzz: deps
	CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DHIVE_BUILD_FUZZ=ON -DHIVE_BUILD_TESTS=OFF
	cmake --build build-fuzz --target fuzz -j $(JOBS)
	@set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p build-fuzz/corpus/$$t build-fuzz/artifacts/$$t; \
	  cp -n fuzz/corpus/$$t/* build-fuzz/corpus/$$t/; \
	  if [ -d fuzz/regressions/$$t ]; then cp -n fuzz/regressions/$$t/* build-fuzz/corpus/$$t/; fi; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS)s"; \
	  build-fuzz/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -timeout=10 \
	    -print_final_stats=1 -artifact_prefix=build-fuzz/artifacts/$$t/ \
	    build-fuzz/corpus/$$t > build-fuzz/artifacts/$$t/log.txt 2>&1 \
	    || { tail -n 60 build-fuzz/artifacts/$$t/log.txt; echo "fuzz: $$t FAILED"; exit 1; }; \
	  grep -E '^stat::number_of_executed_units|cov:' build-fuzz/artifacts/$$t/log.txt | tail -n 2; \
	done

format:
	git ls-files '*.h' '*.cpp' '*.cc' | xargs clang-format -i

clean:
	rm -rf build build-asan build-bench
