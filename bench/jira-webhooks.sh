#!/usr/bin/env bash
# Jira webhook acknowledgement: wrk posts signed `jira:issue_updated` deliveries to
# /api/v2/firefighter/raid/jira_update at CONNECTIONS concurrent connections (100 by default) for
# DURATION, each with its own X-Atlassian-Webhook-Identifier, against the release server with its
# jobs embedded (every delivery is stored as a job and applied by the server meanwhile). Prints
# p50/p90/p99 of the time to the 200. Results: docs/benchmarks.md.
#
# Usage: bash bench/jira-webhooks.sh (after `make build`; needs wrk and openssl). SQLite by default;
# BACKEND=postgres uses a fresh ff_jira_bench database at $PG_ADMIN_URL.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=target/release/firefighter-server
[ -x "$binary" ] || { echo "build first: make build" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
duration=${DURATION:-15s}
connections=${CONNECTIONS:-100}
data=$(mktemp -d)
port=18769
secret=bench-jira-webhook-secret
if [ "${BACKEND:-sqlite}" = postgres ]; then
    admin_url=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
    psql -q "$admin_url" -c 'DROP DATABASE IF EXISTS ff_jira_bench' -c 'CREATE DATABASE ff_jira_bench'
    export DATABASE_URL=${admin_url%/*}/ff_jira_bench
else
    export DATABASE_URL=sqlite://$data/ff.db
fi
# Jira itself is never called: the deliveries name an issue no incident has.
export ENV=dev LOG_LEVEL=warn HTTP_PORT=$port FF_DATA_DIR=$data BASE_URL=http://127.0.0.1:$port \
    ENABLE_JIRA=true ENABLE_RAID=true RAID_JIRA_API_URL=http://127.0.0.1:9 RAID_JIRA_API_USER=bench \
    RAID_JIRA_API_PASSWORD=bench RAID_DEFAULT_JIRA_QRAFT_USER_ID=bench-service-account \
    RAID_JIRA_PROJECT_KEY=INCIDENT RAID_JIRA_WEBHOOK_SECRET=$secret
"$binary" migrate >/dev/null
"$binary" seed >/dev/null
"$binary" serve &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT
base=http://127.0.0.1:$port
until curl -sf -o /dev/null "$base/api/v2/firefighter/monitoring/healthcheck"; do sleep 0.05; done

body='{"webhookEvent":"jira:issue_updated","timestamp":1700000000000,"user":{"accountId":"712020:bench","displayName":"Bench"},"issue":{"id":"99999","key":"BENCH-1","fields":{}},"changelog":{"id":"1","items":[{"field":"status","fieldtype":"jira","fieldId":"status","fromString":"Incoming","toString":"in progress"}]}}'
signature=sha256=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$secret" -r | cut -d' ' -f1)
script=$(mktemp --suffix .lua)
cat >"$script" <<LUA
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  counter = 0
  wrk.method = "POST"
  wrk.body = [[$body]]
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-Hub-Signature"] = "$signature"
end
function request()
  counter = counter + 1
  wrk.headers["X-Atlassian-Webhook-Identifier"] = string.format("bench-%d-%d-%d", os.time(), tid, counter)
  return wrk.format()
end
function done(summary, latency, requests)
  io.write(string.format("p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, %.0f req/s, %d errors (non-2xx %d)\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    summary.requests / (summary.duration / 1e6),
    summary.errors.connect + summary.errors.read + summary.errors.timeout, summary.errors.status))
end
LUA
curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' -H "X-Hub-Signature: $signature" \
    -H 'X-Atlassian-Webhook-Identifier: bench-check' --data-binary "$body" "$base/api/v2/firefighter/raid/jira_update" \
    || { echo "!! a signed delivery is not answered 200" >&2; exit 1; }
wrk -t2 -c"$connections" -d3s -s "$script" "$base/api/v2/firefighter/raid/jira_update" >/dev/null
echo "== Jira webhook acknowledgement, $connections concurrent deliveries, ${BACKEND:-sqlite}"
wrk -t2 -c"$connections" -d"$duration" -s "$script" "$base/api/v2/firefighter/raid/jira_update" | tail -n 1
