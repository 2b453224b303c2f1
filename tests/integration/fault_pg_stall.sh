#!/usr/bin/env bash
# fault_pg_stall.sh — the fault campaign's "stalled sink" and "slow sink" cases with a real
# PostgreSQL server (Debian's, tests/integration/lib/pgserver.sh; docs/operations.md
# "Faults"): the optimized binary runs the live simulator (20000 events/s, about 12 s) with
# --postgres while every process of the server (postmaster and backends) is
#   1. stalled: stopped with SIGSTOP for 5 s (the kernel still acknowledges TCP, so the
#      sink's COPY simply blocks: no error, no timeout);
#   2. slow: throttled (SIGSTOP 0.2 s / SIGCONT 0.05 s) for 2.5 s;
#   3. then free again.
# What the user sees: ingest never stops (tickpipe_events_in_total grows at the sim's rate,
# no drops, no gaps), tickpipe_sink_lag_records{sink="postgres"} grows during the stall,
# memory stays within a bound (RSS grows by less than 64 MiB), and after SIGCONT the sink
# catches up by itself; at the end (--exit-at-eof waits for every acknowledgement) the
# database equals the journals row for row and bit for bit, each record once
# (pg_check_exact).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/faultlib.sh
. "$here/lib/faultlib.sh"
fault_init fault_pg_stall
# shellcheck source=lib/pgserver.sh
. "$here/lib/pgserver.sh"
TP_BUILD=${TP_BUILD:-$(dirname "$JB")}
[ -x "$TP_BUILD/pg_expect" ] || fault_fail "no $TP_BUILD/pg_expect (build tests/tools)"
pg_setup fault_pg_stall
pg_pids() { # the postmaster and its children
    local pm
    pm=$(head -1 "$PGDATA_DIR/postmaster.pid" 2>/dev/null) || return 0
    echo "$pm"
    ps -o pid= --ppid "$pm" 2>/dev/null
}
pg_resume_all() { local p; for p in $(pg_pids); do kill -CONT "$p" 2>/dev/null; done; }
pg_final() { pg_resume_all; pg_cleanup; }
FAULT_CLEANUP_HOOK=pg_final
pg_start
start=$(date +%s)

data=$TMP/data
rate=20000 events=240000
"$REL" run --data "$data" --source sim --sim-pace live --sim-rate $rate --sim-events $events \
    --postgres "$PGURL" --http 127.0.0.1:0 --status-interval 0 --exit-at-eof 2>"$TMP/run.log" &
pid=$!
fault_bg "$pid"
hport=$(fault_port "$TMP/run.log")
rss() { awk '/^VmRSS:/ {print int($2 / 1024)}' "/proc/$pid/status" 2>/dev/null; }
lag() { fault_metric "$hport" tickpipe_sink_lag_records '{sink="postgres"}'; }
ingested() { fault_metric "$hport" tickpipe_events_in_total; }
sleep 1.5
rss0=$(rss) in0=$(ingested) lag0=$(lag)
[ -n "$rss0" ] && [ -n "$in0" ] || fault_fail "the run is not up (rss '$rss0', events '$in0')"

# 1. stalled
stopped=$(pg_pids)
for p in $stopped; do kill -STOP "$p"; done
t0=$(date +%s%N)
maxrss=$rss0
for _ in $(seq 20); do
    sleep 0.25
    r=$(rss)
    [ -n "$r" ] || { pg_resume_all; cat "$TMP/run.log" >&2; fault_fail "the run died during the stall"; }
    [ "$r" -gt "$maxrss" ] && maxrss=$r
done
in1=$(ingested) lag1=$(lag)
secs=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
for p in $stopped; do kill -CONT "$p"; done
grown=$((in1 - in0))
awk -v g="$grown" -v r=$rate -v s="$secs" 'BEGIN { exit !(g >= r * s / 2) }' ||
    fault_fail "ingest slowed during the stall: $grown events in $secs s (rate $rate/s)"
[ "$lag1" -gt "$((lag0 + rate))" ] 2>/dev/null ||
    fault_fail "the sink's lag did not grow during the stall ($lag0 -> $lag1)"
echo "fault_pg_stall: stalled $secs s: ingest +$grown events, postgres lag $lag0 -> $lag1, RSS $rss0 -> max $maxrss MiB"

# 2. slow
for _ in $(seq 10); do
    stopped=$(pg_pids)
    for p in $stopped; do kill -STOP "$p"; done
    sleep 0.2
    for p in $stopped; do kill -CONT "$p"; done
    sleep 0.05
    r=$(rss)
    [ -n "$r" ] && [ "$r" -gt "$maxrss" ] && maxrss=$r
done
echo "fault_pg_stall: throttled 2.5 s: lag $(lag), RSS max $maxrss MiB"
[ "$((maxrss - rss0))" -lt 64 ] ||
    fault_fail "RSS grew from $rss0 to $maxrss MiB while the sink was stalled or slow (bound: 64 MiB)"

# 3. free again
wait "$pid"
rc=$?
[ $rc -eq 0 ] || { tail -20 "$TMP/run.log" >&2; fault_fail "the run exited $rc"; }
grep -q "drops 0, gaps 0" "$TMP/run.log" || { grep stopped "$TMP/run.log" >&2; fault_fail "drops or gaps at the source"; }
TICKPIPE=$REL pg_check_exact "$data" "fault_pg_stall" || fault_fail "the database differs from the journals after the stall"
echo "fault_pg_stall: ok ($(($(date +%s) - start)) s)"
