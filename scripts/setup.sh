#!/usr/bin/env bash
# Installs exactly what building and testing Eventide needs and is missing; skips the rest.
# Idempotent: run it as often as you like. Tool recipe: see the README ("Toolchain").
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
TOOLS="$ROOT/.tools"
say() { printf '\033[1msetup:\033[0m %s\n' "$*"; }

# wasm target for the browser bundle
if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "wasm32-unknown-unknown target present"
else
  say "adding the wasm32-unknown-unknown target"; rustup target add wasm32-unknown-unknown
fi

# wasm-bindgen CLI must equal the wasm-bindgen crate in Cargo.lock exactly.
want=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" = "$want" ]; then
  say "wasm-bindgen CLI $want present"
else
  say "installing wasm-bindgen CLI $want (had: ${have:-none})"
  cargo install wasm-bindgen-cli --version "$want" --force
fi

# wasm-opt from npm binaryen 132 (Debian's binaryen 108 breaks hydration).
if [ -x "$TOOLS/node_modules/.bin/wasm-opt" ] && "$TOOLS/node_modules/.bin/wasm-opt" --version | grep -q 'version 132'; then
  say "wasm-opt (binaryen 132) present"
else
  say "installing wasm-opt from npm binaryen@132"
  mkdir -p "$TOOLS"
  (cd "$TOOLS" && [ -f package.json ] || echo '{"private":true}' > package.json)
  npm install --prefix "$TOOLS" --no-audit --no-fund binaryen@132 >/dev/null
fi

# Chromium for Playwright (never downloaded by Playwright itself: no internet here).
if [ -x /usr/bin/chromium ]; then
  say "chromium present"
else
  say "installing Debian's chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y chromium >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y chromium >/dev/null; }
fi

# Playwright and friends, from the committed lockfile.
if [ -d end2end/node_modules/@playwright/test ] && [ end2end/node_modules/.package-lock.json -nt end2end/package-lock.json ]; then
  say "end2end npm packages present"
else
  say "installing end2end npm packages (npm ci)"
  (cd end2end && npm ci --no-audit --no-fund >/dev/null)
fi
say "done"
