#!/usr/bin/env bash
# The README's run command: set up when needed, build in release mode, and serve Eventide on the
# embedded SQLite default at http://127.0.0.1:3000 (data in ./data). Extra arguments go to the server.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/setup.sh
cargo leptos build --release
exec target/release/server --site-root target/site "$@"
