#!/usr/bin/env bash
# kafka_process.sh — `tickpipe run --role process --kafka` against librdkafka's mock cluster,
# checked with kcat. Checks:
#   1. ingest (simulator, fixed seed and start, 40000 events) → tickpipe.ticks (4 partitions),
#      then one process instance with --exit-at-eof: tickpipe.bars and tickpipe.anomalies hold
#      exactly the final bars and anomalies that `tickpipe replay` makes from the journal of
#      the same simulation run embedded — by key, none missing, none extra, every column equal
#      (kafka_check.py);
#   2. the checkpoints are in tickpipe.checkpoints and the group's offsets are committed at
#      the ends of the partitions: a second run of the same group restores every partition
#      from its checkpoint at the end and produces nothing (the topics keep their counts);
#   3. a run in another group starts over from the beginning and re-sends every result:
#      each key then appears twice, byte-identical (deterministic values);
#   4. with --http, /metrics shows every result delivered (sinks kafka:tickpipe.bars and
#      kafka:tickpipe.anomalies, up, no lag), zero consumer lag per partition once caught up,
#      the producer's queue, and the process role's tickpipe_kafka_* figures; with every
#      broker down for a moment, the output sinks show down with the error text and the
#      client errors are counted, then up again.
set -uo pipefail
source "$(dirname "$0")/kafka_lib.inc"
kafka_setup kafka_process
mock_start tickpipe.ticks:4 tickpipe.bars:3 tickpipe.anomalies:2 tickpipe.checkpoints:4 \
    tickpipe.late:2 tickpipe.gaps:2

sim=(--seed 3 --sim-start 2026-03-01T09:30:00Z --sim-pace max --sim-events 40000
     --status-interval 0 --http off)
"$TICKPIPE" run --data "$tmp/ref" "${sim[@]}" --exit-at-eof 2>"$tmp/ref.log" ||
    { cat "$tmp/ref.log" >&2; fail "the embedded reference run failed"; }
"$TICKPIPE" replay "$tmp/ref/journal/input" --input-format journal --out "$tmp/refout" \
    2>"$tmp/replay.log" || { cat "$tmp/replay.log" >&2; fail "replay of the reference failed"; }
nbars=$(($(wc -l <"$tmp/refout/bars.csv") - 1))
nanom=$(($(wc -l <"$tmp/refout/anomalies.csv") - 1))
[ "$nbars" -gt 500 ] || fail "only $nbars reference bars"

"$TICKPIPE" run --role ingest --kafka "$B" "${sim[@]}" --exit-at-eof 2>"$tmp/ingest.log" ||
    { cat "$tmp/ingest.log" >&2; fail "ingest failed"; }

proc=(--role process --kafka "$B" --status-interval 0 --http off --exit-at-eof
      --checkpoint-every 4000 --kafka-checkpoint-interval 1s
      --kafka-opt session.timeout.ms=6000 --kafka-opt heartbeat.interval.ms=500)
# 1. One instance reads everything.
"$TICKPIPE" run "${proc[@]}" 2>"$tmp/p1.log" || { cat "$tmp/p1.log" >&2; fail "process failed"; }
kdump tickpipe.bars '%k\t%s\n' "$tmp/bars.txt"
kdump tickpipe.anomalies '%k\t%s\n' "$tmp/anom.txt"
/usr/bin/python3 "$CHECK" bars "$tmp/refout/bars.csv" "$tmp/bars.txt" || fail "bars differ"
/usr/bin/python3 "$CHECK" anomalies "$tmp/refout/anomalies.csv" "$tmp/anom.txt" ||
    fail "anomalies differ"
grep -q ' 0 failed' "$tmp/p1.log" || fail "deliveries failed: $(tail -1 "$tmp/p1.log")"

# 2. Checkpoints and offsets: the same group has nothing left to do.
ck=$(kcount tickpipe.checkpoints)
[ "$ck" -ge 4 ] || fail "only $ck checkpoint messages"
kcat -b "$B" -C -t tickpipe.checkpoints -o beginning -e -q -f '%k\n' >"$tmp/ck_keys.txt" 2>/dev/null
grep -q '^tickpipe-process|tickpipe.ticks|0|0$' "$tmp/ck_keys.txt" ||
    fail "no checkpoint keyed for partition 0"
nb=$(kcount tickpipe.bars)
"$TICKPIPE" run "${proc[@]}" 2>"$tmp/p2.log" || { cat "$tmp/p2.log" >&2; fail "second run failed"; }
grep -q ' 4 restores' "$tmp/p2.log" || { cat "$tmp/p2.log" >&2; fail "second run did not restore 4 partitions"; }
grep -q 'stopped: 0 records' "$tmp/p2.log" || fail "second run re-read records: $(grep stopped "$tmp/p2.log")"
[ "$(kcount tickpipe.bars)" -eq "$nb" ] || fail "second run produced bars again"

# 3. Another group re-sends everything, byte-identical.
"$TICKPIPE" run "${proc[@]}" --kafka-group other 2>"$tmp/p3.log" ||
    { cat "$tmp/p3.log" >&2; fail "run in another group failed"; }
kdump tickpipe.bars '%k\t%s\n' "$tmp/bars3.txt"
/usr/bin/python3 "$CHECK" bars "$tmp/refout/bars.csv" "$tmp/bars3.txt" >"$tmp/check3.txt" ||
    fail "bars differ after a re-send"
grep -q "$nbars repeated copies" "$tmp/check3.txt" || fail "expected $nbars repeated copies: $(cat "$tmp/check3.txt")"
# 4. Observability: with --http, /metrics shows the consumer lag per partition, the output
# topic's deliveries and the producer's queue, while the role runs.
"$TICKPIPE" run --role process --kafka "$B" --status-interval 0 --http 127.0.0.1:0 \
    --kafka-group metrics --kafka-opt session.timeout.ms=6000 2>"$tmp/p4.log" &
p4=$!
track $p4
port=
for _ in $(seq 100); do
    port=$(grep -o 'port [0-9]*' "$tmp/p4.log" | head -1 | grep -o '[0-9]*')
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { cat "$tmp/p4.log" >&2; fail "no HTTP port in the log"; }
ok=
for _ in $(seq 150); do
    curl -s "http://127.0.0.1:$port/metrics" >"$tmp/metrics.txt" || true
    if grep -q "tickpipe_sink_records_total{sink=\"kafka:tickpipe.bars\"} $nbars" \
        "$tmp/metrics.txt" 2>/dev/null &&
        grep -q "tickpipe_sink_records_total{sink=\"kafka:tickpipe.anomalies\"} $nanom" \
            "$tmp/metrics.txt"; then ok=1; break; fi
    sleep 0.2
done
[ -n "$ok" ] || { cat "$tmp/metrics.txt" >&2; fail "/metrics never showed every result delivered"; }
for q in 0 1 2 3; do
    grep -q "tickpipe_queue_depth{queue=\"kafka lag:tickpipe.ticks\[$q\]\"} 0" "$tmp/metrics.txt" ||
        { grep queue "$tmp/metrics.txt" >&2; fail "/metrics lacks a zero lag for partition $q"; }
done
grep -q 'tickpipe_queue_depth{queue="kafka producer:process"}' "$tmp/metrics.txt" ||
    fail "/metrics lacks the producer queue"
for want in 'tickpipe_sink_up{sink="kafka:tickpipe.bars"} 1' \
    'tickpipe_sink_lag_records{sink="kafka:tickpipe.bars"} 0' \
    'tickpipe_kafka_consumer_lag_records{role="process"} 0' \
    'tickpipe_kafka_partitions{role="process"} 4' \
    'tickpipe_kafka_producer_queue_messages{role="process"} 0' \
    'tickpipe_kafka_delivery_failures_total{role="process"} 0'; do
    grep -qF "$want" "$tmp/metrics.txt" || { grep kafka "$tmp/metrics.txt" >&2; fail "/metrics lacks $want"; }
done
grep -q 'tickpipe_kafka_rebalances_total{role="process"} [1-9]' "$tmp/metrics.txt" ||
    fail "/metrics shows no rebalance of the process role"
grep -q 'tickpipe_kafka_delivery_latency_seconds{role="process"} [0-9]' "$tmp/metrics.txt" ||
    fail "/metrics shows no delivery latency of the process role"
# Every broker down for a moment: the output sinks show down with the error, the client
# errors are counted; back up (and 5 s without an error): up again.
metric() { curl -s "http://127.0.0.1:$port/metrics" | grep -F "$1" | awk '{print $2}'; }
for b in 1 2 3; do mock_cmd "down $b"; done
ok=
for _ in $(seq 50); do
    [ "$(metric 'tickpipe_sink_up{sink="kafka:tickpipe.bars"}')" = 0 ] && { ok=1; break; }
    sleep 0.2
done
curl -s "http://127.0.0.1:$port/api/health" >"$tmp/health_down.json"
for b in 1 2 3; do mock_cmd "up $b"; done
[ -n "$ok" ] || fail "the bars sink still shows up with every broker down"
grep -q '"name":"kafka:tickpipe.bars","records":[0-9]*,"errors":0,"up":false,"lag":0,"error":"[^"]' \
    "$tmp/health_down.json" || fail "/api/health lacks the sink's error: $(cat "$tmp/health_down.json")"
[ "$(metric 'tickpipe_kafka_client_errors_total{role="process"}')" -gt 0 ] ||
    fail "no client error counted with every broker down"
ok=
for _ in $(seq 100); do
    [ "$(metric 'tickpipe_sink_up{sink="kafka:tickpipe.bars"}')" = 1 ] && { ok=1; break; }
    sleep 0.2
done
[ -n "$ok" ] || fail "the bars sink does not show up again"
kill -TERM $p4
wait $p4 || { cat "$tmp/p4.log" >&2; fail "the metrics instance failed on SIGTERM"; }
echo "kafka_process: ok ($nbars bars, $ck checkpoint messages)"
