#!/usr/bin/env bash
# Start-up time of firefighter-server on SQLite: from exec to the first 200 from the healthcheck.
# "cold" starts on an empty directory (creates, migrates and seeds the database); "warm" restarts on
# an existing one. Needs curl. Usage: bash bench/startup.sh [runs] (default 20), after `make build`.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
binary=target/release/firefighter-server
port=18765
[ -x "$binary" ] || { echo "build first: make build" >&2; exit 1; }

measure() { # dir -> milliseconds to healthy
    local dir=$1 start end pid
    start=$(date +%s%N)
    (cd "$dir" && HTTP_PORT=$port LOG_LEVEL=warn exec "$OLDPWD/$binary" serve) &
    pid=$!
    until curl -sf -o /dev/null "http://127.0.0.1:$port/api/v2/firefighter/monitoring/healthcheck"; do
        sleep 0.002
    done
    end=$(date +%s%N)
    kill -TERM "$pid"
    wait "$pid"
    echo $(( (end - start) / 1000000 ))
}

summary() { # label, values...
    local label=$1; shift
    printf '%s\n' "$@" | sort -n | awk -v label="$label" '
        { v[NR] = $1; sum += $1 }
        END { printf "%-5s runs=%d min=%dms median=%dms max=%dms mean=%.1fms\n", label, NR, v[1], v[int((NR+1)/2)], v[NR], sum/NR }'
}

cold=(); warm=()
for _ in $(seq 1 "$runs"); do
    dir=$(mktemp -d)
    cold+=("$(measure "$dir")")
    warm+=("$(measure "$dir")")
    rm -rf "$dir"
done
summary cold "${cold[@]}"
summary warm "${warm[@]}"
