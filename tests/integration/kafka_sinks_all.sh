#!/usr/bin/env bash
# kafka_sinks_all.sh — `tickpipe run --role all --kafka B --data D --postgres URL
# --exit-at-eof` (ingest and process in one process, the process stage writing the lake and
# PostgreSQL per ticks partition) over a generated trades file with late and duplicate trades,
# on librdkafka's mock cluster and a throwaway PostgreSQL (lib/pgserver.sh). Checks: ticks,
# bars, anomalies, late, gaps and quality in PostgreSQL, and every table of the lake (DuckDB),
# equal to the embedded pipeline's run of the same file (`run --data --postgres` into another
# database), each row once, late rows included (there are some).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/kafka_lib.inc"
# shellcheck source=lib/pgserver.sh
. "$here/lib/pgserver.sh"
# shellcheck source=lib/ksinks.sh
. "$here/lib/ksinks.sh"
TP_SRC=${TP_SRC:-$(cd "$here/../.." && pwd)}
kafka_setup kafka_sinks_all
pg_setup kafka_sinks_all
trap 'kafka_cleanup; pg_cleanup' EXIT
command -v node >/dev/null || fail "node is not installed (make test installs it)"
pg_start
base=${PGURL%/tickpipe}
mock_start all.ticks:3 all.bars:2 all.anomalies:2 all.checkpoints:2 all.late:2 all.gaps:1 all.positions:1

# --role all over a trades file with late and duplicate trades, to the end (--exit-at-eof).
for db in tickpipe_all tickpipe_allref; do
    psql -X -q "$base/postgres" -c "CREATE DATABASE $db" || fail "createdb $db"
done
"$TICKPIPE" gen --dataset trades --rows 12000 --symbols 4 --seed 7 --out "$tmp/t.csv" \
    2>"$tmp/gen.log" || { cat "$tmp/gen.log" >&2; fail "gen failed"; }
"$TICKPIPE" run --kafka "$B" --source "replay:$tmp/t.csv@max" --exit-at-eof --http off \
    --status-interval 0 --data "$tmp/all" --postgres "$base/tickpipe_all" --kafka-group all \
    --kafka-topic-ticks all.ticks --kafka-topic-bars all.bars --kafka-topic-anomalies all.anomalies \
    --kafka-topic-checkpoints all.checkpoints --kafka-topic-late all.late --kafka-topic-gaps all.gaps --kafka-topic-positions all.positions \
    2>"$tmp/all.log" || { cat "$tmp/all.log" >&2; fail "--role all --kafka failed"; }
"$TICKPIPE" run --data "$tmp/allref" --source "replay:$tmp/t.csv@max" --exit-at-eof --http off \
    --status-interval 0 --postgres "$base/tickpipe_allref" 2>"$tmp/allref.log" ||
    { cat "$tmp/allref.log" >&2; fail "the embedded run of the trades file failed"; }
late=$(psql -X -tA "$base/tickpipe_all" -c 'SELECT count(*) FROM late')
[ "${late:-0}" -gt 0 ] || fail "the trades file made no late rows"
ks_pg_same "$base/tickpipe_allref" "$base/tickpipe_all" || fail "--role all: PostgreSQL differs from the embedded run"
ks_lake_same "$tmp/allref/lake" "$tmp/all/lake" || fail "--role all: the lake differs from the embedded run"

echo "kafka_sinks_all: ok"
