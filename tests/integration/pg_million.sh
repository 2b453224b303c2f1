#!/usr/bin/env bash
# pg_million.sh — a million trades through the PostgreSQL sink (Debian's PostgreSQL on
# loopback, lib/pgserver.sh), with the optimized binary ($TP_RELEASE_BIN, from `make test`;
# the ASan one otherwise, smaller): `run --sim-pace max --exit-at-eof --postgres` over
# 2,750,000 simulator events (over 1,000,000 trades, the rest quotes), then every table
# equals the journals exactly (pg_check_exact), and the summaries of `etl` from the database
# equal those `etl` computes from the journal.
set -uo pipefail
: "${TICKPIPE:?TICKPIPE must name the tickpipe binary}"
: "${TP_BUILD:?TP_BUILD must name the build directory}"
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/pgserver.sh
. "$here/lib/pgserver.sh"
pg_setup pg_million
trap 'pg_cleanup' EXIT
fail() { echo "pg_million: FAIL: $*" >&2; exit 1; }
pg_start
bin=$TICKPIPE
events=2750000
if [ -n "${TP_RELEASE_BIN:-}" ] && [ -x "$TP_RELEASE_BIN" ]; then
    bin=$TP_RELEASE_BIN
else
    events=300000
    echo "pg_million: note: no TP_RELEASE_BIN; $events events with the ASan binary"
fi
data=$PGTMP/data
t0=$(date +%s.%N)
"$bin" run --data "$data" --sim-pace max --sim-events "$events" --exit-at-eof --http off \
    --status-interval 0 --postgres "$PGURL" 2>"$PGTMP/run.log" ||
    { cat "$PGTMP/run.log" >&2; fail "the run failed"; }
t1=$(date +%s.%N)
trades=$(pg_sql "SELECT count(*) FROM ticks WHERE kind = 'trade'")
echo "run: $events events ($trades trades) through the sink in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s"
[ "$events" -lt 2750000 ] || [ "$trades" -ge 1000000 ] || fail "only $trades trades"
pg_check_exact "$data" "million" || fail "the database differs from the journals"
"$bin" etl --postgres "$PGURL" --every 1m:price --every 10m:size 2>/dev/null || fail "etl (postgres)"
"$bin" etl --data "$data" --every 1m:price --every 10m:size --out "$PGTMP/journal.csv" 2>/dev/null ||
    fail "etl (journal)"
pg_sql "SELECT instrument, field, interval, to_char(ts AT TIME ZONE 'UTC',
        'YYYY-MM-DD\"T\"HH24:MI:SS.US000\"Z\"'), avg, min, max, first, last, count FROM summary" |
    tr '|' ',' | LC_ALL=C sort >"$PGTMP/pg.csv"
tail -n +2 "$PGTMP/journal.csv" | LC_ALL=C sort >"$PGTMP/journal.sorted"
# numbers compared as numbers; avg within 1e-12 relative: a sum's last bit depends on the
# order its terms are added in (journal order here, the scan order of the table there)
/usr/bin/python3 - "$PGTMP/pg.csv" "$PGTMP/journal.sorted" <<'PY' || fail "etl summaries differ between the database and the journal"
import sys
a, b = (open(f).read().split() for f in sys.argv[1:3])
assert len(a) == len(b) and a, (len(a), len(b))
for x, y in zip(a, b):
    x, y = x.split(','), y.split(',')
    assert x[:4] == y[:4] and [float(v) for v in x[5:]] == [float(v) for v in y[5:]], (x, y)
    assert abs(float(x[4]) - float(y[4])) <= 1e-12 * abs(float(y[4])), (x, y)
print(f"etl: {len(a)} summaries, equal from the database and from the journal")
PY
echo "pg_million: ok"
