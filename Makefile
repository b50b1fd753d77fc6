# The two commands a newcomer needs: `make demo` and `make test`. Each runs scripts/setup and the
# build itself, so both work on a fresh machine.
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 60
CMAKE_GEN = -G Ninja

.PHONY: all setup build build-sanitize build-fuzz test test-release test-sanitize demo bench fuzz clean

all: build

setup:
	@scripts/setup

build/release/build.ninja: | setup
	cmake $(CMAKE_GEN) -S . -B build/release -DCMAKE_BUILD_TYPE=Release

build/sanitize/build.ninja: | setup
	cmake $(CMAKE_GEN) -S . -B build/sanitize -DCMAKE_BUILD_TYPE=Sanitize

build/fuzz/build.ninja: | setup
	CC=clang CXX=clang++ cmake $(CMAKE_GEN) -S . -B build/fuzz -DCMAKE_BUILD_TYPE=Fuzz

build: setup build/release/build.ninja
	ninja -C build/release -j $(JOBS)

build-sanitize: setup build/sanitize/build.ninja
	ninja -C build/sanitize -j $(JOBS)

build-fuzz: setup build/fuzz/build.ninja
	ninja -C build/fuzz -j $(JOBS) pdu_decoder_fuzz

# Unit, sim and e2e tests in a normal build, then again under ASan+UBSan.
test: build build-sanitize
	scripts/run-tests build/release
	scripts/run-tests build/sanitize

demo: build
	build/release/src/cli/nvmpath demo

bench: build
	scripts/run-bench build/release

fuzz: build-fuzz
	scripts/run-fuzz build/fuzz $(FUZZ_SECONDS)

clean:
	rm -rf build
