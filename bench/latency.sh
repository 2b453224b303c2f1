#!/usr/bin/env bash
# latency.sh — tick-to-client latency: from an event's source timestamp (the time the simulator
# scheduled it) to the WebSocket `tick` message at a local client (bench/ws_latency.c), with
# `tickpipe run` (optimized build) serving on a free loopback port.
#
# For each rate (default 10k, 100k, 500k events/s) and each path it runs RUNS times (default
# 3): WARMUP seconds ignored, then MEASURE seconds measured; it prints the median over runs of
# p50, p99, p99.9 and max in microseconds.
#   provisional  --live-path provisional: events reach the stream as the journal writer
#                appends them (what the dashboard shows)
#   durable      --live-path durable: after group commit (5 ms) and the engine's durable read
# Latency is measured from the scheduled event time, so it is free of coordinated omission.
# Goal: provisional p99 under 2 ms at 100k events/s.
#
# Environment: TP_RELEASE_BIN (default build/tickpipe), RATES, RUNS, WARMUP, MEASURE, TMPDIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${TP_RELEASE_BIN:-$here/../build/tickpipe}
client=$(dirname "$bin")/ws_latency
rates=${RATES:-10000 100000 500000}
runs=${RUNS:-3}
warm=${WARMUP:-2}
meas=${MEASURE:-5}
[ -x "$bin" ] && [ -x "$client" ] || { echo "latency: build first ('make build')" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tp_bench_lat.XXXXXX")
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

one() { # rate path -> "p50 p99 p999 max lagged"
    rm -rf "$tmp/d"
    "$bin" run --data "$tmp/d" --sim-rate "$1" --live-path "$2" --http 127.0.0.1:0 \
        --status-interval 0 2>"$tmp/log" &
    pid=$!
    local port=
    for _ in $(seq 1 100); do
        port=$(sed -nE 's/.*http: serving .* \(port ([0-9]+)\).*/\1/p' "$tmp/log")
        [ -n "$port" ] && break
        sleep 0.1
    done
    [ -n "$port" ] || { cat "$tmp/log" >&2; echo "latency: no HTTP port" >&2; exit 3; }
    local out
    # A client that could not connect (an overloaded machine) counts as a run with no samples.
    out=$("$client" "$port" "$warm" "$meas") || out="count 0 p50_us 0 p99_us 0 p999_us 0 max_us 0 lagged 0"
    kill -INT "$pid"; wait "$pid" || true; pid=
    awk '{print $4, $6, $8, $10, $12, $2}' <<<"$out"
}

printf '%-8s %-12s %10s %10s %10s %10s  %s\n' rate path p50_us p99_us p99.9_us max_us notes
for rate in $rates; do
    for path in provisional durable; do
        p50=(); p99=(); p999=(); mx=(); notes=""
        for ((i = 1; i <= runs; i++)); do
            read -r a b c d lag cnt < <(one "$rate" "$path")
            p50+=("$a"); p99+=("$b"); p999+=("$c"); mx+=("$d")
            [ "$lag" = 1 ] && notes="client dropped as lagged in some run"
            [ "$cnt" -gt 0 ] || notes="no samples in some run"
        done
        printf '%-8s %-12s %10s %10s %10s %10s  %s\n' "$rate" "$path" \
            "$(printf '%s\n' "${p50[@]}" | median)" "$(printf '%s\n' "${p99[@]}" | median)" \
            "$(printf '%s\n' "${p999[@]}" | median)" "$(printf '%s\n' "${mx[@]}" | median)" "$notes"
    done
done
