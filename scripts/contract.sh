#!/usr/bin/env bash
# The API contract against a live release server (part of the README's test command):
#  1. a Python client generated from the OpenAPI document (openapi-python-client) drives one
#     full order journey (scripts/contract/client_journey.py);
#  2. schemathesis sends property-based requests to every operation and fails on any 5xx, any
#     undeclared status, content type or header, and any body that breaks its schema;
#  3. the server itself checks every answer against the document (--check-responses log) and
#     this step fails if it logged a single violation.
# Usage: scripts/contract.sh [path/to/server]   (default target/release/server)
# SCHEMATHESIS_EXAMPLES (default 30) and SCHEMATHESIS_SEED (default 20261202) tune step 2.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SERVER=${1:-target/release/server}
VENV="$ROOT/.tools/contract-venv"
say() { printf '\033[1mcontract:\033[0m %s\n' "$*"; }

if ! "$VENV/bin/python" -c 'import schemathesis, openapi_python_client' 2>/dev/null \
    || ! cmp -s scripts/contract/requirements.txt "$VENV/requirements.txt"; then
  say "installing schemathesis and openapi-python-client into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r scripts/contract/requirements.txt
  cp scripts/contract/requirements.txt "$VENV/requirements.txt"
fi

WORK=$(mktemp -d)
PID=""
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

TOKEN="contract-admin-token-$(date +%s)"
PORT=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
export EVENTIDE_DATA_DIR="$WORK/data" EVENTIDE_ADMIN_TOKEN="$TOKEN" EVENTIDE_RATE_LIMIT_PER_SEC=0 \
  EVENTIDE_CHECK_RESPONSES=log EVENTIDE_ADDR="127.0.0.1:$PORT"
unset EVENTIDE_NATS_URL EVENTIDE_DATABASE_URL
say "seeding a fresh SQLite database"
"$SERVER" seed --orders 40 >"$WORK/seed.log" 2>&1
"$SERVER" >"$WORK/server.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do
  curl -fs "$BASE/ready" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fs "$BASE/ready" >/dev/null || { cat "$WORK/server.log"; echo "server did not become ready"; exit 1; }

say "1/3 generating a Python client from the document and driving an order journey"
"$SERVER" openapi >"$WORK/openapi.json"
(cd "$WORK" && "$VENV/bin/openapi-python-client" generate --path openapi.json --meta none \
  --config "$ROOT/scripts/contract/client-config.yml" >"$WORK/generate.log" 2>&1) \
  || { cat "$WORK/generate.log"; exit 1; }
PYTHONPATH="$WORK" "$VENV/bin/python" scripts/contract/client_journey.py "$BASE" "$TOKEN"

say "2/3 schemathesis: every operation, ${SCHEMATHESIS_EXAMPLES:-30} examples each, seed ${SCHEMATHESIS_SEED:-20261202}"
# From the temporary directory: schemathesis keeps its caches (.schemathesis, .hypothesis) in the
# working directory, and each run starts without them.
(cd "$WORK" && "$VENV/bin/st" run "$BASE/api/openapi.json" \
  --header "Authorization: Bearer $TOKEN" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --phases examples,coverage,fuzzing \
  --exclude-path /ws \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-30}" \
  --seed "${SCHEMATHESIS_SEED:-20261202}" \
  --workers 2 \
  --no-color)

say "3/3 the server's own check of every answer"
if grep -q "response breaks the OpenAPI document" "$WORK/server.log"; then
  grep "response breaks the OpenAPI document" "$WORK/server.log" | head -20
  exit 1
fi
if grep -qi "panicked" "$WORK/server.log"; then
  grep -i -A3 "panicked" "$WORK/server.log" | head -20
  exit 1
fi
say "passed"
