# The two commands a newcomer needs: `make demo` and `make test`.
# Both install what is missing (Debian 12), build, and then run.
BUILD      ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: all deps build test test-asan demo bench format clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS)
	cmake --build $(BUILD) -j $(JOBS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

# The same tests built with AddressSanitizer and UndefinedBehaviorSanitizer.
test-asan:
	$(MAKE) test BUILD=build-asan BUILD_TYPE=Debug CMAKE_ARGS=-DHIVE_SANITIZE=ON

demo: build
	scripts/demo.sh $(BUILD)

bench: deps
	cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DHIVE_BUILD_BENCH=ON
	cmake --build build-bench -j $(JOBS)
	ctest --test-dir build-bench -L bench --output-on-failure

format:
	git ls-files '*.h' '*.cpp' '*.cc' | xargs clang-format -i

clean:
	rm -rf build build-asan build-bench
