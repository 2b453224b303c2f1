#!/usr/bin/env bash
# kafka_sinks_failover.sh — failover of `tickpipe run --role process` with the lake and
# PostgreSQL sinks (librdkafka's mock cluster, session timeout 3 s; a throwaway PostgreSQL,
# lib/pgserver.sh). Checks:
#   - two process instances (A and B) in one group share tickpipe.ticks (4 partitions), one
#     --data (so one lake) and one database, while a paced simulation (about 6 s) is ingested;
#   - A is killed with SIGKILL mid-stream; B takes its partitions over from their checkpoints
#     (the lake's and the tables' acknowledged offsets are past them: B skips what A's sinks
#     already hold, and removes the lake files A left past its acks);
#   - at the end, every row is once in PostgreSQL (ticks, bars, anomalies, late, gaps, quality
#     equal to a single-process run of the same simulation with --postgres, as multisets) and
#     in the lake (DuckDB: every table equal to the single-process run's lake, none missing,
#     none twice); the bars are those of `tickpipe replay` (the single-process run's are
#     checked against it by kafka_process.sh and pg_sink.sh);
#   - B stops cleanly on SIGTERM (exit 0).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/kafka_lib.inc"
# shellcheck source=lib/pgserver.sh
. "$here/lib/pgserver.sh"
# shellcheck source=lib/ksinks.sh
. "$here/lib/ksinks.sh"
TP_SRC=${TP_SRC:-$(cd "$here/../.." && pwd)}
kafka_setup kafka_sinks_failover
pg_setup kafka_sinks_failover
trap 'kafka_cleanup; pg_cleanup' EXIT
command -v node >/dev/null || fail "node is not installed (make test installs it)"
pg_start
base=${PGURL%/tickpipe}
psql -X -q "$base/postgres" -c 'CREATE DATABASE tickpipe_ref' || fail "createdb"
REF=$base/tickpipe_ref
mock_start tickpipe.ticks:4 tickpipe.bars:3 tickpipe.anomalies:2 tickpipe.checkpoints:4 \
    tickpipe.late:2 tickpipe.gaps:2

proc=(--role process --kafka "$B" --data "$tmp/k" --postgres "$PGURL" --status-interval 0
      --http off --checkpoint-every 2000 --kafka-checkpoint-interval 1500ms
      --kafka-opt session.timeout.ms=3000 --kafka-opt heartbeat.interval.ms=300)
"$TICKPIPE" run "${proc[@]}" 2>"$tmp/a.log" &
a=$!
track $a
"$TICKPIPE" run "${proc[@]}" 2>"$tmp/b.log" &
b=$!
track $b
for _ in $(seq 300); do
    grep -q 'assigned' "$tmp/a.log" && grep -q 'assigned' "$tmp/b.log" && break
    sleep 0.1
done
grep -q 'assigned' "$tmp/a.log" && grep -q 'assigned' "$tmp/b.log" ||
    { cat "$tmp/a.log" "$tmp/b.log" >&2; fail "the two instances did not both get partitions"; }

start=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
sim=(--seed 5 --sim-start "$start" --sim-rate 6000 --sim-events 36000 --status-interval 0
     --http off)
"$TICKPIPE" run --role ingest --kafka "$B" "${sim[@]}" --sim-pace live --exit-at-eof \
    2>"$tmp/ingest.log" &
ing=$!
track $ing
sleep 3.5
kill -KILL $a
wait $a 2>/dev/null
echo "kafka_sinks_failover: killed A after 3.5 s of a 6 s stream"
wait $ing || { cat "$tmp/ingest.log" >&2; fail "ingest failed"; }
grep -q ' drops 0,' "$tmp/ingest.log" || fail "the paced simulator dropped events (ring full)"

ks_reference "$tmp/ref" "$REF" "${sim[@]}" --sim-pace max
ks_wait_rows "$REF" "$PGURL" 45 || { tail -20 "$tmp/b.log" >&2; fail "B did not catch up"; }
kill -TERM $b
wait $b
rc=$?
[ $rc -eq 0 ] || { cat "$tmp/b.log" >&2; fail "B exited $rc on SIGTERM"; }
grep -Eq 'assigned tickpipe.ticks partition\(s\).* [0-9]+@[1-9]' "$tmp/b.log" ||
    { cat "$tmp/b.log" >&2; fail "B never resumed a partition from a checkpoint"; }

ks_pg_same "$REF" "$PGURL" || { cat "$tmp/b.log" >&2; fail "PostgreSQL differs from the single-process reference"; }
ks_lake_same "$tmp/ref/lake" "$tmp/k/lake" || fail "the lake differs from the single-process reference"
skipped=$(grep -o 'sink [a-z]*: [0-9]* records written, [0-9]* already there' "$tmp/b.log" | tr '\n' ';')
echo "kafka_sinks_failover: ok (B: $skipped)"
