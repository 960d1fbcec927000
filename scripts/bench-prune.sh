#!/usr/bin/env bash
# Prune benchmark (README, "Pruning"; issue 16, point 7): the UI benchmark's dataset (10,000
# streams, 1,000,000 history items), then `prune images` through the API — a dry run, then a
# real prune keeping 3 revisions — timing each, with the server's peak resident memory, while
# one client reads a stream over and over (its p99 is the "portal keeps answering" number).
# Targets: dry run <= 10 s, real prune <= 60 s, peak memory <= 200 MB, reads p99 <= 50 ms.
# BENCH_BIN measures another build (BENCH_SKIP_BUILD=1 skips building this tree's release).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BENCH_BIN:-./target/release/imagestreams}
[ -n "${BENCH_SKIP_BUILD:-}" ] || cargo build --release -p server --bin imagestreams
. ./scripts/registry-lib.sh   # free_port
work=$(mktemp -d)
port=$(free_port)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
echo "==> writing the dataset"
"$BIN" bench-data --data-dir "$work" --streams "${STREAMS:-10000}" --tags 10 --history 10 --timeline 10 >/dev/null
RUST_LOG=warn "$BIN" serve --data-dir "$work" --listen "127.0.0.1:$port" --allowed-registry 127.0.0.1:1 >"$work/serve.log" 2>&1 &
pid=$!
until curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do sleep 0.2; done
python3 - "$port" "$pid" <<'PY'
import http.client, json, sys, threading, time
port, pid = int(sys.argv[1]), int(sys.argv[2])

def status_kb(field):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])

conn = http.client.HTTPConnection("127.0.0.1", port)
conn.request("GET", "/apis/image.openshift.io/v1/imagestreams?limit=1")
r = conn.getresponse(); body = json.loads(r.read())
one = body["items"][0]["metadata"]
read_path = f"/apis/image.openshift.io/v1/namespaces/{one['namespace']}/imagestreams/{one['name']}"

def prune(confirm):
    stop = threading.Event()
    reads = []
    def reader():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while not stop.is_set():
            t = time.perf_counter()
            c.request("GET", read_path)
            rr = c.getresponse(); rr.read()
            reads.append((time.perf_counter() - t) * 1000)
            time.sleep(0.01)
    th = threading.Thread(target=reader); th.start()
    before = status_kb("VmRSS")
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
    t = time.perf_counter()
    c.request("POST", "/api/v1/prune/images", json.dumps({"keepYoungerThanSeconds": 0, "confirm": confirm}), {"Content-Type": "application/json"})
    rr = c.getresponse(); data = rr.read()
    elapsed = time.perf_counter() - t
    stop.set(); th.join()
    assert rr.status == 200, (rr.status, data[:300])
    report = json.loads(data)
    reads.sort()
    p99 = reads[int(len(reads) * 0.99) - 1] if reads else float("nan")
    items = sum(len(s["items"]) for s in report["streams"])
    return elapsed, before, status_kb("VmHWM"), p99, len(reads), items, report["summary"], len(data)

for label, confirm, target in (("dry run", False, 10), ("real prune", True, 60)):
    e, before, peak, p99, n, items, summary, size = prune(confirm)
    print(f"{label}: {e:.1f} s for {items} history items (target <= {target} s); resident {before / 1024:.0f} MB before, "
          f"peak {peak / 1024:.0f} MB (target <= 200 MB); reads meanwhile p99 {p99:.1f} ms over {n} (target <= 50 ms); "
          f"report {size / 1e6:.0f} MB; {summary}")
PY
