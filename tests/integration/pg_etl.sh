#!/usr/bin/env bash
# pg_etl.sh — `tickpipe etl` (interval summaries) against a real PostgreSQL (lib/pgserver.sh)
# and over the journal, on a small dataset whose summaries are computed by hand below.
# Checks:
#   - ticks written by `run --postgres`, then `etl --every 10m:price --every 20m:value` gives
#     exactly the hand-computed rows (avg, min, max, first/last by time then arrival, count),
#     and the same as aggregates computed by independent SQL in this test (date_bin, window
#     functions);
#   - a second run adds and changes nothing;
#   - late rows (new offsets, old times) and a new instrument: the next run recomputes only
#     the touched windows, which then equal the hand-computed values again;
#   - the journal input gives the same values as CSV (--out) and, upserted with
#     --input journal, leaves the summary table unchanged; --full changes nothing;
#   - --schedule 1s picks up new rows while running and stops cleanly on SIGTERM.
set -uo pipefail
: "${TICKPIPE:?TICKPIPE must name the tickpipe binary}"
: "${TP_BUILD:?TP_BUILD must name the build directory}"
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/pgserver.sh
. "$here/lib/pgserver.sh"
pg_setup pg_etl
pid=
trap '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; pg_cleanup' EXIT
fail() { echo "pg_etl: FAIL: $*" >&2; exit 1; }
pg_start
data=$PGTMP/data
every=(--every 10m:price --every 20m:value)

append() { # CSV rows (after the header) go to the input journal, then through the sink
    { echo "ts,instrument,price,size,side,trade_id,sales_trend"; cat; } >"$PGTMP/in.csv"
    "$TP_BUILD/pg_expect" write "$PGTMP/in.csv" "$data" value=sales_trend 2>/dev/null ||
        fail "writing the journal"
    "$TICKPIPE" run --data "$data" --source none --exit-at-eof --http off --status-interval 0 \
        --postgres "$PGURL" 2>"$PGTMP/run.log" || { cat "$PGTMP/run.log" >&2; fail "run failed"; }
}
etl() { "$TICKPIPE" etl --postgres "$PGURL" "${every[@]}" "$@" 2>"$PGTMP/etl.log" ||
    { cat "$PGTMP/etl.log" >&2; fail "etl $* failed"; }; }
summary() { pg_sql "SELECT instrument, field, interval, to_char(ts AT TIME ZONE 'UTC', 'HH24:MI'),
    avg, min, max, first, last, count FROM summary ORDER BY 1, 2, 3, 4"; }
# The same aggregates by independent SQL: date_bin windows, first/last by window functions.
by_sql() { pg_sql "WITH v AS (
      SELECT instrument, 'price' AS field, '10m' AS interval,
             date_bin('10 minutes', ts, timestamptz 'epoch') AS w, price AS x, ts_ns, log_offset
        FROM ticks WHERE price IS NOT NULL
      UNION ALL
      SELECT instrument, 'value', '20m', date_bin('20 minutes', ts, timestamptz 'epoch'), value,
             ts_ns, log_offset FROM ticks WHERE value IS NOT NULL),
    f AS (SELECT *, first_value(x) OVER o AS fst, last_value(x) OVER o AS lst FROM v
          WINDOW o AS (PARTITION BY instrument, field, w ORDER BY ts_ns, log_offset
                       ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING))
    SELECT instrument, field, interval, to_char(w AT TIME ZONE 'UTC', 'HH24:MI'), avg(x), min(x),
           max(x), min(fst), min(lst), count(*) FROM f GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"; }
check() { # TAG EXPECTED: summary equals the hand-computed rows and the independent SQL
    local got sql
    got=$(summary)
    [ "$got" = "$2" ] || fail "$1: summary is
$got
expected (by hand)
$2"
    sql=$(by_sql)
    [ "$got" = "$sql" ] || fail "$1: summary differs from SQL aggregates:
$sql"
    echo "$1: $(echo "$got" | wc -l) summaries equal the hand-computed values and SQL"
}

# 1. Hand-computed: AAA 10:00-10:10 has 10, 12, 11 (the last at 10:09:59.999999999); 10:10
# has 20; 10:25 has 30 and no value; BBB has two trades at the same ns: first is the one that
# arrived first. Values (sales_trend) 1, 2, 3, 4 fall in AAA's 20m window 10:00; 8, 9 BBB's.
append <<'CSV'
2026-01-05T10:00:00Z,sim:AAA,10,1,buy,1,1
2026-01-05T10:03:00Z,sim:AAA,12,1,buy,2,2
2026-01-05T10:09:59.999999999Z,sim:AAA,11,1,sell,3,3
2026-01-05T10:10:00Z,sim:AAA,20,1,buy,4,4
2026-01-05T10:25:00Z,sim:AAA,30,1,buy,5,
2026-01-05T10:05:00Z,sim:BBB,100,1,buy,1,8
2026-01-05T10:05:00Z,sim:BBB,101,1,buy,2,9
CSV
etl
check "first run" "sim:AAA|price|10m|10:00|11|10|12|10|11|3
sim:AAA|price|10m|10:10|20|20|20|20|20|1
sim:AAA|price|10m|10:20|30|30|30|30|30|1
sim:AAA|value|20m|10:00|2.5|1|4|1|4|4
sim:BBB|price|10m|10:00|100.5|100|101|100|101|2
sim:BBB|value|20m|10:00|8.5|8|9|8|9|2"
grep -q '10m:price: 4 windows upserted from ticks offsets 0\.\.7' "$PGTMP/etl.log" ||
    { cat "$PGTMP/etl.log" >&2; fail "first run: not 4 price windows from offsets 0..7"; }

# 2. Again: nothing new.
before=$(summary)
etl
grep -q '10m:price: 0 windows upserted from ticks offsets 7\.\.7' "$PGTMP/etl.log" ||
    { cat "$PGTMP/etl.log" >&2; fail "second run did something"; }
[ "$(summary)" = "$before" ] || fail "second run changed the summary"
echo "second run: nothing upserted, summary unchanged"

# 3. Late rows for AAA 10:00 (9 at 10:01, value 10) and a new instrument.
append <<'CSV'
2026-01-05T10:01:00Z,sim:AAA,9,1,sell,6,10
2026-01-05T11:00:00Z,sim:CCC,5,1,buy,1,1
CSV
etl
grep -q '10m:price: 2 windows upserted from ticks offsets 7\.\.9' "$PGTMP/etl.log" &&
    grep -q '20m:value: 2 windows upserted from ticks offsets 7\.\.9' "$PGTMP/etl.log" ||
    { cat "$PGTMP/etl.log" >&2; fail "late rows: not exactly the 2 touched windows per spec"; }
expected="sim:AAA|price|10m|10:00|10.5|9|12|10|11|4
sim:AAA|price|10m|10:10|20|20|20|20|20|1
sim:AAA|price|10m|10:20|30|30|30|30|30|1
sim:AAA|value|20m|10:00|4|1|10|1|4|5
sim:BBB|price|10m|10:00|100.5|100|101|100|101|2
sim:BBB|value|20m|10:00|8.5|8|9|8|9|2
sim:CCC|price|10m|11:00|5|5|5|5|5|1
sim:CCC|value|20m|11:00|1|1|1|1|1|1"
check "late rows" "$expected"

# 4. The journal input: CSV equal to the hand-computed values; upserting it changes nothing.
"$TICKPIPE" etl --data "$data" "${every[@]}" --out "$PGTMP/summary.csv" 2>"$PGTMP/etl.log" ||
    { cat "$PGTMP/etl.log" >&2; fail "etl from the journal failed"; }
want="instrument,field,interval,ts,avg,min,max,first,last,count
sim:AAA,price,10m,2026-01-05T10:00:00.000000000Z,10.5,9,12,10,11,4
sim:AAA,price,10m,2026-01-05T10:10:00.000000000Z,20,20,20,20,20,1
sim:AAA,price,10m,2026-01-05T10:20:00.000000000Z,30,30,30,30,30,1
sim:AAA,value,20m,2026-01-05T10:00:00.000000000Z,4,1,10,1,4,5
sim:BBB,price,10m,2026-01-05T10:00:00.000000000Z,100.5,100,101,100,101,2
sim:BBB,value,20m,2026-01-05T10:00:00.000000000Z,8.5,8,9,8,9,2
sim:CCC,price,10m,2026-01-05T11:00:00.000000000Z,5,5,5,5,5,1
sim:CCC,value,20m,2026-01-05T11:00:00.000000000Z,1,1,1,1,1,1"
[ "$(cat "$PGTMP/summary.csv")" = "$want" ] || fail "journal CSV is
$(cat "$PGTMP/summary.csv")"
echo "journal input: CSV equals the hand-computed values"
etl --input journal --data "$data"
check "journal input upserted" "$expected"
etl --full
grep -q '10m:price: 5 windows upserted from ticks offsets 0\.\.9' "$PGTMP/etl.log" ||
    { cat "$PGTMP/etl.log" >&2; fail "--full did not recompute every window"; }
check "--full" "$expected"

# 5. --schedule: new rows are summarized while it runs; SIGTERM stops it with 0.
"$TICKPIPE" etl --postgres "$PGURL" "${every[@]}" --schedule 1s 2>"$PGTMP/sched.log" &
pid=$!
append <<'CSV'
2026-01-05T10:02:00Z,sim:BBB,102,1,buy,3,10
CSV
for _ in $(seq 100); do
    [ "$(pg_sql "SELECT count FROM summary WHERE instrument = 'sim:BBB' AND field = 'price'")" = 3 ] && break
    sleep 0.1
done
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
[ "$rc" -eq 0 ] || { cat "$PGTMP/sched.log" >&2; fail "--schedule exited $rc on SIGTERM"; }
# BBB's new trade at 10:02 comes first in time: it is the windows' first value now.
expected=${expected/sim:BBB|price|10m|10:00|100.5|100|101|100|101|2/sim:BBB|price|10m|10:00|101|100|102|102|101|3}
check "schedule" "${expected/sim:BBB|value|20m|10:00|8.5|8|9|8|9|2/sim:BBB|value|20m|10:00|9|8|10|10|9|3}"
runs=$(grep -c '10m:price:' "$PGTMP/sched.log")
[ "$runs" -ge 2 ] || fail "--schedule ran $runs times"

# 6. Usage errors.
"$TICKPIPE" etl --every 10m:nope 2>/dev/null; [ $? -eq 2 ] || fail "an unknown field is not exit 2"
"$TICKPIPE" etl --input postgres --every 10m:price 2>/dev/null; [ $? -eq 2 ] || fail "--input postgres without --postgres is not exit 2"
"$TICKPIPE" etl 2>/dev/null; [ $? -eq 2 ] || fail "no --every is not exit 2"
echo "pg_etl: ok"
