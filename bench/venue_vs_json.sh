#!/usr/bin/env bash
# venue_vs_json.sh — issue 6's benchmark: Binance trade messages parsed and normalized per
# second on one core by tickpipe's venue parser (build/venue_bench) next to a general-purpose
# JSON library parsing the same frames (V8's JSON.parse, bench/json_peer.mjs), RUNS times
# each (default 3), SECONDS per run (default 2); prints the medians and the ratio.
# Goal: at least 3 M messages/s/core through tickpipe's parser.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${TP_BUILD:-$here/../build}
runs=${RUNS:-3}
secs=${SECONDS_PER_RUN:-2}
[ -x "$build/venue_bench" ] || { echo "venue_vs_json: run 'make build' first" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tp_bench_venue.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
tp=() peer=()
for ((i = 1; i <= runs; i++)); do
  out=$("$build/venue_bench" "$secs" "$tmp/frames.txt")
  tp+=("$(sed -nE 's/^binance trade → events: +([0-9.]+) M.*/\1/p' <<<"$out")")
  peer+=("$(node "$here/json_peer.mjs" "$tmp/frames.txt" "$secs" | sed -nE 's/.*: ([0-9.]+) M msg\/s.*/\1/p')")
  echo "  run $i: tickpipe ${tp[-1]} M msg/s, JSON.parse ${peer[-1]} M msg/s" >&2
done
a=$(printf '%s\n' "${tp[@]}" | median)
b=$(printf '%s\n' "${peer[@]}" | median)
awk -v a="$a" -v b="$b" 'BEGIN {
  printf "binance trades, one core: tickpipe %.2f M msg/s, JSON.parse %.2f M msg/s (%.2fx); goal >= 3 M/s: %s\n",
    a, b, a / b, (a >= 3 ? "met" : "NOT met") }'
