#!/usr/bin/env bash
# fault_sink_stall.sh — the fault campaign's "slow sink" and "stalled sink" cases
# (docs/operations.md "Faults"), with a real redis-server (Debian's) as the sink: the
# optimized binary runs the live simulator (20000 events/s, about 12 s) with --redis while:
#   1. stalled: redis-server is stopped with SIGSTOP for 5 s. The TCP connection stays up and
#      Redis answers nothing: the sink's transaction waits (its timeout is 5 s), then fails
#      and retries with backoff;
#   2. slow: redis-server is throttled (SIGSTOP 0.2 s / SIGCONT 0.05 s) for 2.5 s;
#   3. then it runs freely again (SIGCONT).
# What the user sees: ingest never stops (tickpipe_events_in_total keeps growing at the sim's
# rate, no drops and no gaps: the sink is not on the journal's path), the backlog stays in the
# journal (tickpipe_sink_lag_records{sink="redis"} grows during the stall), the process's
# memory stays within a bound (RSS sampled every 0.25 s: it grows by less than 64 MiB over
# its level before the stall; the sink holds at most one batch of 1000 records / 8 MiB of
# commands), "sink redis: ...; retrying with backoff" once per outage; after SIGCONT the sink
# catches up by itself and, at the end (--exit-at-eof waits for every acknowledgement),
# Redis holds every result exactly once (tests/integration/redis_check.py: last state, bar
# streams with ids from bar times and no duplicates, stored offsets = the journals' ends).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/faultlib.sh
. "$here/lib/faultlib.sh"
fault_init fault_sink_stall
py=/usr/bin/python3
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    [ -n "${CI:-}" ] && fault_fail "redis-server and redis-cli are needed (scripts/install-deps.sh test)"
    echo "fault_sink_stall: SKIP: redis-server or redis-cli not installed"
    exit 0
fi
start=$(date +%s)
port=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$TMP/redis"
redis-server --port "$port" --bind 127.0.0.1 --protected-mode yes --dir "$TMP/redis" \
    --logfile "$TMP/redis/redis.log" --daemonize no --save '' --appendonly no &
rpid=$!
fault_bg "$rpid"
for _ in $(seq 100); do
    [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && break
    sleep 0.05
done
[ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] || fault_fail "redis-server did not start"

data=$TMP/data
rate=20000 events=240000
"$REL" run --data "$data" --source sim --sim-pace live --sim-rate $rate --sim-events $events \
    --redis "redis://127.0.0.1:$port" --redis-maxlen 50 --http 127.0.0.1:0 --status-interval 0 \
    --exit-at-eof 2>"$TMP/run.log" &
pid=$!
fault_bg "$pid"
hport=$(fault_port "$TMP/run.log")
rss() { awk '/^VmRSS:/ {print int($2 / 1024)}' "/proc/$pid/status" 2>/dev/null; }
lag() { fault_metric "$hport" tickpipe_sink_lag_records '{sink="redis"}'; }
ingested() { fault_metric "$hport" tickpipe_events_in_total; }
sleep 1.5
rss0=$(rss) in0=$(ingested) lag0=$(lag)
[ -n "$rss0" ] && [ -n "$in0" ] || fault_fail "the run is not up (rss '$rss0', events '$in0')"

# 1. stalled
kill -STOP "$rpid"
t0=$(date +%s%N)
maxrss=$rss0 maxlag=0
for _ in $(seq 20); do
    sleep 0.25
    r=$(rss) l=$(lag)
    [ -n "$r" ] || { kill -CONT "$rpid"; cat "$TMP/run.log" >&2; fault_fail "the run died during the stall"; }
    [ "$r" -gt "$maxrss" ] && maxrss=$r
    [ -n "$l" ] && [ "$l" -gt "$maxlag" ] && maxlag=$l
done
in1=$(ingested) lag1=$(lag)
secs=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
kill -CONT "$rpid"
grown=$((in1 - in0))
# Ingest goes on at the sim's rate (at least half of it: a busy machine) during the stall.
awk -v g="$grown" -v r=$rate -v s="$secs" 'BEGIN { exit !(g >= r * s / 2) }' ||
    fault_fail "ingest slowed during the stall: $grown events in $secs s (rate $rate/s)"
[ "$lag1" -gt "$((lag0 + rate))" ] 2>/dev/null ||
    fault_fail "the sink's lag did not grow during the stall ($lag0 -> $lag1)"
echo "fault_sink_stall: stalled $secs s: ingest +$grown events, redis lag $lag0 -> $lag1, RSS $rss0 -> max $maxrss MiB"

# 2. slow
for _ in $(seq 10); do
    kill -STOP "$rpid"
    sleep 0.2
    kill -CONT "$rpid"
    sleep 0.05
    r=$(rss)
    [ -n "$r" ] && [ "$r" -gt "$maxrss" ] && maxrss=$r
done
echo "fault_sink_stall: throttled 2.5 s: lag $(lag), RSS max $maxrss MiB"
[ "$((maxrss - rss0))" -lt 64 ] ||
    fault_fail "RSS grew from $rss0 to $maxrss MiB while the sink was stalled or slow (bound: 64 MiB)"

# 3. free again: the sink catches up; the run ends when everything is acknowledged.
caught=
for _ in $(seq 200); do
    l=$(lag)
    [ -n "$l" ] && [ "$l" -lt "$rate" ] && { caught=$l; break; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
wait "$pid"
rc=$?
[ $rc -eq 0 ] || { tail -20 "$TMP/run.log" >&2; fault_fail "the run exited $rc"; }
grep -q "drops 0, gaps 0" "$TMP/run.log" || { grep stopped "$TMP/run.log" >&2; fault_fail "drops or gaps at the source"; }
grep -q "sink redis: .*retrying with backoff" "$TMP/run.log" || fault_fail "no retry logged for the stall"
warns=$(grep -c "sink redis: .*retrying with backoff" "$TMP/run.log")
$py "$here/redis_check.py" --tickpipe "$REL" --port "$port" --data "$data" --maxlen 50 ||
    fault_fail "Redis differs from the journals after the stall"
echo "fault_sink_stall: caught up after SIGCONT (lag ${caught:-?} while the sim still ran); $warns retry warning(s); Redis = the journals, each result once"
echo "fault_sink_stall: ok ($(($(date +%s) - start)) s)"
