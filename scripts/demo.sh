#!/usr/bin/env bash
# README command (1): install, build, and run the main job — a real device-flow login
# against the bundled local IdP (oidc-provider on a free loopback port), approved by a
# scripted demo user in the IdP's own pages (headless chromium), then `latch status`
# and `latch logout`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
LATCH_BUILD_DIR=build bash scripts/build.sh -DLATCH_TESTS=OFF -DLATCH_BENCH=OFF
LATCH_BIN="$PWD/build/latch" node scripts/demo.mjs
