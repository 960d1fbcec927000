#!/usr/bin/env bash
# UI benchmark (README, "The web UI"): builds the release site, writes 10,000 streams / 100,000 tags /
# 1,000,000 history items plus one tag with a 1,000-item history and one stream with 500 tags,
# serves them, and measures server-side rendering of the catalog's first page, of that timeline
# and of the 500-tag stream's first page (p50/p99 over 200 requests), and the gzipped size of
# the release WASM + JS.
set -euo pipefail
cd "$(dirname "$0")/.."
# BENCH_BIN and BENCH_SITE measure another build (say, an older commit's, copied aside) with
# this very procedure; BENCH_SKIP_BUILD=1 skips the build of this tree.
BIN=${BENCH_BIN:-./target/release/imagestreams}
SITE=${BENCH_SITE:-$PWD/target/site}
if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
  ./scripts/setup.sh
  # wasm-opt for release builds: binaryen from npm (Debian's binaryen 108 breaks hydration).
  if ! command -v wasm-opt >/dev/null 2>&1; then
    [ -x .tools/node_modules/.bin/wasm-opt ] || npm install --no-audit --no-fund --prefix .tools binaryen@123.0.0 >/dev/null
    export PATH="$PWD/.tools/node_modules/.bin:$PATH"
  fi
  cargo leptos build --release
fi
. ./scripts/registry-lib.sh   # free_port
work=$(mktemp -d)
port=$(free_port)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
echo "==> writing the dataset"
/usr/bin/time -f "    %es, %MKB peak" "$BIN" bench-data --data-dir "$work" --streams "${STREAMS:-10000}" --tags 10 --history 10 --timeline 1000
LEPTOS_SITE_ROOT="$SITE" "$BIN" serve --data-dir "$work" --listen "127.0.0.1:$port" --allowed-registry 127.0.0.1:1 >"$work/serve.log" 2>&1 &
pid=$!
until curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do sleep 0.2; done
python3 - "$port" <<'PY'
import http.client, statistics, sys, time
port = int(sys.argv[1])
def measure(path, n=200):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    times = []
    for i in range(n + 10):
        t0 = time.perf_counter()
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        dt = (time.perf_counter() - t0) * 1000
        assert r.status == 200, (path, r.status)
        if i >= 10:  # warm-up
            times.append(dt)
    times.sort()
    return times[len(times) // 2], times[int(len(times) * 0.99) - 1], len(body)
for label, path, marker in [
    ("catalog first page", "/", b"app-00000"),
    ("stream page of a tag with 1,000 history items (lanes: all, list: newest 50)", "/ns/timeline/long", b"v0.0"),
    ("the same with all 1,000 items listed (?history=all)", "/ns/timeline/long?history=all", b"v0.0"),
    # Issue 17 point 3: target <= 30 ms (p50) for the first page of a stream with 500 tags.
    ("first page of the tag table of a stream with 500 tags", "/ns/wide/many", b"v1.0"),
    ("the same, newest first, page 3 of 100 rows", "/ns/wide/many?sort=-updated&per=100&page=3", b"v1"),
]:
    p50, p99, size = measure(path)
    print(f"    {label}: p50 {p50:.1f} ms, p99 {p99:.1f} ms ({size} bytes)")
PY
wasm=$(gzip -9 -c "$SITE/pkg/portal.wasm" | wc -c)
js=$(gzip -9 -c "$SITE/pkg/portal.js" | wc -c)
ui=$(gzip -9 -c "$SITE/portal-ui.js" | wc -c)
echo "    release WASM + JS gzipped: $((wasm + js + ui)) bytes (wasm $wasm, js $js, portal-ui.js $ui)"
