#!/usr/bin/env bash
# The benchmark (issue 9): starts Debian's nginx as a canned OAuth server on a free loopback
# port, runs every scenario bounded in time with latch-bench, wrk and openid-client side by
# side, stops everything and prints one table (bench/README.md explains each column).
#
#   bash bench/run.sh            # full run: 3 repetitions, medians, plus one 10^6-flow poll run
#                                # (~15 min on 2 cores; the million flows alone ~4 min)
#   bash bench/run.sh --quick    # smoke run: 1 repetition, short runs, F = 1k and 10k
#   bash bench/run.sh --serve    # only the canned server, until Ctrl-C (for profiling)
#   bash bench/run.sh --only poll   # one scenario: refresh, poll, token-cli or embed (with --quick too)
#   bash bench/run.sh --idp [--quick]   # latch-idp's server benchmark instead (bench/idp.sh)
#
# Needs the bench tools (LATCH_BENCH_DEPS=1 bash scripts/install-deps.sh: nginx and its njs
# module libnginx-mod-http-js, wrk, hyperfine, ...) and a build with
# -DLATCH_BENCH=ON in build/ (or $LATCH_BUILD_DIR). Installs nothing itself. Raw results stay
# in $LATCH_BENCH_OUT (default: a temp dir, removed) as results.jsonl.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${LATCH_BUILD_DIR:-$root/build}
case "$build" in /*) ;; *) build=$root/$build ;; esac

quick=0 serve=0 only=
while [ $# -gt 0 ]; do
  case "$1" in
    --idp) shift; exec bash "$here/idp.sh" "$@" ;;
    --quick) quick=1 ;;
    --serve) serve=1 ;;
    --only)
      case "${2:-}" in refresh|poll|token-cli|embed) only=$2; shift ;;
        *) echo "bench/run.sh: --only takes refresh, poll, token-cli or embed" >&2; exit 2 ;; esac ;;
    -h|--help) sed -n 2,16p "$0"; exit 0 ;;
    *) echo "bench/run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
runs() { [ -z "$only" ] || [ "$only" = "$1" ]; }

if [ $quick = 1 ]; then
  reps=1; refresh_s=2; poll_s=15; flows_list=(1000 10000); cli_runs=50; embed_s=2
else
  reps=3; refresh_s=5; poll_s=20; flows_list=(1000 10000 100000); cli_runs=200; embed_s=5
fi
embed_c=32        # wrk's keep-alive connections to the embedding server
conns_list=(1 64)
poll_interval=5   # what the canned device endpoint tells the client (RFC 8628 default)
# The million-flow run (multi driver, full run only): 10^6 flows started over one long
# interval, polling an always-pending endpoint, ending at their own timeout; the steady
# phase is the second interval (every flow has its code and polls once in it).
long_flows=1000000; long_interval=60; long_s=130
# K: the device token endpoint answers authorization_pending to the first K polls of a code,
# then the token. Flows start over one interval and poll every interval, so the first ones
# get their token K + 1 intervals in, the last one interval later, before their timeout
# (poll_s): all F flows wait through [interval + 1 s, (K + 1) intervals), the steady phase
# latch-bench measures CPU per poll over. Full run: K = 2, tokens at 15-20 s of 20.
poll_k=$(( (poll_s - poll_interval) / poll_interval - 1 ))
njs_module=/usr/lib/nginx/modules/ngx_http_js_module.so

bench_bin=$build/bench/latch-bench
latch_bin=$build/latch
missing=()
for t in nginx wrk hyperfine node /usr/bin/time timeout jq curl; do
  command -v "$t" >/dev/null || missing+=("$t")
done
[ -f "$njs_module" ] || missing+=("$njs_module (Debian package libnginx-mod-http-js: nginx's njs module, which counts the polls per device code)")
[ -x "$bench_bin" ] || missing+=("$bench_bin (build with -DLATCH_BENCH=ON)")
[ -x "$latch_bin" ] || missing+=("$latch_bin")
[ -d "$root/node_modules/openid-client" ] || missing+=("node_modules/openid-client (npm ci)")
if [ ${#missing[@]} -gt 0 ]; then
  printf 'bench/run.sh: missing: %s\n' "${missing[*]}" >&2
  echo "install with: LATCH_BENCH_DEPS=1 bash scripts/install-deps.sh" >&2
  exit 1
fi

work=$(mktemp -d /tmp/latch-bench.XXXXXX)
out=${LATCH_BENCH_OUT:-$work}
mkdir -p "$out"
results=$out/results.jsonl
: > "$results"
nginx_pid=
# The poll counts (bench/poll_counter.js: one small file per pending device code) live on
# tmpfs when there is one. nginx's worker writes them: when we are root it runs as nobody.
polls_dir=$(mktemp -d "$( [ -d /dev/shm ] && [ -w /dev/shm ] && echo /dev/shm || echo /tmp )/latch-bench-polls.XXXXXX")
[ "$(id -u)" != 0 ] || chown nobody "$polls_dir"
cleanup() {
  if [ -n "$nginx_pid" ] && kill -0 "$nginx_pid" 2>/dev/null; then
    kill -QUIT "$nginx_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$nginx_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$nginx_pid" 2>/dev/null || true
  fi
  [ "$out" = "$work" ] || cp -f "$work"/nginx/logs/error.log "$out"/nginx-error.log 2>/dev/null || true
  rm -rf "$work" "$polls_dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
start=$(date +%s)
log() { printf '[%3ds] %s\n' $(( $(date +%s) - start )) "$*" >&2; }

# ---- the canned server ---------------------------------------------------------------
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
base=http://127.0.0.1:$port
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
# A realistic token response (~1.2 KB): an RS256 JWT access token (RFC 9068 claims), a
# refresh token, Bearer, expires_in, scope. Fixed bytes, so every client parses the same.
jwt_head=$(printf '{"alg":"RS256","typ":"at+jwt","kid":"bench-key-2026-11"}' | b64url)
jwt_body=$(printf '{"iss":"%s","sub":"248289761001","aud":"https://api.example.com","client_id":"latch-bench","iat":1795000000,"exp":1795003600,"jti":"f1c3a7d2-5b8e-4f60-9a1d-3e7b2c9d4a10","scope":"openid profile email offline_access","auth_time":1794990000,"acr":"urn:mace:incommon:iap:silver","amr":["pwd","otp"],"sid":"08a5019c-17e1-4977-8f42-65a12843ea02","email":"bench.user@example.com","email_verified":true}' "$base" | b64url)
# 342 characters: the size of a 2048-bit RSA signature in base64url (fixed bytes).
jwt_sig=$(for i in $(seq 12); do printf 'latchkey bench signature %d ' "$i"; done | b64url)
jwt_sig=${jwt_sig:0:342}
token_json=$(printf '{"access_token":"%s.%s.%s","token_type":"Bearer","expires_in":3600,"refresh_token":"%s","scope":"openid profile email offline_access"}' \
  "$jwt_head" "$jwt_body" "$jwt_sig" "rt.$(printf 'refresh' | sha256sum | cut -c1-64)")
discovery_json=$(printf '{"issuer":"%s","authorization_endpoint":"%s/authorize","token_endpoint":"%s/token","device_authorization_endpoint":"%s/device","jwks_uri":"%s/jwks","response_types_supported":["code"],"subject_types_supported":["public"],"id_token_signing_alg_values_supported":["RS256"],"grant_types_supported":["authorization_code","refresh_token","urn:ietf:params:oauth:grant-type:device_code"],"token_endpoint_auth_methods_supported":["none"]}' \
  "$base" "$base" "$base" "$base" "$base")

prefix=$work/nginx
mkdir -p "$prefix"/logs "$prefix"/tmp
cat > "$prefix"/nginx.conf <<EOF
# Generated by bench/run.sh; nothing outside $prefix and $polls_dir is written.
load_module $njs_module;
worker_processes 1;   # also keeps the poll counts in one place
daemon off;
pid $prefix/logs/nginx.pid;
error_log $prefix/logs/error.log warn;
events { worker_connections 16384; }
http {
  access_log off;   # the server must not be what we measure
  client_body_temp_path $prefix/tmp/body;
  proxy_temp_path $prefix/tmp/proxy;
  fastcgi_temp_path $prefix/tmp/fastcgi;
  uwsgi_temp_path $prefix/tmp/uwsgi;
  scgi_temp_path $prefix/tmp/scgi;
  keepalive_timeout 120s;
  keepalive_requests 100000000;
  server_tokens off;
  default_type application/json;
  js_import poll_counter from $here/poll_counter.js;
  js_var \$poll_k $poll_k;
  js_var \$poll_dir $polls_dir;
  js_var \$token_json '$token_json';
  server {
    listen 127.0.0.1:$port backlog=4096;
    location = /.well-known/openid-configuration { return 200 '$discovery_json'; }
    # RFC 6749 §5.1: the token response, with the cache headers a real IdP sends.
    location = /token {
      add_header Cache-Control no-store always;
      add_header Pragma no-cache always;
      return 200 '$token_json';
    }
    # RFC 8628 §3.2: a fresh device code per request (\$request_id: 32 random hex digits).
    location = /device {
      add_header Cache-Control no-store always;
      return 200 '{"device_code":"\$request_id","user_code":"BNCH-MARK","verification_uri":"$base/activate","verification_uri_complete":"$base/activate?user_code=BNCH-MARK","expires_in":1800,"interval":$poll_interval}';
    }
    # The million-flow run: the same device code response with a long interval, and a
    # token endpoint that always answers authorization_pending (canned: no counter, so
    # nginx stays cheap per poll and keeps no state per code).
    location = /device-long {
      add_header Cache-Control no-store always;
      return 200 '{"device_code":"\$request_id","user_code":"BNCH-MARK","verification_uri":"$base/activate","verification_uri_complete":"$base/activate?user_code=BNCH-MARK","expires_in":1800,"interval":$long_interval}';
    }
    location = /device-token-pending {
      add_header Cache-Control no-store always;
      return 400 '{"error":"authorization_pending"}';
    }
    # RFC 8628 §3.5: authorization_pending to the first \$poll_k polls of a device code,
    # then the token response (njs: bench/poll_counter.js).
    location = /device-token {
      add_header Cache-Control no-store always;
      add_header Pragma no-cache always;
      js_content poll_counter.poll;
    }
  }
}
EOF
nginx -t -q -p "$prefix" -e "$prefix/logs/error.log" -c "$prefix/nginx.conf"
nginx -p "$prefix" -e "$prefix/logs/error.log" -c "$prefix/nginx.conf" &
nginx_pid=$!
for _ in $(seq 100); do
  curl -fsS -o /dev/null "$base/.well-known/openid-configuration" 2>/dev/null && break
  kill -0 "$nginx_pid" 2>/dev/null || { cat "$prefix/logs/error.log" >&2; exit 1; }
  sleep 0.05
done
token_bytes=$(curl -fsS -X POST -d 'grant_type=refresh_token' "$base/token" | wc -c)
# The poll counter works: K pending answers, then the same token bytes, then the code is new.
probe() { curl -sS -o /dev/null -w '%{http_code}' -X POST -d 'device_code=bench-probe' "$base/device-token"; }
for i in $(seq "$poll_k"); do
  [ "$(probe)" = 400 ] || { echo "bench/run.sh: poll $i of a device code was not pending" >&2; cat "$prefix/logs/error.log" >&2; exit 1; }
done
poll_bytes=$(curl -fsS -X POST -d 'device_code=bench-probe' "$base/device-token" | wc -c) || {
  echo "bench/run.sh: poll $((poll_k + 1)) of a device code got no token" >&2; cat "$prefix/logs/error.log" >&2; exit 1; }
[ "$poll_bytes" = "$token_bytes" ] || { echo "bench/run.sh: device token response $poll_bytes bytes, not $token_bytes" >&2; exit 1; }
log "nginx $(nginx -v 2>&1 | sed 's/.*\///') on $base (pid $nginx_pid); token response $token_bytes bytes; device token after $poll_k pending polls"
if [ $serve = 1 ]; then
  log "serving $base/token, $base/device, $base/device-token until Ctrl-C"
  wait "$nginx_pid"
  exit 0
fi

# ---- helpers ------------------------------------------------------------------------
# record JSON EXTRA: appends one result line with extra fields merged in.
record() { jq -c --argjson x "$2" '. + $x' <<<"$1" >> "$results"; }
# Runs "$@" under /usr/bin/time; sets rus_cpu (user+sys seconds) and rus_rss (KiB).
timed() {
  local tf=$work/time.txt rc=0
  /usr/bin/time -f '%U %S %M' -o "$tf" "$@" > "$work/stdout" 2> "$work/stderr" || rc=$?
  read -r u s rus_rss < <(tail -1 "$tf")
  rus_cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.3f", u + s }')
  return $rc
}
fail_run() { log "FAILED: $*"; sed 's/^/    /' "$work/stderr" | tail -5 >&2; }

# ---- refresh ------------------------------------------------------------------------
runs refresh && for rep in $(seq "$reps"); do
  for c in "${conns_list[@]}"; do
    extra=$(jq -nc --argjson r "$rep" '{rep:$r}')
    # latch-bench: CPU from its own getrusage over the loop.
    if timed timeout 70 "$bench_bin" refresh --url "$base/token" --connections "$c" \
         --requests 100000000 --duration-max "$refresh_s"; then
      record "$(tail -1 "$work/stdout")" "$extra"
    else fail_run "latch-bench refresh C=$c"; fi
    # wrk: one thread, same connections and body; CPU from /usr/bin/time (whole process).
    if timed timeout 70 wrk -t1 -c"$c" -d"${refresh_s}s" --timeout 10s \
         -s "$here/wrk_refresh.lua" "$base/token"; then
      w=$(grep '^{' "$work/stdout" | tail -1)
      record "$(jq -c --argjson c "$c" --argjson cpu "$rus_cpu" --argjson rss "$rus_rss" '
        {scenario:"refresh", client:"wrk", connections:$c, ok:.wrk_requests,
         failed:(.socket_errors + .status_errors), seconds:(.duration_us/1e6),
         req_per_s:(.wrk_requests/(.duration_us/1e6)), cpu_s:$cpu,
         cpu_us_per_req:($cpu/.wrk_requests*1e6), p50_ms:(.p50_us/1000), p99_ms:(.p99_us/1000),
         max_rss_kib:$rss}' <<<"$w")" "$extra"
    else fail_run "wrk C=$c"; fi
    # openid-client: CPU from process.cpuUsage over the loop.
    if timed timeout 70 node "$here/peer/openid_refresh.mjs" --issuer "$base" \
         --connections "$c" --seconds "$refresh_s"; then
      record "$(tail -1 "$work/stdout")" "$extra"
    else fail_run "openid-client C=$c"; fi
    log "refresh C=$c rep $rep done"
  done
done

# ---- poll ---------------------------------------------------------------------------
# nginx pinned to CPU 0 and latch-bench to CPU 1 (issue 16: lateness depends on how much
# of the client's core the server takes). The multiplexed driver (multi) runs at every F;
# the coroutine-per-flow driver (coro) at the largest F only, as the comparison row.
pin_nginx() {  # pin_nginx CPUS: the master and its worker
  local p
  for p in "$nginx_pid" $(pgrep -P "$nginx_pid" || true); do taskset -pc "$1" "$p" > /dev/null 2>&1 || true; done
}
client_cpu=(); [ "$(nproc)" -ge 2 ] && command -v taskset > /dev/null && client_cpu=(taskset -c 1)
if runs poll; then
  if [ ${#client_cpu[@]} -gt 0 ]; then pin_nginx 0; fi
  for rep in $(seq "$reps"); do
    for f in "${flows_list[@]}"; do
      for drv in multi coro; do
        [ $drv = coro ] && [ "$f" != "${flows_list[${#flows_list[@]}-1]}" ] && continue
        if timed timeout $((poll_s + poll_interval + 40)) "${client_cpu[@]}" "$bench_bin" poll \
             --base "$base" --flows "$f" --seconds "$poll_s" --spread "$poll_interval" \
             --max-connections 64 --pending-polls "$poll_k" --driver $drv; then
          record "$(tail -1 "$work/stdout")" "$(jq -nc --argjson r "$rep" '{rep:$r}')"
        else fail_run "latch-bench poll F=$f $drv"; fi
        log "poll F=$f $drv rep $rep done$(sed -n 's/^latch-bench: polls over 20 ms late, per second of the run:/; over 20 ms late at/p' "$work/stderr")"
      done
    done
  done
  # The million-flow run, once (full run only): RSS and lateness of 10^6 waiting flows.
  if [ $quick = 0 ]; then
    if timed timeout $((long_s + long_interval + 60)) "${client_cpu[@]}" "$bench_bin" poll \
         --base "$base" --flows $long_flows --seconds $long_s --spread $long_interval \
         --max-connections 64 --pending-polls 1 --driver multi --device-path /device-long \
         --token-path /device-token-pending; then
      record "$(tail -1 "$work/stdout")" '{"rep":1,"long":true}'
    else fail_run "latch-bench poll F=$long_flows (always pending)"; fi
    log "poll F=$long_flows done$(sed -n 's/^latch-bench: polls over 20 ms late, per second of the run:/; over 20 ms late at/p' "$work/stderr")"
  fi
  if [ ${#client_cpu[@]} -gt 0 ]; then pin_nginx "0-$(( $(nproc) - 1 ))"; fi
fi

# ---- token-cli ----------------------------------------------------------------------
if runs token-cli; then
  home=$work/home
  creds=$("$bench_bin" write-creds --home "$home" --issuer "$base")
  LATCH_HOME=$home "$latch_bin" token > /dev/null   # fails loudly if the cache is not valid
  LATCH_HOME=$home timeout 120 hyperfine -N --runs "$cli_runs" --warmup 10 --style none \
    --export-json "$work/hyperfine.json" "$latch_bin token" "cat $creds" > /dev/null
  jq -c '.results[] | {scenario:"token-cli", command:(.command|split(" ")[0]|split("/")|last),
          runs:(.times|length), median_ms:(.median*1000), mean_ms:(.mean*1000),
          min_ms:(.min*1000)}' "$work/hyperfine.json" >> "$results"
  log "token-cli done"
fi

# ---- embed ---------------------------------------------------------------------------
# An async server embedding a token_source (bench/embed_scenario.cpp), without and with a
# `co_await source.token()` per request, wrk against each in turn (same run).
embed_once() {  # embed_once REP plain|token
  local flag= eport= epid line rps
  [ "$2" = token ] && flag=--token
  "$bench_bin" embed --home "$work/embed-home" $flag --seconds $((embed_s + 30)) \
    > "$work/embed.out" 2> "$work/stderr" &
  epid=$!
  for _ in $(seq 100); do  # it binds after timing the token call (< 1 s)
    eport=$(jq -r 'select(.listening) | .listening' "$work/embed.out" 2>/dev/null | head -1)
    [ -n "$eport" ] && break
    sleep 0.1
  done
  [ -n "$eport" ] || { fail_run "embed $2: the server did not start"; kill "$epid"; return 1; }
  rps=$(timeout $((embed_s + 20)) wrk -t1 -c"$embed_c" -d"${embed_s}s" "http://127.0.0.1:$eport/" |
        awk '/^Requests\/sec:/ { print $2 }')
  kill -TERM "$epid"; wait "$epid" || { fail_run "embed $2"; return 1; }
  line=$(jq -c 'select(.scenario)' "$work/embed.out")
  record "$line" "$(jq -nc --argjson r "$1" --argjson rps "${rps:-0}" --argjson c "$embed_c" \
                     '{rep:$r, req_per_s:$rps, connections:$c}')"
}
if runs embed; then
  "$bench_bin" write-creds --home "$work/embed-home" --issuer "$base" > /dev/null
  for rep in $(seq "$reps"); do embed_once "$rep" plain; embed_once "$rep" token; done
  log "embed done"
fi

# ---- the table ----------------------------------------------------------------------
node "$here/report.mjs" "$results"
log "total $(( $(date +%s) - start )) s; nproc $(nproc); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
