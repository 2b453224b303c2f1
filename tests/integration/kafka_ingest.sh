#!/usr/bin/env bash
# kafka_ingest.sh — `tickpipe run --role ingest --kafka` against librdkafka's mock cluster
# (three brokers, topics made through the mock's API), checked with kcat. Checks:
#   1. the simulator (fixed seed and start time, 30000 events, max pace) into tickpipe.ticks
#      (4 partitions): every event of the same simulation run embedded (`run --role all`,
#      its input journal dumped) arrives exactly once, keyed by its instrument, with the schema
#      header, one partition per instrument, in order, with the same fields (kafka_check.py);
#   2. faults — Produce requests failing with NOT_LEADER_OR_FOLLOWER and REQUEST_TIMED_OUT,
#      and a broker down and back while a paced simulation runs: still every event exactly
#      once and in order (the idempotent producer retries without duplicates), and the errors
#      are visible in the log;
#   3. a delivery failure (every broker down, message.timeout.ms 1.5 s) is not swallowed: the
#      run fails with exit 3 and says that deliveries failed;
#   4. settings: `tickpipe help run` lists the Kafka settings; --role ingest without --kafka,
#      an option that would weaken a guarantee and an unknown librdkafka option are usage
#      errors (exit 2).
set -uo pipefail
source "$(dirname "$0")/kafka_lib.inc"
kafka_setup kafka_ingest
mock_start tickpipe.ticks:4 tickpipe.faults:3 tickpipe.fail:2

# 4. Settings first (no cluster needed).
help=$("$TICKPIPE" help run) || fail "help run failed"
for s in --kafka --kafka-opt --kafka-topic-ticks --kafka-partitions --kafka-group --role; do
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
expect_usage --kafka "$B"
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

# 2. Faults while a paced simulation runs (about 3 s of event time at 5000 events/s).
start=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
sim2=(--seed 11 --sim-start "$start" --sim-rate 5000 --sim-events 15000 --status-interval 0
      --http off)
mock_cmd "err 0 6 3"  # Produce: NOT_LEADER_OR_FOLLOWER, three times
mock_cmd "err 0 7 2"  # Produce: REQUEST_TIMED_OUT, twice
"$TICKPIPE" run --role ingest --kafka "$B" --kafka-topic-ticks tickpipe.faults "${sim2[@]}" \
    --sim-pace live --exit-at-eof 2>"$tmp/faults.log" &
ing=$!
track $ing
sleep 1
mock_cmd "down 2"
sleep 1
mock_cmd "up 2"
wait $ing || { cat "$tmp/faults.log" >&2; fail "ingest under faults failed"; }
grep -q 'all delivered' "$tmp/faults.log" || fail "ingest under faults did not deliver all"
grep -q ' drops 0,' "$tmp/faults.log" || fail "the paced simulator dropped events (ring full)"
grep -Eqi 'NOT_LEADER|REQUEST_TIMED_OUT|timed out|Disconnected|Connection refused|transport' \
    "$tmp/faults.log" || { cat "$tmp/faults.log" >&2; fail "the injected errors are not in the log"; }
"$TICKPIPE" run --data "$tmp/ref2" "${sim2[@]}" --sim-pace max --exit-at-eof 2>"$tmp/ref2.log" ||
    fail "the second reference run failed"
"$TICKPIPE" journal dump "$tmp/ref2/journal/input" >"$tmp/ref2.dump"
kdump tickpipe.faults '%p\t%o\t%k\t%h\t%s\n' "$tmp/faults.txt"
/usr/bin/python3 "$CHECK" ticks "$tmp/ref2.dump" "$tmp/faults.txt" ||
    fail "tickpipe.faults differs from the reference after the faults"

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
