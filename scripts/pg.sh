#!/usr/bin/env bash
# A throwaway PostgreSQL 15 (Debian's postgresql-15) for latch-idp's tests and bench.
#
#   scripts/pg.sh start DIR     initdb in DIR/data, start on 127.0.0.1:<free port> (unix socket
#                               in DIR), create database "latch"; prints its URI on stdout:
#                               postgresql://latch@127.0.0.1:PORT/latch
#   scripts/pg.sh stop DIR      fast shutdown (bounded), leaves DIR for the caller to remove
#   scripts/pg.sh restart DIR   fast shutdown then start again on the same port
#   scripts/pg.sh available     exit 0 when the PostgreSQL 15 binaries are installed
#
# As root (CI) the server runs as the `postgres` user (initdb refuses root): its cluster
# lives in a /tmp/latch-pg.* directory of theirs (they may not be able to reach DIR), named in
# DIR/cluster and removed by stop. Authentication is `trust` and only loopback listens: test data only. Every wait is
# bounded (pg_ctl -t). LATCH_PG_FSYNC=off trades durability for speed (tests that do not
# crash the machine); the default keeps fsync on (the bench measures real commits).
set -euo pipefail

bin=${LATCH_PG_BIN:-/usr/lib/postgresql/15/bin}
cmd=${1:-}
home=${2:-}
dir=$home
[ -f "$home/cluster" ] && dir=$(cat "$home/cluster")

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_server() {
  local port=$1
  local opts="-h 127.0.0.1 -p $port -k $dir -c max_connections=200"
  [ "${LATCH_PG_FSYNC:-on}" = off ] && opts="$opts -F -c synchronous_commit=off -c full_page_writes=off"
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -o "$opts" -w -t 30 start >/dev/null ||
    { echo "pg.sh: the server did not start; its log:" >&2; tail -20 "$dir/server.log" >&2; exit 1; }
}

case "$cmd" in
  available)
    [ -x "$bin/initdb" ] && [ -x "$bin/pg_ctl" ] && { [ "$(id -u)" != 0 ] || id postgres >/dev/null 2>&1; } ;;
  start)
    [ -n "$home" ] || { echo "usage: pg.sh start DIR" >&2; exit 2; }
    mkdir -p "$home"
    if [ "$(id -u)" = 0 ]; then
      dir=$(mktemp -d /tmp/latch-pg.XXXXXX)
      chown postgres "$dir"
      echo "$dir" >"$home/cluster"
    fi
    as_pg "$bin/initdb" -D "$dir/data" -A trust -U latch -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
      { echo "pg.sh: initdb failed:" >&2; tail -20 "$dir/initdb.log" >&2; exit 1; }
    port=$(free_port)
    echo "$port" >"$home/port"
    start_server "$port"
    as_pg "$bin/psql" -q -h "$dir" -p "$port" -U latch -d postgres -c 'CREATE DATABASE latch' >/dev/null
    echo "postgresql://latch@127.0.0.1:$port/latch"
    ;;
  stop)
    [ -n "$home" ] || { echo "usage: pg.sh stop DIR" >&2; exit 2; }
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null
    fi
    if [ -f "$home/cluster" ]; then rm -rf "$dir" "$home/cluster"; fi
    ;;
  restart)
    as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null
    start_server "$(cat "$home/port")"
    ;;
  *)
    sed -n '2,14p' "$0" >&2
    exit 2
    ;;
esac
