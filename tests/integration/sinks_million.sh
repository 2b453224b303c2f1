#!/usr/bin/env bash
# sinks_million.sh — a million trades through PostgreSQL and Redis at once (Debian's servers
# on loopback in a temporary directory: lib/pgserver.sh, redis-server), checked against the
# engine's own outputs. Steps:
#   1. `tickpipe gen --dataset trades --rows 1000000` and `tickpipe replay` of that file to
#      CSV: the reference (bars.csv, anomalies.csv, late.csv);
#   2. `tickpipe run --source replay:FILE@max --exit-at-eof --postgres URL --redis URL`
#      (the optimized binary, $TP_RELEASE_BIN, when there is one; 200,000 rows with the ASan
#      binary otherwise);
#   3. psql: `ticks` holds every row of the file once (duplicates included: the journal keeps
#      what came), and `bars` (every column), `anomalies` and `late` equal replay's CSV
#      row for row (numbers as doubles, bit for bit; times at the database's microseconds,
#      anomalies' at their exact nanoseconds from ts_ns), compared sorted with cmp
#      (sinks_check.py normalizes both sides); `quality` equals the counts of the rows and
#      tickpipe_offsets the journals' ends (pg_check_counts);
#   4. redis-cli: tickpipe:last:<instrument> holds the price, size and ts_ns of the file's
#      last trade of each instrument (largest time, the later row among equal times), every
#      bar stream has the right length (capped at --redis-maxlen) and its newest entry equals
#      replay's last bar of that instrument and interval, column for column, with the id
#      derived from the bar time; the stored offsets are the journals' ends;
#   5. `etl` from the database equals `etl` from the journal (the same summaries).
# (Replaces pg_million.sh, which ran the simulator through PostgreSQL alone.)
set -uo pipefail
: "${TICKPIPE:?TICKPIPE must name the tickpipe binary}"
: "${TP_BUILD:?TP_BUILD must name the build directory}"
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
# shellcheck source=lib/pgserver.sh
. "$here/lib/pgserver.sh"
fail() { echo "sinks_million: FAIL: $*" >&2; exit 1; }
command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
    fail "redis-server and redis-cli are needed (scripts/install-deps.sh test)"
pg_setup sinks_million
rpid=
trap '[ -n "$rpid" ] && kill -KILL "$rpid" 2>/dev/null; pg_cleanup' EXIT
pg_start
rport=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$PGTMP/redis"
redis-server --port "$rport" --bind 127.0.0.1 --protected-mode yes --dir "$PGTMP/redis" \
    --logfile "$PGTMP/redis/redis.log" --save '' --appendonly no --daemonize no &
rpid=$!
for _ in $(seq 100); do [ "$(redis-cli -p "$rport" ping 2>/dev/null)" = PONG ] && break; sleep 0.05; done
[ "$(redis-cli -p "$rport" ping 2>/dev/null)" = PONG ] || fail "redis-server did not start"

bin=$TICKPIPE rows=1000000
if [ -n "${TP_RELEASE_BIN:-}" ] && [ -x "$TP_RELEASE_BIN" ]; then
    bin=$TP_RELEASE_BIN
else
    rows=200000
    echo "sinks_million: note: no TP_RELEASE_BIN; $rows rows with the ASan binary"
fi
maxlen=10000
el() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", b - a}'; }

# 1. The file and the reference.
t0=$(date +%s.%N)
"$bin" gen --dataset trades --rows "$rows" --out "$PGTMP/trades.csv" 2>/dev/null || fail "gen"
"$bin" replay "$PGTMP/trades.csv" --out "$PGTMP/ref" 2>"$PGTMP/replay.log" ||
    { cat "$PGTMP/replay.log" >&2; fail "replay"; }
t1=$(date +%s.%N)

# 2. Through both sinks.
data=$PGTMP/data
"$bin" run --data "$data" --source "replay:$PGTMP/trades.csv@max" --exit-at-eof --http off \
    --lake off --status-interval 0 --postgres "$PGURL" --redis "redis://127.0.0.1:$rport" \
    --redis-maxlen "$maxlen" 2>"$PGTMP/run.log" || { cat "$PGTMP/run.log" >&2; fail "the run failed"; }
t2=$(date +%s.%N)
grep -q 'stopped before acknowledging\|retrying' "$PGTMP/run.log" &&
    { cat "$PGTMP/run.log" >&2; fail "a sink failed or did not finish during the run"; }
echo "step 1: gen + replay of $rows trades: $(el "$t0" "$t1") s; step 2: run through PostgreSQL and Redis: $(el "$t1" "$t2") s"

# 3. PostgreSQL against replay.
us="'YYYY-MM-DD\"T\"HH24:MI:SS.US'"
declare -A query=(
    [ticks]="SELECT ts_ns, instrument, kind, price, size, side, trade_id FROM ticks"
    [bars]="SELECT instrument, interval, to_char(ts AT TIME ZONE 'UTC', $us), open, high, low,
        close, volume, notional, vwap, trades, buy_volume, sell_volume,
        to_char(first_ts AT TIME ZONE 'UTC', $us), to_char(last_ts AT TIME ZONE 'UTC', $us),
        sma_20, ema_20, bb_upper, bb_middle, bb_lower, rsi_14, macd, macd_signal, macd_hist,
        atr_14, volatility_20 FROM bars"
    [anomalies]="SELECT instrument, to_char(ts AT TIME ZONE 'UTC', $us) ||
        lpad((ts_ns % 1000)::text, 3, '0') || 'Z', kind, observed, expected, score, interval
        FROM anomalies"
    [late]="SELECT ts_ns, instrument, kind, price, size, side, trade_id, interval FROM late")
declare -A ref=([ticks]="$PGTMP/trades.csv" [bars]="$PGTMP/ref/bars.csv"
    [anomalies]="$PGTMP/ref/anomalies.csv" [late]="$PGTMP/ref/late.csv")
for t in ticks bars anomalies late; do
    $py "$here/sinks_check.py" norm "$t" ref <"${ref[$t]}" 2>/dev/null |
        LC_ALL=C sort -S 100M >"$PGTMP/$t.want" || fail "normalizing replay's $t"
    psql -X -q -v ON_ERROR_STOP=1 "$PGURL" -c "COPY (${query[$t]}) TO STDOUT (FORMAT csv)" |
        $py "$here/sinks_check.py" norm "$t" pg 2>/dev/null |
        LC_ALL=C sort -S 100M >"$PGTMP/$t.got" || fail "reading $t from PostgreSQL"
    n=$(wc -l <"$PGTMP/$t.want")
    [ "$n" -gt 0 ] || [ "$t" = late ] || fail "replay gave no $t"
    cmp -s "$PGTMP/$t.want" "$PGTMP/$t.got" || {
        diff "$PGTMP/$t.want" "$PGTMP/$t.got" | head -6 | tr '\037' ',' >&2
        fail "table $t differs from replay ($n rows expected, $(wc -l <"$PGTMP/$t.got") in the database)"
    }
    echo "postgres: $t: $n rows, equal to replay's"
done
[ "$(wc -l <"$PGTMP/ticks.got")" = "$rows" ] || fail "ticks does not hold $rows rows"
pg_check_counts "$data" "million" || fail "quality or the offsets are wrong"
t3=$(date +%s.%N)

# 4. Redis against the file and replay.
$py "$here/sinks_check.py" last "$PGTMP/trades.csv" "$rport" || fail "the latest prices in Redis"
$py "$here/sinks_check.py" streams "$PGTMP/ref/bars.csv" "$rport" "$maxlen" || fail "the bar streams in Redis"
in_next=$(pg_journal_next "$data/journal/input")
out_next=$(pg_journal_next "$data/journal/output")
offs=$(redis-cli -p "$rport" HMGET tickpipe:offsets redis.input redis.output | tr '\n' ' ')
[ "$offs" = "$in_next $out_next " ] || fail "tickpipe:offsets is '$offs', the journals end at $in_next $out_next"
t4=$(date +%s.%N)

# 5. etl from the database and from the journal agree.
"$TICKPIPE" etl --postgres "$PGURL" --every 1m:price --every 10m:size 2>/dev/null || fail "etl (postgres)"
"$TICKPIPE" etl --data "$data" --input journal --every 1m:price --every 10m:size \
    --out "$PGTMP/journal.csv" 2>/dev/null || fail "etl (journal)"
pg_sql "SELECT instrument, field, interval, to_char(ts AT TIME ZONE 'UTC',
        'YYYY-MM-DD\"T\"HH24:MI:SS.US000\"Z\"'), avg, min, max, first, last, count FROM summary" |
    tr '|' ',' | LC_ALL=C sort >"$PGTMP/pg.csv"
tail -n +2 "$PGTMP/journal.csv" | LC_ALL=C sort >"$PGTMP/journal.sorted"
# avg within 1e-12 relative: a sum's last bit depends on the order its terms are added in
$py - "$PGTMP/pg.csv" "$PGTMP/journal.sorted" <<'PY' || fail "etl summaries differ between the database and the journal"
import sys
a, b = (open(f).read().split() for f in sys.argv[1:3])
assert len(a) == len(b) and a, (len(a), len(b))
for x, y in zip(a, b):
    x, y = x.split(','), y.split(',')
    assert x[:4] == y[:4] and [float(v) for v in x[5:]] == [float(v) for v in y[5:]], (x, y)
    assert abs(float(x[4]) - float(y[4])) <= 1e-12 * abs(float(y[4])), (x, y)
print(f"etl: {len(a)} summaries, equal from the database and from the journal")
PY
t5=$(date +%s.%N)
echo "times: checks of PostgreSQL $(el "$t2" "$t3") s, of Redis $(el "$t3" "$t4") s, etl $(el "$t4" "$t5") s"
echo "sinks_million: ok"
