#!/usr/bin/env bash
# crash_kafka.sh — the crash campaign over Kafka (`tests/crash/crash.sh --kafka`, issue 10,
# docs/testing.md): `tickpipe run --role ingest --kafka` is killed with SIGKILL INGEST_KILLS
# times while it sends a replay file, then `tickpipe run --role process --kafka` KILLS times
# at random moments, each restarted (the ingest from its positions, the process role in the
# same consumer group); the ticks topic must hold every row once, and the output topics
# exactly the results of an uninterrupted `tickpipe replay` of the same input.
#
#   tests/crash/crash_kafka.sh [--kills N] [--ingest-kills N] [--rows N] [--seed N] [--keep]
#   env: TICKPIPE (binary, default build/tickpipe), TP_BUILD (where kafka_mock is, default the
#        binary's directory), CRASH_KILLS, CRASH_INGEST_KILLS (default max(2, KILLS / 10)),
#        CRASH_ROWS, CRASH_SEED; needs kcat
#
# The cluster is librdkafka's mock (tests/tools/kafka_mock.c via tests/integration/
# kafka_lib.inc: three brokers on loopback, session timeout 3 s). Input: `tickpipe gen
# --dataset trades` (8 instruments, out-of-order, late and duplicate rows; default rows = 1000
# per kill, between 20000 and 80000: the mock keeps at most 5 MiB per partition, about 48000
# ticks, and the partition holding the most of these 8 instruments gets 3/8 of the rows).
#   1. `run --role ingest --source replay:FILE@max` is SIGKILLed INGEST_KILLS times, each once
#      it produced a random 10-80% of the rows (or 5-300 ms after its start when it is that
#      fast), and restarted each time; it resumes from its last record in tickpipe.positions
#      and does not re-send the events it finds after it (docs/kafka.md "Resuming a replay
#      file"); a last run with --exit-at-eof sends the rest.
#   2. `run --role process` (checkpoints every 1000 records of a partition and every 100 ms) is
#      started and SIGKILLed, in turn:
#        - early:  2-400 ms after the spawn (start-up, metadata, joining the group: always before
#                  the assignment, which waits for the dead member's session to expire);
#        - random: 50-500 ms after it logged its assignment (mid-stream, between checkpoints).
#      Each restart joins the same group once the dead member's session expired, restores every
#      partition from its latest checkpoint and re-sends the results after it.
#   3. A final run with --exit-at-eof reads every partition to its end.
# Checks (tests/integration/kafka_check.py, topics read with kcat): tickpipe.ticks holds every
# row of the file exactly once, in order per instrument (against the journal of an embedded run
# of the same file); tickpipe.bars, tickpipe.anomalies and tickpipe.late hold, by key, exactly
# the final bars, anomalies and late events of `tickpipe replay FILE` (none missing, none
# extra, every column), and a key repeated in a topic (re-sent after a kill) is byte-identical
# to its first copy. At least one restart must have resumed from checkpoints (some partition
# past 0) with records still to read (the kills came mid-stream). Prints what the kills hit and the time taken.
set -uo pipefail
SRC=${TP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
TICKPIPE=${TICKPIPE:-$SRC/build/tickpipe}
TP_BUILD=${TP_BUILD:-$(dirname "$TICKPIPE")}
kills=${CRASH_KILLS:-100}
ikills=${CRASH_INGEST_KILLS:-}
rows=${CRASH_ROWS:-}
seed=${CRASH_SEED:-$((RANDOM * 32768 + RANDOM))}
keep=0
while [ $# -gt 0 ]; do
    case $1 in
    --kills) kills=$2; shift 2 ;;
    --ingest-kills) ikills=$2; shift 2 ;;
    --rows) rows=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --kafka) shift ;;
    *) echo "usage: crash.sh --kafka [--kills N] [--ingest-kills N] [--rows N] [--seed N] [--keep]" >&2; exit 2 ;;
    esac
done
if [ -z "$rows" ]; then
    rows=$((kills * 1000))
    [ "$rows" -lt 20000 ] && rows=20000
    [ "$rows" -gt 80000 ] && rows=80000
fi
[ -z "$ikills" ] && { ikills=$((kills / 10)); [ "$ikills" -lt 2 ] && ikills=2; }
RANDOM=$seed
export TICKPIPE TP_BUILD
[ $keep -eq 1 ] && export KEEP_TMP=1
# shellcheck source=../integration/kafka_lib.inc
source "$SRC/tests/integration/kafka_lib.inc"
kafka_setup crash_kafka
# (kafka_lib's fail, with the seed to rerun)
fail() { echo "crash_kafka: FAIL: $* (seed $seed; rerun with --seed $seed)" >&2; exit 1; }
start=$(date +%s)
echo "crash_kafka: $ikills ingest and $kills process kills, $rows rows, seed $seed, binary $TICKPIPE"
mock_start tickpipe.ticks:4 tickpipe.bars:3 tickpipe.anomalies:2 tickpipe.checkpoints:4 \
    tickpipe.late:2 tickpipe.gaps:2 tickpipe.positions:1

csv=$tmp/trades.csv
"$TICKPIPE" gen --dataset trades --rows "$rows" --symbols 8 --seed "$seed" --out "$csv" \
    2>"$tmp/gen.log" || { cat "$tmp/gen.log" >&2; fail "gen failed"; }
# The uninterrupted references: replay's results, and the input journal of an embedded run.
"$TICKPIPE" replay "$csv" --out "$tmp/refout" 2>"$tmp/replay.log" ||
    { cat "$tmp/replay.log" >&2; fail "the reference replay failed"; }
"$TICKPIPE" run --data "$tmp/ref" --source "replay:$csv@max" --exit-at-eof --http off \
    --status-interval 0 2>"$tmp/ref.log" || { cat "$tmp/ref.log" >&2; fail "the embedded run failed"; }
"$TICKPIPE" journal dump "$tmp/ref/journal/input" >"$tmp/ref.dump" || fail "journal dump failed"
nbars=$(($(wc -l <"$tmp/refout/bars.csv") - 1))
nanom=$(($(wc -l <"$tmp/refout/anomalies.csv") - 1))
nlate=$(($(wc -l <"$tmp/refout/late.csv") - 1))
[ "$nbars" -gt 100 ] || fail "only $nbars reference bars"

kopt=(--kafka-opt session.timeout.ms=3000 --kafka-opt heartbeat.interval.ms=300)
ingest=(run --role ingest --kafka "$B" --source "replay:$csv@max" --http off "${kopt[@]}")
imid=0 iskipped=0
for round in $(seq "$ikills"); do
    log=$tmp/i$round.log
    : >"$log"
    "$TICKPIPE" "${ingest[@]}" --status-interval 20ms 2>"$log" &
    pid=$!
    track $pid
    want=$((rows * (10 + RANDOM % 71) / 100))
    for _ in $(seq 2000); do
        n=$(grep -o '[0-9]* produced' "$log" | tail -1 | grep -o '[0-9]*')
        [ "${n:-0}" -ge $want ] && break
        grep -q 'stopped:' "$log" && break
        sleep 0.005
    done
    [ "${n:-0}" -lt $want ] &&
        sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.3f", 0.005 + 0.295 * r / 32767 }')"
    kill -KILL $pid 2>/dev/null
    wait $pid 2>/dev/null
    rc=$?
    [ $rc -eq 137 ] || { cat "$log" >&2; fail "ingest round $round: the run exited $rc before the kill"; }
done
log=$tmp/ingest.log
"$TICKPIPE" "${ingest[@]}" --status-interval 0 --exit-at-eof 2>"$log" ||
    { cat "$log" >&2; fail "ingest failed"; }
grep -q ', all delivered' "$log" || { cat "$log" >&2; fail "ingest did not deliver everything"; }
for l in "$tmp"/i*.log; do
    # The restart after a kill before the end resumed from a position short of the end.
    grep -q 'last position in tickpipe.positions at event' "$l" &&
        ! grep -q 'at event [0-9]* .*the end of the file' "$l" && imid=$((imid + 1))
    k=$(grep -o '[0-9]* of its event(s) after the position are in tickpipe.ticks already' "$l" |
        grep -o '^[0-9]*')
    iskipped=$((iskipped + ${k:-0}))
done
nticks=$(kcount tickpipe.ticks)
echo "crash_kafka: ingest: $ikills kills; $imid restart(s) resumed short of the end; they found" \
    "$iskipped event(s) sent after their last positions and did not re-send them" \
    "($(($(date +%s) - start)) s)"

proc=(--role process --kafka "$B" --status-interval 0 --http off --checkpoint-every 1000
      --kafka-checkpoint-interval 100ms "${kopt[@]}")
early=0 random=0 inside=0 atend=0 unassigned=0
# The end offset of every partition of the ticks topic, "p:end" per line.
for p in 0 1 2 3; do
    e=$(kcat -b "$B" -Q -t "tickpipe.ticks:$p:-1" 2>/dev/null | grep -o 'offset [0-9]*' | grep -o '[0-9]*')
    [ -n "$e" ] || fail "no end offset of tickpipe.ticks partition $p"
    ends[p]=$e
done
# where LOG: none (no assignment logged); end (every partition resumed at its end: nothing
# left); inside (some partition resumed from a checkpoint, past 0, and some work left); start
# (every partition from the beginning).
where() {
    local line p o any=0 all=1
    line=$(grep -o 'kafka process: assigned .*' "$1" | head -1)
    [ -n "$line" ] || { echo none; return; }
    for t in $(echo "$line" | grep -Eo '[0-9]+@[0-9a-z]+'); do
        p=${t%@*} o=${t#*@}
        [ "$o" = start ] && o=0
        [ "$o" -gt 0 ] && any=1
        [ "$o" -ne "${ends[p]}" ] && all=0
    done
    if [ $all -eq 1 ]; then echo end; elif [ $any -eq 1 ]; then echo inside; else echo start; fi
}
for round in $(seq "$kills"); do
    log=$tmp/p$round.log
    : >"$log"
    "$TICKPIPE" run "${proc[@]}" 2>"$log" &
    pid=$!
    track $pid
    if [ $((round % 3)) -eq 1 ]; then
        early=$((early + 1))
        sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.3f", 0.002 + 0.398 * r / 32767 }')"
    else
        random=$((random + 1))
        for _ in $(seq 1500); do grep -q 'kafka process: assigned' "$log" && break; sleep 0.01; done
        sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.3f", 0.05 + 0.45 * r / 32767 }')"
    fi
    kill -KILL $pid 2>/dev/null
    wait $pid 2>/dev/null
    rc=$?
    [ $rc -eq 137 ] || { cat "$log" >&2; fail "round $round: the process run exited $rc before the kill"; }
    # What the kill hit: before the assignment; or an instance that resumed some partition from
    # a checkpoint (past 0) with work left; or one that had nothing left.
    what=$(where "$log")
    case $what in
    none) unassigned=$((unassigned + 1)) ;;
    inside) inside=$((inside + 1)) ;;
    end) atend=$((atend + 1)) ;;
    esac
    [ -n "${CRASH_VERBOSE:-}" ] && echo "crash_kafka: round $round: $what: $(grep -o 'assigned.*' "$log" | head -1)"
    [ $((round % 10)) -eq 0 ] && echo "crash_kafka: $round kills done ($(($(date +%s) - start)) s)"
done

log=$tmp/final.log
"$TICKPIPE" run "${proc[@]}" --exit-at-eof 2>"$log" ||
    { cat "$log" >&2; fail "the final process run with --exit-at-eof failed"; }
grep -q 'every assigned partition read to its end' "$log" || { cat "$log" >&2; fail "the final run did not read to the end"; }
grep -q ' 0 failed' "$log" || fail "deliveries failed: $(grep stopped "$log")"
[ "$(where "$log")" = inside ] && inside=$((inside + 1))
final=$(grep -o 'stopped: [0-9]* records' "$log")
echo "crash_kafka: kills: $early early, $random after the assignment; $unassigned before any" \
    "assignment, $atend in a run that found every partition done; $inside run(s) resumed" \
    "partition(s) from checkpoints with records left; the final run: $final of $nticks"
# Whether a kill lands mid-stream depends on the machine's speed: with many kills (the long
# form) at least one must; with a few (the short form in `make test`) it is reported only, the
# outputs being checked either way.
if [ "$inside" -lt 1 ]; then
  if [ "$kills" -ge 20 ]; then
    fail "no restart resumed a partition from a checkpoint (the kills came too late)"
  fi
  echo "crash_kafka: note: no kill of this short run landed mid-stream (seed $seed); the outputs are checked all the same"
fi

kdump tickpipe.ticks '%p\t%o\t%k\t%h\t%s\n' "$tmp/ticks.txt"
/usr/bin/python3 "$CHECK" ticks "$tmp/ref.dump" "$tmp/ticks.txt" || fail "tickpipe.ticks differs"
kdump tickpipe.bars '%k\t%s\n' "$tmp/bars.txt"
kdump tickpipe.anomalies '%k\t%s\n' "$tmp/anom.txt"
kdump tickpipe.late '%k\t%s\n' "$tmp/late.txt"
/usr/bin/python3 "$CHECK" bars "$tmp/refout/bars.csv" "$tmp/bars.txt" || fail "bars differ"
/usr/bin/python3 "$CHECK" anomalies "$tmp/refout/anomalies.csv" "$tmp/anom.txt" ||
    fail "anomalies differ"
/usr/bin/python3 "$CHECK" late "$tmp/refout/late.csv" "$tmp/late.txt" "$tmp/ticks.txt" ||
    fail "tickpipe.late differs from replay's late.csv"
echo "crash_kafka: topics: $nticks ticks once each; $nbars bars ($(kcount tickpipe.bars) messages)," \
    "$nanom anomalies ($(kcount tickpipe.anomalies)), $nlate late ($(kcount tickpipe.late))" \
    "equal to replay, re-sent copies byte-identical"
echo "crash_kafka: ok: $kills kills in $(($(date +%s) - start)) s"
