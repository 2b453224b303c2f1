#!/usr/bin/env bash
# run_engine.sh — the process stage of `tickpipe run` (input journal → engine → output journal
# with checkpoints) gives exactly-once results across SIGKILL. Checks:
#   - an uninterrupted finite run (sim, max pace, 300000 events, checkpoints every 20000)
#     leaves final bars and checkpoints in DATA/journal/output, and the engine read the whole
#     input journal;
#   - a second data dir (100000 events a run, checkpoints every 5000), killed with SIGKILL at three random moments and restarted, then run to
#     the end: its output journal equals, record for record, what a fresh process stage
#     (`--source none`) makes from a copy of its final input journal — nothing lost, nothing
#     duplicated, whatever the crash points;
#   - no final bar (instrument, interval, window start) appears twice;
#   - with --http on an ephemeral loopback port, /healthz answers and /api/instruments lists
#     the simulator's instruments while the pipeline runs.
set -uo pipefail
: "${TICKPIPE:?TICKPIPE must name the tickpipe binary}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tp_run_engine.XXXXXX")
pid=
trap '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
fail() { echo "run_engine: FAIL: $*" >&2; exit 1; }
args=(--sim-pace max --sim-events 300000 --checkpoint-every 20000 --status-interval 0
      --http off)
# Part 2 is smaller: each restarted sim adds its events again (mostly late), and the dumps of
# the output journals are compared line by line.
args2=(--sim-pace max --sim-events 100000 --checkpoint-every 5000 --status-interval 0 --http off)
dump() { "$TICKPIPE" journal dump "$1/journal/output" || fail "dump of $1 failed"; }

# 1. Uninterrupted.
"$TICKPIPE" run --data "$tmp/a" "${args[@]}" --exit-at-eof 2>"$tmp/a.log" ||
    { cat "$tmp/a.log" >&2; fail "uninterrupted run failed"; }
dump "$tmp/a" >"$tmp/a.dump"
bars=$(grep -c '^[0-9]* bar ' "$tmp/a.dump")
ckpts=$(grep -c '^[0-9]* checkpoint' "$tmp/a.dump")
[ "$bars" -gt 1000 ] || fail "only $bars bars in the output journal"
[ "$ckpts" -ge 15 ] || fail "only $ckpts checkpoints (300000+ input records, every 20000)"
grep -q 'engine at [0-9]*' "$tmp/a.log" || fail "no engine offset in the final line"
in_next=$(grep -o 'journal next [0-9]*' "$tmp/a.log" | tail -1 | grep -o '[0-9]*$')
eng_at=$(grep -o 'engine at [0-9]*' "$tmp/a.log" | tail -1 | grep -o '[0-9]*$')
[ "$in_next" = "$eng_at" ] || fail "engine stopped at $eng_at, input ends at $in_next"
echo "uninterrupted: $bars bars, $ckpts checkpoints, input $in_next records"

# 2. Killed three times, then run to the end.
for round in 1 2 3; do
    "$TICKPIPE" run --data "$tmp/b" "${args2[@]}" 2>"$tmp/b$round.log" &
    pid=$!
    sleep "0.$((RANDOM % 3 + 1))"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    pid=
done
"$TICKPIPE" run --data "$tmp/b" "${args2[@]}" --exit-at-eof 2>"$tmp/b4.log" ||
    { cat "$tmp/b4.log" >&2; fail "final run after the kills failed"; }
grep -q 'resumed from the checkpoint' "$tmp"/b[234].log ||
    echo "run_engine: note: no restart found a checkpoint (the kills came early)"

# 3. A fresh process stage over a copy of the final input journal.
mkdir -p "$tmp/c/journal"
cp -r "$tmp/b/journal/input" "$tmp/c/journal/input"
"$TICKPIPE" run --data "$tmp/c" --source none "${args2[@]}" --exit-at-eof 2>"$tmp/c.log" ||
    { cat "$tmp/c.log" >&2; fail "process-only run failed"; }
dump "$tmp/b" >"$tmp/b.dump"
dump "$tmp/c" >"$tmp/c.dump"
cmp -s "$tmp/b.dump" "$tmp/c.dump" || {
    diff "$tmp/b.dump" "$tmp/c.dump" | head -5 >&2
    fail "the killed run's output journal differs from a fresh process of its input"
}
kbars=$(grep -c '^[0-9]* bar ' "$tmp/b.dump")
[ "$kbars" -gt 1000 ] || fail "only $kbars bars after the kills"
dups=$(grep '^[0-9]* bar ' "$tmp/b.dump" | awk '{print $3, $4, $5}' | sort | uniq -d | wc -l)
[ "$dups" -eq 0 ] || fail "$dups final bars appear more than once"
echo "killed 3 times: $kbars bars, output identical to a fresh process of the same input"

# 4. The HTTP server of a running pipeline.
"$TICKPIPE" run --data "$tmp/d" --http 127.0.0.1:0 --status-interval 0 2>"$tmp/d.log" &
pid=$!
port=
for _ in $(seq 50); do
    port=$(grep -o 'port [0-9]*' "$tmp/d.log" | grep -o '[0-9]*')
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { cat "$tmp/d.log" >&2; fail "no HTTP port in the log"; }
sleep 1
health=$(curl -s --max-time 5 "http://127.0.0.1:$port/healthz")
[ "$health" = '{"status":"ok"}' ] || fail "/healthz answered '$health'"
instr=$(curl -s --max-time 5 "http://127.0.0.1:$port/api/instruments")
echo "$instr" | grep -q '"instrument":"sim:BTC-USD"' || fail "/api/instruments: ${instr:0:200}"
kill -TERM "$pid"
wait "$pid" || fail "SIGTERM with HTTP on did not exit 0"
pid=
echo "http: /healthz and /api/instruments answered on port $port"
echo "run_engine: ok"
