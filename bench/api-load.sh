#!/usr/bin/env bash
# HTTP load on the REST API against PostgreSQL holding a synthetic history (100,000 incidents by
# default): one incident, a filtered list of 50, and create, each for DURATION at 64 connections with
# wrk (Debian: apt-get install wrk). Results and how to read them: docs/benchmarks.md.
#
# Usage: bash bench/api-load.sh [incidents] (after `make build`). Needs PostgreSQL at
# $PG_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres); creates and drops ff_load.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-100000}
duration=${DURATION:-20s}
connections=${CONNECTIONS:-64}
admin_url=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
database_url=${admin_url%/*}/ff_load
port=18766
binary=target/release/firefighter-server
[ -x "$binary" ] || { echo "build first: make build" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }

export DATABASE_URL=$database_url ENV=dev LOG_LEVEL=warn HTTP_PORT=$port API_RATE_LIMIT_PER_MINUTE=0 \
    DATABASE_POOL_SIZE=${DATABASE_POOL_SIZE:-4} FF_DATA_DIR=$(mktemp -d)
# KEEP=1 reuses the ff_load database of a previous KEEP=1 run (and keeps it afterwards).
if [ "${KEEP:-0}" != 1 ] || ! psql -q "$database_url" -c 'select 1' >/dev/null 2>&1; then
    psql -q "$admin_url" -c 'DROP DATABASE IF EXISTS ff_load' -c 'CREATE DATABASE ff_load'
    "$binary" migrate >/dev/null
    "$binary" seed >/dev/null
    echo "populating $count incidents..."
    cargo run --release --locked --quiet -p firefighter-storage --features testing --example populate -- \
        "$database_url" "$count" history@example.com
    # Measure a settled database: without this, autovacuum's first pass over the new rows runs during
    # the measurements and takes CPU from them.
    psql -q "$database_url" -c 'VACUUM (ANALYZE)'
    "$binary" create-user --email load@example.com --admin >/dev/null
fi
token=$("$binary" create-token --email load@example.com --name load)

"$binary" serve &
server=$!
cleanup() {
    kill -0 "$server" 2>/dev/null || echo "!! the server is not running any more" >&2
    kill -TERM "$server" 2>/dev/null
    wait "$server" 2>/dev/null || echo "!! the server exited with status $?" >&2
    [ "${KEEP:-0}" = 1 ] || psql -q "$admin_url" -c 'DROP DATABASE IF EXISTS ff_load'
}
trap cleanup EXIT
base=http://127.0.0.1:$port/api/v2/firefighter
until curl -sf -o /dev/null "$base/monitoring/healthcheck"; do sleep 0.05; done

ids() { curl -sf -H "Authorization: Bearer $token" "$base/$1" | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['id'])"; }
prd=$(curl -sf -H "Authorization: Bearer $token" "$base/environments" \
    | python3 -c "import json,sys; print(next(e['id'] for e in json.load(sys.stdin) if e['value']=='PRD'))")
category=$(ids incident-categories)
priority=$(curl -sf -H "Authorization: Bearer $token" "$base/priorities" \
    | python3 -c "import json,sys; print(next(p['id'] for p in json.load(sys.stdin) if p['name']=='P3'))")
one=$((count / 2))

lua=$(mktemp --suffix .lua)
cat >"$lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
wrk.body = '{"title": "Load test incident", "description": "Declared by wrk.", "environment_id": "$prd", "incident_category_id": "$category", "priority_id": "$priority", "created_by_email": "load@example.com"}'
LUA

run() { # label, wrk arguments...
    local label=$1; shift
    # Warm up (connections, caches, plans), then measure.
    wrk -t2 -c"$connections" -d3s "$@" >/dev/null
    echo "== $label"
    wrk -t2 -c"$connections" -d"$duration" --latency "$@" \
        | grep -E 'Requests/sec|^ +(50|99)%|Non-2xx|Socket errors'
}

# ONLY=<path> measures one GET; ONLY=create measures create alone.
if [ "${ONLY:-}" = create ]; then run "create (POST /incidents)" -s "$lua" "$base/incidents"; exit; fi
if [ -n "${ONLY:-}" ]; then run "$ONLY" -H "Authorization: Bearer $token" "$base/$ONLY"; exit; fi
run "one incident (GET /incidents/$one)" -H "Authorization: Bearer $token" "$base/incidents/$one"
run "filtered list of 50 (open, PRD, P1-P3)" -H "Authorization: Bearer $token" \
    "$base/incidents?status__lt=60&environment__value=PRD&priority=$(curl -sf -H "Authorization: Bearer $token" "$base/priorities" | python3 -c "import json,sys; print('&priority='.join(p['id'] for p in json.load(sys.stdin) if p['name'] in ('P1','P2','P3')))")&limit=50"
run "create (POST /incidents)" -s "$lua" "$base/incidents"
