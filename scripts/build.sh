#!/usr/bin/env bash
# Release build of the server and the browser bundle: the same files, names and layout that
# `cargo leptos build --release` (0.3.10) writes, read from the same `[[workspace.metadata.leptos]]`
# table, without cargo-leptos itself. Installing cargo-leptos is ~15 minutes of compiling on a
# fresh 2-core machine (half of a cold test run's setup); its release build is these steps:
#   1. the server binary, with LEPTOS_OUTPUT_NAME set at compile time (leptos then names the
#      wasm `<output-name>.wasm` in the hydration script);
#   2. the frontend library for wasm32 with the lib-profile-release profile;
#   3. wasm-bindgen --target=web into <site-root>/<site-pkg-dir>, `_bg.wasm` renamed as above;
#   4. wasm-opt -Oz (binaryen 132 from scripts/setup.sh);
#   5. the style file as <output-name>.css and the assets directory into the site root.
# cargo-leptos still works for `cargo leptos watch` during development if you install it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
step() { printf '\033[1mbuild:\033[0m %s\n' "$*"; }

# One value of the metadata table (the workspace Cargo.toml is the one place they are written).
meta() {
  awk -v key="$1" '
    /^\[\[workspace\.metadata\.leptos\]\]/ { inside = 1; next }
    /^\[/ { inside = 0 }
    inside && $1 == key { sub(/^[^=]*=[ \t]*/, ""); gsub(/"/, ""); print; exit }
  ' Cargo.toml
}
name=$(meta output-name)
bin=$(meta bin-package)
lib=$(meta lib-package)
site=$(meta site-root)
pkg=$(meta site-pkg-dir)
style=$(meta style-file)
assets=$(meta assets-dir)
profile=$(meta lib-profile-release)
for v in name bin lib site pkg style assets profile; do
  [ -n "${!v}" ] || { echo "build: [[workspace.metadata.leptos]] lacks the value for $v" >&2; exit 1; }
done
target=${CARGO_TARGET_DIR:-target}
export LEPTOS_OUTPUT_NAME=$name LEPTOS_SITE_ROOT=$site LEPTOS_SITE_PKG_DIR=$pkg LEPTOS_HASH_FILES=false

step "server ($bin, release)"
cargo build --release --package "$bin" --bin "$bin" --no-default-features

step "browser bundle ($lib, wasm32, profile $profile)"
cargo build --package "$lib" --lib --target wasm32-unknown-unknown --no-default-features \
  --profile "$profile"
wasm="$target/wasm32-unknown-unknown/$profile/${lib//-/_}.wasm"

out="$site/$pkg"
rm -rf "$out.tmp"
mkdir -p "$out.tmp"
step "wasm-bindgen -> $out"
wasm-bindgen --target=web --out-name="$name" --out-dir="$out.tmp" "$wasm"
mv "$out.tmp/${name}_bg.wasm" "$out.tmp/$name.wasm"
step "wasm-opt -Oz"
wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
  "$out.tmp/$name.wasm" -o "$out.tmp/$name.wasm"
cp "$style" "$out.tmp/$name.css"
# Swap the finished directory in whole: a server running from the old one never sees half of it.
rm -rf "$out"
mv "$out.tmp" "$out"
cp -R "$assets/." "$site/"
step "done: $target/release/$bin, $out/$name.{js,wasm,css} ($(du -h "$out/$name.wasm" | cut -f1) wasm)"
