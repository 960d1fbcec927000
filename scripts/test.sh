#!/usr/bin/env bash
# Runs every check and test: formatting and clippy, unit and property tests of the rules, the
# layering check, HTTP and CLI integration tests, then the browser tests in Chromium against a
# freshly started portal with demo data.
# One build serves all three: every build takes --cfg erase_components from .cargo/config.toml
# alone (cargo-leptos adds none: Cargo.toml's disable-erase-components), so they share
# artifacts. cargo test goes first because it relinks the server binary without cargo-leptos's
# site settings; `cargo leptos build --split` then relinks it (seconds) for the
# browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
if [ -d .tools/node_modules/.bin ]; then export PATH="$PWD/.tools/node_modules/.bin:$PATH"; fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "==> style: cargo fmt --check, cargo clippy -D warnings"
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings

echo "==> unit, property and integration tests (the layering check among them)"
cargo test --workspace 2>&1 | tee "$log"

echo "==> building the site (server, WASM, CSS)"
cargo leptos build --split

echo "==> browser tests"
./scripts/e2e.sh 2>&1 | tee -a "$log"

# One closing line for the whole run. Reaching it means nothing failed: every step above stops
# the script (set -e, pipefail) on its first failure.
passed=$(grep -aoE "test result: ok\. [0-9]+ passed" "$log" | awk '{s += $4} END {print s + 0}')
browser=$(grep -aoE "^ +[0-9]+ passed" "$log" | awk '{s += $1} END {print s + 0}')
echo "all passed: $passed Rust tests, $browser browser tests"
