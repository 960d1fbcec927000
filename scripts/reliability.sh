#!/usr/bin/env bash
# The reliability suites at full size (issue 18, point 5), one after the other, in a release
# build. Their short versions run with every `cargo test` (./scripts/test.sh); this runs the long
# ones, which are `#[ignore]`d there:
#   concurrency  50 clients × 200 operations on one stream   (CONCURRENCY_CLIENTS, CONCURRENCY_OPS)
#   crash        50 kill -9 trials                           (CRASH_TRIALS)
#   faults       every upstream fault of imports (the same test as in CI: it is already complete)
#   soak         30 minutes of mixed load                    (SOAK_MINUTES)
# Usage: ./scripts/reliability.sh [concurrency|crash|faults|soak]...   (default: all four)
# Needs Debian's docker-registry and sqlite3. Each suite prints what it measured (--nocapture).
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="${RUSTFLAGS:---cfg erase_components}"
[ $# -eq 0 ] && set -- concurrency crash faults soak
for suite in "$@"; do
  case "$suite" in
    concurrency) args=(--test reliability_concurrency -- --ignored --nocapture) ;;
    crash) args=(--test reliability_crash -- --ignored --nocapture) ;;
    faults) args=(--test reliability_import_faults -- --nocapture) ;;
    soak) args=(--test reliability_soak -- --ignored --nocapture) ;;
    *) echo "unknown suite $suite (concurrency, crash, faults, soak)" >&2; exit 2 ;;
  esac
  echo "==> $suite"
  cargo test --release -p server "${args[@]}"
done
