#!/usr/bin/env bash
# kafka_sinks.sh — the seed pipeline over Kafka with the warehouse and the lake: `tickpipe run
# --role ingest --kafka B` + `tickpipe run --role process --kafka B --data D --postgres URL`,
# on librdkafka's mock cluster and a throwaway PostgreSQL (lib/pgserver.sh). Checks:
#   - a paced simulation (fixed seed, about 5 s) is ingested while the process role runs;
#     1.5 s in, the PostgreSQL server stops (pg_ctl stop -m immediate) for 5 s and starts
#     again: the process role pauses the partitions whose sink failed, and resumes them from
#     their checkpoints once it reconnects (the log says so);
#   - at the end (SIGTERM, exit 0), ticks, bars, anomalies, late, gaps and quality in
#     PostgreSQL equal those the embedded pipeline writes for the same simulation (a
#     single-process run with --postgres into another database), row for row, each once;
#     every ticks log_offset once;
#   - the lake under D equals the embedded run's lake, table by table, as multisets of rows
#     (DuckDB): nothing missing, nothing twice; one ack file per ticks partition;
#   - /metrics (--http) shows the postgres sink down during the outage, then up with its
#     errors counted, and the lake and redis sinks up with their records;
#   - tickpipe_offsets has one pair of rows per partition (postgres/tickpipe.ticks/pN);
#   - partition 3's tickpipe_offsets rows moved back to 0 by hand, then a process run
#     in a new group (everything processed again): partition 3's rows are replaced offset
#     range by offset range, the other partitions' are left alone (skipped), and the database
#     still equals the reference;
#   - a database written by the embedded pipeline is refused (exit 3, the reason in the log);
#   - Redis (--redis, one sink per partition too): every bar stream entry and last-state hash
#     equal to the embedded run's (written to another Redis database).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/kafka_lib.inc"
# shellcheck source=lib/pgserver.sh
. "$here/lib/pgserver.sh"
# shellcheck source=lib/ksinks.sh
. "$here/lib/ksinks.sh"
TP_SRC=${TP_SRC:-$(cd "$here/../.." && pwd)}
kafka_setup kafka_sinks
pg_setup kafka_sinks
trap 'kafka_cleanup; pg_cleanup' EXIT
command -v node >/dev/null || fail "node is not installed (make test installs it)"
pg_start
base=${PGURL%/tickpipe}
psql -X -q "$base/postgres" -c 'CREATE DATABASE tickpipe_ref' || fail "createdb"
REF=$base/tickpipe_ref
ks_redis_start
mock_start tickpipe.ticks:4 tickpipe.bars:3 tickpipe.anomalies:2 tickpipe.checkpoints:4 \
    tickpipe.late:2 tickpipe.gaps:2

"$TICKPIPE" run --role process --kafka "$B" --data "$tmp/k" --postgres "$PGURL" \
    --redis "redis://127.0.0.1:$RPORT/0" \
    --status-interval 0 --http 127.0.0.1:0 --checkpoint-every 3000 --kafka-checkpoint-interval 1s \
    --kafka-opt session.timeout.ms=6000 --kafka-opt heartbeat.interval.ms=500 \
    2>"$tmp/proc.log" &
proc=$!
track $proc
for _ in $(seq 300); do grep -q 'assigned' "$tmp/proc.log" && break; sleep 0.1; done
grep -q 'assigned' "$tmp/proc.log" || { cat "$tmp/proc.log" >&2; fail "the process role got no partitions"; }
port=$(grep -o 'port [0-9]*' "$tmp/proc.log" | head -1 | grep -o '[0-9]*')
[ -n "$port" ] || { cat "$tmp/proc.log" >&2; fail "no HTTP port in the log"; }
metrics() { curl -s "http://127.0.0.1:$port/metrics" >"$tmp/metrics.txt" 2>/dev/null; }

start=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
sim=(--seed 11 --sim-start "$start" --sim-rate 5000 --sim-events 24000 --status-interval 0
     --http off)
"$TICKPIPE" run --role ingest --kafka "$B" "${sim[@]}" --sim-pace live --exit-at-eof \
    2>"$tmp/ingest.log" &
ing=$!
track $ing
sleep 1.5
pg_stop_immediate
echo "kafka_sinks: PostgreSQL stopped 1.5 s into the stream"
down=
for _ in $(seq 40); do
    metrics
    grep -q 'tickpipe_sink_up{sink="postgres"} 0' "$tmp/metrics.txt" && { down=1; break; }
    sleep 0.1
done
[ -n "$down" ] || { grep sink "$tmp/metrics.txt" >&2; fail "/metrics never showed the postgres sink down"; }
sleep 4
pg_start
echo "kafka_sinks: PostgreSQL started again"
wait $ing || { cat "$tmp/ingest.log" >&2; fail "ingest failed"; }
grep -q ' drops 0,' "$tmp/ingest.log" || fail "the paced simulator dropped events (ring full)"

ks_reference "$tmp/ref" "$REF" "${sim[@]}" --sim-pace max --redis "redis://127.0.0.1:$RPORT/1"
ks_wait_rows "$REF" "$PGURL" 40 || { tail -20 "$tmp/proc.log" >&2; fail "the process role did not catch up"; }
up=
for _ in $(seq 100); do
    metrics
    grep -q 'tickpipe_sink_up{sink="postgres"} 1' "$tmp/metrics.txt" && { up=1; break; }
    sleep 0.1
done
[ -n "$up" ] || { grep sink "$tmp/metrics.txt" >&2; fail "/metrics never showed the postgres sink up again"; }
for want in 'tickpipe_sink_up{sink="lake"} 1' 'tickpipe_sink_up{sink="redis"} 1' \
    'tickpipe_sink_errors_total{sink="postgres"} [1-9]' 'tickpipe_sink_records_total{sink="lake"} [1-9]' \
    'tickpipe_sink_records_total{sink="postgres"} [1-9]' 'tickpipe_sink_records_total{sink="redis"} [1-9]'; do
    grep -q "$want" "$tmp/metrics.txt" || { grep sink "$tmp/metrics.txt" >&2; fail "/metrics lacks $want"; }
done
echo "metrics: postgres down during the outage, up after; lake, redis up"
kill -TERM $proc
wait $proc
rc=$?
[ $rc -eq 0 ] || { cat "$tmp/proc.log" >&2; fail "the process role exited $rc on SIGTERM"; }
grep -q 'partition paused' "$tmp/proc.log" || { cat "$tmp/proc.log" >&2; fail "no sink failure during the outage"; }
grep -q 'open again: resuming from' "$tmp/proc.log" || { cat "$tmp/proc.log" >&2; fail "no partition resumed after the outage"; }

ks_pg_same "$REF" "$PGURL" || fail "PostgreSQL differs from the single-process reference"
ks_lake_same "$tmp/ref/lake" "$tmp/k/lake" || fail "the lake differs from the single-process reference"
acks=$(ls "$tmp/k/lake/_tickpipe" | grep -c '^ack\.tickpipe\.ticks\.p[0-3]$')
[ "$acks" = 4 ] || fail "$acks lake ack files, want 4: $(ls "$tmp/k/lake/_tickpipe")"
ks_redis_dump 1 "$tmp/redis.want"
ks_redis_dump 0 "$tmp/redis.got"
cmp -s "$tmp/redis.want" "$tmp/redis.got" ||
    { diff "$tmp/redis.want" "$tmp/redis.got" | head -5 >&2; fail "Redis differs from the single-process reference"; }
echo "redis: $(wc -l <"$tmp/redis.got") bar streams and last-state hashes equal to the reference"
fields=$(redis-cli -p "$RPORT" -n 0 HKEYS tickpipe:offsets | grep -c '^redis/tickpipe.ticks/p[0-3]\.\(input\|output\)$')
[ "$fields" = 8 ] || fail "$fields tickpipe:offsets fields of the partitions, want 8"
rows=$(pg_sql "SELECT count(*) FROM tickpipe_offsets WHERE sink LIKE 'postgres/tickpipe.ticks/p%'")
[ "$rows" = 8 ] || fail "$rows tickpipe_offsets rows of the partitions, want 8"

# Partition 3's acknowledged offsets moved back to 0 (below its range: the rows of partitions
# 0-2 lie between); a new group processes everything again.
pg_sql "UPDATE tickpipe_offsets SET next_offset = 0
        WHERE sink = 'postgres/tickpipe.ticks/p3'" >/dev/null || fail "moving p3's offsets back"
"$TICKPIPE" run --role process --kafka "$B" --data "$tmp/k" --postgres "$PGURL" \
    --kafka-group again --exit-at-eof --status-interval 0 --http off \
    --kafka-opt session.timeout.ms=6000 --kafka-opt heartbeat.interval.ms=500 \
    2>"$tmp/again.log" || { cat "$tmp/again.log" >&2; fail "the run in a new group failed"; }
grep -q 'sink postgres/tickpipe.ticks/p3: ticks exist at input offsets' "$tmp/again.log" ||
    { cat "$tmp/again.log" >&2; fail "partition 3 did not replace its rows"; }
ks_pg_same "$REF" "$PGURL" || fail "after partition 3's replay, PostgreSQL differs from the reference"
ks_lake_same "$tmp/ref/lake" "$tmp/k/lake" || fail "after the new group's run, the lake differs"

# The reference database has the embedded sink's offsets: another offset space, refused.
"$TICKPIPE" run --role process --kafka "$B" --postgres "$REF" --kafka-group refused \
    --exit-at-eof --status-interval 0 --http off 2>"$tmp/refused.log"
rc=$?
[ $rc -eq 3 ] && grep -q "also holds the rows of the sink 'postgres'" "$tmp/refused.log" ||
    { cat "$tmp/refused.log" >&2; fail "a database of the embedded pipeline was not refused (exit $rc)"; }
echo "kafka_sinks: the embedded pipeline's database refused (exit 3)"

echo "kafka_sinks: ok ($(grep -o '[0-9]* sink resets' "$tmp/proc.log" | tail -1))"
