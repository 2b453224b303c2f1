#!/usr/bin/env bash
# parquet_vs_duckdb.sh — tickpipe's Parquet writer against DuckDB's on the same ticks.
#
# tests/tools/pq_bench (optimized build) generates 10,000,000 realistic ticks in memory
# (ts, ts_ns, instrument, price, size, side, trade_id; 20 instruments, sorted by instrument
# and time) and times only the writing of them with tickpipe's writer (ZSTD), 3 runs. DuckDB
# then loads tickpipe's file into an in-memory table (not timed; this also proves DuckDB
# reads it) and times `COPY ticks TO ... (FORMAT parquet, COMPRESSION zstd)` with one thread,
# 3 runs (bench/duckdb_parquet.mjs), and once more with all cores for reference. Prints the
# median rows/s (wall and CPU time) and the file sizes, and whether tickpipe meets its goal:
# at least DuckDB's one-thread speed, at most 10% larger files. Env: ROWS, RUNS, TMPDIR.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOL=${TP_BUILD:-$ROOT/build}/pq_bench
ROWS=${ROWS:-10000000}
RUNS=${RUNS:-3}
[ -x "$TOOL" ] || { echo "parquet_vs_duckdb: build first (make build): no $TOOL" >&2; exit 2; }
command -v node >/dev/null || { echo "parquet_vs_duckdb: node is not installed" >&2; exit 2; }
if [ ! -d "$ROOT/tests/node_modules/@duckdb/node-api" ]; then
  make -C "$ROOT" --no-print-directory node-deps
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/tp_bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

echo "parquet_vs_duckdb: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $ROWS rows"
: >"$dir/tp.log"
for i in $(seq "$RUNS"); do
  "$TOOL" "$dir/tickpipe.parquet" "$ROWS" zstd | tee -a "$dir/tp.log" | sed "s/^/  tickpipe run $i: /"
done
tp_wall=$(awk '{print $4}' "$dir/tp.log" | median)
tp_cpu=$(awk '{print $6}' "$dir/tp.log" | median)
tp_bytes=$(awk 'END {print $8}' "$dir/tp.log")

node "$ROOT/bench/duckdb_parquet.mjs" "$dir/tickpipe.parquet" "$dir" "$RUNS" 1 | tee "$dir/dk.log" |
  sed 's/^/  duckdb (1 thread) /'
dk_rows=$(awk '/^rows/ {print $2}' "$dir/dk.log")
[ "$dk_rows" = "$ROWS" ] || { echo "parquet_vs_duckdb: DuckDB read $dk_rows rows of $ROWS" >&2; exit 3; }
dk_wall=$(awk '/^run/ {print $4}' "$dir/dk.log" | median)
dk_cpu=$(awk '/^run/ {print $6}' "$dir/dk.log" | median)
dk_bytes=$(awk '/^run/ {b = $8} END {print b}' "$dir/dk.log")
node "$ROOT/bench/duckdb_parquet.mjs" "$dir/tickpipe.parquet" "$dir" 1 "$(nproc)" >"$dir/dkn.log"
dkn_wall=$(awk '/^run/ {print $4}' "$dir/dkn.log")

awk -v rows="$ROWS" -v tw="$tp_wall" -v tc="$tp_cpu" -v tb="$tp_bytes" -v dw="$dk_wall" \
    -v dc="$dk_cpu" -v db="$dk_bytes" -v nw="$dkn_wall" -v n="$(nproc)" 'BEGIN {
  printf "parquet_vs_duckdb: median of runs, writing %d ticks with ZSTD\n", rows
  printf "  tickpipe (1 thread)   %6.3f s wall %6.3f s cpu  %10.0f rows/s  %11d bytes\n", tw, tc, rows / tw, tb
  printf "  DuckDB   (1 thread)   %6.3f s wall %6.3f s cpu  %10.0f rows/s  %11d bytes\n", dw, dc, rows / dw, db
  printf "  DuckDB   (%d threads)  %6.3f s wall                %10.0f rows/s\n", n, nw, rows / nw
  printf "  speed: tickpipe/DuckDB(1 thread) = %.2fx wall, %.2fx cpu (goal >= 1): %s\n", dw / tw, dc / tc, (dw >= tw ? "met" : "NOT met")
  printf "  size:  tickpipe/DuckDB = %.3f (goal <= 1.10): %s\n", tb / db, (tb <= 1.10 * db ? "met" : "NOT met")
}'
