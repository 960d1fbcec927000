#!/usr/bin/env bash
# UI benchmark (README, "The web UI"): builds the release site, writes 10,000 streams / 100,000 tags /
# 1,000,000 history items plus one tag with a 1,000-item history and one stream with 500 tags,
# serves them, and measures server-side rendering of the catalog's first page, of that timeline
# and of the 500-tag stream's first page (p50/p99 over 200 requests), and the gzipped WASM + JS a
# browser downloads for each page (the main module and the page's lazily loaded islands); and the server's resident memory idle (after a settle) and at its peak
# under that load (issue 18 point 6: at most 80 MB idle, 200 MB under load).
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
  cargo leptos build --release --split
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
rss() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$pid/status"; }
sleep 3
echo "    server resident memory idle, holding the dataset: $(rss VmRSS) KB"
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
echo "    server resident memory after the load: $(rss VmRSS) KB (peak $(rss VmHWM) KB)"
# What a browser downloads for each page: the main module (portal.wasm and its JS, portal-ui.js,
# the split loader) and the lazily loaded islands on that page with the chunks they share
# (pkg/__wasm_split_manifest.json names them), each file gzipped on its own as it is served.
python3 - "$port" "$SITE" <<'PY'
import gzip, json, os, re, sys, urllib.request
port, site = sys.argv[1], sys.argv[2]
pkg = os.path.join(site, "pkg")
def gz(path):
    with open(path, "rb") as f:
        return len(gzip.compress(f.read(), 9))
base_files = [os.path.join(pkg, "portal.wasm"), os.path.join(pkg, "portal.js"), os.path.join(site, "portal-ui.js")]
split_js = os.path.join(pkg, "__wasm_split.______________________.js")
manifest = {}
if os.path.exists(split_js):
    base_files.append(split_js)
    with open(os.path.join(pkg, "__wasm_split_manifest.json")) as f:
        manifest = json.load(f)
base = sum(gz(f) for f in base_files)
print(f"    release WASM + JS gzipped, main module: {base} bytes ({len(base_files)} files)")
worst = base
# The account page has its islands only for a signed-in user, and this server has no accounts:
# that page is named by its islands instead of fetched.
pages = [("catalog", "/"), ("dashboard", "/dashboard"), ("stream", "/ns/wide/many"), ("webhooks", "/webhooks/wide"),
         ("namespace", "/namespaces/wide"), ("namespace prune", "/namespaces/wide/prune"), ("server prune", "/admin/prune"),
         ("account (signed in)", ["Tokens", "PasswordForm"])]
for label, page in pages:
    if isinstance(page, list):
        islands = page
    else:
        html = urllib.request.urlopen(f"http://127.0.0.1:{port}{page}").read().decode()
        islands = set(re.findall(r'data-component="([A-Za-z]+)_[0-9]+"', html))
    files = set()
    for island in islands:
        snake = re.sub(r"(?<!^)([A-Z])", r"_\1", island).lower()
        for key, parts in manifest.items():
            if key.startswith(snake + "_loader_"):
                files.update(parts)
    total = base + sum(gz(os.path.join(pkg, f + ".wasm")) for f in files)
    worst = max(worst, total)
    print(f"    browser payload of the {label} page: {total} bytes gzipped ({len(files)} lazy files)")
print(f"    largest browser payload of a page: {worst} bytes gzipped")
PY
