#!/usr/bin/env bash
# kafka_failover.sh — scale-out and failover of `tickpipe run --role process` on librdkafka's
# mock cluster (session timeout 3 s), checked with kcat. Checks:
#   - two process instances (A and B) in one consumer group share tickpipe.ticks (4
#     partitions) while a paced simulation (about 6 s, fixed seed and start) is ingested;
#   - A is killed with SIGKILL mid-stream; B takes A's partitions over (restoring A's last
#     checkpoints: it is assigned some partition at an offset past 0) and continues;
#   - at the end, tickpipe.bars and tickpipe.anomalies hold exactly the results `tickpipe
#     replay` makes from the journal of the same simulation run embedded: by key, none missing,
#     none different; a key repeated in a topic (re-sent after the failover) is byte-identical
#     to its first copy (kafka_check.py);
#   - B stops cleanly on SIGTERM (exit 0) after checkpointing and committing.
set -uo pipefail
source "$(dirname "$0")/kafka_lib.inc"
kafka_setup kafka_failover
mock_start tickpipe.ticks:4 tickpipe.bars:3 tickpipe.anomalies:2 tickpipe.checkpoints:4 \
    tickpipe.late:2 tickpipe.gaps:2

proc=(--role process --kafka "$B" --status-interval 0 --http off --checkpoint-every 2000
      --kafka-checkpoint-interval 1500ms --kafka-opt session.timeout.ms=3000
      --kafka-opt heartbeat.interval.ms=300)

"$TICKPIPE" run "${proc[@]}" 2>"$tmp/a.log" &
a=$!
track $a
"$TICKPIPE" run "${proc[@]}" 2>"$tmp/b.log" &
b=$!
track $b
for _ in $(seq 200); do
    grep -q 'assigned' "$tmp/a.log" && grep -q 'assigned' "$tmp/b.log" && break
    sleep 0.1
done
grep -q 'assigned' "$tmp/a.log" && grep -q 'assigned' "$tmp/b.log" ||
    { cat "$tmp/a.log" "$tmp/b.log" >&2; fail "the two instances did not both get partitions"; }

start=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
sim=(--seed 5 --sim-start "$start" --sim-rate 8000 --sim-events 48000 --status-interval 0
     --http off)
"$TICKPIPE" run --role ingest --kafka "$B" "${sim[@]}" --sim-pace live --exit-at-eof \
    2>"$tmp/ingest.log" &
ing=$!
track $ing
sleep 3.5
kill -KILL $a
wait $a 2>/dev/null
echo "kafka_failover: killed A after 3.5 s of a 6 s stream"
wait $ing || { cat "$tmp/ingest.log" >&2; fail "ingest failed"; }
grep -q ' drops 0,' "$tmp/ingest.log" || fail "the paced simulator dropped events (ring full)"

# The reference, made meanwhile: the same simulation embedded, replayed.
"$TICKPIPE" run --data "$tmp/ref" "${sim[@]}" --sim-pace max --exit-at-eof 2>"$tmp/ref.log" ||
    { cat "$tmp/ref.log" >&2; fail "the embedded reference run failed"; }
"$TICKPIPE" replay "$tmp/ref/journal/input" --input-format journal --out "$tmp/refout" \
    2>"$tmp/replay.log" || { cat "$tmp/replay.log" >&2; fail "replay of the reference failed"; }
nbars=$(($(wc -l <"$tmp/refout/bars.csv") - 1))
nanom=$(($(wc -l <"$tmp/refout/anomalies.csv") - 1))

# B finishes everything (every final bar, as eof records close the last windows).
for _ in $(seq 600); do
    got=$(kcat -b "$B" -C -t tickpipe.bars -o beginning -e -q -f '%k\n' 2>/dev/null | sort -u | wc -l)
    [ "$got" -ge "$nbars" ] && break
    sleep 0.1
done
[ "$got" -ge "$nbars" ] || { cat "$tmp/b.log" >&2; fail "only $got of $nbars bars after 60 s"; }
sleep 1 # anomalies come with their bars; let the last deliveries land
kill -TERM $b
wait $b
rc=$?
[ $rc -eq 0 ] || { cat "$tmp/b.log" >&2; fail "B exited $rc on SIGTERM"; }
grep -Eq 'assigned tickpipe.ticks partition\(s\).* [0-9]+@[1-9]' "$tmp/b.log" ||
    { cat "$tmp/b.log" >&2; fail "B never resumed a partition from a checkpoint"; }
restores=$(grep -o '[0-9]* restores' "$tmp/b.log" | tail -1)

kdump tickpipe.bars '%k\t%s\n' "$tmp/bars.txt"
kdump tickpipe.anomalies '%k\t%s\n' "$tmp/anom.txt"
/usr/bin/python3 "$CHECK" bars "$tmp/refout/bars.csv" "$tmp/bars.txt" || fail "bars differ"
/usr/bin/python3 "$CHECK" anomalies "$tmp/refout/anomalies.csv" "$tmp/anom.txt" ||
    fail "anomalies differ"
copies=$(/usr/bin/python3 "$CHECK" bars "$tmp/refout/bars.csv" "$tmp/bars.txt" | grep -o '[0-9]* repeated')
echo "kafka_failover: ok ($nbars bars, $nanom anomalies; B: $restores; bars re-sent: $copies)"
