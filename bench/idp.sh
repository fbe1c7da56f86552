#!/usr/bin/env bash
# latch-idp's benchmark (issue 13): in one run, each server pinned to CPU 0 and the load on
# CPU 1, measures latch-idp beside its peers and prints one table (figure, target, peer):
#   - client_credentials at the token endpoint (client_secret_basic, ES256 JWT access
#     tokens), wrk -t1 -c16: latch-idp vs node-oidc-provider (bench/peer/oidc_provider_cc.mjs)
#   - GET /api/auth/get-session with a valid cookie, wrk -t1 -c16: req/s and p99, latch-idp vs
#     Better Auth with its memory adapter (bench/peer/better_auth_server.mjs)
#   - CPU per sign-in (argon2id; Better Auth: scrypt), 30 sign-ins one after another
#   - get-session p99 while 100 sign-ins/s are offered (bench/idp_signin_load.mjs)
#   - idle RSS and cold start (exec -> first 200 from discovery), 10 starts each
#
#   bash bench/idp.sh            # full: 3 x 10 s per wrk figure, medians (~3-4 min)
#   bash bench/idp.sh --quick    # smoke: 1 x 3 s, 3 starts (~1 min)
#   bash bench/idp.sh --priority # servers and load at nice -10 (as root), against other jobs
#                                # on a shared machine (on the loaded dev VM it did not help)
#   bash bench/idp.sh --postgres # instead: latch-idp on a local PostgreSQL 15 (scripts/pg.sh,
#                                # fsync on; PostgreSQL not pinned) vs on SQLite: refresh-token
#                                # rotation and get-session req/s (issue 15: >= 1,500 / >= 5,000)
#
# Needs wrk, taskset, curl, jq, node with `npm ci` done, >= 2 CPUs and latch-idp built in
# build/ (or $LATCH_BUILD_DIR). Installs nothing. Raw results: $LATCH_BENCH_OUT/idp.jsonl
# when set (else a temp dir, removed).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${LATCH_BUILD_DIR:-$root/build}
case "$build" in /*) ;; *) build=$root/$build ;; esac
idp_bin=$build/latch-idp

reps=3 secs=10 starts=10 seq_signins=30 prio=() postgres=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) reps=1 secs=3 starts=3 seq_signins=10 ;;
    --postgres) postgres=1 ;;
    --priority) prio=(nice -n -10) ;;
    -h|--help) sed -n 2,22p "$0"; exit 0 ;;
    *) echo "bench/idp.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

missing=()
for t in wrk taskset curl jq node timeout; do command -v "$t" >/dev/null || missing+=("$t"); done
[ -x "$idp_bin" ] || missing+=("$idp_bin (ninja -C build latch-idp)")
for m in oidc-provider better-auth; do [ -d "$root/node_modules/$m" ] || missing+=("node_modules/$m (npm ci)"); done
if [ ${#missing[@]} -gt 0 ]; then
  printf 'bench/idp.sh: missing: %s\n' "${missing[*]}" >&2
  echo "install with: LATCH_BENCH_DEPS=1 bash scripts/install-deps.sh" >&2
  exit 1
fi
[ "$(nproc)" -ge 2 ] || { echo "bench/idp.sh: needs 2 CPUs (server on CPU 0, load on CPU 1)" >&2; exit 1; }

work=$(mktemp -d /tmp/latch-idp-bench.XXXXXX)
chmod 700 "$work"
out=${LATCH_BENCH_OUT:-$work}
mkdir -p "$out"
results=$out/idp.jsonl
: > "$results"
pids=()
stop_pid() {   # SIGTERM, then SIGKILL after 10 s
  kill -0 "$1" 2>/dev/null || return 0
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cleanup() {
  local p
  for p in "${pids[@]}"; do stop_pid "$p"; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
t_start=$(date +%s)
log() { printf '[%3ds] %s\n' $(( $(date +%s) - t_start )) "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }
load_avg() { cut -d' ' -f1-3 /proc/loadavg; }
record() { jq -c --argjson x "$2" '. + $x' <<<"$1" >> "$results"; }

# start NAME CMD...: starts a server pinned to CPU 0; sets $server_pid and $server_url
# (the first line it prints, within 15 s).
start() {
  local name=$1; shift
  "${prio[@]}" taskset -c 0 "$@" > "$work/$name.out" 2> "$work/$name.err" &
  server_pid=$!
  pids+=("$server_pid")
  server_url=
  for _ in $(seq 300); do
    server_url=$(grep -m1 -oE '^http://127\.0\.0\.1:[0-9]+$' "$work/$name.out" 2>/dev/null) && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
  done
  tail -5 "$work/$name.err" >&2
  die "$name printed no URL within 15 s"
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }   # utime + stime
vm_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

# wrk_run LABEL URL PID: wrk -t1 -c16 for $secs s on CPU 1 (request from the WRK_* variables,
# see wrk_idp.lua); appends {label, req_per_s, p50_ms, p99_ms, non_2xx, errors, the server's
# (PID's) CPU per request in µs, and the load average}.
wrk_run() { wrk_run_script "$1" "$2" "$3" "$here/wrk_idp.lua"; }
# wrk_run_script LABEL URL PID SCRIPT: wrk_run with another wrk script (it prints the same line).
wrk_run_script() {
  local label=$1 url=$2 before after line
  before=$(cpu_ticks "$3")
  line=$("${prio[@]}" taskset -c 1 timeout $((secs + 30)) wrk -t1 -c16 -d"${secs}s" --timeout 5s --latency \
         -s "$4" "$url" | grep '^{' | tail -1) || die "wrk $label"
  after=$(cpu_ticks "$3")
  record "$(jq -c --argjson t $((after - before)) --argjson hz "$(getconf CLK_TCK)" '
             {req_per_s: (.requests / (.duration_us / 1e6)), p50_ms: (.p50_us / 1000),
              p99_ms: (.p99_us / 1000), max_ms: (.max_us / 1000), requests,
              non_2xx: .status_errors, errors: .socket_errors, server_cpu_share: ($t / $hz / (.duration_us / 1e6)),
              cpu_us_per_req: (if .requests > 0 then $t / $hz * 1e6 / .requests else null end)}' <<<"$line")" \
         "$(jq -nc --arg l "$label" --arg load "$(load_avg)" '{label: $l, load: $load}')"
}
# wrk_reps LABEL URL PID: 2 s of warm-up (not recorded), then $reps recorded runs.
wrk_reps() {
  "${prio[@]}" taskset -c 1 timeout 40 wrk -t1 -c16 -d2s -s "$here/wrk_idp.lua" "$2" > /dev/null || die "wrk warm-up $1"
  for rep in $(seq "$reps"); do wrk_run "$1" "$2" "$3"; done
  log "$1: $(jq -r --arg l "$1" 'select(.label == $l) | "\(.req_per_s | floor) req/s p99 \(.p99_ms) ms \(.cpu_us_per_req // 0 | floor) us CPU/req"' "$results" | paste -sd';')"
}
# sign_in_cookie URL EMAIL PASSWORD_JSON_FILE PATH: the session cookie (name=value) a
# POST of the JSON file to URL/PATH sets.
sign_in_cookie() {
  local h=$work/headers.txt
  curl -sS -m 30 -o /dev/null -D "$h" -H "Origin: $1" -H 'Content-Type: application/json' \
       --data-binary @"$3" "$1$4" || return 1
  grep -i '^set-cookie: better-auth.session_token=' "$h" | head -1 | sed 's/^[^:]*: *//; s/;.*//' | tr -d '\r'
}
# signin_cpu NAME PID URL: CPU (ms) per sign-in over $seq_signins sign-ins one after another.
signin_cpu() {
  local before after line
  before=$(cpu_ticks "$2")
  line=$(BENCH_PASSWORD=$password "${prio[@]}" taskset -c 1 timeout 120 node "$here/idp_signin_load.mjs" \
         --url "$3" --email bench@example.com --sequential "$seq_signins") || die "sign-ins $1"
  after=$(cpu_ticks "$2")
  record "$line" "$(jq -nc --arg l "signin-cpu-$1" --argjson t $((after - before)) --argjson hz "$(getconf CLK_TCK)" \
                   --arg load "$(load_avg)" '{label: $l, cpu_ms_total: ($t * 1000 / $hz), load: $load}')"
  log "signin-cpu-$1: $(tail -1 "$results" | jq -r '"\(.ok)/\(.sent) ok, \(.cpu_ms_total / .sent) ms CPU per sign-in, p50 \(.p50_ms) ms"')"
}
# loaded_session NAME URL COOKIE PID: get-session (wrk, $secs s) while 100 sign-ins/s are offered.
loaded_session() {
  local load_pid
  BENCH_PASSWORD=$password "${prio[@]}" taskset -c 1 timeout $((secs + 60)) node "$here/idp_signin_load.mjs" \
    --url "$2" --email bench@example.com --rate 100 --seconds $((secs + 3)) > "$work/signin-$1.json" &
  load_pid=$!
  sleep 2
  WRK_COOKIE=$3 wrk_run "get-session-loaded-$1" "$2/api/auth/get-session" "$4"
  wait "$load_pid" || die "sign-in load $1"
  record "$(cat "$work/signin-$1.json")" "$(jq -nc --arg l "signin-load-$1" --argjson hwm "$(vm_kib "$4" VmHWM)" \
                                             '{label: $l, vm_hwm_kib: $hwm}')"
  log "get-session-loaded-$1: $(jq -r --arg l "get-session-loaded-$1" 'select(.label == $l) | "\(.req_per_s | floor) req/s p99 \(.p99_ms) ms"' "$results"); sign-ins $(jq -c '{ok_per_s, statuses}' "$work/signin-$1.json")"
}

log "machine: ${prio[*]:+(${prio[*]}) }$(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average $(load_avg)"
# ---- latch-idp: data dir, a confidential client, a user ---------------------------------
data=$work/idp-data
(umask 077
 head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$work/client.secret"
 head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$work/user.password")
client_secret=$(cat "$work/client.secret") password=$(cat "$work/user.password")
(umask 077; jq -nc --arg p "$password" '{email: "bench@example.com", password: $p}' > "$work/sign-in.json"
 jq -nc --arg p "$password" '{name: "Bench", email: "bench@example.com", password: $p}' > "$work/sign-up.json")
"$idp_bin" client add bench-svc --confidential --data "$data" --scope api --grant client_credentials \
  --secret-file "$work/client.secret" > /dev/null 2>&1 || die "latch-idp client add"
"$idp_bin" user add bench@example.com --data "$data" --password-file "$work/user.password" \
  --email bench@example.com --name Bench > /dev/null || die "latch-idp user add"
basic="Basic $(printf '%s:%s' bench-svc "$client_secret" | base64 -w0)"
if [ "$postgres" = 1 ]; then
  # shellcheck source=bench/idp_pg.sh
  . "$here/idp_pg.sh"
  exit 0
fi

# ---- cold start and idle memory (data dir migrated, key made: a restart) --------------
line=$("${prio[@]}" timeout 120 node "$here/idp_coldstart.mjs" --runs "$starts" -- "$idp_bin" serve --data "$data" \
       --listen 127.0.0.1:0) || die "cold start latch-idp"
record "$line" '{"label":"start-latch-idp"}'
line=$(BENCH_CLIENT_SECRET=$client_secret NODE_ENV=production "${prio[@]}" timeout 120 node "$here/idp_coldstart.mjs" \
       --runs "$starts" -- node "$here/peer/oidc_provider_cc.mjs" bench-svc) || die "cold start oidc-provider"
record "$line" '{"label":"start-oidc-provider"}'
log "cold start: $(jq -r 'select(.label | startswith("start-")) | "\(.label) \(.ready_median_ms | floor) ms, RSS \(.idle_rss_median_kib) KiB"' "$results" | paste -sd';')"

# ---- latch-idp under load --------------------------------------------------------------
start latch-idp "$idp_bin" serve --data "$data" --listen 127.0.0.1:0 \
  --sign-in-limit 1000000 --sign-in-limit-total 10000000
idp_pid=$server_pid idp_url=$server_url
sleep 0.5
record "$(jq -nc --argjson r "$(vm_kib "$idp_pid" VmRSS)" '{label: "rss-latch-idp", idle_rss_kib: $r}')" '{}'
code=$(curl -sS -m 10 -o "$work/cc.json" -w '%{http_code}' -H "Authorization: $basic" \
       -d 'grant_type=client_credentials&scope=api' "$idp_url/oauth2/token") || die "latch-idp token endpoint"
[ "$code" = 200 ] && jq -e '.access_token | split(".") | length == 3' "$work/cc.json" > /dev/null \
  || die "latch-idp client_credentials answered $code: $(head -c 200 "$work/cc.json")"
WRK_METHOD=POST WRK_BODY='grant_type=client_credentials&scope=api' WRK_AUTHORIZATION=$basic \
  wrk_reps cc-latch-idp "$idp_url/oauth2/token" "$idp_pid"
cookie=$(sign_in_cookie "$idp_url" bench@example.com "$work/sign-in.json" /api/auth/sign-in/email) && [ -n "$cookie" ] \
  || die "latch-idp sign-in set no session cookie"
curl -sS -m 10 -H "Cookie: $cookie" "$idp_url/api/auth/get-session" | jq -e '.session' > /dev/null \
  || die "latch-idp get-session with the cookie has no session"
WRK_COOKIE=$cookie wrk_reps get-session-latch-idp "$idp_url/api/auth/get-session" "$idp_pid"
signin_cpu latch-idp "$idp_pid" "$idp_url"
loaded_session latch-idp "$idp_url" "$cookie" "$idp_pid"
stop_pid "$idp_pid"

# ---- node-oidc-provider ------------------------------------------------------------------
BENCH_CLIENT_SECRET=$client_secret NODE_ENV=production start oidc-provider \
  node "$here/peer/oidc_provider_cc.mjs" bench-svc
op_pid=$server_pid op_url=$server_url
code=$(curl -sS -m 10 -o "$work/cc.json" -w '%{http_code}' -H "Authorization: $basic" \
       -d 'grant_type=client_credentials&scope=api' "$op_url/token") || die "oidc-provider token endpoint"
[ "$code" = 200 ] && jq -e '.access_token | split(".") | length == 3' "$work/cc.json" > /dev/null \
  || die "oidc-provider client_credentials answered $code: $(head -c 200 "$work/cc.json")"
WRK_METHOD=POST WRK_BODY='grant_type=client_credentials&scope=api' WRK_AUTHORIZATION=$basic \
  wrk_reps cc-oidc-provider "$op_url/token" "$op_pid"
stop_pid "$op_pid"

# ---- Better Auth ------------------------------------------------------------------------
NODE_ENV=production start better-auth node "$here/peer/better_auth_server.mjs"
ba_pid=$server_pid ba_url=$server_url
sleep 0.5
record "$(jq -nc --argjson r "$(vm_kib "$ba_pid" VmRSS)" '{label: "rss-better-auth", idle_rss_kib: $r}')" '{}'
ba_cookie=$(sign_in_cookie "$ba_url" bench@example.com "$work/sign-up.json" /api/auth/sign-up/email) && [ -n "$ba_cookie" ] \
  || die "Better Auth sign-up set no session cookie"
curl -sS -m 10 -H "Cookie: $ba_cookie" "$ba_url/api/auth/get-session" | jq -e '.session' > /dev/null \
  || die "Better Auth get-session with the cookie has no session"
WRK_COOKIE=$ba_cookie wrk_reps get-session-better-auth "$ba_url/api/auth/get-session" "$ba_pid"
signin_cpu better-auth "$ba_pid" "$ba_url"
loaded_session better-auth "$ba_url" "$ba_cookie" "$ba_pid"
stop_pid "$ba_pid"

# ---- the table --------------------------------------------------------------------------
node "$here/idp_report.mjs" "$results"
log "total $(( $(date +%s) - t_start )) s; load average $(load_avg); $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
