# The two entry points of the README's quick start, plus developer conveniences.
#   make demo   install what is missing, build (release), run the demo servers
#   make test   install what is missing, build and run every test: debug (ASan+UBSan) and
#               release presets, then the tests labelled `threads` under TSan
#   make fuzz   build the libFuzzer targets with clang and run each for a minute
#   make bench  the micro-benchmarks (allocator, HTTP parsing, RSS) on the release build;
#               bench/yardstick.sh runs the servers against their peers
JOBS ?= $(shell nproc)

.PHONY: all deps demo test test-debug test-release test-tsan fuzz bench clean

all: deps
	cmake --preset release >/dev/null
	cmake --build --preset release -j$(JOBS)

deps:
	@scripts/deps.sh

demo: all
	@scripts/demo.sh build/release/bin

test: deps
	$(MAKE) --no-print-directory test-debug test-release test-tsan

test-debug:
	cmake --preset debug >/dev/null
	cmake --build --preset debug -j$(JOBS)
	ctest --preset debug -j$(JOBS)

test-release:
	cmake --preset release >/dev/null
	cmake --build --preset release -j$(JOBS)
	ctest --preset release -j$(JOBS)

test-tsan:
	cmake --preset tsan >/dev/null
	cmake --build --preset tsan -j$(JOBS) --target sluice-threads-tests
	ctest --preset tsan -j$(JOBS)

# libFuzzer targets (tests/fuzz) built with clang, ASan + UBSan and every buffer from malloc
# (so that ASan sees past a slice's end), each run for FUZZ_SECONDS on seeds generated from the
# conformance vectors. Summary at the end; logs and crash inputs under build/fuzz/fuzz/.
FUZZ_SECONDS ?= 60
fuzz:
	@scripts/deps.sh --fuzz
	cmake -S . -B build/fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_SANITIZE=address,undefined -DSLUICE_POOL=OFF \
	  -DSLUICE_BUILD_FUZZ=ON -DSLUICE_BUILD_TESTS=OFF -DSLUICE_BUILD_BENCH=OFF \
	  -DSLUICE_BUILD_EXAMPLES=OFF >/dev/null
	cmake --build build/fuzz -j$(JOBS)
	tests/fuzz/run_fuzzers.sh build/fuzz $(FUZZ_SECONDS)

bench: all
	@scripts/bench_alloc.sh build/release/bin
	taskset -c $$(($$(nproc) - 1)) build/release/bin/sluice-bench-http-parse \
	  --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
	build/release/bin/sluice-bench-rss

clean:
	rm -rf build
