#!/usr/bin/env bash
# The Debian package: `cpack -G DEB` from the build directory, then the packages are
# unpacked into a fresh root (dpkg -x: the machine's dpkg database is not touched) and
# used from there: `latch --version`, the stripped binary, `man` on the installed page,
# the completions where bash-completion, zsh and fish look, and docker-credential-latch
# (a symlink to latch) speaking the docker protocol.
#   usage: deb.sh <build dir>
set -euo pipefail
build=$(realpath "${1:?usage: deb.sh <build dir>}")
work=$(mktemp -d /tmp/latch-deb-XXXXXX)
trap 'rm -rf "$work"' EXIT

(cd "$build" && cpack -G DEB -B "$work/out" >"$work/cpack.log" 2>&1) ||
    { cat "$work/cpack.log"; echo "deb.sh: cpack failed"; exit 1; }
deb=$(ls "$work"/out/latchkey_*.deb)
dev=$(ls "$work"/out/latchkey-dev_*.deb)
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

info=$(dpkg-deb -f "$deb" Package Version Depends)
echo "$info"
grep -qx "Package: latchkey" <<<"$info" || fail "package name is not latchkey"
grep -q "^Depends: .*libc6" <<<"$info" || fail "Depends does not name libc6 (dpkg-shlibdeps)"
dev_files=$(dpkg-deb -c "$dev")  # whole, not piped into grep -q (SIGPIPE under pipefail)
grep -q "usr/include/latchkey/" <<<"$dev_files" || fail "latchkey-dev has no headers"
grep -q "usr/lib/.*cmake/latchkey/latchkeyConfig.cmake" <<<"$dev_files" || fail "latchkey-dev has no CMake package"

root=$work/root
dpkg -x "$deb" "$root"
bin=$root/usr/bin/latch
[ -x "$bin" ] || { echo "deb.sh: no usr/bin/latch in the package"; dpkg-deb -c "$deb"; exit 1; }
version=$("$bin" --version)
[[ $version == "latch "* ]] || fail "latch --version printed '$version'"
readelf -S "$bin" | grep -qE "\.(symtab|debug_info)" && fail "the packaged latch is not stripped"
# The front execs the whole CLI from libexec (apps/latch/front/main.cpp).
cli=$root/usr/libexec/latchkey/latch-cli
[ -x "$cli" ] || fail "no usr/libexec/latchkey/latch-cli in the package"
[ -x "$cli" ] && readelf -S "$cli" | grep -qE "\.(symtab|debug_info)" && fail "the packaged latch-cli is not stripped"
echo "size: build tree $(stat -c %s "$build/latch") bytes, packaged $(stat -c %s "$bin") bytes, .deb $(stat -c %s "$deb") bytes"

page=$root/usr/share/man/man1/latch.1
[ -f "$page" ] || page=$page.gz
man_text=$(MANWIDTH=100 man -l "$page" 2>&1 | col -b) || fail "man -l $page failed"
grep -q "latch login" <<<"$man_text" || fail "the installed man page does not render 'latch login'"
for f in usr/share/bash-completion/completions/latch usr/share/zsh/site-functions/_latch \
         usr/share/fish/vendor_completions.d/latch.fish; do
    [ -s "$root/$f" ] || fail "$f is missing"
done
bash -n "$root/usr/share/bash-completion/completions/latch" || fail "the packaged bash completion does not parse"

helper=$root/usr/bin/docker-credential-latch
[ "$(readlink "$helper")" = latch ] || fail "docker-credential-latch is not a symlink to latch"
mkdir -m 700 "$work/home"
list=$(LATCH_HOME=$work/home "$helper" list) || fail "docker-credential-latch list failed"
[ "$list" = "{}" ] || fail "docker-credential-latch list printed '$list'"
set +e
err=$(LATCH_HOME=$work/home "$helper" erase </dev/null 2>&1); rc=$?
set -e
[ $rc -eq 1 ] && grep -q "does not erase credentials" <<<"$err" || fail "erase: exit $rc, '$err'"

if [ $failures -ne 0 ]; then echo "deb.sh: $failures failure(s)"; exit 1; fi
echo "deb.sh: ok ($(basename "$deb"), $(basename "$dev"))"
