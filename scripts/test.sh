#!/usr/bin/env bash
# The README's test command: set up when needed, then every check and every test. Fails on the
# first failure. Needs PostgreSQL and NATS, which it starts (or installs) when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
# A clean build gains nothing from incremental artefacts (gigabytes of them).
export CARGO_INCREMENTAL=0
# Each step prints the minutes spent so far, so a slow run's log shows where the time went.
step() { printf '\n\033[1;34m==> %s\033[0m (%dm%02ds in)\n' "$*" $((SECONDS / 60)) $((SECONDS % 60)); }

step "setup"; scripts/setup.sh
df -h . | tail -1
step "services"; scripts/services.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "clippy (server-side packages, ssr)"
for p in domain eventstore orders server reliability bench; do
  cargo clippy -p "$p" --all-targets -- -D warnings
done
cargo clippy -p app --features ssr --all-targets -- -D warnings
step "clippy (browser packages, wasm, hydrate)"
cargo clippy -p domain -p frontend --target wasm32-unknown-unknown -- -D warnings

step "wasm dependency check: no sqlx, tokio or mio in the browser bundle"
if cargo tree -p frontend --target wasm32-unknown-unknown -e normal --prefix none \
    | grep -E '^(sqlx|sqlx-[a-z-]+|tokio|mio) v'; then
  echo "the wasm build pulls in server-only crates (listed above)"; exit 1
fi
echo "ok: none found"

step "Rust tests (SQLite and PostgreSQL)"
cargo test -p domain -p eventstore -p orders -p server

step "release build (server + optimised wasm)"
scripts/build.sh

step "API contract (release server): generated Python client journey, schemathesis, every answer checked against the OpenAPI document"
scripts/contract.sh target/release/server

step "reliability, full mode (kill -9 x20 per backend, PostgreSQL restarts, NATS outages, poison event, rebuild under load, disk full, model-based)"
cargo run --release -p reliability -- --server-bin target/release/server

step "Playwright end-to-end tests (Debian Chromium, release build, fresh database)"
(cd end2end && npx playwright test)
step "all checks passed"
