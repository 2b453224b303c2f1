#!/usr/bin/env bash
# replay_vs_duckdb.sh — tickpipe replay against DuckDB on the same trades.
#
# Generates 10,000,000 trades over 500 instruments (tickpipe gen, CSV, ~510 MB in a temp dir
# that is removed at the end), then times, 3 runs each, median reported:
#   - tickpipe replay (the optimized build, build/tickpipe) into 1m bars with indicators
#     (and dedup, watermarks, late handling, anomaly detection: the whole engine);
#   - DuckDB computing 1m OHLCV + VWAP with one plain GROUP BY over the same CSV
#     (bench/duckdb_bars.mjs; DuckDB's normal multi-threaded execution, no late/dedup rules);
#   - when the build has it, tickpipe replaying the same trades from a journal
#     (--input-format journal; the journal is made, untimed, by bench/csv2journal.c, compiled
#     here against the same build's library), reported in trades/s.
# Prints wall and CPU (user + system) medians, the threads each used (tickpipe: the most seen
# in /proc while it ran; DuckDB: its `threads` setting) and the ratios. CPU time is the
# steadier number on a shared machine. Env: ROWS, SYMBOLS, RUNS, TMPDIR, TP_RELEASE_BIN.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${TP_RELEASE_BIN:-$ROOT/build/tickpipe}
ROWS=${ROWS:-10000000}
SYMBOLS=${SYMBOLS:-500}
RUNS=${RUNS:-3}
[ -x "$BIN" ] || { echo "replay_vs_duckdb: build first (make build): no $BIN" >&2; exit 2; }
command -v node >/dev/null || { echo "replay_vs_duckdb: node is not installed" >&2; exit 2; }
if [ ! -d "$ROOT/tests/node_modules/@duckdb/node-api" ]; then
  make -C "$ROOT" --no-print-directory node-deps
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/tp_bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
# One result line: label, wall median, cpu median, threads, bars.
line() {
  awk -v l="$1" -v s="$2" -v c="$3" -v t="$4" -v b="$5" -v r="$ROWS" 'BEGIN {
    printf "%-42s median %6.2f s wall %6.2f s cpu  %5.2f M trades/s  threads %s  (%d bars)", l ":", s, c, r / s / 1e6, t, b }'
}

# Runs "$@" in the background under bash's `time`; sets $secs (wall), $cpu (user + system
# seconds) and $threads (the most threads the command had, sampled from /proc every 20 ms).
timed() {
  local pid n c
  threads=1
  ( TIMEFORMAT='%R %U %S'; time "$@" >"$dir/run.log" 2>&1 ) 2>"$dir/time.txt" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    for c in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
      n=$(awk '/^Threads:/ {print $2}' "/proc/$c/status" 2>/dev/null || echo 0)
      [ "${n:-0}" -gt "$threads" ] && threads=$n
    done
    sleep 0.02
  done
  if ! wait "$pid"; then
    echo "replay_vs_duckdb: failed: $*" >&2
    cat "$dir/run.log" >&2
    exit 3
  fi
  read -r secs user sys <"$dir/time.txt"
  cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN {printf "%.3f", u + s}')
}

echo "replay_vs_duckdb: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "replay_vs_duckdb: generating $ROWS trades over $SYMBOLS instruments in $dir"
"$BIN" gen --dataset trades --rows "$ROWS" --symbols "$SYMBOLS" --seed 7 --out "$dir/trades.csv"
mb=$(( $(stat -c %s "$dir/trades.csv") / 1000000 ))

tp_times=()
tp_cpus=()
for i in $(seq "$RUNS"); do
  rm -rf "$dir/out"
  timed "$BIN" replay "$dir/trades.csv" --out "$dir/out" --intervals 1m
  tp_times+=("$secs")
  tp_cpus+=("$cpu")
  tp_threads=$threads
  echo "  tickpipe replay run $i: $secs s wall, $cpu s cpu (threads $threads)"
done
bars=$(( $(wc -l <"$dir/out/bars.csv") - 1 ))
rm -rf "$dir/out"

node "$ROOT/bench/duckdb_bars.mjs" "$dir/trades.csv" "$dir" "$RUNS" ms | tee "$dir/duck.log" |
  sed 's/^/  duckdb /'
dk_times=($(awk '/^run/ {print $3}' "$dir/duck.log"))
dk_cpus=($(awk '/^run/ {print $5}' "$dir/duck.log"))
dk_threads=$(awk '/^threads/ {print $2}' "$dir/duck.log")
dk_bars=$(( $(wc -l <"$dir/duckdb_bars_1.csv") - 1 ))

jr_line=""
if "$BIN" help replay 2>/dev/null | grep -- '--input-format' >/dev/null; then
  # The same events in a journal: bench/csv2journal.c (the replay CSV reader, then one
  # TP_REC_EVENT record per event), built against the library of the same build. Not timed.
  libs=$(awk '/^build tickpipe:/ {f = 1} f && /LINK_LIBRARIES/ {sub(/.*= /, ""); print; exit}' \
    "$(dirname "$BIN")/build.ninja")
  (cd "$(dirname "$BIN")" && cc -O2 -std=c17 -D_GNU_SOURCE -I"$ROOT/src" \
    "$ROOT/bench/csv2journal.c" $libs -pthread -o "$dir/csv2journal")
  "$dir/csv2journal" "$dir/trades.csv" "$dir/journal"
  echo "  journal: $(du -sm "$dir/journal" | cut -f1) MB"
  jr_times=()
  jr_cpus=()
  for i in $(seq "$RUNS"); do
    rm -rf "$dir/out"
    timed "$BIN" replay "$dir/journal" --input-format journal --out "$dir/out" --intervals 1m
    jr_times+=("$secs")
    jr_cpus+=("$cpu")
    jr_threads=$threads
    echo "  tickpipe replay from the journal run $i: $secs s wall, $cpu s cpu (threads $threads)"
  done
  jr_bars=$(( $(wc -l <"$dir/out/bars.csv") - 1 ))
  jr_med=$(printf '%s\n' "${jr_times[@]}" | median)
  jr_cpu=$(printf '%s\n' "${jr_cpus[@]}" | median)
  jr_line=$(line "tickpipe replay from a journal, same work" "$jr_med" "$jr_cpu" "$jr_threads" "$jr_bars")
  rm -rf "$dir/journal" "$dir/out"
fi
[ -n "$jr_line" ] || jr_line="tickpipe replay from a journal:            not measured (this build cannot replay a journal yet)"

tp_med=$(printf '%s\n' "${tp_times[@]}" | median)
tp_cpu=$(printf '%s\n' "${tp_cpus[@]}" | median)
dk_med=$(printf '%s\n' "${dk_times[@]}" | median)
dk_cpu=$(printf '%s\n' "${dk_cpus[@]}" | median)
echo
echo "replay_vs_duckdb: $ROWS trades, $SYMBOLS instruments, CSV $mb MB; medians of $RUNS runs"
echo "$(line "tickpipe replay, 1m bars + indicators" "$tp_med" "$tp_cpu" "$tp_threads" "$bars")"
echo "$(line "duckdb GROUP BY, 1m OHLCV + VWAP" "$dk_med" "$dk_cpu" "$dk_threads" "$dk_bars")"
echo "$jr_line"
awk -v a="$tp_med" -v b="$dk_med" -v c="$tp_cpu" -v d="$dk_cpu" 'BEGIN {
  printf "ratio tickpipe / duckdb: wall %.2f, cpu %.2f (below 1: tickpipe faster)\n", a / b, c / d }'
echo "(a shared, noisy machine: compare runs made in the same invocation only)"
