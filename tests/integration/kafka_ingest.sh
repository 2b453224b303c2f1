#!/usr/bin/env bash
# kafka_ingest.sh — `tickpipe run --role ingest --kafka` against librdkafka's mock cluster
# (three brokers, topics made through the mock's API), checked with kcat. Checks:
#   1. the simulator (fixed seed and start time, 30000 events, max pace) into tickpipe.ticks
#      (4 partitions): every event of the same simulation run embedded (`run --role all`,
#      its input journal dumped) arrives exactly once, keyed by its instrument, with the schema
#      header, one partition per instrument, in order, with the same fields (kafka_check.py);
#   2. faults while paced simulations run — (a) Produce requests failing with
#      NOT_LEADER_OR_FOLLOWER and REQUEST_TIMED_OUT, and a broker down and back: still every
#      event exactly once and in order; (b) responses slower than the request timeout on every
#      broker: no event lost or reordered, the timeouts logged and counted (librdkafka's
#      statistics, in the final "kafka client" line), repeats only byte-identical re-sends
#      (the mock does not drop an idempotent producer's re-sent batches as a broker does);
#   3. a delivery failure (every broker down, message.timeout.ms 1.5 s) is not swallowed: the
#      run fails with exit 3 and says that deliveries failed;
#   4. settings: `tickpipe help run` lists the Kafka settings; --role ingest without --kafka,
#      an option that would weaken a guarantee, an unknown librdkafka option, an unknown role
#      and --role serve without HTTP are usage errors (exit 2).
set -uo pipefail
source "$(dirname "$0")/kafka_lib.inc"
kafka_setup kafka_ingest
mock_start tickpipe.ticks:4 tickpipe.faults:3 tickpipe.slow:3 tickpipe.fail:2

# 4. Settings first (no cluster needed).
help=$("$TICKPIPE" help run) || fail "help run failed"
for s in --kafka --kafka-opt --kafka-topic-ticks --kafka-topic-late --kafka-topic-gaps --kafka-topic-positions \
    --kafka-serve-history --kafka-partitions --kafka-group --role; do
    grep -q -- "$s" <<<"$help" || fail "help run does not list $s"
done
expect_usage() {
    "$TICKPIPE" run --http off "$@" >/dev/null 2>"$tmp/usage.err"
    local rc=$?
    [ $rc -eq 2 ] || { cat "$tmp/usage.err" >&2; fail "exit $rc (not 2) for: $*"; }
}
expect_usage --role ingest
expect_usage --role ingest --kafka "$B" --kafka-opt enable.idempotence=false
expect_usage --role ingest --kafka "$B" --kafka-opt acks=1
expect_usage --role ingest --kafka "$B" --kafka-opt no.such.setting=1
expect_usage --role serve --kafka "$B" --http off
expect_usage --role sideways --kafka "$B"
grep -q 'no.such.setting' "$tmp/usage.err" || true

# 1. Sim → Kafka equals sim → journal.
sim=(--seed 7 --sim-start 2026-01-01T00:00:00Z --sim-pace max --sim-events 30000
     --status-interval 0 --http off)
"$TICKPIPE" run --data "$tmp/ref" "${sim[@]}" --exit-at-eof 2>"$tmp/ref.log" ||
    { cat "$tmp/ref.log" >&2; fail "the embedded reference run failed"; }
"$TICKPIPE" journal dump "$tmp/ref/journal/input" >"$tmp/ref.dump" || fail "journal dump failed"
"$TICKPIPE" run --role ingest --kafka "$B" "${sim[@]}" --exit-at-eof 2>"$tmp/ingest.log" ||
    { cat "$tmp/ingest.log" >&2; fail "ingest failed"; }
grep -q 'all delivered' "$tmp/ingest.log" || { cat "$tmp/ingest.log" >&2; fail "not all delivered"; }
kdump tickpipe.ticks '%p\t%o\t%k\t%h\t%s\n' "$tmp/ticks.txt"
/usr/bin/python3 "$CHECK" ticks "$tmp/ref.dump" "$tmp/ticks.txt" || fail "tickpipe.ticks differs"

# 2. Faults while paced simulations run (4 s of event time at 5000 events/s each).
fault_run() { # fault_run NAME SEED EXTRA-ARGS...: starts a paced ingest into tickpipe.NAME
    local name=$1 seed=$2
    shift 2
    start=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
    sim2=(--seed "$seed" --sim-start "$start" --sim-rate 5000 --sim-events 20000
          --status-interval 0 --http off)
    "$TICKPIPE" run --role ingest --kafka "$B" --kafka-topic-ticks "tickpipe.$name" "${sim2[@]}" \
        --sim-pace live --exit-at-eof "$@" 2>"$tmp/$name.log" &
    ing=$!
    track $ing
}
fault_check() { # fault_check NAME CHECK-MODE: waits for the ingest, compares with a reference
    local name=$1
    wait $ing || { cat "$tmp/$name.log" >&2; fail "ingest under faults ($name) failed"; }
    grep -q 'all delivered' "$tmp/$name.log" || fail "$name: not everything was delivered"
    grep -q ' drops 0,' "$tmp/$name.log" || fail "$name: the paced simulator dropped events"
    "$TICKPIPE" run --data "$tmp/ref.$name" "${sim2[@]}" --sim-pace max --exit-at-eof \
        2>"$tmp/ref.$name.log" || fail "the reference run for $name failed"
    "$TICKPIPE" journal dump "$tmp/ref.$name/journal/input" >"$tmp/ref.$name.dump"
    kdump "tickpipe.$name" '%p\t%o\t%k\t%h\t%s\n' "$tmp/$name.txt"
    /usr/bin/python3 "$CHECK" "$2" "$tmp/ref.$name.dump" "$tmp/$name.txt" ||
        fail "tickpipe.$name differs from the reference"
    echo "kafka_ingest: $name: $(grep -o 'kafka client: .*' "$tmp/$name.log")"
}

# 2a. Produce requests failing (NOT_LEADER_OR_FOLLOWER three times, REQUEST_TIMED_OUT twice:
# the mock answers with the error and appends nothing), then a broker down and back: every
# event exactly once, in order.
mock_cmd "err 0 6 3"
mock_cmd "err 0 7 2"
fault_run faults 11
sleep 1.5
mock_cmd "down 2"
sleep 1
mock_cmd "up 2"
fault_check faults ticks

# 2b. Responses slower than the request timeout on every broker for 2.5 s: the requests time
# out, are logged and counted, and the batches are sent again. A real broker drops the copies
# of an idempotent producer's batch it already has (same producer id and sequence); the mock
# checks sequences only for transactional producers (rdkafka_mock.c), so it appends them
# again: here no event may be lost or reordered, and a repeated message must be a
# byte-identical re-send.
fault_run slow 12 --kafka-opt socket.timeout.ms=1000
sleep 1
for b in 1 2 3; do mock_cmd "rtt $b 1500"; done
sleep 2.5 # (1.5 s once let a loaded run send no request inside the window: 0 timeouts)
for b in 1 2 3; do mock_cmd "rtt $b 0"; done
fault_check slow ticks-resent
grep -q 'Timed out ProduceRequest' "$tmp/slow.log" ||
    { cat "$tmp/slow.log" >&2; fail "the request timeouts are not in the log"; }
grep -Eq 'kafka client: .* [1-9][0-9]* timeouts, [1-9][0-9]* disconnects' "$tmp/slow.log" ||
    fail "the request timeouts are not counted: $(grep 'kafka client' "$tmp/slow.log")"

# 3. Every broker down: deliveries time out and the run fails loudly.
"$TICKPIPE" run --role ingest --kafka "$B" --kafka-topic-ticks tickpipe.fail --sim-rate 2000 \
    --status-interval 0 --http off --kafka-opt message.timeout.ms=1500 2>"$tmp/fail.log" &
ing=$!
track $ing
sleep 1
mock_cmd "down 1"
mock_cmd "down 2"
mock_cmd "down 3"
rc=
for _ in $(seq 300); do
    if ! kill -0 $ing 2>/dev/null; then wait $ing; rc=$?; break; fi
    sleep 0.1
done
[ -n "$rc" ] || fail "ingest did not stop within 30 s with every broker down"
[ "$rc" -eq 3 ] || { cat "$tmp/fail.log" >&2; fail "exit $rc with every broker down (want 3)"; }
grep -q 'delivery to tickpipe.fail .* failed' "$tmp/fail.log" ||
    { cat "$tmp/fail.log" >&2; fail "the failed deliveries are not logged"; }
grep -q 'delivery to Kafka failed' "$tmp/fail.log" || fail "the run does not say why it stopped"
for b in 1 2 3; do mock_cmd "up $b"; done
echo "kafka_ingest: ok"
