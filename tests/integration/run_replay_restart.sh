#!/usr/bin/env bash
# run_replay_restart.sh — `tickpipe run --source replay:FILE@max` is exactly-once across
# SIGKILL (DESIGN.md §1, §4). A generated file (400,000 trades over 8 instruments, with
# out-of-order, late and duplicate rows) is replayed into a data directory by a run that is
# killed with SIGKILL six times at random moments (0.02-0.12 s after it started), then run to the end with --exit-at-eof.
# Checks:
#   - at least one restart resumed from a position inside the file (the kills interrupted it),
#     and the final run ends by itself with exit 0;
#   - the output journal's final bars (tests/tools/journal_bars, in bars.csv's format) are,
#     as sorted lines, exactly the bars of `tickpipe replay FILE` — every bar once, identical
#     to the digit, indicators included;
#   - the input journal holds every event of the file exactly once plus one eof per
#     instrument: `tickpipe replay --input-format journal` of it reads that many events and
#     gives the same bars;
#   - a changed file is refused: appended to (size, head hash) or replaced by a copy (inode),
#     the run exits 3 and its error names the file and what changed.
set -uo pipefail
: "${TICKPIPE:?TICKPIPE must name the tickpipe binary}"
BUILD=${TP_BUILD:-$(dirname "$TICKPIPE")}
JB=$BUILD/journal_bars
[ -x "$JB" ] || { echo "run_replay_restart: FAIL: no $JB (build tests/tools)" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tp_run_replay.XXXXXX")
pid=
trap '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
fail() { echo "run_replay_restart: FAIL: $*" >&2; exit 1; }

csv=$tmp/trades.csv
nsym=8
"$TICKPIPE" gen --dataset trades --rows 400000 --symbols $nsym --seed 42 --out "$csv" \
    2>"$tmp/gen.log" || { cat "$tmp/gen.log" >&2; fail "gen failed"; }
"$TICKPIPE" replay "$csv" --out "$tmp/ref" 2>"$tmp/ref.log" ||
    { cat "$tmp/ref.log" >&2; fail "replay failed"; }
events=$(grep -o '"events_read": [0-9]*' "$tmp/ref/stats.json" | grep -o '[0-9]*$')
dups=$(grep -o '"duplicates": [0-9]*' "$tmp/ref/stats.json" | grep -o '[0-9]*$')
[ "$events" -eq 400000 ] && [ "$dups" -gt 0 ] ||
    fail "the reference replay read $events events with $dups duplicates"

data=$tmp/data
args=(--source "replay:$csv@max" --http off --data "$data" --status-interval 0
      --checkpoint-every 20000)
mid=0
for round in 1 2 3 4 5 6; do
    log=$tmp/run$round.log
    "$TICKPIPE" run "${args[@]}" 2>"$log" &
    pid=$!
    for _ in $(seq 200); do grep -q 'started' "$log" 2>/dev/null && break; sleep 0.02; done
    sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.3f", 0.02 + 0.10 * r / 32767 }')"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    pid=
    held=$(grep -o 'journal holds [0-9]*' "$log" | grep -o '[0-9]*$')
    if [ -n "$held" ] && [ "$held" -gt 0 ] && [ "$held" -lt "$events" ]; then
        mid=$((mid + 1))
        echo "run $round started after event $held of $events" \
            "($(grep -o 'in a batch cut by a crash' "$log" || echo 'after a whole batch'))"
    else
        echo "run $round started with $(grep -o 'no position in the journal\|replayed to its end' "$log" ||
            echo "held ${held:-nothing}")"
    fi
done
log=$tmp/final.log
"$TICKPIPE" run "${args[@]}" --exit-at-eof 2>"$log" ||
    { cat "$log" >&2; fail "the final run with --exit-at-eof failed"; }
grep -q 'every source reached its end' "$log" || { cat "$log" >&2; fail "the final run did not end at eof"; }
held=$(grep -o 'journal holds [0-9]*' "$log" | grep -o '[0-9]*$')
if [ -n "$held" ] && [ "$held" -gt 0 ] && [ "$held" -lt "$events" ]; then mid=$((mid + 1)); fi
[ "$mid" -ge 1 ] || fail "no restart resumed inside the file (the kills came too late or too early)"
echo "$mid restart(s) resumed inside the file; the final run ended at eof"

# The output journal's final bars = replay's bars.
"$JB" "$data/journal/output" >"$tmp/run_bars.csv" || fail "journal_bars failed"
tail -n +2 "$tmp/run_bars.csv" | LC_ALL=C sort >"$tmp/run.sorted"
tail -n +2 "$tmp/ref/bars.csv" | LC_ALL=C sort >"$tmp/ref.sorted"
head -1 "$tmp/run_bars.csv" | cmp -s - <(head -1 "$tmp/ref/bars.csv") || fail "bars headers differ"
nbars=$(wc -l <"$tmp/ref.sorted")
[ "$nbars" -gt 10000 ] || fail "only $nbars reference bars"
twice=$(uniq -d "$tmp/run.sorted" | wc -l)
[ "$twice" -eq 0 ] || fail "$twice final bars appear more than once in the output journal"
cmp -s "$tmp/run.sorted" "$tmp/ref.sorted" || {
    diff "$tmp/run.sorted" "$tmp/ref.sorted" | head -6 >&2
    fail "the output journal's final bars differ from replay's ($(wc -l <"$tmp/run.sorted") vs $nbars)"
}
echo "output journal: $nbars final bars, each once, identical to tickpipe replay"

# The input journal: every event once, plus an eof per instrument.
"$TICKPIPE" replay --input-format journal "$data/journal/input" --out "$tmp/fromj" \
    2>"$tmp/fromj.log" || { cat "$tmp/fromj.log" >&2; fail "replay of the input journal failed"; }
jevents=$(grep -o '"events_read": [0-9]*' "$tmp/fromj/stats.json" | grep -o '[0-9]*$')
[ "$jevents" -eq $((events + nsym)) ] ||
    fail "the input journal holds $jevents events, want $events + $nsym eof"
cmp -s "$tmp/fromj/bars.csv" "$tmp/ref/bars.csv" || fail "bars from the input journal differ"
echo "input journal: $jevents events ($events + $nsym eof), same bars"

# A changed file is refused, naming the file and what changed.
refused() { # WHAT: the run must exit 3 with an error naming the file and WHAT
    local err rc
    err=$("$TICKPIPE" run "${args[@]}" --exit-at-eof 2>&1 >/dev/null)
    rc=$?
    [ $rc -eq 3 ] || fail "a changed file ($1): exit $rc, want 3"
    grep 'error' <<<"$err" | grep -F "$csv" | grep -q "$1" ||
        fail "a changed file ($1): the error does not name $csv and '$1': $err"
}
cp "$csv" "$tmp/orig.csv"
echo "1704067200000,gen:S0001-USD,1,1,buy,999999999" >>"$csv"
refused "size"
cp "$tmp/orig.csv" "$csv.new" && mv "$csv.new" "$csv"
refused "inode"
echo "a changed file is refused: appended (size), replaced (inode)"
echo "run_replay_restart: ok"
