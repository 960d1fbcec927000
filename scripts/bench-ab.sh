#!/usr/bin/env bash
# A/B of read paths between two release builds, side by side in one run: one synthetic dataset,
# two copies, both servers up at once, requests interleaved (A, B, B, A, …) so the machine's
# noise falls on both alike. Prints p50/p99 per path for each.
# Usage: A_BIN=… [A_SITE=…] B_BIN=… [B_SITE=…] ./scripts/bench-ab.sh [PATH…]
#   (build each with `cargo leptos build --release --split` in its own worktree and copy the binary and
#   target/site aside; PATHs default to the catalog, a 1,000-item stream page and its API GET,
#   a list of 50 streams and the dashboard). STREAMS=10000 by default.
set -euo pipefail
cd "$(dirname "$0")/.."
. ./scripts/registry-lib.sh   # free_port
: "${A_BIN:?A_BIN: the first build's imagestreams}" "${B_BIN:?B_BIN: the second build's imagestreams}"
work=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
"$B_BIN" bench-data --data-dir "$work/b" --streams "${STREAMS:-10000}" --tags 10 --history 10 --timeline 1000 >/dev/null
cp -r "$work/b" "$work/a"
pa=$(free_port)
pb=$(free_port)
LEPTOS_SITE_ROOT="${A_SITE:-$PWD/target/site}" RUST_LOG=warn "$A_BIN" serve --data-dir "$work/a" --listen "127.0.0.1:$pa" --allowed-registry 127.0.0.1:1 >"$work/a.log" 2>&1 &
pids+=($!)
LEPTOS_SITE_ROOT="${B_SITE:-$PWD/target/site}" RUST_LOG=warn "$B_BIN" serve --data-dir "$work/b" --listen "127.0.0.1:$pb" --allowed-registry 127.0.0.1:1 >"$work/b.log" 2>&1 &
pids+=($!)
for p in $pa $pb; do until curl -fsS "http://127.0.0.1:$p/readyz" >/dev/null 2>&1; do sleep 0.2; done; done
if [ $# -eq 0 ]; then
  set -- / /ns/timeline/long /apis/image.openshift.io/v1/namespaces/timeline/imagestreams/long \
    "/apis/image.openshift.io/v1/namespaces/bench-0/imagestreams?limit=50" /dashboard
fi
python3 - "$pa" "$pb" "$@" <<'PY'
import http.client, sys, time
ports = {"A": int(sys.argv[1]), "B": int(sys.argv[2])}
conns = {k: http.client.HTTPConnection("127.0.0.1", p) for k, p in ports.items()}
def get(k, path):
    c = conns[k]
    t0 = time.perf_counter()
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    assert r.status == 200, (k, path, r.status)
    return (time.perf_counter() - t0) * 1000, len(body)
for path in sys.argv[3:]:
    times, size = {"A": [], "B": []}, {}
    for i in range(320):
        for k in (("A", "B") if i % 2 == 0 else ("B", "A")):
            dt, n = get(k, path)
            size[k] = n
            if i >= 20:  # warm-up
                times[k].append(dt)
    cols = []
    for k in ("A", "B"):
        t = sorted(times[k])
        cols.append(f"{k} p50 {t[len(t) // 2]:.1f} ms, p99 {t[int(len(t) * 0.99) - 1]:.1f} ms ({size[k]} B)")
    print(f"    {path}: " + "; ".join(cols))
PY
