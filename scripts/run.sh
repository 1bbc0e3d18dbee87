#!/usr/bin/env bash
# The README's run command: set up when needed, build in release mode, and serve Eventide on the
# embedded SQLite default at http://127.0.0.1:3000 (data in ./data). Extra arguments go to the server.
# On a fresh data directory it offers to create demo data first (through the command service).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/setup.sh
scripts/build.sh
data_dir=${EVENTIDE_DATA_DIR:-./data}
if [ -z "${EVENTIDE_DATABASE_URL:-}" ] && [ ! -f "$data_dir/eventide.db" ]; then
  if [ -t 0 ]; then
    read -r -p "The database is empty. Create demo data (customers, products, 200 orders)? [y/N] " answer
    if [[ "$answer" =~ ^[Yy] ]]; then
      target/release/server --data-dir "$data_dir" seed --orders 200
    fi
  else
    echo "run: empty database; for demo data run: target/release/server seed --orders 200"
  fi
fi
exec target/release/server --site-root target/site "$@"
