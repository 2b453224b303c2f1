#!/usr/bin/env bash
# gen_parquet.sh — `tickpipe gen --format parquet` writes the same rows as `--format csv` of
# the same seed: DuckDB (tests/duckdb/gen_check.mjs) reads both and compares them row by row,
# for the whole minute-2024 dataset and for trades in ms and ns units; the trades sidecar says
# "parquet" and otherwise reports the same counts as the CSV run.
set -euo pipefail
TP=${TICKPIPE:?TICKPIPE must name the tickpipe binary}
SRC=${TP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
fail() { echo "gen_parquet: FAIL: $*" >&2; exit 1; }
command -v node >/dev/null || fail "node is not installed (make test installs it)"
(cd "$SRC/tests" && node -e "import('@duckdb/node-api').catch((e) => {
    console.error(e.message); process.exit(1); })") ||
  fail "DuckDB (npm @duckdb/node-api) does not load from $SRC/tests/node_modules: run 'make node-deps'"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
t0=$(date +%s%N)

"$TP" gen --dataset minute-2024 --seed 1 --out "$dir/m.csv" 2>/dev/null
"$TP" gen --dataset minute-2024 --seed 1 --format parquet --out "$dir/m.parquet" 2>/dev/null
[ "$(head -c 4 "$dir/m.parquet")" = PAR1 ] || fail "m.parquet does not start with PAR1"
ls "$dir" | grep -q '\.tmp$' && fail "a .tmp file was left behind"
node "$SRC/tests/duckdb/gen_check.mjs" --dataset minute-2024 --csv "$dir/m.csv" --parquet "$dir/m.parquet" ||
  fail "minute-2024: parquet and csv differ"

for unit in ms ns; do
  "$TP" gen --dataset trades --rows 100000 --symbols 30 --seed 9 --ts-unit $unit --out "$dir/t$unit.csv" 2>/dev/null
  "$TP" gen --dataset trades --rows 100000 --symbols 30 --seed 9 --ts-unit $unit --format parquet \
    --out "$dir/t$unit.parquet" 2>/dev/null
  node "$SRC/tests/duckdb/gen_check.mjs" --dataset trades --unit $unit --csv "$dir/t$unit.csv" \
    --parquet "$dir/t$unit.parquet" || fail "trades ($unit): parquet and csv differ"
  grep -q '"format": "parquet"' "$dir/t$unit.parquet.json" || fail "sidecar does not say parquet"
  # the sidecars agree except for the file name, format, columns (ts_ns) and size
  strip() { grep -v -e '"file"' -e '"format"' -e '"bytes"' -e '"columns"' "$1"; }
  diff <(strip "$dir/t$unit.csv.json") <(strip "$dir/t$unit.parquet.json") >/dev/null ||
    fail "trades ($unit): sidecars differ: $(diff <(strip "$dir/t$unit.csv.json") <(strip "$dir/t$unit.parquet.json"))"
done
echo "gen_parquet: ok ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
