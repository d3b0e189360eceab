# hdvila front door. Quick start: `make demo`, then `make test`.
#
#   make setup   install what is missing (Debian packages, ~/.cache/hdvila/venv with LibTorch)
#   make build   set up if needed, configure and build into build/ (binaries in build/bin)
#   make test    set up if needed, build, run the whole test suite with ctest
#   make demo    set up if needed, build what the demo runs (hdvila-generate, hdvila-studio), run it (scripts/demo.sh)
#
# Variables: BUILD (build folder), BUILD_TYPE (Release), JOBS (parallel jobs), CMAKE_ARGS (extra
# configure flags, e.g. -DHDV_BUILD_APP=OFF), HDV_VENV (virtual environment).
BUILD ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=

.PHONY: all setup configure build test demo clean

all: build

setup:
	@bash scripts/setup.sh

configure: setup
	@if [ ! -f $(BUILD)/CMakeCache.txt ]; then \
	  cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS); \
	fi

build: configure
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

demo: configure
	cmake --build $(BUILD) -j $(JOBS) --target hdvila-generate hdvila-studio
	@bash scripts/demo.sh $(BUILD)

clean:
	rm -rf $(BUILD)
