# Entry points: `make demo` and `make test` (both install missing Debian packages first).
BUILD ?= build
BUILD_ASAN ?= build-asan
JOBS ?= $(shell nproc)

.PHONY: all deps build build-asan test test-fast test-asan test-sim demo install clean bench fuzz coverage

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	@cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DTERN_SANITIZE=ON -DTERN_FUZZ=ON -DCMAKE_C_COMPILER=clang >/dev/null
	@cmake --build $(BUILD_ASAN) -j $(JOBS)

# Every suite, in the optimised build and then under ASan+UBSan.
test: build build-asan
	@bash scripts/run-tests.sh $(BUILD) $(BUILD_ASAN)

test-fast: build
	@bash scripts/run-tests.sh $(BUILD)

# The simulated scenarios only. TERN_SIM_SEEDS=N runs N seeds per scenario (a soak), e.g.
# `make test-sim TERN_SIM_SEEDS=100`; a failing seed prints its `tern-sim NAME --seed S` line.
TERN_SIM_SEEDS ?=
test-sim: build
	@TERN_SIM_SEEDS=$(TERN_SIM_SEEDS) ctest --test-dir $(BUILD) -R '^sim\.' --output-on-failure -j $(JOBS)

demo: build
	@bash scripts/demo.sh $(BUILD)

# Line and branch coverage of src/ from every suite, in its own build directory (build-cov).
coverage: deps
	@bash scripts/coverage.sh build-cov

bench: build
	@bash bench/throughput.sh $(BUILD)

install: build
	@cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) build-cov
