#!/usr/bin/env bash
# Installs what building, running and testing imagestreams needs, skipping what is already
# there: Debian packages, the wasm target, cargo-leptos, the wasm-bindgen CLI matching the pinned
# crate, Node.js >= 20 and the end-to-end npm packages. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*"; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }
SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null 2>&1 || die "not root and no sudo: run as root, or install sudo, to install Debian packages"
  SUDO="sudo"
fi
command -v dpkg-query >/dev/null 2>&1 || die "this script installs Debian packages (apt); on another system install the packages listed in it by hand"
command -v rustup >/dev/null 2>&1 || die "rustup is needed (the wasm32 target is added through it): https://rustup.rs"
# Cargo.toml's rust-version; sqlx 0.9 needs it.
need_rust=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
have_rust=$(rustc --version | sed 's/^rustc \([0-9.]*\).*/\1/')
[ "$(printf '%s\n%s\n' "$need_rust" "$have_rust" | sort -V | head -n1)" = "$need_rust" ] \
  || die "rustc $have_rust is older than the $need_rust this workspace needs: rustup update stable"

# Debian packages: C toolchain for bundled SQLite and aws-lc, Chromium for the browser tests,
# sqlite3 for the crash suite's integrity check, the CNCF distribution registry, skopeo and podman for import and registry tests, the Python kubernetes client for the
# API tests (and Debian's kubectl, kubernetes-client, when no kubectl is installed).
PKGS=(build-essential pkg-config perl curl ca-certificates python3 python3-kubernetes bc chromium docker-registry skopeo podman sqlite3)
command -v kubectl >/dev/null 2>&1 || PKGS+=(kubernetes-client)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's docker-registry starts a service with its own config on port 5000; the tests run
# their own registries with their own config files, so the packaged one is not needed.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
  $SUDO systemctl stop docker-registry || true
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# cargo-leptos 0.3.10: 0.3.11's lockfile needs a newer rustc. Fat LTO is turned off for the
# install: it halves the 17-minute build on two cores and changes nothing we use.
if ! cargo leptos --version 2>/dev/null | grep -qE '(^|[^0-9.])0\.3\.10($|[^0-9])'; then
  say "installing cargo-leptos 0.3.10 (takes a while on a small machine)"
  CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo install cargo-leptos --version 0.3.10 --locked --features no_downloads
fi

# The wasm-bindgen CLI must equal the wasm-bindgen crate in Cargo.lock exactly.
WB_VERSION=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p' | head -n1)
if ! wasm-bindgen --version 2>/dev/null | grep -q "$WB_VERSION"; then
  say "installing wasm-bindgen-cli $WB_VERSION"
  # Not --locked: its lockfile wants a webpki-roots version the registry index here lacks.
  cargo install wasm-bindgen-cli --version "$WB_VERSION"
fi

# Node.js >= 20 for @playwright/test.
node_major() { node --version 2>/dev/null | sed 's/^v\([0-9]*\).*/\1/'; }
if [ -z "$(node_major)" ] || [ "$(node_major)" -lt 20 ]; then
  if ! command -v npm >/dev/null 2>&1; then
    say "installing Debian's nodejs and npm"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
  if [ -z "$(node_major)" ] || [ "$(node_major)" -lt 20 ]; then
    say "installing Node.js 20 from the npm registry into .tools/"
    # .tools/ is ignored by git: what npm writes there never dirties the checkout.
    npm install --no-audit --no-fund --prefix .tools node@20 >/dev/null
  fi
fi
if [ -d .tools/node_modules/.bin ]; then export PATH="$PWD/.tools/node_modules/.bin:$PATH"; fi

if [ ! -d end2end/node_modules/@playwright/test ]; then
  say "installing the end-to-end test packages"
  (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi
