# Entry points: `make demo` and `make test` (both install missing Debian packages first).
BUILD ?= build
BUILD_ASAN ?= build-asan
JOBS ?= $(shell nproc)
# Warnings are errors in these builds (CI's too); `make build WERROR=OFF` while experimenting.
WERROR ?= ON

.PHONY: all deps build build-asan test test-fast test-asan test-sim demo install clean bench fuzz fuzz-seeds coverage

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTERN_WERROR=$(WERROR) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	@cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DTERN_SANITIZE=ON -DTERN_FUZZ=ON -DCMAKE_C_COMPILER=clang -DTERN_WERROR=$(WERROR) >/dev/null
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

# A longer fuzzing campaign in the sanitizer build: every target for FUZZ_SECONDS (default 180)
# over its seeds, growing a working corpus in build-asan/fuzz/NAME; crashes go to
# build-asan/fuzz/crashes. `make fuzz FUZZ_TARGETS="fuzz_conn fuzz_h3"` runs only those.
FUZZ_SECONDS ?= 180
FUZZ_TARGETS ?= fuzz_conn fuzz_server fuzz_client fuzz_tparams_tls fuzz_h3 fuzz_h3_client fuzz_frame fuzz_packet fuzz_tparams fuzz_qlb fuzz_qpack
fuzz: build-asan
	@for t in $(FUZZ_TARGETS); do echo "== $$t ($(FUZZ_SECONDS) s)"; \
	  nice bash scripts/run-fuzz.sh $(BUILD_ASAN)/$$t $(FUZZ_SECONDS) tests/fuzz/corpus/$$t \
	    $(BUILD_ASAN)/fuzz/$$t $(BUILD_ASAN)/fuzz/crashes || exit 1; \
	  echo "corpus: $$(ls $(BUILD_ASAN)/fuzz/$$t | wc -l) inputs, $$(du -sk $(BUILD_ASAN)/fuzz/$$t | cut -f1) KB"; \
	done

# Regenerates the seed corpora in tests/fuzz/corpus (see tests/fuzz/gen_seeds.c).
fuzz-seeds: build-asan
	@$(BUILD_ASAN)/gen_seeds tests/fuzz/corpus

# Line and branch coverage of src/ from every suite, in its own build directory (build-cov).
coverage: deps
	@bash scripts/coverage.sh build-cov

bench: build
	@bash bench/throughput.sh $(BUILD)

install: build
	@cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) build-cov
