#!/usr/bin/env bash
# pg_sink.sh — the PostgreSQL sink of `tickpipe run --postgres` against a real server
# (Debian's PostgreSQL, started on loopback in a temporary directory; tests/integration/lib/
# pgserver.sh). Checks:
#   - a finite simulator run (300,000 trades and quotes) leaves in ticks, bars, anomalies,
#     late and gaps exactly the journals' records, each once, bit for bit (pg_check_exact),
#     quality equal to counts of those rows, tickpipe_offsets at the journals' ends, the
#     schema at version 2 with day partitions created ahead of today;
#   - a second run (migrations run again, nothing new) changes nothing in the database;
#   - a replay of offsets already written (tickpipe_offsets reset by hand, fully and partly)
#     changes nothing either, quality included (ON CONFLICT keys);
#   - events of past days get their partitions on demand (a second database, known rows);
#   - a database whose schema is newer than this tickpipe is refused with a clear error;
#     a conninfo that does not parse is a usage error (exit 2).
set -uo pipefail
: "${TICKPIPE:?TICKPIPE must name the tickpipe binary}"
: "${TP_BUILD:?TP_BUILD must name the build directory}"
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/pgserver.sh
. "$here/lib/pgserver.sh"
pg_setup pg_sink
trap 'pg_cleanup' EXIT
fail() { echo "pg_sink: FAIL: $*" >&2; exit 1; }
pg_start
data=$PGTMP/data
args=(--status-interval 0 --http off --checkpoint-every 20000 --exit-at-eof)

# 1. A finite simulator run through the sink.
"$TICKPIPE" run --data "$data" --sim-pace max --sim-events 300000 "${args[@]}" \
    --postgres "$PGURL" 2>"$PGTMP/run1.log" || { cat "$PGTMP/run1.log" >&2; fail "run 1 failed"; }
grep -q 'schema migrated from version 0 to 2' "$PGTMP/run1.log" || fail "no migration reported"
pg_check_exact "$data" "run 1" || fail "run 1: the database differs from the journals"
[ "$(pg_sql 'SELECT max(version) FROM tickpipe_schema_version')" = 2 ] || fail "schema version not 2"
today=$(date -u +%Y%m%d)
ahead=$(date -u -d '+3 days' +%Y%m%d)
parts=$(pg_sql "SELECT string_agg(c.relname, ' ' ORDER BY c.relname) FROM pg_inherits i
                JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'ticks'::regclass")
case " $parts " in *" ticks_p$today "*" ticks_p$ahead "*) ;;
    *) fail "partitions '$parts' lack today's (ticks_p$today) or 3 days ahead (ticks_p$ahead)" ;; esac
echo "partitions: $parts"
pg_snapshot >"$PGTMP/snap1"

# 2. Again over the same data: migrations and the sink find everything done.
"$TICKPIPE" run --data "$data" --source none "${args[@]}" --postgres "$PGURL" \
    2>"$PGTMP/run2.log" || { cat "$PGTMP/run2.log" >&2; fail "run 2 failed"; }
grep -q 'schema migrated' "$PGTMP/run2.log" && fail "run 2 migrated again"
pg_snapshot >"$PGTMP/snap2"
cmp -s "$PGTMP/snap1" "$PGTMP/snap2" || { diff "$PGTMP/snap1" "$PGTMP/snap2" | head >&2; fail "run 2 changed the database"; }
echo "run 2 (migrations again, nothing new): database unchanged"

# 3. Replays of written offsets change nothing.
in_next=$(pg_journal_next "$data/journal/input")
out_next=$(pg_journal_next "$data/journal/output")
for reset in "0 0" "$((in_next / 2)) $((out_next / 3))"; do
    set -- $reset
    pg_sql "UPDATE tickpipe_offsets SET next_offset = CASE log WHEN 'input' THEN $1 ELSE $2 END
            WHERE sink = 'postgres'" >/dev/null
    "$TICKPIPE" run --data "$data" --source none "${args[@]}" --postgres "$PGURL" \
        2>"$PGTMP/run3.log" || { cat "$PGTMP/run3.log" >&2; fail "replay from $1/$2 failed"; }
    grep -q 'past the acknowledged offset: replacing them offset range by offset range' "$PGTMP/run3.log" ||
        fail "replay from $1/$2: the sink did not notice existing ticks"
    pg_snapshot >"$PGTMP/snap3"
    cmp -s "$PGTMP/snap1" "$PGTMP/snap3" ||
        { diff "$PGTMP/snap1" "$PGTMP/snap3" | head >&2; fail "replay from input $1, output $2 changed the database"; }
    echo "replay from input offset $1, output offset $2: database unchanged"
done

# 4. Past days get partitions on demand (a second database: one database per data dir).
pg_sql "CREATE DATABASE tickpipe_old" >/dev/null 2>&1 ||
    psql -X -q "${PGURL%/tickpipe}/postgres" -c 'CREATE DATABASE tickpipe_old' || fail "createdb"
old=$PGTMP/old
cat >"$PGTMP/old.csv" <<CSV
ts,instrument,price,size,side,trade_id
2020-01-01T00:00:00.5Z,sim:BTC-USD,7200.5,0.25,buy,1
2020-01-01T23:59:59.999999999Z,sim:BTC-USD,7201,1,sell,2
2021-06-15T12:00:00Z,sim:ETH-USD,2500.25,2,buy,abc-3
1969-12-31T23:59:59.000001999Z,sim:ETH-USD,1.5,3,,
CSV
"$TP_BUILD/pg_expect" write "$PGTMP/old.csv" "$old" 2>/dev/null || fail "writing the old journal"
"$TICKPIPE" run --data "$old" --source none "${args[@]}" --postgres "${PGURL}_old" \
    2>"$PGTMP/old.log" || { cat "$PGTMP/old.log" >&2; fail "run over past days failed"; }
PGURL_MAIN=$PGURL
PGURL=${PGURL}_old
pg_check_exact "$old" "past days" || fail "past days: the database differs from the journal"
got=$(pg_sql "SELECT tableoid::regclass || ':' || ts_ns || ':' || coalesce(trade_id, '-') FROM ticks ORDER BY ts_ns")
want="ticks_p19691231:-999998001:-
ticks_p20200101:1577836800500000000:1
ticks_p20200101:1577923199999999999:2
ticks_p20210615:1623758400000000000:abc-3"
[ "$got" = "$want" ] || fail "past-day rows: got
$got
want
$want"
echo "past days: rows in ticks_p19691231, ticks_p20200101, ticks_p20210615 as expected"
PGURL=$PGURL_MAIN

# 5. A newer schema is refused; a bad conninfo is a usage error.
pg_sql "INSERT INTO tickpipe_schema_version (version, description) VALUES (99, 'future')" >/dev/null
"$TICKPIPE" run --data "$data" --source none "${args[@]}" --postgres "$PGURL" 2>"$PGTMP/run5.log"
rc=$?
[ "$rc" -ne 0 ] || fail "a newer schema was accepted"
grep -q 'version 99, newer than this tickpipe knows' "$PGTMP/run5.log" ||
    { cat "$PGTMP/run5.log" >&2; fail "no clear message for a newer schema"; }
pg_sql "DELETE FROM tickpipe_schema_version WHERE version = 99" >/dev/null
echo "newer schema: refused (exit $rc)"
"$TICKPIPE" run --data "$data" --source none "${args[@]}" --postgres 'postgresql://[bad' \
    2>"$PGTMP/run6.log"
rc=$?
[ "$rc" -eq 2 ] || { cat "$PGTMP/run6.log" >&2; fail "a bad conninfo exited $rc, not 2"; }
echo "bad conninfo: exit 2 ($(head -1 "$PGTMP/run6.log"))"
echo "pg_sink: ok"
