#!/usr/bin/env bash
# `latch help environment` lists every LATCH_* variable the client reads: the sources of
# the library and of the CLI are grepped for "LATCH_..." names, so a new variable without
# its line in apps/latch/help_topics.cpp fails here. Also: examples in `latch --help`.
#   usage: help_environment.sh <latch> <source dir>
set -euo pipefail
latch=${1:?usage: help_environment.sh <latch> <source dir>}
src=${2:?usage: help_environment.sh <latch> <source dir>}
out=$("$latch" help environment)
names=$(grep -rhoE '"LATCH_[A-Z0-9_]+"' "$src/core" "$src/flows" "$src/transport" "$src/apps/latch" \
            --include='*.cpp' --include='*.hpp' --exclude=help_topics.cpp | tr -d '"' | sort -u)
count=$(wc -w <<<"$names")
if [ "$count" -lt 10 ]; then echo "help_environment.sh: only $count LATCH_ names found in the sources?"; exit 1; fi
missing=0
for n in $names; do
    grep -qE "^  $n\b" <<<"$out" || { echo "FAIL: $n is read by latch but not in 'latch help environment'"; missing=$((missing + 1)); }
done
for n in HTTPS_PROXY NO_PROXY SSL_CERT_FILE; do
    grep -q "$n" <<<"$out" || { echo "FAIL: $n is not mentioned"; missing=$((missing + 1)); }
done
help=$("$latch" --help)
for want in "Examples:" "latch login" 'latch token' "Exit codes:"; do
    grep -qF -- "$want" <<<"$help" || { echo "FAIL: 'latch --help' lacks '$want'"; missing=$((missing + 1)); }
done
# `latch help` alone prints the usage (exit 0).
"$latch" help | grep -q "^Usage:\|^latch" || { echo "FAIL: 'latch help' prints no usage"; missing=$((missing + 1)); }
if [ $missing -ne 0 ]; then exit 1; fi
echo "help_environment.sh: ok ($count LATCH_ variables, all listed)"
