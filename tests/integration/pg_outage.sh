#!/usr/bin/env bash
# pg_outage.sh — the PostgreSQL sink survives its server going away and tickpipe being killed
# (Debian's PostgreSQL on loopback in a temporary directory; lib/pgserver.sh). Checks:
#   - outage: a live simulator run (20,000 events/s for 10 s) with --postgres; 2 s in, the
#     server is stopped with `pg_ctl stop -m immediate`, started again 6 s later; the run
#     keeps ingesting meanwhile, /metrics shows the sink's errors during the outage, memory
#     stays bounded (the journal keeps the data), the sink logs its reconnection, and at the
#     end every journal record is in the database exactly once (pg_check_exact), the
#     offsets having resumed from what the database acknowledged before the outage;
#   - kill -9: three runs at max pace killed with SIGKILL while the sink writes, then a run
#     to the end: the database equals the journals exactly (nothing lost, nothing twice).
set -uo pipefail
: "${TICKPIPE:?TICKPIPE must name the tickpipe binary}"
: "${TP_BUILD:?TP_BUILD must name the build directory}"
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/pgserver.sh
. "$here/lib/pgserver.sh"
pg_setup pg_outage
pid=
trap '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; pg_cleanup' EXIT
fail() { echo "pg_outage: FAIL: $*" >&2; exit 1; }
pg_start
base=${PGURL%/tickpipe}
psql -X -q "$base/postgres" -c 'CREATE DATABASE tickpipe_kill' || fail "createdb"

# The acknowledged input offset of the sink in the database at $1 (empty when none yet).
acked() { psql -X -tA "$1" -c "SELECT next_offset FROM tickpipe_offsets
    WHERE sink = 'postgres' AND log = 'input'" 2>/dev/null; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
metric() { # NAME: the value of tickpipe_sink_NAME_total{sink="postgres"}
    curl -s --max-time 5 "http://127.0.0.1:$port/metrics" |
        awk -v m="tickpipe_sink_$1_total{sink=\"postgres\"}" '$1 == m {print $2}'
}

# 1. Outage.
data=$PGTMP/outage
"$TICKPIPE" run --data "$data" --sim-rate 20000 --sim-events 200000 --exit-at-eof \
    --http 127.0.0.1:0 --status-interval 1s --postgres "$PGURL" 2>"$PGTMP/outage.log" &
pid=$!
port=
for _ in $(seq 100); do
    port=$(grep -o 'port [0-9]*' "$PGTMP/outage.log" | grep -o '[0-9]*')
    a=$(acked "$PGURL")
    [ -n "$port" ] && [ -n "$a" ] && [ "$a" -gt 0 ] && break
    sleep 0.1
done
[ -n "$port" ] && [ "${a:-0}" -gt 0 ] || { cat "$PGTMP/outage.log" >&2; fail "the sink wrote nothing"; }
sleep 1.5
before=$(acked "$PGURL")
errs0=$(metric errors)
pg_stop_immediate || fail "pg_ctl stop -m immediate"
rss0=$(rss_kb "$pid")
echo "outage: server stopped with input offset $before acknowledged (sink errors so far: $errs0)"
sleep 3
errs1=$(metric errors)
[ "${errs1:-0}" -gt "${errs0:-0}" ] || fail "the outage is not visible in /metrics (sink errors $errs0 -> $errs1)"
sleep 3
rss1=$(rss_kb "$pid")
kill -0 "$pid" 2>/dev/null || { cat "$PGTMP/outage.log" >&2; fail "tickpipe died during the outage"; }
grow=$(( (rss1 - rss0) / 1024 ))
[ "$grow" -lt 200 ] || fail "memory grew by $grow MiB during the outage"
echo "outage: 6 s down, sink errors $errs0 -> $errs1 in /metrics, RSS ${rss0} -> ${rss1} kB"
pg_start
wait "$pid"
rc=$?
pid=
[ "$rc" -eq 0 ] || { cat "$PGTMP/outage.log" >&2; fail "the run after the outage exited $rc"; }
grep -q 'sink postgres: .*retrying with backoff' "$PGTMP/outage.log" || fail "no retry logged"
grep -q 'sink postgres: connected again; resuming from its acknowledged offsets' "$PGTMP/outage.log" ||
    { cat "$PGTMP/outage.log" >&2; fail "no reconnection logged"; }
pg_check_exact "$data" "outage" || fail "after the outage the database differs from the journals"
gaps=$(grep -o 'gaps [0-9]*' "$PGTMP/outage.log" | tail -1)
echo "outage: resumed from offset $before; everything once ($gaps at the sources)"

# 2. kill -9 while the sink writes, three times, then to the end.
kurl=$base/tickpipe_kill
data=$PGTMP/kill
for round in 1 2 3; do
    "$TICKPIPE" run --data "$data" --sim-pace max --sim-events 60000 --checkpoint-every 10000 \
        --http off --status-interval 0 --postgres "$kurl" 2>"$PGTMP/kill$round.log" &
    pid=$!
    start=$(acked "$kurl")
    for _ in $(seq 200); do
        a=$(acked "$kurl")
        [ -n "$a" ] && [ "$a" != "${start:-}" ] && [ "$a" -gt 0 ] && break
        sleep 0.05
    done
    sleep "0.$((RANDOM % 4 + 1))"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    pid=
    echo "kill $round: killed with input offset $(acked "$kurl") acknowledged"
done
"$TICKPIPE" run --data "$data" --sim-pace max --sim-events 60000 --checkpoint-every 10000 \
    --http off --status-interval 0 --exit-at-eof --postgres "$kurl" 2>"$PGTMP/kill4.log" ||
    { cat "$PGTMP/kill4.log" >&2; fail "the run after the kills failed"; }
PGURL=$kurl
pg_check_exact "$data" "kill -9" || fail "after kill -9 the database differs from the journals"
echo "pg_outage: ok"
