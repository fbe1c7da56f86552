#!/usr/bin/env bash
# README command (2): install, build, and run every test — unit, component and e2e
# (against the bundled oidc-provider IdP and Debian's chromium), then the unit and
# component tests again under ASan+UBSan, then each fuzz target for 30 s.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
# ccache hits across clones (see scripts/build.sh); the ASan and fuzz builds too.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
LATCH_FUZZ_DEPS=1 bash scripts/install-deps.sh

echo "== build (RelWithDebInfo) =="
LATCH_BUILD_DIR=build bash scripts/build.sh -DLATCH_TESTS=ON -DLATCH_E2E=ON -DLATCH_BENCH=ON
echo "== tests: unit, component, e2e =="
(cd build && ctest --output-on-failure -j2 --timeout 900)

echo "== build (ASan+UBSan): unit and component tests =="
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DLATCH_SANITIZE=ON \
      -DLATCH_E2E=OFF -DLATCH_BENCH=OFF >/dev/null
ninja -C build-asan -j"$(nproc)" unit_tests component_tests
echo "== tests under ASan+UBSan =="
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
   ctest --output-on-failure -j2 -L 'unit|component')
echo "== fuzzing: each libFuzzer target for 30 s under ASan+UBSan (tests/fuzz) =="
bash scripts/fuzz.sh 30
echo "== all tests passed in $(( $(date +%s) - start )) s =="
