#!/usr/bin/env bash
# sinks_outage.sh — PostgreSQL and Redis both go away for 10 s in the middle of a live run
# (Debian's servers on loopback in a temporary directory; lib/pgserver.sh, redis-server).
#
# A simulator run at 30,000 events/s (`--sim-pace live`, 540,000 events: 18 s) with --postgres
# and --redis (Redis with an AOF, fsync every second). About 3 s in, once both sinks have
# acknowledged data, PostgreSQL is stopped with `pg_ctl stop -m immediate` and Redis with
# `SHUTDOWN NOSAVE`; both are started again 10 s later. Checks:
#   - during the outage /metrics (curl) shows tickpipe_sink_up 0 for both sinks, their
#     tickpipe_sink_lag_records growing between an early and a late scrape, and their
#     tickpipe_sink_errors_total above the value before; /api/health gives each an error text;
#   - memory stays bounded: the process's anonymous RSS (RssAnon of /proc/PID/status, i.e.
#     heap, not the journal's file pages) is sampled every 0.25 s through the outage and may
#     not grow by more than 32 MiB over its value when the servers stopped. The bound: each
#     sink holds at most one batch (PostgreSQL 8 MiB of ticks + 4 MiB of other rows, Redis
#     8 MiB of commands; docs/postgres.md, docs/redis.md) = 20 MiB, plus 12 MiB for the
#     allocator and the reconnect attempts. Buffering the outage instead (300,000 events, at
#     about 240 bytes per event in the sink's encoding) would take over 68 MiB;
#   - the run ends by itself (exit 0): both sinks logged the retry and the reconnection, and
#     at the end every record is in PostgreSQL exactly once (pg_check_exact: every table
#     equals the journals row for row, quality the counts, offsets the journals' ends) and
#     in Redis (redis_check.py: last state, bar streams, offsets equal the journals).
# The optimized binary ($TP_RELEASE_BIN) runs when there is one; with the ASan binary (whose
# quarantine holds freed memory) the rate is 10,000/s and the RSS bound is only reported.
set -uo pipefail
: "${TICKPIPE:?TICKPIPE must name the tickpipe binary}"
: "${TP_BUILD:?TP_BUILD must name the build directory}"
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
# shellcheck source=lib/pgserver.sh
. "$here/lib/pgserver.sh"
fail() { echo "sinks_outage: FAIL: $*" >&2; exit 1; }
command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
    fail "redis-server and redis-cli are needed (scripts/install-deps.sh test)"
command -v curl >/dev/null || fail "curl is needed"
pg_setup sinks_outage
rpid= tpid=
trap '[ -n "$tpid" ] && kill -KILL "$tpid" 2>/dev/null; [ -n "$rpid" ] && kill -KILL "$rpid" 2>/dev/null; pg_cleanup' EXIT
pg_start
rport=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
rdir=$PGTMP/redis
start_redis() {
    mkdir -p "$rdir"
    redis-server --port "$rport" --bind 127.0.0.1 --protected-mode yes --dir "$rdir" \
        --logfile "$rdir/redis.log" --save '' --appendonly yes --appendfsync everysec \
        --daemonize no &
    rpid=$!
    for _ in $(seq 200); do [ "$(redis-cli -p "$rport" ping 2>/dev/null)" = PONG ] && return 0; sleep 0.05; done
    cat "$rdir/redis.log" >&2
    fail "redis-server did not start"
}
start_redis

bin=$TICKPIPE rate=10000 strict=0
if [ -n "${TP_RELEASE_BIN:-}" ] && [ -x "$TP_RELEASE_BIN" ]; then
    bin=$TP_RELEASE_BIN rate=30000 strict=1
fi
events=$((rate * 18))
maxlen=1000
data=$PGTMP/data
"$bin" run --data "$data" --sim-pace live --sim-rate "$rate" --sim-events "$events" --exit-at-eof \
    --lake off --http 127.0.0.1:0 --status-interval 1s --postgres "$PGURL" \
    --redis "redis://127.0.0.1:$rport" --redis-maxlen "$maxlen" 2>"$PGTMP/run.log" &
tpid=$!

mport=
scrape() { curl -s --max-time 2 "http://127.0.0.1:$mport/metrics" >"$PGTMP/m.$1"; }
metric() { # FILE NAME SINK: a sample of a scraped /metrics
    awk -v m="$2{sink=\"$3\"}" '$1 == m {print $2}' "$PGTMP/m.$1"
}
rss() { awk '/^RssAnon/ {print $2}' "/proc/$tpid/status" 2>/dev/null; }

# Both sinks up and acknowledging.
for _ in $(seq 200); do
    [ -z "$mport" ] && mport=$(grep -o 'port [0-9]*' "$PGTMP/run.log" | head -1 | grep -o '[0-9]*')
    if [ -n "$mport" ]; then
        scrape before
        [ "$(metric before tickpipe_sink_up postgres)" = 1 ] && [ "$(metric before tickpipe_sink_up redis)" = 1 ] &&
            [ "$(metric before tickpipe_sink_records_total postgres)" -gt 0 ] 2>/dev/null &&
            [ "$(metric before tickpipe_sink_records_total redis)" -gt 0 ] 2>/dev/null && break
    fi
    sleep 0.1
done
[ "$(metric before tickpipe_sink_up postgres)" = 1 ] && [ "$(metric before tickpipe_sink_up redis)" = 1 ] ||
    { cat "$PGTMP/run.log" >&2; fail "the sinks did not come up"; }
sleep 2
scrape before
pg_acked=$(pg_sql "SELECT next_offset FROM tickpipe_offsets WHERE sink = 'postgres' AND log = 'input'")
r_acked=$(redis-cli -p "$rport" HGET tickpipe:offsets redis.input)

# The outage: both servers at once, 10 s.
pg_stop_immediate || fail "pg_ctl stop -m immediate"
redis-cli -p "$rport" SHUTDOWN NOSAVE >/dev/null 2>&1
wait "$rpid" 2>/dev/null
rpid=
t_out=$(date +%s.%N)
rss0=$(rss)
rssmax=$rss0
echo "outage: both servers stopped (acknowledged input offsets: postgres $pg_acked, redis $r_acked; RssAnon $rss0 kB)"
sampled=0
early=0
while :; do
    el=$(awk -v a="$t_out" -v b="$(date +%s.%N)" 'BEGIN {print b - a}')
    awk -v e="$el" 'BEGIN {exit !(e >= 10)}' && break
    r=$(rss)
    [ -n "$r" ] || { cat "$PGTMP/run.log" >&2; fail "tickpipe ended during the outage"; }
    [ "$r" -gt "$rssmax" ] && rssmax=$r
    sampled=$((sampled + 1))
    if [ "$early" = 0 ] && awk -v e="$el" 'BEGIN {exit !(e >= 1.5)}'; then
        scrape early
        early=1
    fi
    if [ "$early" = 1 ] && awk -v e="$el" 'BEGIN {exit !(e >= 8.5)}'; then
        scrape late
        curl -s --max-time 2 "http://127.0.0.1:$mport/api/health" >"$PGTMP/health.json"
        early=2
    fi
    sleep 0.25
done
[ "$early" = 2 ] || fail "the scrapes during the outage did not happen"
for s in postgres redis; do
    up1=$(metric early tickpipe_sink_up $s) up2=$(metric late tickpipe_sink_up $s)
    lag1=$(metric early tickpipe_sink_lag_records $s) lag2=$(metric late tickpipe_sink_lag_records $s)
    e0=$(metric before tickpipe_sink_errors_total $s) e2=$(metric late tickpipe_sink_errors_total $s)
    [ "$up1" = 0 ] && [ "$up2" = 0 ] || fail "$s: tickpipe_sink_up was $up1, $up2 during the outage"
    [ "${lag2:-0}" -gt "${lag1:-0}" ] 2>/dev/null && [ "$lag1" -gt 0 ] ||
        fail "$s: tickpipe_sink_lag_records did not grow during the outage ($lag1, then $lag2)"
    [ "${e2:-0}" -gt "${e0:-0}" ] 2>/dev/null || fail "$s: tickpipe_sink_errors_total $e0 -> $e2"
    echo "outage: $s: /metrics sink_up 0, lag $lag1 -> $lag2 records, errors $e0 -> $e2"
done
$py - "$PGTMP/health.json" <<'PY' || fail "/api/health during the outage: $(cat "$PGTMP/health.json")"
import json, sys
sinks = {s["name"]: s for s in json.load(open(sys.argv[1]))["sinks"]}
for name in ("postgres", "redis"):
    s = sinks[name]
    assert s["up"] is False and s["lag"] > 0 and s["error"], s
    print(f"outage: {name}: /api/health error: {s['error'][:100]!r}")
PY
grow=$(( (rssmax - rss0) / 1024 ))
echo "outage: RssAnon sampled $sampled times: $rss0 kB at the stop, at most $rssmax kB (+$grow MiB; bound 32 MiB)"
if [ "$strict" = 1 ]; then
    [ "$grow" -lt 32 ] || fail "memory grew by $grow MiB during the outage (bound 32 MiB)"
else
    echo "sinks_outage: note: ASan binary: the RSS bound is not asserted"
fi

# Back after 10 s.
pg_start
start_redis
wait "$tpid"
rc=$?
tpid=
[ "$rc" -eq 0 ] || { cat "$PGTMP/run.log" >&2; fail "the run exited $rc"; }
for s in postgres redis; do
    grep -q "sink $s: .*retrying with backoff" "$PGTMP/run.log" || fail "$s: no retry logged"
    grep -q "sink $s: connected again" "$PGTMP/run.log" || { cat "$PGTMP/run.log" >&2; fail "$s: no reconnection logged"; }
done
grep -q 'stopped before acknowledging' "$PGTMP/run.log" && { cat "$PGTMP/run.log" >&2; fail "a sink did not catch up"; }
pg_check_exact "$data" "outage" >/dev/null || fail "after the outage PostgreSQL differs from the journals"
echo "postgres: every journal record once after the outage (pg_check_exact)"
$py "$here/redis_check.py" --tickpipe "$TICKPIPE" --port "$rport" --data "$data" --maxlen "$maxlen" ||
    fail "after the outage Redis differs from the journals"
echo "sinks_outage: ok"
