#!/usr/bin/env bash
# pg_outage.sh — the PostgreSQL sink survives tickpipe being killed (Debian's PostgreSQL on
# loopback in a temporary directory; lib/pgserver.sh): three runs at max pace killed with
# SIGKILL while the sink writes, then a run to the end: the database equals the journals
# exactly (nothing lost, nothing twice). The server's own outage (pg_ctl stop -m immediate
# for 10 s, together with Redis) is sinks_outage.sh.
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

# kill -9 while the sink writes, three times, then to the end.
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
