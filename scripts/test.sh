#!/usr/bin/env bash
# Runs every test: unit and property tests of the rules, HTTP and CLI integration tests, then
# the browser tests in Chromium against a freshly started portal with demo data.
# One build serves all three (cargo-leptos builds with --cfg erase_components; cargo test is
# given the same flag so it reuses those artifacts).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
if [ -d .tools/node_modules/.bin ]; then export PATH="$PWD/.tools/node_modules/.bin:$PATH"; fi

echo "==> building (server, WASM, CSS)"
cargo leptos build

echo "==> unit, property and integration tests"
export RUSTFLAGS="--cfg erase_components"
cargo test --workspace

echo "==> browser tests"
./scripts/e2e.sh
