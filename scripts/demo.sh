#!/usr/bin/env bash
# README command (1): install, build, and run the main job — a real device-flow login
# against latch-idp (our own OpenID Provider, SQLite in a temp dir, a free loopback port),
# approved by a demo user in latch-idp's own verification page (headless Debian chromium,
# driven by scripts/demo_approve.mjs), then `latch status`, `latch token` (redacted here)
# and `latch logout`. No Node server runs. Exit 0 on success, 1 with a `demo:` line otherwise.
#
# Builds only `latch` and `latch-idp`, in build/ (or $LATCH_BUILD_DIR) configured with the
# same options as scripts/test.sh, so command (2) afterwards reuses the build instead of
# reconfiguring it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

bash scripts/install-deps.sh
build=${LATCH_BUILD_DIR:-build}
case "$build" in /*) ;; *) build=$root/$build ;; esac
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLATCH_TESTS=ON -DLATCH_E2E=ON -DLATCH_BENCH=ON >/dev/null
ninja -C "$build" -j"$(nproc)" latch latch-idp
latch_bin=$build/latch idp_bin=$build/latch-idp

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fail() { echo "demo: $*" >&2; exit 1; }
# wait_for FILE REGEX SECONDS: polls (bounded) until a line of FILE matches; prints the match.
wait_for() {
  local i
  for i in $(seq $(( $3 * 20 ))); do
    grep -m1 -oE "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

tmp=$(mktemp -d /tmp/latch-demo.XXXXXX)
chmod 700 "$tmp"
server_pid= login_pid=
stop() {   # stop PID: SIGTERM, then (after 10 s) SIGKILL
  [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 0
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cleanup() { stop "$login_pid"; stop "$server_pid"; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

data=$tmp/idp home=$tmp/latch-home
export LATCH_HOME=$home

# ---- latch-idp: a user and a public client, then the server ---------------------------
step "latch-idp: a user and a public client in $data (SQLite)"
# The demo user's password: random, in a 0600 file (never on argv).
(umask 077; head -c 18 /dev/urandom | base64 > "$tmp/alice.password")
"$idp_bin" user add alice --data "$data" --password-file "$tmp/alice.password" \
  --email alice@example.com --name Alice || fail "latch-idp user add failed"
"$idp_bin" client add latch-cli --public --data "$data" --name latch \
  --grant urn:ietf:params:oauth:grant-type:device_code --grant refresh_token \
  --scope "openid profile email offline_access" || fail "latch-idp client add failed"

"$idp_bin" serve --data "$data" --listen 127.0.0.1:0 --device-interval 1 \
  > "$tmp/serve.out" 2> "$tmp/serve.err" &
server_pid=$!
issuer=$(wait_for "$tmp/serve.out" '^http://127\.0\.0\.1:[0-9]+$' 15) || {
  sed 's/^/  latch-idp: /' "$tmp/serve.err" >&2
  fail "latch-idp serve printed no URL within 15 s"
}
step "latch-idp serve: listening at $issuer (pid $server_pid)"

# ---- the login --------------------------------------------------------------------------
step "latch login --device --issuer $issuer --client-id latch-cli"
"$latch_bin" login --device --issuer "$issuer" --client-id latch-cli --no-qr --timeout 90 \
  > "$tmp/login.out" 2> "$tmp/login.err" &
login_pid=$!
code_re='[A-Z]{4}(-[A-Z]{4})+'
user_code=$(wait_for "$tmp/login.err" "enter the code: *$code_re" 15 | grep -oE "$code_re") || {
  cat "$tmp/login.err" >&2; fail "latch login printed no user code within 15 s"; }
# The URL is on the line after "open this URL in a browser:", printed before the code.
verify_url=$(awk '/open this URL in a browser:/ { getline; print $1; exit }' "$tmp/login.err")
[[ "$verify_url" == "$issuer"/* ]] || { cat "$tmp/login.err" >&2; fail "latch login printed no verification URL"; }
cat "$tmp/login.err"
echo "[demo user 'alice' opens $verify_url in chromium, signs in and approves code $user_code]"
DEMO_PASSWORD=$(cat "$tmp/alice.password") timeout 90 node scripts/demo_approve.mjs \
  "$verify_url" "$user_code" alice || fail "approving the device login in latch-idp's page failed"
login_rc=0
wait "$login_pid" || login_rc=$?
login_pid=
grep -E '^(Logged in|latch:)' "$tmp/login.err" || true
echo "(exit $login_rc)"
[ "$login_rc" = 0 ] || { tail -5 "$tmp/login.err" >&2; fail "latch login exited $login_rc"; }

# ---- what the login left ------------------------------------------------------------------
step "latch status"
"$latch_bin" status || fail "latch status exited $?"
step "latch token | (redacted by the demo)"
token=$("$latch_bin" token) || fail "latch token failed"
printf '%s…%s  (%d characters)\n' "$(head -c 6 <<<"$token")" "${token: -4}" "${#token}"
step "latch logout"
"$latch_bin" logout || fail "latch logout exited $?"
step 'latch status (after logout: 77 means "log in again")'
rc=0
"$latch_bin" status || rc=$?
echo "(exit $rc)"
[ "$rc" = 77 ] || fail "latch status after logout exited $rc, not 77"

step "stopping latch-idp"
stop "$server_pid"
server_pid=
echo "demo: OK"
