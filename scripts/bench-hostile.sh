#!/usr/bin/env bash
# Hostile-input benchmark (README, "Security"): the live review's YAML alias bomb and deeply
# nested YAML, sent anonymously and signed in, against one server with accounts on. Reports each
# request's status and time, the server's resident memory before, after each case once and after
# all of them at once (and its peak), and
# /healthz latency while two of each run concurrently. Targets (issue 13, point 1): every answer a
# 4xx within 50 ms, resident memory grows by less than 20 MB, /healthz under 10 ms meanwhile.
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
printf 'bench-admin-password\n' >"$work/admin-password"
RUST_LOG=warn "$BIN" serve --data-dir "$work/data" --listen "127.0.0.1:$port" --admin-password-file "$work/admin-password" \
  >"$work/serve.log" 2>&1 &
pid=$!
until curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do sleep 0.2; done
python3 - "$port" "$pid" <<'EOF'
import http.client, json, sys, threading, time
port, pid = int(sys.argv[1]), int(sys.argv[2])

def rss_kb(field="VmRSS"):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])

def request(method, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    t = time.perf_counter()
    try:
        c.request(method, path, body=body, headers=headers or {})
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered (413) before reading the whole body
    r = c.getresponse()
    data = r.read()
    return r.status, (time.perf_counter() - t) * 1000, data

status, _, data = request("POST", "/api/v1/session", json.dumps({"username": "admin", "password": "bench-admin-password"}),
                          {"Content-Type": "application/json"})
c = http.client.HTTPConnection("127.0.0.1", port)
c.request("POST", "/api/v1/session", json.dumps({"username": "admin", "password": "bench-admin-password"}), {"Content-Type": "application/json"})
r = c.getresponse(); r.read()
cookie = r.getheader("Set-Cookie").split(";")[0]

def bomb(anchor, aliases):
    a = "A" * anchor
    return ("metadata: {name: x, annotations: {k0: &a " + a + ", " + ", ".join(f"k{i}: *a" for i in range(1, aliases)) + "}}\n").encode()

def nested(n):
    return ("metadata: {name: x}\nzzz: " + "[" * n + "]" * n + "\n").encode()

IS = "/apis/image.openshift.io/v1/namespaces/default/imagestreams"
cases = [
    ("alias bomb 1.9 MB, anonymous", "/api/v1/namespaces", bomb(1_000_000, 75_000), False),
    ("alias bomb 239 KB, anonymous", "/api/v1/namespaces", bomb(10_000, 20_000), False),
    ("alias bomb 1.9 MB, signed in", IS, bomb(1_000_000, 900), True),
    ("nesting 100,000 (200 KB), anonymous", "/api/v1/namespaces", nested(100_000), False),
    ("nesting 100,000 (200 KB), signed in", IS, nested(100_000), True),
    ("nesting 1,000,000 (2 MB), signed in", IS, nested(999_000), True),
]
for _ in range(3):  # warm up
    request("GET", "/healthz")
before, peak_before = rss_kb(), rss_kb("VmHWM")
print(f"{'case':40} {'status':>6} {'ms':>8}")
worst = 0.0
for name, path, body, signed in cases:
    h = {"Content-Type": "application/yaml"}
    if signed:
        h["Cookie"] = cookie
    status, ms, _ = request("POST", path, body, h)
    worst = max(worst, ms)
    print(f"{name:40} {status:>6} {ms:8.1f}")
sequential = rss_kb()

# Two of each at once, and /healthz meanwhile.
health = []
stop = threading.Event()
def probe():
    while not stop.is_set():
        health.append(request("GET", "/healthz")[1])
        time.sleep(0.005)
threads = [threading.Thread(target=probe)]
for name, path, body, signed in cases * 2:
    h = {"Content-Type": "application/yaml"}
    if signed:
        h["Cookie"] = cookie
    threads.append(threading.Thread(target=request, args=("POST", path, body, h)))
for t in threads:
    t.start()
for t in threads[1:]:
    t.join()
stop.set()
threads[0].join()
after, peak = rss_kb(), rss_kb("VmHWM")
health.sort()
print(f"worst answer: {worst:.1f} ms")
print(f"resident memory: {before/1024:.1f} MB before, {sequential/1024:.1f} MB after each case once "
      f"(+{(sequential-before)/1024:.1f} MB), {after/1024:.1f} MB after all twelve at once "
      f"(+{(after-before)/1024:.1f} MB, twelve bodies of up to 2 MB in flight together); peak {peak/1024:.1f} MB")
print(f"/healthz during the hostile requests: {len(health)} probes, median {health[len(health)//2]:.1f} ms, max {health[-1]:.1f} ms")
EOF
