#!/usr/bin/env bash
# redis_sink.sh — `tickpipe run --redis` against a real redis-server (Debian's) on a free
# loopback port, in a temporary directory; every result is read back with redis-cli and
# compared with the journals by redis_check.py (see there for the exact checks). Parts:
#   0. a bad URL (from TICKPIPE_REDIS) is a usage error that does not print the password;
#   1. a finite sim run (max pace, --exit-at-eof): last state = the last trade and quote per
#      instrument, each bar stream = the last bars of the output journal with ids from the
#      bar time and capped near --redis-maxlen, offsets = the journals' ends, and a subscriber
#      got every tick and bar exactly once, in journal order;
#   2. a replay of both journals into the same Redis (stored offsets deleted, --source none):
#      the streams gain nothing, a last state holding a newer time keeps it (the time guard),
#      one holding an older time gets the journal's last trade;
#   3. an outage with persistence (AOF): a live-paced run, the script cache flushed, then
#      SHUTDOWN NOSAVE mid-run and a restart 2 s later: the sink retries, resumes from the
#      offsets stored in Redis, and at the end everything is there exactly once; /metrics
#      counted the failures, showed tickpipe_sink_up 1 before, 0 during (with the lag growing
#      and /api/health giving the error) and 1 after; publications stay at most once;
#   4. an outage that loses Redis's data (SIGKILL, no persistence): the sink refills from
#      offset 0 and the end state is the same as if nothing had happened;
#   5. volume: 200000 sim events (about 75000 trades; TP_REDIS_EVENTS=3000000 for a million
#      trades) with the optimized binary, checked
#      as in part 1 (without the subscriber), and the rate printed.
set -uo pipefail
: "${TICKPIPE:?TICKPIPE must name the tickpipe binary}"
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
fail() { echo "redis_sink: FAIL: $*" >&2; exit 1; }
command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
    fail "redis-server and redis-cli are needed (scripts/install-deps.sh test)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tp_redis_sink.XXXXXX")
rpid= tpid= spids=()
cleanup() {
    [ -n "$tpid" ] && kill -KILL "$tpid" 2>/dev/null
    for s in "${spids[@]}"; do kill "$s" 2>/dev/null; done
    [ -n "$rpid" ] && kill -KILL "$rpid" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

port=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="redis://127.0.0.1:$port"
cli() { redis-cli -p "$port" "$@"; }

# start_redis DIR [options...]: a server on $port whose files are in DIR.
start_redis() {
    local dir=$1
    shift
    mkdir -p "$dir"
    redis-server --port "$port" --bind 127.0.0.1 --protected-mode yes --dir "$dir" \
        --logfile "$dir/redis.log" --daemonize no "$@" &
    rpid=$!
    for _ in $(seq 100); do
        [ "$(cli ping 2>/dev/null)" = PONG ] && return 0
        sleep 0.05
    done
    cat "$dir/redis.log" >&2
    fail "redis-server did not start on port $port"
}
stop_redis() {
    kill -TERM "$rpid" 2>/dev/null
    wait "$rpid" 2>/dev/null
    rpid=
}
# subscribe FILE: a subscriber to every tickpipe channel, in the background.
subscribe() {
    cli --raw PSUBSCRIBE 'tickpipe:*' >"$1" 2>/dev/null &
    spids+=($!)
    for _ in $(seq 100); do
        [ "$(head -c 10 "$1" 2>/dev/null)" = psubscribe ] && return 0
        sleep 0.05
    done
    fail "the subscriber did not start"
}
end_subscribers() {
    sleep 0.3 # let the last messages arrive
    for s in "${spids[@]}"; do kill "$s" 2>/dev/null; wait "$s" 2>/dev/null; done
    spids=()
}
check() { $py "$here/redis_check.py" --tickpipe "$TICKPIPE" --port "$port" "$@" || exit 1; }

# 0. A bad URL is a usage error (exit 2) that names the setting and never echoes a password.
TICKPIPE_REDIS='redis://:hunter2@127.0.0.1:99999' "$TICKPIPE" run --data "$tmp/x" --http off \
    2>"$tmp/x.log"
rc=$?
[ "$rc" = 2 ] || fail "a bad --redis URL exited $rc, not 2"
grep -q -- '--redis: the URL has a port' "$tmp/x.log" || fail "bad URL message: $(cat "$tmp/x.log")"
grep -q hunter2 "$tmp/x.log" && fail "the password was printed"

common=(--status-interval 0 --http off --redis "$url")
maxlen=50
memory=(--save '' --appendonly no)

# 1. A finite run into an empty Redis, with a subscriber.
start_redis "$tmp/r1" "${memory[@]}"
subscribe "$tmp/sub1"
"$TICKPIPE" run --data "$tmp/a" --sim-pace max --sim-events 40000 --redis-maxlen "$maxlen" \
    --exit-at-eof "${common[@]}" 2>"$tmp/a.log" ||
    { cat "$tmp/a.log" >&2; fail "the finite run failed"; }
end_subscribers
grep -q "redis: sink to 127.0.0.1:$port/0" "$tmp/a.log" || fail "no sink line in the log"
if grep -q "sink redis.*retrying\|stopped before acknowledging" "$tmp/a.log"; then
    cat "$tmp/a.log" >&2
    fail "the sink failed during a run with the server up"
fi
check --data "$tmp/a" --maxlen "$maxlen" --sub "$tmp/sub1" --sub-exact
# A stream with more bars than maxlen was capped (1s bars: hundreds per instrument).
n=$(cli XLEN tickpipe:bars:sim:BTC-USD:1s)
bars=$("$TICKPIPE" journal dump "$tmp/a/journal/output" | grep -c ' bar sim:BTC-USD 1s ')
[ "$bars" -gt $((maxlen * 2)) ] || fail "only $bars 1s bars of BTC-USD: the cap is not exercised"
[ "$n" -ge "$maxlen" ] && [ "$n" -lt "$bars" ] || fail "XLEN $n for $bars bars, maxlen $maxlen"
echo "part 1: finite run ok ($bars 1s bars of BTC-USD, stream keeps $n)"

# 2. Replay both journals again (as after losing the offsets) with two last states altered.
cli HSET tickpipe:last:sim:BTC-USD price 1 ts_ns 9000000000000000000 >/dev/null
cli HSET tickpipe:last:sim:ETH-USD price 1 ts_ns 1 >/dev/null
cli DEL tickpipe:offsets >/dev/null
xlen_before=$(for k in $(cli KEYS 'tickpipe:bars:*' | sort); do cli XLEN "$k"; done | md5sum)
"$TICKPIPE" run --data "$tmp/a" --source none --exit-at-eof "${common[@]}" 2>"$tmp/a2.log" ||
    { cat "$tmp/a2.log" >&2; fail "the replay run failed"; }
xlen_after=$(for k in $(cli KEYS 'tickpipe:bars:*' | sort); do cli XLEN "$k"; done | md5sum)
[ "$xlen_before" = "$xlen_after" ] || fail "the replay changed the streams' lengths"
[ "$(cli HGET tickpipe:last:sim:BTC-USD price)" = 1 ] ||
    fail "a replayed older trade overwrote a newer last price"
[ "$(cli HGET tickpipe:last:sim:BTC-USD ts_ns)" = 9000000000000000000 ] ||
    fail "a replayed older trade overwrote a newer ts_ns"
check --data "$tmp/a" --maxlen "$maxlen" --skip-last sim:BTC-USD
echo "part 2: replay added nothing; the time guard kept the newer last state"
stop_redis

# 3. Outage with persistence: SHUTDOWN NOSAVE mid-run (the AOF keeps what was acknowledged),
#    after the script cache was flushed; restart 2 s later.
aof=(--save '' --appendonly yes --appendfsync always)
start_redis "$tmp/r3" "${aof[@]}"
subscribe "$tmp/sub3a"
"$TICKPIPE" run --data "$tmp/b" --sim-pace live --sim-rate 20000 --sim-events 160000 \
    --redis-maxlen "$maxlen" --exit-at-eof --status-interval 0 --http 127.0.0.1:0 \
    --redis "$url" 2>"$tmp/b.log" &
tpid=$!
sleep 1
cli SCRIPT FLUSH >/dev/null || fail "SCRIPT FLUSH"
sleep 0.4
mport=$(grep -o 'port [0-9]*' "$tmp/b.log" | head -1 | grep -o '[0-9]*')
# metric NAME: the redis sink's sample of NAME in /metrics (empty when absent).
metric() {
    curl -s --max-time 2 "http://127.0.0.1:$mport/metrics" |
        awk -v n="$1" '$1 == n "{sink=\"redis\"}" {print $2}'
}
up_before=
for _ in $(seq 40); do
    up_before=$(metric tickpipe_sink_up)
    [ "$up_before" = 1 ] && break
    sleep 0.05
done
[ "$up_before" = 1 ] || fail "tickpipe_sink_up was '$up_before' before the outage, not 1"
cli SHUTDOWN NOSAVE >/dev/null 2>&1
wait "$rpid" 2>/dev/null
rpid=
# During the outage (2 s): the sink is down, behind (lag grows) and has a last error.
t_out=$(date +%s.%N)
up_out= lag_out=0 lag_out2=0
for _ in $(seq 30); do
    up_out=$(metric tickpipe_sink_up)
    lag_out=$(metric tickpipe_sink_lag_records)
    [ "$up_out" = 0 ] && [ "${lag_out:-0}" -gt 0 ] 2>/dev/null && break
    sleep 0.05
done
[ "$up_out" = 0 ] || fail "tickpipe_sink_up was '$up_out' during the outage, not 0"
[ "${lag_out:-0}" -gt 0 ] 2>/dev/null || fail "tickpipe_sink_lag_records was '$lag_out' during the outage"
health=$(curl -s --max-time 2 "http://127.0.0.1:$mport/api/health")
echo "$health" | $py -c 'import json, sys
s = [x for x in json.load(sys.stdin)["sinks"] if x["name"] == "redis"][0]
sys.exit(0 if s["up"] is False and s["lag"] > 0 and s["error"] else 1)' ||
    fail "/api/health during the outage: $health"
for _ in $(seq 20); do # up to 1 s (published every 0.5 s): the sim appends 20000 events/s
    sleep 0.05
    lag_out2=$(metric tickpipe_sink_lag_records)
    [ "${lag_out2:-0}" -gt "$lag_out" ] 2>/dev/null && break
done
[ "${lag_out2:-0}" -gt "$lag_out" ] 2>/dev/null ||
    fail "the lag did not grow during the outage ($lag_out, then $lag_out2)"
sleep "$(awk -v a="$t_out" -v b="$(date +%s.%N)" 'BEGIN { d = 2 - (b - a); print (d > 0 ? d : 0) }')"
kill -0 "$tpid" 2>/dev/null || fail "tickpipe ended during the outage (the run is too short)"
start_redis "$tmp/r3" "${aof[@]}"
subscribe "$tmp/sub3b"
errs=0 up_after=
for _ in $(seq 100); do
    errs=$(metric tickpipe_sink_errors_total)
    up_after=$(metric tickpipe_sink_up)
    [ "${errs:-0}" -gt 0 ] 2>/dev/null && [ "$up_after" = 1 ] && break
    sleep 0.1
done
[ "$up_after" = 1 ] || fail "tickpipe_sink_up was '$up_after' after Redis came back, not 1"
wait "$tpid" || { cat "$tmp/b.log" >&2; fail "the run with an outage failed"; }
tpid=
end_subscribers
grep -q "sink redis: .*retrying with backoff" "$tmp/b.log" || fail "no retry in the log"
grep -q "sink redis: connected again" "$tmp/b.log" || fail "no reconnection in the log"
grep -q "script cache lost the last-state script" "$tmp/b.log" ||
    fail "the flushed script cache went unnoticed"
grep -q "stopped before acknowledging" "$tmp/b.log" && fail "the sink did not catch up"
[ "${errs:-0}" -gt 0 ] 2>/dev/null || fail "/metrics showed no sink errors during the outage"
check --data "$tmp/b" --maxlen "$maxlen" --sub "$tmp/sub3a" --sub "$tmp/sub3b"
echo "part 3: outage with AOF (2 s): nothing lost or duplicated; /metrics counted $errs failed attempts, sink_up 1 → 0 → 1, lag $lag_out → $lag_out2 during the outage"
stop_redis

# 4. Outage that loses the data: SIGKILL, no persistence; the sink refills from offset 0.
start_redis "$tmp/r4" "${memory[@]}"
"$TICKPIPE" run --data "$tmp/c" --sim-pace live --sim-rate 20000 --sim-events 50000 \
    --redis-maxlen "$maxlen" --exit-at-eof "${common[@]}" 2>"$tmp/c.log" &
tpid=$!
sleep 1
{ kill -KILL "$rpid"; wait "$rpid"; } 2>/dev/null
rpid=
sleep 1
start_redis "$tmp/r4" "${memory[@]}"
wait "$tpid" || { cat "$tmp/c.log" >&2; fail "the run with a data-losing outage failed"; }
tpid=
grep -q "sink redis: connected again" "$tmp/c.log" || fail "no reconnection in the log"
check --data "$tmp/c" --maxlen "$maxlen"
echo "part 4: Redis lost its data mid-run; the sink refilled it from the journals"
stop_redis

# 5. Volume, with the optimized binary when there is one (make test sets TP_RELEASE_BIN):
#    TP_REDIS_EVENTS (default 200000) sim events through the sink, checked the same way.
bin=$TICKPIPE
[ -n "${TP_RELEASE_BIN:-}" ] && [ -x "$TP_RELEASE_BIN" ] && bin=$TP_RELEASE_BIN
events=${TP_REDIS_EVENTS:-200000}
[ "$bin" = "$TICKPIPE" ] && events=${TP_REDIS_EVENTS:-60000} # ASan is slower
start_redis "$tmp/r5" "${memory[@]}"
t0=$(date +%s.%N)
"$bin" run --data "$tmp/d" --sim-pace max --sim-events "$events" --exit-at-eof \
    "${common[@]}" 2>"$tmp/d.log" || { cat "$tmp/d.log" >&2; fail "the volume run failed"; }
t1=$(date +%s.%N)
TICKPIPE=$bin check --data "$tmp/d" --maxlen 10000
recs=$(($(cli HGET tickpipe:offsets redis.input) + $(cli HGET tickpipe:offsets redis.output)))
trades=$("$bin" journal dump "$tmp/d/journal/input" | grep -c ' event trade ')
awk -v r="$recs" -v t="$trades" -v a="$t0" -v b="$t1" -v n="$(basename "$bin")" 'BEGIN {
    printf "part 5: %d records (%d trades) into Redis in %.2f s with %s: %.0f records/s\n",
        r, t, b - a, n, r / (b - a) }'
stop_redis
echo "redis_sink: ok"
