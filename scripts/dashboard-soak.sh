#!/usr/bin/env bash
# The wall dashboard's memory test, for an hour by default: `imagestreams serve --demo` (via
# scripts/e2e.sh), the kiosk dashboard open in Chromium, a tag moving every second; it fails if
# the JS heap after garbage collection, the DOM nodes or the event listeners grow, or if the page
# ever reloads. Prints the samples as one JSON line. Expects a finished `cargo leptos build --split`.
#
#   SOAK_SECONDS=600 ./scripts/dashboard-soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export SOAK_SECONDS="${SOAK_SECONDS:-3600}"
exec ./scripts/e2e.sh wall.spec.ts -g "survives being open"
