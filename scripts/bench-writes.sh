#!/usr/bin/env bash
# Write benchmark (README, "Write throughput"; issue 18 point 6): one release server on a fresh
# data directory, CLIENTS (16) concurrent clients posting ImageStreamMappings onto STREAMS (16)
# streams, WRITES (100,000) in all, each a new image on one of four tags: every write stores an
# Image, a history item, a watch event and an outbox row (a webhook takes every tag; its receiver
# is the client). Reports throughput and latency per WINDOW (10,000) writes, so a decay with the
# history's length shows, then the database's growth per write and the server's memory.
# BENCH_BIN measures another build (BENCH_SKIP_BUILD=1 skips building this tree).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BENCH_BIN:-./target/release/imagestreams}
# The client: this tree's build unless BENCH_CLIENT names another (an older server may lack it).
CLIENT=${BENCH_CLIENT:-./target/release/imagestreams}
[ -n "${BENCH_SKIP_BUILD:-}" ] || cargo build --release -p server --bin imagestreams
. ./scripts/registry-lib.sh   # free_port
work=$(mktemp -d)
port=$(free_port)
sink=$(free_port)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
RUST_LOG=warn "$BIN" serve --data-dir "$work" --listen "127.0.0.1:$port" --allowed-registry 127.0.0.1:1 \
    --allowed-webhook-target "127.0.0.1:$sink" >"$work/serve.log" 2>&1 &
pid=$!
until curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do sleep 0.2; done
# The database's pages in use (after a checkpoint, so the WAL's are counted once), in bytes.
used() { sqlite3 "$work/imagestreams.db" "PRAGMA wal_checkpoint(TRUNCATE);" "SELECT (page_count - freelist_count) * page_size FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size();" | tail -1; }
before=$(used)
writes=${WRITES:-100000}
"$CLIENT" bench-writes --server "http://127.0.0.1:$port" --pid "$pid" --sink-port "$sink" \
    --clients "${CLIENTS:-16}" --streams "${STREAMS:-16}" --writes "$writes" --window "${WINDOW:-10000}"
after=$(used)
echo "database pages in use: $before -> $after bytes: $(( (after - before) / writes )) bytes per write"
echo "(an Image, a history item, a watch event, a webhook delivery and an audit entry per write)"
