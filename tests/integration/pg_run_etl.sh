#!/usr/bin/env bash
# pg_run_etl.sh — `tickpipe run --postgres URL --etl-every` (docs/etl.md "Inside tickpipe
# run"): the etl thread reads the ticks table, not the lake. A replay of a generated trades
# file with --exit-at-eof --lake off ends with one last pass after the PostgreSQL sink
# acknowledged everything: the summary table holds every (instrument, spec, window) of the
# ticks (counted by independent SQL), a separate `tickpipe etl --postgres` afterwards upserts
# no window, and `etl --full` leaves the table row for row the same.
set -uo pipefail
: "${TICKPIPE:?TICKPIPE must name the tickpipe binary}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/pgserver.sh"
pg_setup pg_run_etl
trap 'pg_cleanup' EXIT
fail() { echo "pg_run_etl: FAIL: $*" >&2; exit 1; }
pg_start
"$TICKPIPE" gen --dataset trades --rows 20000 --symbols 3 --rate 0.5 --seed 5 \
    --start 2024-03-01T20:00:00Z --out "$PGTMP/t.csv" 2>/dev/null || fail "gen"
"$TICKPIPE" run --source "replay:$PGTMP/t.csv@max" --exit-at-eof --data "$PGTMP/d" --http off \
    --status-interval 0 --lake off --postgres "$PGURL" --etl-every 10m:price,1h:size \
    2>"$PGTMP/run.log" || { cat "$PGTMP/run.log" >&2; fail "run --postgres --etl-every"; }
grep -q 'etl: 2 summaries every 1m from postgres' "$PGTMP/run.log" || fail "no etl start line"
grep -q 'etl: 1 passes, 0 failed' "$PGTMP/run.log" || { cat "$PGTMP/run.log" >&2; fail "not one last pass"; }
dump() { pg_sql "SELECT instrument, field, interval, ts, avg, min, max, first, last, count
    FROM summary ORDER BY 1, 2, 3, 4"; }
want=$(pg_sql "SELECT count(*) FROM (SELECT DISTINCT instrument,
    date_bin('10 minutes', ts, timestamptz 'epoch') FROM ticks WHERE price IS NOT NULL) a")
want2=$(pg_sql "SELECT count(*) FROM (SELECT DISTINCT instrument,
    date_bin('1 hour', ts, timestamptz 'epoch') FROM ticks WHERE size IS NOT NULL) a")
got=$(pg_sql "SELECT count(*) FROM summary WHERE interval = '10m' AND field = 'price'")
got2=$(pg_sql "SELECT count(*) FROM summary WHERE interval = '1h' AND field = 'size'")
[ "$want" -gt 100 ] && [ "$got" = "$want" ] && [ "$got2" = "$want2" ] ||
    fail "summary rows $got/$got2, the ticks have $want/$want2 windows"
cnt=$(pg_sql "SELECT sum(count) FROM summary WHERE interval = '10m'")
ticks=$(pg_sql "SELECT count(*) FROM ticks WHERE price IS NOT NULL")
[ "$cnt" = "$ticks" ] || fail "the 10m windows count $cnt ticks of $ticks"
dump >"$PGTMP/s1"
"$TICKPIPE" etl --postgres "$PGURL" --every 10m:price --every 1h:size 2>"$PGTMP/e1.log" ||
    { cat "$PGTMP/e1.log" >&2; fail "etl afterwards"; }
[ "$(grep -c ': 0 windows upserted' "$PGTMP/e1.log")" = 2 ] || fail "etl afterwards: $(cat "$PGTMP/e1.log")"
"$TICKPIPE" etl --postgres "$PGURL" --every 10m:price --every 1h:size --full 2>"$PGTMP/e2.log" ||
    { cat "$PGTMP/e2.log" >&2; fail "etl --full afterwards"; }
dump >"$PGTMP/s2"
cmp -s "$PGTMP/s1" "$PGTMP/s2" || { diff "$PGTMP/s1" "$PGTMP/s2" | head >&2; fail "etl --full changed the summary table"; }
echo "pg_run_etl: $got + $got2 windows at exit; etl afterwards upserted none, --full changed nothing"
echo "pg_run_etl: ok"
