#!/usr/bin/env bash
# Slack benchmarks: 2,000 signed Events API deliveries, 200 at a time (how fast the endpoint
# acknowledges), and 15 P1 declarations through the API, each timed until its channel is complete in
# the fake Slack. Results and how to read them: docs/benchmarks.md.
#
# Usage: bash bench/slack.sh (after `make build`). SQLite by default; BACKEND=postgres uses a fresh
# ff_slack_bench database at $PG_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres).
# TOTAL, CONCURRENCY and DECLARATIONS change the sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=target/release/firefighter-server
[ -x "$binary" ] || { echo "build first: make build" >&2; exit 1; }
cargo build --release --locked --quiet -p firefighter-app --example slack_bench
data=$(mktemp -d)
port=18767
slack_port=18768
if [ "${BACKEND:-sqlite}" = postgres ]; then
    admin_url=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
    psql -q "$admin_url" -c 'DROP DATABASE IF EXISTS ff_slack_bench' -c 'CREATE DATABASE ff_slack_bench'
    export DATABASE_URL=${admin_url%/*}/ff_slack_bench
else
    export DATABASE_URL=sqlite://$data/ff.db
fi
export ENV=dev LOG_LEVEL=warn HTTP_PORT=$port FF_DATA_DIR=$data API_RATE_LIMIT_PER_MINUTE=0 \
    SLACK_BOT_TOKEN=xoxb-bench SLACK_SIGNING_SECRET=bench-signing-secret \
    SLACK_API_URL=http://127.0.0.1:$slack_port/api/
"$binary" migrate >/dev/null
"$binary" seed >/dev/null
"$binary" create-user --email bench@example.com --admin >/dev/null
token=$("$binary" create-token --email bench@example.com --name bench)

# The fake Slack runs inside the benchmark program, which waits for the server.
target/release/examples/slack_bench "$slack_port" "http://127.0.0.1:$port" "$token" bench-signing-secret &
bench=$!
sleep 1
"$binary" serve &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT
wait $bench
