#!/usr/bin/env bash
# kafka_vs_journal.sh — the log on Kafka (librdkafka against its in-process mock cluster) next
# to the embedded journal: produce and consume throughput of simulator ticks, each with its
# encoding (JSON for Kafka, binary records for the journal). See bench/kafka_bench.c for the
# caveats (the mock keeps its log in memory, without disk or replication).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/kafka_bench ] || { echo "build/kafka_bench is missing: make build" >&2; exit 1; }
for run in 1 2 3; do
    echo "-- run $run"
    build/kafka_bench --events 200000 --partitions 8 2>/dev/null
done
