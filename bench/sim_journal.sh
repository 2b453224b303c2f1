#!/usr/bin/env bash
# sim_journal.sh — throughput of the ingest path: the simulator at max pace → ring → journal
# writer → DATA/journal/input, measured through `tickpipe run` itself (optimized build).
#
# For each durability mode (--sync none; --sync group --sync-interval 5ms) it runs RUNS times
# (default 3) a finite simulator run of EVENTS trades and quotes (default 10,000,000) into a
# fresh temporary data directory and prints the median events/s, two ways:
#   end to end        records / (start → journal closed, final fdatasync included)
#   until last append records / (start → the writer's last append): the steady ingest rate
# Goals: >= 5M events/s with none, >= 2M events/s with group commit. ~30 s in all.
#
# Environment: TP_RELEASE_BIN (default build/tickpipe), EVENTS, RUNS, TMPDIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${TP_RELEASE_BIN:-$here/../build/tickpipe}
events=${EVENTS:-10000000}
runs=${RUNS:-3}
[ -x "$bin" ] || { echo "sim_journal: no binary at $bin (run 'make build')" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tp_bench_sim.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

bench() {
    local label=$1 goal=$2
    shift 2
    local e2e=() app=()
    for ((i = 1; i <= runs; i++)); do
        rm -rf "$tmp/data"
        local out
        if ! out=$("$bin" run --data "$tmp/data" --sim-pace max --sim-rate 4000000 \
            --sim-events "$events" --exit-at-eof --status-interval 0 --lake off --http off "$@" 2>&1); then
            echo "$out" >&2
            echo "sim_journal: run failed ($label)" >&2
            exit 3
        fi
        # "stopped: N events in T s (R ev/s; W ev/s until the last append), ..."
        local line
        line=$(grep -m1 'stopped:' <<<"$out")
        e2e+=("$(sed -E 's/.*s \(([0-9]+) ev\/s;.*/\1/' <<<"$line")")
        app+=("$(sed -E 's/.*; ([0-9]+) ev\/s until.*/\1/' <<<"$line")")
        printf '  %-30s run %d: %s\n' "$label" "$i" "$(sed -E 's/.*stopped: //' <<<"$line")" >&2
    done
    local m1 m2
    m1=$(printf '%s\n' "${e2e[@]}" | median)
    m2=$(printf '%s\n' "${app[@]}" | median)
    awk -v l="$label" -v a="$m1" -v b="$m2" -v g="$goal" 'BEGIN {
        printf "%-32s median %.2fM events/s end to end, %.2fM until the last append (goal >= %gM: %s)\n",
            l, a / 1e6, b / 1e6, g / 1e6, (a >= g ? "met" : "NOT met end to end") }'
}

echo "sim -> journal: $events events per run, $runs runs per mode, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
r1=$(bench "--sync none" 5000000 --sync none)
r2=$(bench "--sync group --sync-interval 5ms" 2000000 --sync group --sync-interval 5ms)
printf '%s\n%s\n' "$r1" "$r2"
