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
#     (--input-format journal), reported in trades/s.
# Prints the wall times, the threads each used (tickpipe: the most seen in /proc while it
# ran; DuckDB: its `threads` setting) and the ratio. Env: ROWS, SYMBOLS, RUNS, TMPDIR.
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
now_ns() { date +%s%N; }

# Runs "$@" in the background, returns its wall seconds in $secs and the most threads it had
# in $threads (sampled from /proc every 20 ms).
timed() {
  local t0 t1 pid n
  threads=1
  t0=$(now_ns)
  "$@" >"$dir/run.log" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    n=$(awk '/^Threads:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    [ "${n:-0}" -gt "$threads" ] && threads=$n
    sleep 0.02
  done
  if ! wait "$pid"; then
    echo "replay_vs_duckdb: failed: $*" >&2
    cat "$dir/run.log" >&2
    exit 3
  fi
  t1=$(now_ns)
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e9}')
}

echo "replay_vs_duckdb: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "replay_vs_duckdb: generating $ROWS trades over $SYMBOLS instruments in $dir"
"$BIN" gen --dataset trades --rows "$ROWS" --symbols "$SYMBOLS" --seed 7 --out "$dir/trades.csv"
mb=$(( $(stat -c %s "$dir/trades.csv") / 1000000 ))

tp_times=()
for i in $(seq "$RUNS"); do
  rm -rf "$dir/out"
  timed "$BIN" replay "$dir/trades.csv" --out "$dir/out" --intervals 1m
  tp_times+=("$secs")
  tp_threads=$threads
  echo "  tickpipe replay run $i: $secs s (threads $threads)"
done
bars=$(( $(wc -l <"$dir/out/bars.csv") - 1 ))
rm -rf "$dir/out"

node "$ROOT/bench/duckdb_bars.mjs" "$dir/trades.csv" "$dir" "$RUNS" ms | tee "$dir/duck.log" |
  sed 's/^/  duckdb /'
dk_times=($(awk '/^run/ {print $3}' "$dir/duck.log"))
dk_threads=$(awk '/^threads/ {print $2}' "$dir/duck.log")
dk_bars=$(( $(wc -l <"$dir/duckdb_bars_1.csv") - 1 ))

jr_line=""
if "$BIN" help replay 2>/dev/null | grep -q -- '--input-format'; then
  if "$BIN" help replay | grep -q -- 'journal'; then
    # The journal: replay can write its input to a journal, or a converter does (below).
    if "$BIN" help replay | grep -q -- '--journal-out'; then
      "$BIN" replay "$dir/trades.csv" --out "$dir/jconv" --intervals 1m --journal-out "$dir/journal" \
        >/dev/null 2>&1 || true
    fi
    if [ -d "$dir/journal" ]; then
      jr_times=()
      for i in $(seq "$RUNS"); do
        rm -rf "$dir/out"
        timed "$BIN" replay "$dir/journal" --input-format journal --out "$dir/out" --intervals 1m
        jr_times+=("$secs")
        echo "  tickpipe replay from the journal run $i: $secs s (threads $threads)"
      done
      jr_med=$(printf '%s\n' "${jr_times[@]}" | median)
      jr_line=$(awk -v r="$ROWS" -v s="$jr_med" -v t="$threads" 'BEGIN {
        printf "tickpipe replay from a journal:            median %6.2f s  %5.2f M trades/s  threads %s", s, r / s / 1e6, t }')
    fi
  fi
fi
[ -n "$jr_line" ] || jr_line="tickpipe replay from a journal:            not measured (this build cannot replay a journal yet)"

tp_med=$(printf '%s\n' "${tp_times[@]}" | median)
dk_med=$(printf '%s\n' "${dk_times[@]}" | median)
echo
echo "replay_vs_duckdb: $ROWS trades, $SYMBOLS instruments, CSV $mb MB; medians of $RUNS runs"
awk -v r="$ROWS" -v s="$tp_med" -v t="$tp_threads" -v b="$bars" 'BEGIN {
  printf "tickpipe replay, 1m bars + indicators:     median %6.2f s  %5.2f M trades/s  threads %s  (%d bars)\n", s, r / s / 1e6, t, b }'
awk -v r="$ROWS" -v s="$dk_med" -v t="$dk_threads" -v b="$dk_bars" 'BEGIN {
  printf "duckdb GROUP BY, 1m OHLCV + VWAP:          median %6.2f s  %5.2f M trades/s  threads %s  (%d bars)\n", s, r / s / 1e6, t, b }'
echo "$jr_line"
awk -v a="$tp_med" -v b="$dk_med" 'BEGIN {
  printf "ratio tickpipe / duckdb wall time: %.2f (%s)\n", a / b, a < b ? "tickpipe faster" : "duckdb faster" }'
echo "(a shared, noisy machine: compare runs made in the same invocation only)"
