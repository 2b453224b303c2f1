#!/usr/bin/env bash
# run_restart.sh — `tickpipe run` survives SIGKILL at any moment: three times, run the
# simulator at 200,000 events/s with group commit, kill -9 it at a random moment after about
# 2 s, and restart; then stop it with SIGTERM. Checks:
#   - every acknowledged record survives: the durable offset in the last status line before a
#     kill is <= the journal's next offset that the restart's recovery reports;
#   - `tickpipe journal verify` finds the journal intact (CRCs), and its dump has dense offsets;
#   - per instrument, the simulator's trade ids in the journal are strictly increasing across
#     all four runs (a restart continues them; nothing is repeated);
#   - the final SIGTERM exits 0 with everything durable.
set -uo pipefail
: "${TICKPIPE:?TICKPIPE must name the tickpipe binary}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tp_run_restart.XXXXXX")
pid=
trap '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
fail() { echo "run_restart: FAIL: $*" >&2; exit 1; }
data=$tmp/data

start() { # LOG: starts tickpipe run in the background
    "$TICKPIPE" run --data "$data" --sim-rate 200000 --sync group --http off --status-interval 100ms \
        2>"$1" &
    pid=$!
}
# The next offset that the recovery of the run logging to $1 found.
recovered_next() { grep -o 'offsets [0-9]*\.\.[0-9]*' "$1" | head -1 | sed 's/.*\.\.//'; }
# The durable offset of the last status line in $1 (empty when none was printed).
last_durable() { grep -o 'durable [0-9]*' "$1" | tail -1 | grep -o '[0-9]*'; }

prev_durable=
for round in 1 2 3 4; do
    log=$tmp/run$round.log
    start "$log"
    # wait for the journal to be open, then a random 1.5-2.5 s
    for _ in $(seq 100); do grep -q 'source sim started' "$log" 2>/dev/null && break; sleep 0.1; done
    grep -q 'source sim started' "$log" || { cat "$log" >&2; fail "round $round did not start"; }
    if [ -n "$prev_durable" ]; then
        got=$(recovered_next "$log")
        [ -n "$got" ] || { cat "$log" >&2; fail "round $round: no recovery report"; }
        [ "$got" -ge "$prev_durable" ] ||
            fail "round $round: acknowledged offset $prev_durable lost (journal ends at $got)"
        echo "round $round: durable $prev_durable before the kill, $got after recovery" \
            "($(grep -o 'cut a torn tail of [0-9]* byte(s)' "$log" || echo 'no torn tail'))"
    fi
    sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.3f", 1.5 + r / 32767 }')"
    if [ $round -lt 4 ]; then
        kill -KILL "$pid"
        wait "$pid" 2>/dev/null
        pid=
        prev_durable=$(last_durable "$log")
        [ -n "$prev_durable" ] || { cat "$log" >&2; fail "round $round: no status line"; }
    else
        kill -TERM "$pid"
        wait "$pid"
        rc=$?
        pid=
        [ $rc -eq 0 ] || { cat "$log" >&2; fail "SIGTERM: exit $rc"; }
        grep -q 'all durable' "$log" || { cat "$log" >&2; fail "final stop not durable"; }
    fi
done

"$TICKPIPE" journal verify "$data/journal/input" >"$tmp/verify.out" 2>&1 ||
    { cat "$tmp/verify.out" >&2; fail "journal verify"; }

# Offsets dense from 0; trade ids per instrument, in offset order, strictly increasing. A dump
# line is "OFFSET event KIND INSTRUMENT ts=... id=N ...".
"$TICKPIPE" journal dump "$data/journal/input" >"$tmp/dump.out" 2>"$tmp/dump.err" ||
    { cat "$tmp/dump.err" >&2; fail "journal dump"; }
awk '
$1 != NR - 1 { print "line " NR ": offset " $1 ", want " NR - 1; bad++; exit }
$2 != "event" || $4 !~ /^sim:/ { print "line " NR ": not a sim event: " $0; bad++; exit }
$3 == "trade" {
    trades++
    id = ""
    for (i = 5; i <= NF; i++) if ($i ~ /^id=[0-9]+$/) id = substr($i, 4) + 0
    if (id == "") { print "line " NR ": trade without a numeric id"; bad++; next }
    if (($4 in last) && id <= last[$4]) {
        printf "%s: trade id %.0f after %.0f (offset %s)\n", $4, id, last[$4], $1; bad++
    }
    last[$4] = id
}
END {
    if (trades < 100000) { print "only " trades " sim trades in the journal"; bad++ }
    n = 0; for (k in last) n++
    if (n != 7) { print n " instruments with trades, want 7"; bad++ }
    if (!bad) printf "%d records, %d trades of %d instruments, ids increasing\n", NR, trades, n
    exit bad ? 1 : 0
}' "$tmp/dump.out" >"$tmp/check.out" || { head -20 "$tmp/check.out" >&2; fail "journal contents"; }
cat "$tmp/check.out"
echo "run_restart: ok"
