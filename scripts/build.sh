#!/usr/bin/env bash
# Configures and builds into build/ (or $LATCH_BUILD_DIR). Extra args go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${LATCH_BUILD_DIR:-build}
# ccache hits across clones and work trees: paths relative to the checkout, and the build
# directory's absolute path left out of the hash (debug info keeps the first one's path).
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
ninja -C "$dir" -j"$(nproc)"
