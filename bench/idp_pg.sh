# bench/idp.sh --postgres (sourced by it, after the SQLite data dir is provisioned):
# refresh-token rotation and get-session through latch-idp on PostgreSQL and on SQLite.
# latch-idp on CPU 0, wrk on CPU 1, PostgreSQL's processes unpinned (they share both).
# --database-pool 16 (LATCH_BENCH_PG_POOL): 16 commits in flight share an fsync (group
# commit); with serve's default 4, refresh measured ~8x slower here.
pg_home=$work/pg
pg_uri=$(bash "$root/scripts/pg.sh" start "$pg_home") || die "scripts/pg.sh start"
pg_stop() { bash "$root/scripts/pg.sh" stop "$pg_home" || true; }
trap 'pg_stop; cleanup' EXIT
"$idp_bin" user add bench@example.com --database "$pg_uri" --password-file "$work/user.password" \
  --email bench@example.com --name Bench > /dev/null || die "latch-idp user add (PostgreSQL)"
for where in "--data $data" "--database $pg_uri"; do
  # shellcheck disable=SC2086
  "$idp_bin" client add bench-cli --public --skip-consent $where --scope 'openid offline_access' \
    --grant password --grant refresh_token > /dev/null || die "latch-idp client add bench-cli"
done

(umask 077; printf %s "$password" > "$work/user.password.raw")  # no newline: curl sends the file whole
# refresh_tokens URL N: N refresh tokens (password grant, one family each), space-separated.
refresh_tokens() {
  local i out=() rt
  for i in $(seq "$2"); do
    rt=$(curl -sS -m 30 --data-urlencode "password@$work/user.password.raw" -d grant_type=password \
         -d client_id=bench-cli -d username=bench@example.com -d scope=offline_access "$1/oauth2/token" |
         jq -r '.refresh_token // empty') && [ -n "$rt" ] || die "password grant at $1"
    out+=("$rt")
  done
  echo "${out[*]}"
}

for backend in postgresql sqlite; do
  if [ "$backend" = postgresql ]; then where=(--database "$pg_uri"); else where=(); fi
  start "latch-idp-$backend" "$idp_bin" serve --data "$data" "${where[@]}" --database-pool "${LATCH_BENCH_PG_POOL:-16}" --listen 127.0.0.1:0 \
    --sign-in-limit 1000000 --sign-in-limit-total 10000000
  pid=$server_pid url=$server_url
  cookie=$(sign_in_cookie "$url" bench@example.com "$work/sign-in.json" /api/auth/sign-in/email) && [ -n "$cookie" ] \
    || die "latch-idp ($backend) sign-in set no session cookie"
  WRK_COOKIE=$cookie wrk_reps "get-session-$backend" "$url/api/auth/get-session" "$pid"
  tokens=$(refresh_tokens "$url" 64)
  # Each repetition (and the warm-up) rotates the tokens the last one left: a fresh set each.
  WRK_LIB=$here/wrk_idp.lua WRK_REFRESH_TOKENS=$tokens WRK_CLIENT_ID=bench-cli \
    "${prio[@]}" taskset -c 1 timeout 40 wrk -t1 -c16 -d2s -s "$here/wrk_idp_refresh.lua" "$url/oauth2/token" > /dev/null \
    || die "wrk warm-up refresh"
  for rep in $(seq "$reps"); do
    tokens=$(refresh_tokens "$url" 64)
    WRK_LIB=$here/wrk_idp.lua WRK_REFRESH_TOKENS=$tokens WRK_CLIENT_ID=bench-cli \
      wrk_run_script "refresh-$backend" "$url/oauth2/token" "$pid" "$here/wrk_idp_refresh.lua"
  done
  log "refresh-$backend: $(jq -r --arg l "refresh-$backend" 'select(.label == $l) | "\(.req_per_s | floor) req/s p99 \(.p99_ms) ms non-2xx \(.non_2xx)"' "$results" | paste -sd';')"
  stop_pid "$pid"
done

jq -rs '
  def med(l; k): [.[] | select(.label == l) | .[k]] | sort | if length > 0 then .[(length / 2 | floor)] else null end;
  def row(name; l; target): "| \(name) | \(med(l; "req_per_s") // 0 | floor) | \(med(l; "p99_ms")) | \(med(l; "cpu_us_per_req") // 0 | floor) | \(target) |";
  "| figure (wrk -t1 -c16, median) | req/s | p99 ms | latch-idp CPU µs/req | target |",
  "|---|---|---|---|---|",
  row("refresh rotation, PostgreSQL"; "refresh-postgresql"; "≥ 1,500"),
  row("get-session, PostgreSQL"; "get-session-postgresql"; "≥ 5,000"),
  row("refresh rotation, SQLite"; "refresh-sqlite"; ""),
  row("get-session, SQLite"; "get-session-sqlite"; "")' "$results"
log "total $(( $(date +%s) - t_start )) s; load average $(load_avg) (a shared machine: other jobs ran too)"
