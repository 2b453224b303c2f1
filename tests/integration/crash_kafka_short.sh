#!/usr/bin/env bash
# crash_kafka_short.sh — the short form of the crash campaign over Kafka (tests/crash/
# crash_kafka.sh, `tests/crash/crash.sh --kafka`, docs/testing.md) run by `make test`: on
# librdkafka's mock cluster, a replay file ingested into tickpipe.ticks by `run --role ingest`
# SIGKILLed twice mid-file and resumed from its positions, then `run --role
# process` SIGKILLed 5 times (early, and mid-stream after its assignment), restarted each time
# in the same group from its checkpoints, then run to the end; the topics must hold every tick
# once in order and exactly the bars, anomalies and late events of `tickpipe replay` (repeats
# byte-identical). The long form is `make crash CRASH_ARGS=--kafka` (100 kills).
set -uo pipefail
: "${TICKPIPE:?TICKPIPE must name the tickpipe binary}"
SRC=${TP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
exec bash "$SRC/tests/crash/crash_kafka.sh" --kills "${CRASH_SHORT_KILLS:-5}" --rows 40000
