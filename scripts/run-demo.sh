#!/usr/bin/env bash
# Sets everything up, builds the portal, and runs it on an embedded SQLite database under
# ./data with demo data. Open http://127.0.0.1:3000/ (IMAGESTREAMS_LISTEN changes the address).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo leptos build --split
exec ./target/debug/imagestreams serve --demo --data-dir "${IMAGESTREAMS_DATA_DIR:-./data}" "$@"
