#!/usr/bin/env bash
# kafka_all.sh — `tickpipe run --role all --kafka`: ingest, process and serve over Kafka in one
# process (librdkafka's mock cluster), and the late and gaps topics, checked with kcat. Checks:
#   1. a generated trades file (20000 rows, 4 symbols, with out-of-order, late and duplicate
#      trades) replayed by --role all --kafka --exit-at-eof: every tick is in tickpipe.ticks
#      once, in order per instrument, as in the input journal of the same replay run embedded;
#      tickpipe.bars and tickpipe.anomalies equal `tickpipe replay` of the file by key, every
#      column; the run stops by itself once everything is processed (exit 0);
#   2. tickpipe.late holds exactly the late events of `tickpipe replay` (its late.csv), each
#      keyed instrument|interval|ts|OFFSET with OFFSET the late tick's offset in the ticks
#      topic and the value that tick plus `interval`;
#   3. a gap written to the ticks topic by another producer (kcat) reaches tickpipe.gaps with
#      its deterministic key and value, and a gap anomaly (a --role process run of the same
#      group resumes from the checkpoints of the `all` run and reads only the new records);
#   4. while it runs, /metrics of the `all` process shows the ingest and process roles'
#      Kafka figures.
set -uo pipefail
source "$(dirname "$0")/kafka_lib.inc"
kafka_setup kafka_all
mock_start tickpipe.ticks:4 tickpipe.bars:3 tickpipe.anomalies:2 tickpipe.checkpoints:4 tickpipe.positions:1 \
    tickpipe.late:2 tickpipe.gaps:2

csv=$tmp/trades.csv
"$TICKPIPE" gen --dataset trades --rows 20000 --symbols 4 --seed 7 --out "$csv" 2>"$tmp/gen.log" ||
    { cat "$tmp/gen.log" >&2; fail "gen failed"; }
"$TICKPIPE" replay "$csv" --out "$tmp/refout" 2>"$tmp/replay.log" ||
    { cat "$tmp/replay.log" >&2; fail "the reference replay failed"; }
nlate=$(($(wc -l <"$tmp/refout/late.csv") - 1))
[ "$nlate" -gt 5 ] || fail "the input makes only $nlate late events"
"$TICKPIPE" run --data "$tmp/ref" --source "replay:$csv@max" --exit-at-eof --http off \
    --status-interval 0 2>"$tmp/ref.log" || { cat "$tmp/ref.log" >&2; fail "the embedded run failed"; }
"$TICKPIPE" journal dump "$tmp/ref/journal/input" >"$tmp/ref.dump" || fail "journal dump failed"

kopt=(--kafka-opt session.timeout.ms=6000 --kafka-opt heartbeat.interval.ms=500)
# 1. One process does it all, the file paced at 40x real time (its 177 s in about 4.5 s) so
# that /metrics can be read while it runs.
"$TICKPIPE" run --role all --kafka "$B" --source "replay:$csv@40" --exit-at-eof \
    --http 127.0.0.1:0 --status-interval 0 --checkpoint-every 5000 "${kopt[@]}" \
    2>"$tmp/all.log" &
allpid=$!
track $allpid
port=
for _ in $(seq 100); do
    port=$(grep -o 'port [0-9]*' "$tmp/all.log" | head -1 | grep -o '[0-9]*')
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { cat "$tmp/all.log" >&2; fail "no HTTP port in the log"; }
got_metrics=
while kill -0 $allpid 2>/dev/null; do
    curl -s "http://127.0.0.1:$port/metrics" >"$tmp/m.txt" 2>/dev/null || break
    if grep -q 'tickpipe_kafka_delivered_total{role="ingest"} [1-9]' "$tmp/m.txt" &&
        grep -q 'tickpipe_kafka_partitions{role="process"} 4' "$tmp/m.txt"; then
        cp "$tmp/m.txt" "$tmp/metrics.txt"
        got_metrics=1
        break
    fi
    sleep 0.2
done
wait $allpid || { cat "$tmp/all.log" >&2; fail "--role all --kafka failed"; }
grep -q 'read to the end of the input' "$tmp/all.log" ||
    { cat "$tmp/all.log" >&2; fail "the process stage did not read the input to its end"; }
grep -q ', all delivered' "$tmp/all.log" || fail "the ingest stage did not deliver everything"
kdump tickpipe.ticks '%p\t%o\t%k\t%h\t%s\n' "$tmp/ticks.txt"
/usr/bin/python3 "$CHECK" ticks "$tmp/ref.dump" "$tmp/ticks.txt" || fail "tickpipe.ticks differs"
kdump tickpipe.bars '%k\t%s\n' "$tmp/bars.txt"
kdump tickpipe.anomalies '%k\t%s\n' "$tmp/anom.txt"
/usr/bin/python3 "$CHECK" bars "$tmp/refout/bars.csv" "$tmp/bars.txt" || fail "bars differ"
/usr/bin/python3 "$CHECK" anomalies "$tmp/refout/anomalies.csv" "$tmp/anom.txt" ||
    fail "anomalies differ"

# 2. Late events.
kdump tickpipe.late '%k\t%s\n' "$tmp/late.txt"
/usr/bin/python3 "$CHECK" late "$tmp/refout/late.csv" "$tmp/late.txt" "$tmp/ticks.txt" ||
    fail "tickpipe.late differs from replay's late.csv"
[ "$(kcount tickpipe.gaps)" -eq 0 ] || fail "gaps without a gap in the input"

# 3. A gap from another producer (one partition: kcat's own partitioner is not tickpipe's,
# and an instrument must stay in one partition).
g='"instrument":"ext:GAP-USD","venue_symbol":"GAPUSD"'
printf '%s\n' \
    "ext:GAP-USD	{$g,\"kind\":\"trade\",\"ts\":\"2026-01-02T00:00:00Z\",\"price\":1.5,\"size\":2,\"trade_id\":10}" \
    "ext:GAP-USD	{$g,\"kind\":\"status\",\"status\":\"gap\",\"ts\":\"2026-01-02T00:00:01Z\",\"first_missing\":11,\"last_missing\":14}" \
    "ext:GAP-USD	{$g,\"kind\":\"trade\",\"ts\":\"2026-01-02T00:00:02Z\",\"price\":1.75,\"size\":1,\"trade_id\":15}" \
    "ext:GAP-USD	{$g,\"kind\":\"status\",\"status\":\"eof\",\"ts\":\"2026-01-02T00:00:03Z\"}" |
    kcat -b "$B" -P -t tickpipe.ticks -p 1 -K '	' 2>"$tmp/kcat_p.err" ||
    { cat "$tmp/kcat_p.err" >&2; fail "kcat could not produce"; }
"$TICKPIPE" run --role process --kafka "$B" --exit-at-eof --http off --status-interval 0 \
    "${kopt[@]}" 2>"$tmp/p2.log" || { cat "$tmp/p2.log" >&2; fail "the process run failed"; }
grep -q 'stopped: 4 records' "$tmp/p2.log" ||
    fail "the process run did not resume after the all run: $(grep stopped "$tmp/p2.log")"
kdump tickpipe.gaps '%k\t%s\n' "$tmp/gaps.txt"
want='ext:GAP-USD||2026-01-02T00:00:01.000000000Z|11	{"instrument":"ext:GAP-USD","ts":"2026-01-02T00:00:01.000000000Z","first_missing":11,"last_missing":14,"backfilled":false}'
[ "$(cat "$tmp/gaps.txt")" = "$want" ] || fail "tickpipe.gaps holds: $(cat "$tmp/gaps.txt")"
# (dumped to files first: `grep -q` ending a pipeline early would fail it under pipefail)
kdump tickpipe.anomalies '%k\n' "$tmp/anom_keys.txt"
kdump tickpipe.bars '%k\n' "$tmp/bar_keys.txt"
grep -qx 'ext:GAP-USD||2026-01-02T00:00:01.000000000Z|gap' "$tmp/anom_keys.txt" ||
    fail "no gap anomaly"
grep -qx 'ext:GAP-USD|1m|2026-01-02T00:00:00.000000000Z' "$tmp/bar_keys.txt" ||
    fail "no bar of the gap's instrument"

# 4. The metrics seen while it ran.
[ -n "$got_metrics" ] || fail "/metrics never showed both roles while the all run ran"
for want in 'tickpipe_kafka_delivery_failures_total{role="ingest"} 0' \
    'tickpipe_kafka_delivery_failures_total{role="process"} 0' \
    'tickpipe_sink_up{sink="kafka:tickpipe.ticks"} 1' \
    'tickpipe_sink_up{sink="kafka:tickpipe.late"} 1' \
    'tickpipe_queue_capacity{queue="kafka producer:ingest"}'; do
    grep -qF "$want" "$tmp/metrics.txt" || { grep kafka "$tmp/metrics.txt" >&2; fail "/metrics lacks $want"; }
done
grep -q 'tickpipe_kafka_rebalances_total{role="process"} [1-9]' "$tmp/metrics.txt" ||
    fail "/metrics shows no rebalance"
echo "kafka_all: ok ($(grep -c . "$tmp/bars.txt") bars, $nlate late events, 1 gap)"
