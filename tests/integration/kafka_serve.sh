#!/usr/bin/env bash
# kafka_serve.sh — `tickpipe run --role serve --kafka` against librdkafka's mock cluster: the
# API, stream and /metrics of the split deployment, fed from the topics. Checks:
#   1. ingest (simulator: BTC-USD, ETH-USD, EUR-USD; fixed seed and start) and process fill
#      tickpipe.ticks, .bars and .anomalies; two serve instances started on free ports read
#      them back (history 100000 records per partition: everything) — /api/instruments shows
#      every instrument with its last trade price and record count, /api/bars every series
#      object for object equal to the topic's values, /api/anomalies every anomaly
#      (kafka_serve_check.py); both instances answer the same bytes;
#   2. /metrics shows the serve role's Kafka figures: records consumed = the topics' sizes,
#      consumer lag 0 per partition, the process group's lag 0 (committed to the end), the
#      topic sources connected; /api/health has the role;
#   3. /api/stream (SSE, final_bars and ticks) delivers what comes next: a second ingest
#      (SOL-USD, AAPL) and process run while the stream is open — every new bar and tick
#      arrives, equal to the topic's;
#   4. every broker down: the topic sources show disconnected and client errors are counted;
#      back up: connected again;
#   5. both instances followed the topics to their end and stop cleanly on SIGTERM; --role
#      serve refuses --source, --http off and a missing --kafka (exit 2).
set -uo pipefail
source "$(dirname "$0")/kafka_lib.inc"
kafka_setup kafka_serve
SCHECK="$(dirname "$0")/kafka_serve_check.py"
mock_start tickpipe.ticks:4 tickpipe.bars:3 tickpipe.anomalies:2 tickpipe.checkpoints:4 \
    tickpipe.late:2 tickpipe.gaps:2

expect_usage() {
    "$TICKPIPE" run "$@" >/dev/null 2>"$tmp/usage.err"
    local rc=$?
    [ $rc -eq 2 ] || { cat "$tmp/usage.err" >&2; fail "exit $rc (not 2) for: $*"; }
}
expect_usage --role serve --kafka "$B" --http off
expect_usage --role serve --kafka "$B" --http 127.0.0.1:0 --source sim
expect_usage --role serve --http 127.0.0.1:0

kopt=(--kafka-opt session.timeout.ms=6000 --kafka-opt heartbeat.interval.ms=500)
ingest() { # ingest LOG SOURCE EVENTS
    "$TICKPIPE" run --role ingest --kafka "$B" --source "$2" --seed 3 --sim-pace max --sim-rate 20 \
        --sim-start 2026-03-01T09:30:00Z --sim-events "$3" --status-interval 0 --http off \
        --exit-at-eof 2>"$tmp/$1.log" || { cat "$tmp/$1.log" >&2; fail "$1 failed"; }
}
process() { # process LOG
    "$TICKPIPE" run --role process --kafka "$B" --status-interval 0 --http off --exit-at-eof \
        "${kopt[@]}" 2>"$tmp/$1.log" || { cat "$tmp/$1.log" >&2; fail "$1 failed"; }
}

# 1. The topics, then two serve instances.
ingest ingest1 sim:BTC-USD,ETH-USD,EUR-USD 16000
process process1
serve() { # serve NAME: starts an instance in the background; sets port_NAME
    "$TICKPIPE" run --role serve --kafka "$B" --http 127.0.0.1:0 --status-interval 1s \
        --kafka-serve-history 100000 2>"$tmp/$1.log" &
    track $!
    eval "pid_$1=$!"
}
serve a
serve b
for n in a b; do
    ok=
    for _ in $(seq 300); do
        grep -q 'history loaded' "$tmp/$n.log" && { ok=1; break; }
        sleep 0.1
    done
    [ -n "$ok" ] || { cat "$tmp/$n.log" >&2; fail "serve $n did not load the history"; }
    eval "port_$n=$(grep -o 'port [0-9]*' "$tmp/$n.log" | head -1 | grep -o '[0-9]*')"
done
grep -q 'without a group' "$tmp/a.log" || fail "serve does not say it reads without a group"
kdump tickpipe.ticks '%p\t%o\t%k\t%s\n' "$tmp/ticks.txt"
kdump tickpipe.bars '%k\t%s\n' "$tmp/bars.txt"
kdump tickpipe.anomalies '%k\t%s\n' "$tmp/anom.txt"
nt=$(wc -l <"$tmp/ticks.txt")
nb=$(wc -l <"$tmp/bars.txt")
na=$(wc -l <"$tmp/anom.txt")
[ "$nb" -gt 1000 ] || fail "only $nb bars in the topic"
/usr/bin/python3 "$SCHECK" api "$port_a" "$tmp/ticks.txt" "$tmp/bars.txt" "$tmp/anom.txt" \
    >"$tmp/api_a.txt" || fail "serve a: the API differs from the topics"
/usr/bin/python3 "$SCHECK" api "$port_b" "$tmp/ticks.txt" "$tmp/bars.txt" "$tmp/anom.txt" \
    >"$tmp/api_b.txt" || fail "serve b: the API differs from the topics"
cat "$tmp/api_a.txt"
[ "$(cut -d';' -f2 "$tmp/api_a.txt")" = "$(cut -d';' -f2 "$tmp/api_b.txt")" ] ||
    fail "the two serve instances answer differently: $(cat "$tmp/api_a.txt" "$tmp/api_b.txt")"

# 2. /metrics and /api/health (published every second: wait for the full counts).
ok=
for _ in $(seq 50); do
    curl -s "http://127.0.0.1:$port_a/metrics" >"$tmp/metrics.txt" || true
    grep -qF "tickpipe_kafka_consumed_total{role=\"serve\"} $((nt + nb + na))" "$tmp/metrics.txt" &&
        grep -qF 'tickpipe_queue_depth{queue="kafka group:tickpipe-process"} 0' "$tmp/metrics.txt" &&
        { ok=1; break; }
    sleep 0.2
done
[ -n "$ok" ] || { grep -E 'kafka|queue' "$tmp/metrics.txt" >&2; fail "/metrics lacks the serve figures"; }
for want in 'tickpipe_kafka_consumer_lag_records{role="serve"} 0' \
    'tickpipe_kafka_partitions{role="serve"} 9' \
    'tickpipe_kafka_producer_queue_messages{role="serve"} -1' \
    'tickpipe_source_connected{source="kafka:tickpipe.ticks"} 1' \
    'tickpipe_source_events_total{source="kafka:tickpipe.bars"} '"$nb" \
    'tickpipe_queue_depth{queue="kafka lag:tickpipe.ticks[3]"} 0' \
    'tickpipe_queue_depth{queue="kafka lag:tickpipe.anomalies[1]"} 0' \
    "tickpipe_events_in_total $nt"; do
    grep -qF "$want" "$tmp/metrics.txt" || { grep -E 'kafka|queue|events' "$tmp/metrics.txt" >&2; fail "/metrics lacks $want"; }
done
curl -s "http://127.0.0.1:$port_a/api/health" >"$tmp/health.json"
grep -q '"kafka":\[{"role":"serve"' "$tmp/health.json" || fail "/api/health lacks the serve role"

# 3. The stream: new instruments while it is open.
curl -sN "http://127.0.0.1:$port_a/api/stream?sse=1&kinds=final_bars,ticks&instruments=*" \
    >"$tmp/stream.txt" 2>/dev/null &
curl_pid=$!
track $curl_pid
for _ in $(seq 50); do grep -q 'subscribed' "$tmp/stream.txt" && break; sleep 0.1; done
ingest ingest2 sim:SOL-USD,AAPL 5000
process process2
kdump tickpipe.ticks '%p\t%o\t%k\t%s\n' "$tmp/ticks2.txt"
kdump tickpipe.bars '%k\t%s\n' "$tmp/bars2.txt"
nb2=$(grep -c -e '"instrument":"sim:SOL-USD"' -e '"instrument":"sim:AAPL"' "$tmp/bars2.txt")
for _ in $(seq 100); do
    [ "$(grep -c '"type":"final_bar"' "$tmp/stream.txt")" -ge "$nb2" ] && break
    sleep 0.2
done
sleep 0.5
/usr/bin/python3 "$SCHECK" stream "$tmp/stream.txt" "$tmp/ticks2.txt" "$tmp/bars2.txt" \
    sim:SOL-USD,sim:AAPL || fail "the stream did not deliver the new results"
kill $curl_pid 2>/dev/null

# 4. Every broker down for a moment: the serve instance shows its sources disconnected and
# counts the client errors; once they are back (and 5 s without an error), connected again.
metric() { curl -s "http://127.0.0.1:$port_a/metrics" | grep -F "$1" | awk '{print $2}'; }
for b in 1 2 3; do mock_cmd "down $b"; done
ok=
for _ in $(seq 60); do
    [ "$(metric 'tickpipe_source_connected{source="kafka:tickpipe.bars"}')" = 0 ] && { ok=1; break; }
    sleep 0.2
done
[ -n "$ok" ] || fail "serve a still shows its sources connected with every broker down"
[ "$(metric 'tickpipe_kafka_client_errors_total{role="serve"}')" -gt 0 ] ||
    fail "serve a counts no client error with every broker down"
for b in 1 2 3; do mock_cmd "up $b"; done
ok=
for _ in $(seq 100); do
    [ "$(metric 'tickpipe_source_connected{source="kafka:tickpipe.bars"}')" = 1 ] && { ok=1; break; }
    sleep 0.2
done
[ -n "$ok" ] || fail "serve a does not show its sources connected again"

# 5. Both instances followed the topics to the end and stop cleanly.
nt2=$(wc -l <"$tmp/ticks2.txt")
for n in a b; do
    kill -TERM "$(eval echo \$pid_$n)"
    wait "$(eval echo \$pid_$n)" || { cat "$tmp/$n.log" >&2; fail "serve $n failed on SIGTERM"; }
    grep -q "stopped: $nt2 ticks" "$tmp/$n.log" ||
        fail "serve $n did not follow the ticks topic: $(grep stopped "$tmp/$n.log")"
done
echo "kafka_serve: ok ($nt ticks, $nb bars, $na anomalies; $nb2 new bars streamed)"
