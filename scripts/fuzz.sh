#!/usr/bin/env bash
# Runs each libFuzzer harness (tests/fuzz) for SECONDS under ASan+UBSan, starting from
# the seed corpus (tests/fuzz/seeds.sh) plus what earlier runs found (kept in the build
# directory). Prints one line per target: executions, coverage (libFuzzer's cov:) and
# corpus size. Exits non-zero when a target crashes; the input is left in the build dir.
# Needs clang and libFuzzer: LATCH_FUZZ_DEPS=1 bash scripts/install-deps.sh
# Usage: scripts/fuzz.sh [SECONDS=30] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
shift || true
build=${LATCH_FUZZ_BUILD_DIR:-build-fuzz}
if ! command -v clang++ >/dev/null; then
  echo "fuzz.sh: clang++ not found; run LATCH_FUZZ_DEPS=1 bash scripts/install-deps.sh" >&2
  exit 1
fi

CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLATCH_FUZZ=ON -DLATCH_TESTS=OFF -DLATCH_E2E=OFF -DLATCH_BENCH=OFF -DLATCH_STATIC_CLI=OFF >/dev/null
ninja -C "$build" -j"$(nproc)" fuzz_targets

seeds="$build/fuzz-seeds"
rm -rf "$seeds"
bash tests/fuzz/seeds.sh "$seeds" >/dev/null
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(token_response discovery registration gateway jose stores device_flow callback)

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
failed=0
printf '%-16s %12s %8s %8s %s\n' target execs cov corpus result
for t in "${targets[@]}"; do
  corpus="$build/fuzz-corpus/$t"
  log="$build/fuzz-$t.log"
  mkdir -p "$corpus" "$build/fuzz-crashes"
  status=ok
  "$build/tests/fuzz/fuzz_$t" "$corpus" "$seeds/$t" -max_total_time="$secs" -timeout=10 \
    -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$build/fuzz-crashes/$t-" >"$log" 2>&1 || { status="CRASH (see $log)"; failed=1; }
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  printf '%-16s %12s %8s %8s %s\n' "$t" "${execs:-?}" "${cov:-?}" "$(ls "$corpus" | wc -l)" "$status"
done
exit $failed
