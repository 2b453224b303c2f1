#!/usr/bin/env bash
# lake_run.sh — the data lake written by `tickpipe run`, checked with DuckDB against the
# journals (tests/duckdb/lake_check.mjs), across kill -9, and through compaction. Checks:
#   1. an uninterrupted finite run (sim, max pace, 60000 events, lake batches of 6000
#      offsets): read_parquet('DATA/lake/<table>/**/*.parquet', hive_partitioning=true) holds
#      exactly the input journal's ticks and the output journal's bars (1m and longer),
#      anomalies, late events and gaps, every column; partitions agree with the rows, files
#      are sorted, carry the schema version and statistics; `tickpipe compact` leaves one file
#      per partition with the same rows;
#   2. crash test: a run killed with SIGKILL 5 times at random moments while it writes (small
#      batches, so commits are frequent); after each kill every *.parquet DuckDB can list opens
#      (no partial file is ever visible; staged *.parquet.tmp files are not matched); after a
#      final run to the end, every journaled trade is in the lake exactly once and the outputs
#      equal the output journal;
#   3. compaction while a live run writes the same lake (their lock): three compactions during
#      the run, then SIGTERM; the lake still equals the journals.
set -uo pipefail
: "${TICKPIPE:?TICKPIPE must name the tickpipe binary}"
SRC=${TP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tp_lake_run.XXXXXX")
pid=
trap '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
fail() { echo "lake_run: FAIL: $*" >&2; exit 1; }
command -v node >/dev/null || fail "node is not installed (make test installs it)"
(cd "$SRC/tests" && node -e "import('@duckdb/node-api').catch((e) => {
    console.error(e.message); process.exit(1); })") ||
    fail "DuckDB (npm @duckdb/node-api) does not load from $SRC/tests/node_modules: run 'make node-deps'"
check() { # DATA [extra args]: the lake of DATA against dumps of its journals
    local d=$1
    shift
    "$TICKPIPE" journal dump "$d/journal/input" >"$tmp/in.dump" || fail "dump of $d input failed"
    "$TICKPIPE" journal dump "$d/journal/output" >"$tmp/out.dump" || fail "dump of $d output failed"
    (cd "$SRC/tests" && node duckdb/lake_check.mjs --lake "$d/lake" --input-dump "$tmp/in.dump" \
        --output-dump "$tmp/out.dump" "$@") || fail "the lake of $d differs from its journals"
}
readable() {
    (cd "$SRC/tests" && node duckdb/lake_check.mjs --lake "$1/lake" --readable-only) ||
        fail "a lake file DuckDB lists does not read ($2)"
}
common=(--sim-pace max --status-interval 0 --http off)

# 1. Uninterrupted, then compacted.
"$TICKPIPE" run --data "$tmp/a" "${common[@]}" --sim-events 60000 --lake-batch 6000 \
    --exit-at-eof 2>"$tmp/a.log" || { cat "$tmp/a.log" >&2; fail "uninterrupted run failed"; }
nfiles=$(find "$tmp/a/lake/ticks" -name '*.parquet' | wc -l)
[ "$nfiles" -ge 10 ] || fail "only $nfiles tick files for 60000+ offsets in batches of 6000"
check "$tmp/a"
"$TICKPIPE" compact --data "$tmp/a" >"$tmp/compact.out" 2>&1 ||
    { cat "$tmp/compact.out" >&2; fail "compact failed"; }
grep -q "file(s) merged into" "$tmp/compact.out" || fail "compact said: $(cat "$tmp/compact.out")"
check "$tmp/a" --one-file-per-partition
[ -z "$(find "$tmp/a/lake" -name '*.tmp' -o -name compact -type d)" ] ||
    fail "compact left staging files behind"
echo "uninterrupted: $nfiles tick files, equal to the journals before and after compaction"

# 2. Killed repeatedly while writing.
# (Each restarted simulator adds its events again, mostly late: keep the rounds small.)
for round in 1 2 3 4 5; do
    "$TICKPIPE" run --data "$tmp/b" "${common[@]}" --sim-events 20000 --lake-batch 1500 \
        --checkpoint-every 5000 2>"$tmp/b$round.log" &
    pid=$!
    sleep "0.$((RANDOM % 6 + 2))"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    pid=
    readable "$tmp/b" "after kill $round"
done
ls "$tmp/b/lake/_tickpipe/ack" >/dev/null 2>&1 || fail "no ack file after the kills"
grep -q "removed [0-9]* file(s) past the acknowledged" "$tmp"/b[2-6].log ||
    echo "lake_run: note: no restart found files past the ack (no kill landed mid-commit)"
"$TICKPIPE" run --data "$tmp/b" "${common[@]}" --sim-events 20000 --lake-batch 1500 \
    --checkpoint-every 5000 --exit-at-eof 2>"$tmp/b6.log" ||
    { cat "$tmp/b6.log" >&2; fail "final run after the kills failed"; }
readable "$tmp/b" "after the final run"
check "$tmp/b"
echo "killed 5 times: every journaled trade in the lake exactly once, outputs equal"

# 3. Compaction during a live run.
"$TICKPIPE" run --data "$tmp/c" --sim-rate 10000 --status-interval 0 --http off \
    --lake-batch 2000 2>"$tmp/c.log" &
pid=$!
for i in 1 2 3; do
    sleep 1
    "$TICKPIPE" compact --data "$tmp/c" >"$tmp/cc$i.out" 2>&1 ||
        { cat "$tmp/cc$i.out" >&2; fail "compact $i during the run failed"; }
    readable "$tmp/c" "after compaction $i during the run"
done
kill -TERM "$pid"
wait "$pid" || { cat "$tmp/c.log" >&2; fail "SIGTERM did not exit 0"; }
pid=
grep -q "merged into [1-9]" "$tmp"/cc[123].out || fail "no compaction merged anything"
check "$tmp/c"
echo "compaction during a live run: the lake still equals the journals"
echo "lake_run: ok"
