#!/bin/sh
# Installs a latchkey build into a temporary prefix, builds tests/install/ against it with
# find_package(latchkey), and runs the consumer with an empty LATCH_HOME: it must say
# "not logged in" and exit 77.
#   usage: check.sh <latchkey build dir> [<latchkey source dir>]
set -eu
build=${1:?usage: check.sh <build dir> [<source dir>]}
src=${2:-$(cd "$(dirname "$0")/../.." && pwd)}
work=$(mktemp -d /tmp/latch-install-XXXXXX)
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" >"$work/install.log" ||
    { cat "$work/install.log"; echo "check.sh: cmake --install failed"; exit 1; }

gen=
command -v ninja >/dev/null 2>&1 && gen="-G Ninja"
# shellcheck disable=SC2086
cmake -S "$src/tests/install" -B "$work/consumer" $gen \
      -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release >"$work/configure.log" 2>&1 ||
    { cat "$work/configure.log"; echo "check.sh: configuring the consumer failed"; exit 1; }
cmake --build "$work/consumer" >"$work/build.log" 2>&1 ||
    { cat "$work/build.log"; echo "check.sh: building the consumer failed"; exit 1; }

mkdir -p "$work/home"
set +e
out=$(LATCH_HOME="$work/home" "$work/consumer/consumer" 2>&1)
rc=$?
set -e
echo "consumer: $out (exit $rc)"
if [ "$rc" -ne 77 ]; then echo "check.sh: expected exit 77"; exit 1; fi
case "$out" in
    *"not logged in"*) ;;
    *) echo "check.sh: expected 'not logged in'"; exit 1 ;;
esac
echo "check.sh: ok (installed to $work/prefix, consumer built with find_package(latchkey))"
