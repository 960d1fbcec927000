#!/usr/bin/env bash
# Benchmark: import a 500-tag repository with `import-image --all` (limit lifted) from a local
# registry, side by side with a loop of `skopeo inspect` over the same tags.
# Usage: scripts/bench-import.sh [TAGS]   (expects a finished `cargo leptos build` or `cargo build`)
set -euo pipefail
cd "$(dirname "$0")/.."
TAGS=${1:-500}
BIN=./target/debug/imagestreams
[ -x ./target/release/imagestreams ] && [ "${BENCH_PROFILE:-debug}" = release ] && BIN=./target/release/imagestreams
# BENCH_BIN measures another build (say, an older commit's) with this procedure.
BIN=${BENCH_BIN:-$BIN}
. ./scripts/registry-lib.sh

work=$(mktemp -d)
portal_port=$(free_port)
portal_pid=""
# The registry's Go GC, for the registry process only (skopeo keeps Go's default). Distribution
# reads every blob through a 4 MiB buffer (storage/filereader.go, fileReaderBufferSize), so at
# Go's default GOGC=100 with its small heap it collects after nearly every config GET: measured on
# 2 cores, that makes the registry (1.9 s CPU for the 1,000 requests) the bottleneck of the
# whole import, not the importer (0.3 s). GOGC=400 gives it the headroom a production registry
# has; BENCH_REGISTRY_GOGC=100 measures it as installed.
GOGC=${BENCH_REGISTRY_GOGC:-400} start_registry "$work"
echo "==> registry GOGC=${BENCH_REGISTRY_GOGC:-400}"
cleanup() { kill $REG_PID $portal_pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

echo "==> pushing $TAGS tags (distinct configs, one shared layer)"
push_tags "$work" bench/app "$TAGS"

"$BIN" serve --listen "127.0.0.1:$portal_port" --data-dir "$work/data" --insecure-registry "$REG" --allowed-registry "$REG" \
  --max-images-bulk-imported-per-repository -1 ${BENCH_SERVE_ARGS:-} >"$work/portal.log" 2>&1 &

portal_pid=$!
until curl -fsS "http://127.0.0.1:$portal_port/readyz" >/dev/null 2>&1; do sleep 0.1; done

now() { date +%s.%N; }
if [ -n "${BENCH_DEBUG:-}" ]; then
  t0=$(now)
  seq 1 "$TAGS" | xargs -P16 -I{} curl -fsS -o /dev/null -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REG/v2/bench/app/manifests/t{}"
  echo "    (raw: $TAGS manifest GETs with curl, 16 at a time: $(echo "$(now) - $t0" | bc)s)"
fi
echo "==> imagestreams import-image --all ($TAGS tags)"
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
t0=$(now)
[ -n "${BENCH_DEBUG:-}" ] && c0=$(cpu $portal_pid) && r0=$(cpu $REG_PID)
"$BIN" --server "http://127.0.0.1:$portal_port" import-image bench --from="$REG/bench/app" --all --confirm >"$work/import.out"
[ -n "${BENCH_DEBUG:-}" ] && echo "    (CPU during the import, 1/100 s: portal $(( $(cpu $portal_pid) - c0 )), registry $(( $(cpu $REG_PID) - r0 )))"
if [ -n "${BENCH_DEBUG:-}" ]; then t2=$(now); echo "    (again, unchanged:)"; "$BIN" --server "http://127.0.0.1:$portal_port" import-image bench:t1 >/dev/null; echo "    single re-import $(echo "$(now) - $t2" | bc)s"; fi
t1=$(now)
imported=$("$BIN" --server "http://127.0.0.1:$portal_port" get istag -o name | grep -c '^imagestreamtag.image.openshift.io/bench:' || true)
ours=$(echo "$t1 - $t0" | bc)
echo "    imported $imported tags in ${ours}s"

echo "==> skopeo inspect loop ($TAGS tags)"
t0=$(now)
for i in $(seq 1 "$TAGS"); do skopeo inspect --tls-verify=false "docker://$REG/bench/app:t$i" >/dev/null; done
t1=$(now)
theirs=$(echo "$t1 - $t0" | bc)
echo "    inspected $TAGS tags in ${theirs}s"
if [ -n "${BENCH_DEBUG:-}" ]; then grep -E "lookups done|import stored" "$work/portal.log" | tail -4 || true; fi
echo "==> imagestreams ${ours}s vs skopeo loop ${theirs}s: $(echo "scale=1; $theirs / $ours" | bc)x faster"
[ "$imported" = "$TAGS" ] || { echo "expected $TAGS imported tags, got $imported" >&2; exit 1; }
