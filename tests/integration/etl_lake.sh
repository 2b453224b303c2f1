#!/usr/bin/env bash
# etl_lake.sh — `tickpipe etl` without a database: the lake's ticks summarized into the lake's
# own `summary` table (docs/etl.md "The lake"), checked against DuckDB. Steps:
#   1. `gen --dataset minute-2024` (527,040 rows) replayed into a lake (`replay --format
#      parquet --map ts=timestamp,price=stock_price,value=sales_trend`); `etl --data DIR
#      --every 10m:price --every 20m:value` writes one file per spec and date, and the
#      summaries equal DuckDB's GROUP BY over the original CSV (tests/duckdb/etl_lake_check.mjs;
#      the checker itself is shown to fail on a spec the lake does not hold);
#   2. a second run recomputes nothing and changes no file (bytes and mtimes); --full, and a
#      run after the state file was deleted, recompute every date and still rewrite no file;
#      a late file in one date recomputes that date only; a date whose ticks are gone loses
#      its summaries; undoing both gives the same bytes back;
#   3. --schedule 1s over a lake holding the tick files of the first 139 days; while it runs
#      the lake's ticks are replaced (under the lake's lock, as a commit would) by those of the
#      whole year: the next period summarizes the new days, leaving the other days' files
#      alone, and the result is byte for byte the one-shot summary of step 1;
#      SIGTERM ends it with exit 0;
#   4. usage errors: an interval that does not divide a day, --out with the lake input.
set -uo pipefail
: "${TICKPIPE:?TICKPIPE must name the tickpipe binary}"
: "${TP_SRC:?TP_SRC must name the source directory}"
fail() { echo "etl_lake: FAIL: $*" >&2; exit 1; }
command -v node >/dev/null || fail "node is not installed (make test installs it)"
command -v flock >/dev/null || fail "flock (util-linux) is needed"
bin=$TICKPIPE
[ -n "${TP_RELEASE_BIN:-}" ] && [ -x "$TP_RELEASE_BIN" ] && bin=$TP_RELEASE_BIN
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tp_etl_lake.XXXXXX")
spid=
trap '[ -n "$spid" ] && kill -KILL "$spid" 2>/dev/null; rm -rf "$tmp"' EXIT
map=(--map ts=timestamp,price=stock_price,value=sales_trend --instrument seed:STOCK)
every=(--every 10m:price --every 20m:value)
check() { (cd "$TP_SRC/tests" && node duckdb/etl_lake_check.mjs --csv "$1" --lake "$2" \
    --instrument seed:STOCK --spec "${3:-10m:price,20m:value}"); }
# the summary tree: every file's path, size, mtime and checksum
tree() { (cd "$1/summary" && find . -type f -printf '%p %s %T@\n' | LC_ALL=C sort &&
    find . -type f -name '*.parquet' | LC_ALL=C sort | xargs md5sum); }
# the counts of the last "etl: lake:" line of a log
last_line() { grep 'etl: lake:' "$1" | tail -1; }

# 1. The year into a lake, summarized, checked by DuckDB.
"$bin" gen --dataset minute-2024 --out "$tmp/minute.csv" 2>/dev/null || fail "gen"
t0=$(date +%s.%N)
"$bin" replay "$tmp/minute.csv" "${map[@]}" --out "$tmp/a/lake" --format parquet 2>"$tmp/replay.log" ||
    { cat "$tmp/replay.log" >&2; fail "replay into the lake"; }
t1=$(date +%s.%N)
"$TICKPIPE" etl --data "$tmp/a" "${every[@]}" 2>"$tmp/etl1.log" ||
    { cat "$tmp/etl1.log" >&2; fail "etl over the lake"; }
t2=$(date +%s.%N)
last_line "$tmp/etl1.log" | grep -q '366 tick files; 366 dates recomputed (527040 ticks, 79056 windows); summary files: 732 written, 0 unchanged, 0 removed' ||
    fail "first run: $(last_line "$tmp/etl1.log")"
n=$(find "$tmp/a/lake/summary" -name 'part-0.parquet' | wc -l)
[ "$n" = 732 ] || fail "$n summary files, not 366 dates x 2 specs"
[ -f "$tmp/a/lake/summary/interval=10m/field=price/date=2024-02-29/part-0.parquet" ] ||
    fail "no file at summary/interval=10m/field=price/date=2024-02-29/"
check "$tmp/minute.csv" "$tmp/a/lake" || fail "the lake's summaries differ from DuckDB's"
check "$tmp/minute.csv" "$tmp/a/lake" 10m:price 2>/dev/null && fail "the checker accepts a summary table with rows it did not expect"
awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { printf "step 1: replay into the lake %.1f s, etl (ASan) %.1f s\n", b - a, c - b }'

# 2. Idempotent: nothing recomputed, then everything recomputed and no file rewritten.
tree "$tmp/a/lake" >"$tmp/tree1"
sleep 0.05
"$TICKPIPE" etl --data "$tmp/a" "${every[@]}" 2>"$tmp/etl2.log" || fail "second run"
last_line "$tmp/etl2.log" | grep -q '366 tick files; 0 dates recomputed (0 ticks, 0 windows); summary files: 0 written, 0 unchanged, 0 removed' ||
    fail "second run: $(last_line "$tmp/etl2.log")"
"$TICKPIPE" etl --data "$tmp/a" "${every[@]}" --full 2>"$tmp/etl3.log" || fail "--full"
last_line "$tmp/etl3.log" | grep -q '366 dates recomputed (527040 ticks, 79056 windows); summary files: 0 written, 732 unchanged' ||
    fail "--full: $(last_line "$tmp/etl3.log")"
rm "$tmp/a/lake/_tickpipe/summary.state"
"$TICKPIPE" etl --data "$tmp/a" "${every[@]}" 2>"$tmp/etl4.log" || fail "run without state"
last_line "$tmp/etl4.log" | grep -q 'summary files: 0 written, 732 unchanged' ||
    fail "without state: $(last_line "$tmp/etl4.log")"
tree "$tmp/a/lake" >"$tmp/tree2"
cmp -s "$tmp/tree1" "$tmp/tree2" || { diff "$tmp/tree1" "$tmp/tree2" | head >&2; fail "a rerun changed the summary files"; }
echo "step 2: a second run recomputed nothing; --full and a lost state recomputed 366 dates and rewrote no file"
# Late rows: a second file in 2024-01-01 (the same rows again) makes only that date recomputed,
# its counts doubled; taking it away gives the original bytes back.
sums() { (cd "$tmp/a/lake/summary" && find . -name '*.parquet' | LC_ALL=C sort | xargs md5sum); }
sums >"$tmp/sums1"
day=$(ls -d "$tmp/a/lake/ticks/date=2024-01-01"/venue=*)
cp "$(ls "$day"/*.parquet | head -1)" "$day/part-late.parquet"
"$TICKPIPE" etl --data "$tmp/a" "${every[@]}" 2>"$tmp/etl5.log" || fail "run with a late file"
last_line "$tmp/etl5.log" | grep -q '367 tick files; 1 dates recomputed (2880 ticks, 216 windows); summary files: 2 written, 0 unchanged, 0 removed' ||
    fail "late file: $(last_line "$tmp/etl5.log")"
check "$tmp/minute.csv" "$tmp/a/lake" 2>/dev/null && fail "doubled rows still equal DuckDB's single ones"
rm "$day/part-late.parquet"
"$TICKPIPE" etl --data "$tmp/a" "${every[@]}" 2>"$tmp/etl6.log" || fail "run after the late file left"
last_line "$tmp/etl6.log" | grep -q '366 tick files; 1 dates recomputed (1440 ticks, 216 windows); summary files: 2 written' ||
    fail "late file removed: $(last_line "$tmp/etl6.log")"
# A date that lost its ticks loses its summaries; back, they are the same bytes.
mv "$tmp/a/lake/ticks/date=2024-12-31" "$tmp/dec31"
"$TICKPIPE" etl --data "$tmp/a" "${every[@]}" 2>"$tmp/etl7.log" || fail "run without a date"
last_line "$tmp/etl7.log" | grep -q '365 tick files; 0 dates recomputed (0 ticks, 0 windows); summary files: 0 written, 0 unchanged, 2 removed' ||
    fail "a date removed: $(last_line "$tmp/etl7.log")"
[ -z "$(find "$tmp/a/lake/summary" -path '*date=2024-12-31*' -name '*.parquet')" ] ||
    fail "the summaries of a date without ticks are still there"
mv "$tmp/dec31" "$tmp/a/lake/ticks/date=2024-12-31"
"$TICKPIPE" etl --data "$tmp/a" "${every[@]}" 2>"$tmp/etl8.log" || fail "run with the date back"
last_line "$tmp/etl8.log" | grep -q '366 tick files; 1 dates recomputed (1440 ticks, 216 windows); summary files: 2 written' ||
    fail "a date back: $(last_line "$tmp/etl8.log")"
sums >"$tmp/sums2"
cmp -s "$tmp/sums1" "$tmp/sums2" || fail "the summaries differ after the late file and the date came and went"
echo "step 2: a late file recomputed its date only (counts doubled), a date without ticks lost its summaries; both undone, the same bytes"

# 3. --schedule while the lake grows.
mkdir -p "$tmp/b/lake/ticks"
for d in $(cd "$tmp/a/lake/ticks" && ls | LC_ALL=C sort | head -139); do
    cp -r "$tmp/a/lake/ticks/$d" "$tmp/b/lake/ticks/" || fail "copying $d"
done
"$TICKPIPE" etl --data "$tmp/b" "${every[@]}" --schedule 1s 2>"$tmp/sched.log" &
spid=$!
for _ in $(seq 200); do
    grep -q 'etl: lake:' "$tmp/sched.log" && break
    sleep 0.1
done
grep 'etl: lake:' "$tmp/sched.log" | head -1 | grep -q '139 tick files; 139 dates recomputed (200160 ticks, 30024 windows)' ||
    { cat "$tmp/sched.log" >&2; fail "first scheduled run"; }
flock "$tmp/b/lake/_tickpipe/lock" -c "rm -rf '$tmp/b/lake/ticks' && cp -r '$tmp/a/lake/ticks' '$tmp/b/lake/ticks'" ||
    fail "replacing the ticks under the lock"
for _ in $(seq 300); do
    grep -q '366 tick files; 366 dates' "$tmp/sched.log" && break
    sleep 0.1
done
line=$(grep '366 tick files; 366 dates' "$tmp/sched.log")
# the new days' files are new, the old days' were copied again (new mtimes): every date is
# recomputed; the 227 new days are written (2 specs each), the 139 others are unchanged
echo "$line" | grep -q '366 dates recomputed (527040 ticks, 79056 windows); summary files: 454 written, 278 unchanged, 0 removed' ||
    { cat "$tmp/sched.log" >&2; fail "the scheduled run after the lake grew: $line"; }
sleep 1.5
last_line "$tmp/sched.log" | grep -q '366 tick files; 0 dates recomputed' ||
    fail "the next period recomputed again: $(last_line "$tmp/sched.log")"
kill -TERM "$spid"
wait "$spid"
rc=$?
spid=
[ "$rc" = 0 ] || fail "etl --schedule exited $rc on SIGTERM"
grep -q 'received SIGTERM' "$tmp/sched.log" || fail "no stop message"
(cd "$tmp/a/lake/summary" && find . -name '*.parquet' | LC_ALL=C sort | xargs md5sum) >"$tmp/sum_a"
(cd "$tmp/b/lake/summary" && find . -name '*.parquet' | LC_ALL=C sort | xargs md5sum) >"$tmp/sum_b"
cmp -s "$tmp/sum_a" "$tmp/sum_b" || fail "the scheduled summaries differ from the one-shot ones"
echo "step 3: --schedule 1s summarized the grown lake (454 files written, 278 unchanged) = the one-shot summaries byte for byte"

# 4. Usage errors.
"$TICKPIPE" etl --data "$tmp/a" --every 7m:price 2>"$tmp/u.log"
[ $? = 2 ] && grep -q 'does not divide a day' "$tmp/u.log" || fail "7m over the lake is not a usage error"
"$TICKPIPE" etl --data "$tmp/a" --input lake --out x.csv --every 10m:price 2>/dev/null
[ $? = 2 ] || fail "--out with --input lake is not a usage error"
"$TICKPIPE" etl --data "$tmp/nowhere" --every 10m:price 2>/dev/null
[ $? = 3 ] || fail "a missing lake is not exit 3"
echo "etl_lake: ok"
