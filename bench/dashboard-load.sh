#!/usr/bin/env bash
# Server time of the dashboard's pages against PostgreSQL holding a synthetic history (100,000
# incidents by default, half of them open): `/`, `/incident/` (the first page of 50), a filtered
# `/incident/`, `/incident/<id>/`, `/statistics/` and `/incident-category/` (with their periods), signed in with a session cookie, each for DURATION with wrk at
# a low concurrency (CONNECTIONS, 4 by default) so the latencies are the server's, not a queue's.
# Results: docs/benchmarks.md.
#
# Usage: bash bench/dashboard-load.sh [incidents] (after `make build`). Needs PostgreSQL at
# $PG_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres) and wrk; creates and drops
# ff_dashboard_load (KEEP=1 keeps and reuses it).
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-100000}
duration=${DURATION:-15s}
connections=${CONNECTIONS:-4}
admin_url=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
database_url=${admin_url%/*}/ff_dashboard_load
port=18767
binary=target/release/firefighter-server
[ -x "$binary" ] || { echo "build first: make build" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }

export DATABASE_URL=$database_url ENV=dev LOG_LEVEL=warn HTTP_PORT=$port \
    BASE_URL=http://127.0.0.1:$port DATABASE_POOL_SIZE=${DATABASE_POOL_SIZE:-4} FF_DATA_DIR=$(mktemp -d)
password="dashboard load password"
if [ "${KEEP:-0}" != 1 ] || ! psql -q "$database_url" -c 'select 1' >/dev/null 2>&1; then
    psql -q "$admin_url" -c 'DROP DATABASE IF EXISTS ff_dashboard_load' -c 'CREATE DATABASE ff_dashboard_load'
    "$binary" migrate >/dev/null
    "$binary" seed >/dev/null
    echo "populating $count incidents..."
    cargo run --release --locked --quiet -p firefighter-storage --features testing --example populate -- \
        "$database_url" "$count" history@example.com
    psql -q "$database_url" -c 'VACUUM (ANALYZE)'
    echo "$password" | "$binary" create-user --email load@example.com --admin --password-stdin >/dev/null
fi
# A responder too (no admin: the pages filter what they can see, private incidents aside).
if ! psql -q -t "$database_url" -c "select 1 from users where email = 'responder@example.com'" | grep -q 1; then
    echo "$password" | "$binary" create-user --email responder@example.com --password-stdin >/dev/null
    "$binary" grant --email responder@example.com --all-view >/dev/null
fi

"$binary" serve &
server=$!
cleanup() {
    kill -0 "$server" 2>/dev/null || echo "!! the server is not running any more" >&2
    kill -TERM "$server" 2>/dev/null
    wait "$server" 2>/dev/null || echo "!! the server exited with status $?" >&2
    [ "${KEEP:-0}" = 1 ] || psql -q "$admin_url" -c 'DROP DATABASE IF EXISTS ff_dashboard_load'
}
trap cleanup EXIT
base=http://127.0.0.1:$port
until curl -sf -o /dev/null "$base/api/v2/firefighter/monitoring/healthcheck"; do sleep 0.05; done

# Sign in as a browser does: the form's token and its cookie, then the session cookie.
sign_in() { # email -> the session cookie header
    local jar token session
    jar=$(mktemp)
    token=$(curl -sf -c "$jar" "$base/admin/login/" | grep -o 'name="csrf_token" value="[^"]*"' | cut -d'"' -f4)
    curl -sf -o /dev/null -b "$jar" -c "$jar" --data-urlencode "csrf_token=$token" \
        --data-urlencode "email=$1" --data-urlencode "password=$password" "$base/admin/login/"
    session=$(awk '$6 == "ff_session" {print $7}' "$jar")
    [ -n "$session" ] || { echo "could not sign in as $1" >&2; exit 1; }
    echo "Cookie: ff_session=$session"
}
cookie=$(sign_in load@example.com)
one=$((count / 2))

# wrk prints p50/p75/p90/p99; the target is a p95: printed by this script.
percentiles=$(mktemp --suffix .lua)
cat >"$percentiles" <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("p50 %.1f ms, p90 %.1f ms, p95 %.1f ms, p99 %.1f ms, %.0f req/s, %d errors\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, summary.requests / (summary.duration / 1e6),
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout))
end
LUA

run() { # label, path
    local label=$1 path=$2
    curl -sf -o /dev/null -H "$cookie" "$base$path" || { echo "!! $path does not answer 200" >&2; exit 1; }
    wrk -t2 -c"$connections" -d3s -H "$cookie" "$base$path" >/dev/null
    echo "== $label ($path)"
    wrk -t2 -c"$connections" -d"$duration" -s "$percentiles" -H "$cookie" "$base$path" | tail -n 1
}

run "dashboard" "/"
run "incident list, first page" "/incident/"
run "incident list, filtered" "/incident/?status=Investigating&environment__value=PRD"
run "incident list, searched" "/incident/?search=checkout"
run "one incident" "/incident/$one/"
run "statistics, everything" "/statistics/"
run "statistics, a quarter" "/statistics/?created_at=last_quarter"
run "statistics, filtered" "/statistics/?environment__value=PRD&status__lt=60"
run "incident categories (MTBF, 90 days)" "/incident-category/"
run "incident categories (MTBF, 2026)" "/incident-category/?metrics_period=2026"
category=$(psql -q -t -A "$database_url" -c "select id from incident_categories order by id limit 1")
run "one incident category" "/incident-category/$category/"
cookie=$(sign_in responder@example.com)
run "dashboard, as a responder" "/"
run "incident list, first page, as a responder" "/incident/"
