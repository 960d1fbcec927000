#!/usr/bin/env bash
# Starts `imagestreams serve --demo` on a free port with a temporary data directory, runs the
# Playwright tests in end2end/ against it, and stops it. Expects a finished `cargo leptos build --split`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -d .tools/node_modules/.bin ]; then export PATH="$PWD/.tools/node_modules/.bin:$PATH"; fi

# E2E_SITE: another site directory (a `cargo leptos build --split` with LEPTOS_SITE_ROOT set).
site="${E2E_SITE:-$PWD/target/site}"
. ./scripts/registry-lib.sh
port=$(free_port)
# The webhook receiver the browser test starts; the portal may send only there.
hook_port=$(free_port)
data=$(mktemp -d)
log="$data/serve.log"
pid=""
REG_PID=""
auth_pid=""
cleanup() { kill $pid $auth_pid $REG_PID 2>/dev/null || true; wait 2>/dev/null || true; if [ -n "${E2E_KEEP_LOG:-}" ]; then cp "$log" "$E2E_KEEP_LOG"; fi; rm -rf "$data"; }
trap cleanup EXIT
# A real registry with 20 tags for the import tests; it is the only registry the portal may use.
mkdir -p "$data/reg"
start_registry "$data/reg"
push_tags "$data/reg" e2e/app 20
LEPTOS_SITE_ROOT="$site" ./target/debug/imagestreams serve --demo --allowed-registry "$REG" --insecure-registry "$REG" \
  --allowed-webhook-target "127.0.0.1:$hook_port" --webhook-retry-base 200ms --listen "127.0.0.1:$port" --data-dir "$data" >"$log" 2>&1 &
pid=$!
# A second portal with accounts on (its first administrator from a password file), for the
# sign-in and roles tests; the first one stays open like a fresh install.
auth_port=$(free_port)
mkdir -p "$data/accounts"
printf 'e2e-admin-password\n' >"$data/admin-password"
LEPTOS_SITE_ROOT="$site" ./target/debug/imagestreams serve --admin-password-file "$data/admin-password" \
  --allowed-registry 127.0.0.1:1 --listen "127.0.0.1:$auth_port" --data-dir "$data/accounts" >"$data/accounts.log" 2>&1 &
auth_pid=$!
wait_ready() {
  for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$1/readyz" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$2" 2>/dev/null; then cat "$3"; echo "the server exited early" >&2; exit 1; fi
    sleep 0.2
  done
}
wait_ready "$port" "$pid" "$log"
wait_ready "$auth_port" "$auth_pid" "$data/accounts.log"
(cd end2end && BASE_URL="http://127.0.0.1:$port" REGISTRY="$REG" WEBHOOK_PORT="$hook_port" AUTH_BASE_URL="http://127.0.0.1:$auth_port" CLI="$PWD/../target/debug/imagestreams" \
  npx playwright test "$@")
