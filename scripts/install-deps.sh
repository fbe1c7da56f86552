#!/usr/bin/env bash
# Installs everything latchkey needs on Debian 12 (run as root): the toolchain and
# libraries from Debian, and the test IdP / browser driver from npm (pinned by
# package-lock.json). Safe to run again. With LATCH_BENCH_DEPS=1 (or --bench) also the
# benchmark's tools: nginx with its njs module, wrk, hyperfine; with LATCH_FUZZ_DEPS=1
# (or --fuzz) clang and libFuzzer for scripts/fuzz.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(build-essential cmake ninja-build ccache pkg-config git
      libboost1.81-all-dev libboost-json1.81-dev libboost-url1.81-dev
      libssl-dev catch2 libcli11-dev libfmt-dev libqrencode-dev
      chromium openssl tinyproxy
      libsqlite3-dev libargon2-dev
      libpq-dev postgresql-15   # the PostgreSQL adapter; its tests start a throwaway server
      oathtool sqlite3   # TOTP test vectors; the latch-idp e2e tests read its database
      zsh fish man-db    # the completion and man page tests (tests/cli_tools)
      libsecret-1-dev gnome-keyring dbus libsecret-tools)  # the keyring and its test (tests/e2e/keyring.test.mjs)
# kubectl for the kubectl integration test: Debian's kubernetes-client unless one is
# already installed (e.g. from the Google Cloud SDK, which dpkg does not know about).
command -v kubectl >/dev/null || pkgs+=(kubernetes-client)
# The benchmark's tools (bench/run.sh), only when asked for: CI does not run the bench.
# Any nginx flavour will do; nginx-light (the smallest) only when none is installed. The
# njs module (libnginx-mod-http-js) counts the polls per device code (bench/poll_counter.js).
if [ "${LATCH_BENCH_DEPS:-0}" = 1 ] || [ "${1:-}" = --bench ]; then
  pkgs+=(wrk hyperfine time jq curl libnginx-mod-http-js)
  command -v nginx >/dev/null || pkgs+=(nginx-light)
fi
# The fuzzing toolchain (scripts/fuzz.sh: clang's libFuzzer with ASan+UBSan), when asked
# for: LATCH_FUZZ_DEPS=1 or --fuzz. scripts/test.sh (what CI runs) asks for it.
if [ "${LATCH_FUZZ_DEPS:-0}" = 1 ] || [ "${1:-}" = --fuzz ]; then
  pkgs+=(clang libfuzzer-14-dev libclang-rt-14-dev)
fi
# Node 20 + npm: the machine's own when present (it may not come from Debian, and
# Debian's npm conflicts with other node packages); Debian's otherwise.
command -v node >/dev/null && command -v npm >/dev/null || pkgs+=(nodejs npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if ! command -v node >/dev/null; then echo "node is missing" >&2; exit 1; fi

# npm ci only when the lock changed since the last install.
stamp=node_modules/.latch-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
