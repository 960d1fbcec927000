#!/usr/bin/env bash
# Integrated registry benchmark (README, "The integrated registry"; issue 15, point 8), side by
# side with Debian's docker-registry (CNCF distribution) on this machine in the same run:
#
#   1. first pull through (nothing mirrored yet) vs a direct pull from the upstream
#      docker-registry, of a 256 MB blob with curl and of a 256 MB image with skopeo
#                                                           target: <= 1.2x the direct time
#   2. cached blob GET throughput, 256 MB, 1 and 8 clients   target: >= 1.0x docker-registry
#   3. manifest GET by tag, p50 over 2,000 requests          target: <= 1.2x docker-registry
#   4. tags/list of a 1,000-tag repository, p50 over 200     target: >= 5x faster
#   5. serving a 1 GB blob: resident memory growth            target: < 20 MB
#
# Blobs are fetched with curl (to /dev/null), one curl per client; latencies with one
# keep-alive connection per server, alternating blocks so drift hits both alike.
# BENCH_BIN measures another build (BENCH_SKIP_BUILD=1 skips building this tree's release).
# BENCH_BIG_MB / BENCH_HUGE_MB change the blob sizes (defaults 256 and 1024).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BENCH_BIN:-./target/release/imagestreams}
[ -n "${BENCH_SKIP_BUILD:-}" ] || cargo build --release -p server --bin imagestreams
. ./scripts/registry-lib.sh   # free_port, start_registry, push_tags, _push_blob
work=$(mktemp -d)
pid=""
REG_PID=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  [ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
big_mb=${BENCH_BIG_MB:-256}
huge_mb=${BENCH_HUGE_MB:-1024}

start_registry "$work"
UP=$REG
port=$(free_port)
PORTAL="127.0.0.1:$port"
RUST_LOG=warn "$BIN" serve --data-dir "$work/data" --listen "$PORTAL" --allowed-registry "$UP" --insecure-registry "$UP" \
  >"$work/serve.log" 2>&1 &
pid=$!
until curl -fsS "http://$PORTAL/readyz" >/dev/null 2>&1; do sleep 0.2; done

echo "==> preparing: a ${big_mb} MB image upstream, imported (metadata only) into default/big"
head -c "$((big_mb << 20))" /dev/urandom >"$work/big"
REG=$UP
big=$(_push_blob bench/big "$work/big")
printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[]}}' >"$work/config"
cfg=$(_push_blob bench/big "$work/config")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%s}]}' \
  "$cfg" "$(stat -c %s "$work/config")" "$big" "$(stat -c %s "$work/big")" >"$work/manifest"
curl -fsS -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary "@$work/manifest" \
  "http://$UP/v2/bench/big/manifests/1"
curl -fsS -o /dev/null -X POST -H 'Content-Type: application/json' \
  --data "{\"metadata\":{\"name\":\"big\"},\"spec\":{\"import\":true,\"images\":[{\"from\":{\"kind\":\"DockerImage\",\"name\":\"$UP/bench/big:1\"},\"to\":{\"name\":\"1\"},\"importPolicy\":{\"insecure\":true}}]}}" \
  "http://$PORTAL/apis/image.openshift.io/v1/namespaces/default/imagestreamimports"

echo "==> preparing: a second ${big_mb} MB image upstream for a client's pull (skopeo), imported into default/big2"
head -c "$((big_mb << 20))" /dev/urandom >"$work/big2"
big2=$(_push_blob bench/big2 "$work/big2")
printf '{"architecture":"amd64","os":"linux","config":{"Env":["N=2"]},"rootfs":{"type":"layers","diff_ids":[]}}' >"$work/config2"
cfg2=$(_push_blob bench/big2 "$work/config2")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%s}]}' \
  "$cfg2" "$(stat -c %s "$work/config2")" "$big2" "$(stat -c %s "$work/big2")" >"$work/manifest2"
curl -fsS -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary "@$work/manifest2" \
  "http://$UP/v2/bench/big2/manifests/1"
curl -fsS -o /dev/null -X POST -H 'Content-Type: application/json' \
  --data "{\"metadata\":{\"name\":\"big2\"},\"spec\":{\"import\":true,\"images\":[{\"from\":{\"kind\":\"DockerImage\",\"name\":\"$UP/bench/big2:1\"},\"to\":{\"name\":\"1\"},\"importPolicy\":{\"insecure\":true}}]}}" \
  "http://$PORTAL/apis/image.openshift.io/v1/namespaces/default/imagestreamimports"
rm -f "$work/big2"

echo "==> preparing: 1,000 tags in both registries"
REG=$UP push_tags "$work" bench/many 1000
REG=$PORTAL push_tags "$work" default/many 1000

echo "==> preparing: a ${huge_mb} MB blob pushed to the portal"
head -c "$((huge_mb << 20))" /dev/urandom >"$work/huge"
huge=$(REG=$PORTAL _push_blob default/huge "$work/huge")
rm -f "$work/huge"

python3 - "$UP" "$PORTAL" "$pid" "$big" "$huge" "$work" "$huge_mb" <<'EOF'
import http.client, json, os, statistics, subprocess, sys, time
up, portal, pid, big, huge, work, huge_mb = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7]
big_size = os.path.getsize(f"{work}/big")

def curl_time(urls):
    """Wall time of fetching every URL at once (one curl each), bytes checked."""
    t = time.perf_counter()
    procs = [subprocess.Popen(["curl", "-fsS", "-o", "/dev/null", "-w", "%{size_download}", u], stdout=subprocess.PIPE) for u in urls]
    sizes = [int(p.communicate()[0]) for p in procs]
    elapsed = time.perf_counter() - t
    assert all(p.returncode == 0 for p in procs), "a download failed"
    return elapsed, sum(sizes)

direct = f"http://{up}/v2/bench/big/blobs/{big}"
through = f"http://{portal}/v2/default/big/blobs/{big}"
mirrored = f"{work}/data/blobs/blobs/sha256/{big[7:9]}/{big[7:]}"

# 1. First pull through vs direct (the direct one first warms the upstream's page cache for both).
d, _ = curl_time([direct])
d2, _ = curl_time([direct])
d = min(d, d2)
t, n = curl_time([through])
assert n == big_size, (n, big_size)
print(f"first pull-through of a {big_size >> 20} MB blob with curl: direct {d:.2f} s, through the portal {t:.2f} s: {t / d:.2f}x (target <= 1.2x)")

# The same as a client pulls an image: skopeo (manifest, config, layer; digests verified,
# written to a directory), directly from the upstream, then through the portal (first pull).
def skopeo_time(src, dest):
    subprocess.run(["rm", "-rf", dest])
    t = time.perf_counter()
    subprocess.run(["skopeo", "copy", "--src-tls-verify=false", src, f"dir:{dest}"], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t
sd = min(skopeo_time(f"docker://{up}/bench/big2:1", f"{work}/pull-direct") for _ in range(2))
st = skopeo_time(f"docker://{portal}/default/big2:1", f"{work}/pull-through")
subprocess.run(["rm", "-rf", f"{work}/pull-direct", f"{work}/pull-through"])
print(f"first pull-through of a {big_size >> 20} MB image with skopeo: direct {sd:.2f} s, through the portal {st:.2f} s: {st / sd:.2f}x (target <= 1.2x)")
for _ in range(600):
    if os.path.exists(mirrored):
        break
    time.sleep(0.1)
time.sleep(0.5)

# 2. Cached blob throughput (best of 3, alternating).
for clients in (1, 8):
    rates = {"docker-registry": [], "imagestreams": []}
    for _ in range(3):
        for name, url in (("docker-registry", direct), ("imagestreams", through)):
            e, n = curl_time([url] * clients)
            rates[name].append(n / e / 1e6)
    r, p = max(rates["docker-registry"]), max(rates["imagestreams"])
    print(f"cached blob GET, {clients} client(s): docker-registry {r:.0f} MB/s, imagestreams {p:.0f} MB/s: {p / r:.2f}x (target >= 1.0x)")

def latencies(host, path, count, headers):
    c = http.client.HTTPConnection(host, timeout=60)
    out = []
    for _ in range(count):
        t = time.perf_counter()
        c.request("GET", path, headers=headers)
        r = c.getresponse()
        r.read()
        assert r.status == 200, (host, path, r.status)
        out.append((time.perf_counter() - t) * 1000)
    return out

def compare(label, ref, ours, count, headers, target):
    a, b = [], []
    for _ in range(4):
        a += latencies(up, ref, count // 4, headers)
        b += latencies(portal, ours, count // 4, headers)
    pa, pb = statistics.median(a), statistics.median(b)
    print(f"{label}: docker-registry p50 {pa:.3f} ms, imagestreams p50 {pb:.3f} ms: {pb / pa:.2f}x ({target})")

accept = {"Accept": "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"}
latencies(up, "/v2/bench/many/manifests/t1", 50, accept)
latencies(portal, "/v2/default/many/manifests/t1", 50, accept)
compare("manifest GET by tag", "/v2/bench/many/manifests/t500", "/v2/default/many/manifests/t500", 2000, accept, "target <= 1.2x")
compare("tags/list of 1,000 tags", "/v2/bench/many/tags/list", "/v2/default/many/tags/list", 200, {}, "target <= 0.2x, i.e. >= 5x faster")

# 5. Serving a 1 GB blob: resident memory.
def status_kb(field):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
before = status_kb("VmRSS")
peak = before
proc = subprocess.Popen(["curl", "-fsS", "-o", "/dev/null", f"http://{portal}/v2/default/huge/blobs/{huge}"])
while proc.poll() is None:
    peak = max(peak, status_kb("VmRSS"))
    time.sleep(0.02)
assert proc.returncode == 0
print(f"serving a {huge_mb} MB blob: resident {before / 1024:.1f} MB before, peak {peak / 1024:.1f} MB during: +{(peak - before) / 1024:.1f} MB (target < 20 MB)")
EOF
