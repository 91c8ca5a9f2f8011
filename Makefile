# The two entry points of the README's quick start, plus developer conveniences.
#   make demo   install what is missing, build (release), run the demo servers
#   make test   install what is missing, build and run every test: debug (ASan+UBSan) and
#               release presets, then the tests labelled `threads` under TSan
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
	cmake --build --preset tsan -j$(JOBS)
	ctest --preset tsan -j$(JOBS)

clean:
	rm -rf build
