#!/usr/bin/env bash
# Watch benchmark (README, "Watching"): one release server, 10,000 concurrent watchers on one
# namespace; reports the server's resident memory per idle watcher and, over a few rounds of one
# tag change each, the time from the change's request to each watcher reading its event
# (p50/p99/max). WATCHERS and ROUNDS override the defaults; LIST_FIRST=1 has each watcher list on
# its connection first and watch on the same kept-alive connection, as kubectl does.
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
# BENCH_BIN measures another build with this procedure (BENCH_SKIP_BUILD=1 skips this tree's).
BIN=${BENCH_BIN:-./target/release/imagestreams}
# The client: this tree's build unless BENCH_CLIENT names another.
CLIENT=${BENCH_CLIENT:-./target/release/imagestreams}
[ -n "${BENCH_SKIP_BUILD:-}" ] || cargo build --release -p server --bin imagestreams
. ./scripts/registry-lib.sh   # free_port
work=$(mktemp -d)
port=$(free_port)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
WATCHERS=${WATCHERS:-10000}
# Every watcher comes from 127.0.0.1: the per-client limits (watches, connections) must hold them all.
RUST_LOG=warn "$BIN" serve --data-dir "$work" --listen "127.0.0.1:$port" --allowed-registry 127.0.0.1:1 \
    --max-watches-per-client "$((WATCHERS + 10))" --max-connections "$((WATCHERS + 100))" \
    --max-connections-per-client "$((WATCHERS + 100))" >"$work/serve.log" 2>&1 &
pid=$!
until curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do sleep 0.2; done
"$CLIENT" bench-watch --server "http://127.0.0.1:$port" --pid "$pid" --watchers "$WATCHERS" --rounds "${ROUNDS:-5}" ${LIST_FIRST:+--list-first}
