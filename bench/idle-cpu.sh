#!/usr/bin/env bash
# CPU used by idle processes: the embedded server on SQLite, and the scaled worker (relay +
# consumers) on PostgreSQL and RabbitMQ, each left alone for SECONDS (60) after a 5 s start-up.
# Prints CPU seconds and the share of one core. Results: docs/benchmarks.md.
#
# Usage: bash bench/idle-cpu.sh (after `make build`). Needs PostgreSQL at $PG_ADMIN_URL and RabbitMQ
# at $AMQP_URL (defaults: the local services).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${SECONDS_IDLE:-60}
admin_url=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
amqp_url=${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}
data=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$data"' EXIT
ticks=$(getconf CLK_TCK)
cpu() { awk -v t="$ticks" '{printf "%.2f", ($14 + $15) / t}' "/proc/$1/stat"; }
measure() { # label, pid
    sleep 5
    local before after
    before=$(cpu "$2")
    sleep "$seconds"
    after=$(cpu "$2")
    awk -v a="$after" -v b="$before" -v s="$seconds" -v l="$1" \
        'BEGIN {printf "%s: %.2f CPU s in %d s (%.2f %% of a core)\n", l, a - b, s, (a - b) / s * 100}'
}

ENV=dev LOG_LEVEL=warn HTTP_PORT=18771 FF_DATA_DIR=$data DATABASE_URL=sqlite://$data/ff.db \
    target/release/firefighter-server serve >/dev/null 2>&1 &
server=$!
measure "embedded server (SQLite)" $server
kill -0 $server || { echo "!! the server died" >&2; exit 1; }
kill $server; wait $server 2>/dev/null || true

psql -q "$admin_url" -c 'DROP DATABASE IF EXISTS ff_idle' -c 'CREATE DATABASE ff_idle'
export DATABASE_URL=${admin_url%/*}/ff_idle
ENV=dev LOG_LEVEL=warn FF_DATA_DIR=$data target/release/firefighter-server migrate >/dev/null
ENV=dev LOG_LEVEL=warn FF_DATA_DIR=$data AMQP_URL=$amqp_url AMQP_PREFIX=ffidle$$ \
    target/release/firefighter-worker >"$data/worker.log" 2>&1 &
worker=$!
measure "scaled worker: relay and consumers (PostgreSQL, RabbitMQ)" $worker
kill -0 $worker || { echo "!! the worker died:" >&2; cat "$data/worker.log" >&2; exit 1; }
kill $worker; wait $worker 2>/dev/null || true
psql -q "$admin_url" -c 'DROP DATABASE IF EXISTS ff_idle'
