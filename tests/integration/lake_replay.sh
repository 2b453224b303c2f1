#!/usr/bin/env bash
# lake_replay.sh — `tickpipe replay --format parquet` writes the lake layout, and
# `--input-format parquet` reads tick files, checked with DuckDB
# (tests/duckdb/lake_replay_check.mjs):
#   1. over 100000 generated trades (out-of-order rows and duplicates included), the lake's
#      bars, anomalies and late rows equal replay's CSV outputs column for column, and its
#      ticks equal the input rows;
#   2. replaying that lake (--input-format parquet) writes byte-identical tick files, and the
#      same rows in DuckDB;
#   3. a Parquet file DuckDB writes (ts TIMESTAMP, trade_id BIGINT) replays exactly like the
#      same rows as CSV: identical bars.csv, anomalies.csv, late.csv;
#   4. replaying into the same --out again replaces the tables (no duplicate rows, no staging
#      directory left).
set -uo pipefail
: "${TICKPIPE:?TICKPIPE must name the tickpipe binary}"
SRC=${TP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tp_lake_replay.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "lake_replay: FAIL: $*" >&2; exit 1; }
command -v node >/dev/null || fail "node is not installed (make test installs it)"
chk() { (cd "$SRC/tests" && node duckdb/lake_replay_check.mjs "$@") || fail "DuckDB check $1 failed"; }

"$TICKPIPE" gen --dataset trades --rows 100000 --symbols 20 --seed 7 --out "$tmp/t.csv" \
    2>/dev/null || fail "gen failed"
"$TICKPIPE" replay "$tmp/t.csv" --out "$tmp/c" || fail "replay to CSV failed"
"$TICKPIPE" replay "$tmp/t.csv" --out "$tmp/p" --format parquet || fail "replay to Parquet failed"
[ -f "$tmp/p/stats.json" ] || fail "no stats.json beside the lake"
for t in ticks bars anomalies late gaps; do [ -d "$tmp/p/$t" ] || fail "no $t table"; done
ls "$tmp/p/bars" | grep -q '^interval=1s$' || fail "replay's lake lacks the 1s bars it computed"
chk csv-vs-lake --csv "$tmp/c" --lake "$tmp/p"
chk ticks-vs-csv --input "$tmp/t.csv" --lake "$tmp/p"

# 2. The lake as replay input.
"$TICKPIPE" replay "$tmp/p" --input-format parquet --out "$tmp/p2" --format parquet ||
    fail "replay of the lake failed"
grep -q '"format": "parquet"' "$tmp/p2/stats.json" || fail "stats.json does not say parquet"
(cd "$tmp/p" && find ticks -name '*.parquet') >"$tmp/ticks.list"
[ -s "$tmp/ticks.list" ] || fail "no tick files"
while read -r f; do cmp -s "$tmp/p/$f" "$tmp/p2/$f" || fail "$f differs after a round trip"; done \
    <"$tmp/ticks.list"
chk lake-vs-lake --lake "$tmp/p" --lake2 "$tmp/p2" --tables ticks

# 3. Another writer's Parquet.
chk write-sorted --input "$tmp/t.csv" --out-csv "$tmp/s.csv" --out-parquet "$tmp/s.parquet"
"$TICKPIPE" replay "$tmp/s.csv" --out "$tmp/s1" || fail "replay of the sorted CSV failed"
"$TICKPIPE" replay "$tmp/s.parquet" --input-format parquet --out "$tmp/s2" ||
    fail "replay of DuckDB's Parquet failed"
for f in bars.csv anomalies.csv late.csv; do
    cmp -s "$tmp/s1/$f" "$tmp/s2/$f" || fail "$f from DuckDB's Parquet differs from the CSV's"
done
[ "$(wc -l <"$tmp/s1/bars.csv")" -gt 1000 ] || fail "too few bars to compare"

# 4. Again into the same directory.
"$TICKPIPE" replay "$tmp/t.csv" --out "$tmp/p" --format parquet || fail "second replay failed"
chk csv-vs-lake --csv "$tmp/c" --lake "$tmp/p"
[ -z "$(find "$tmp/p" -maxdepth 1 -name '.replay-*')" ] || fail "a staging directory was left"
"$TICKPIPE" replay "$tmp/t.csv" --out "$tmp/x" --format parquet --input-format parquet \
    2>"$tmp/x.err"
[ $? -eq 2 ] || fail "a CSV taken as Parquet: not a usage error"
grep -q "not a Parquet file" "$tmp/x.err" || fail "a CSV taken as Parquet: $(cat "$tmp/x.err")"
[ ! -e "$tmp/x" ] || fail "a usage error created the output directory"
echo "lake_replay: ok"
