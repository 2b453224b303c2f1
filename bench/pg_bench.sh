#!/usr/bin/env bash
# pg_bench.sh — ticks per second into PostgreSQL: tickpipe's sink (binary COPY, one
# transaction per batch with its offsets) next to row-by-row INSERTs as the seed projects
# wrote them, in the same run, on a throwaway server from Debian's packages (started as in
# the tests: tests/integration/lib/pgserver.sh; fsync and synchronous_commit on).
# EVENTS (default 1,000,000) simulator trades and quotes are written to a journal first
# (optimized build), then bench/pg_bench.c reads it and times both paths (the INSERT path on
# its first INSERT_ROWS rows, default 100,000). Goal: >= 300,000 rows/s through COPY.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${TP_BUILD:-$here/../build}
TICKPIPE=${TP_RELEASE_BIN:-$build/tickpipe}
export TICKPIPE TP_BUILD=$build
[ -x "$TICKPIPE" ] && [ -x "$build/pg_bench" ] || { echo "pg_bench: run 'make build' first" >&2; exit 2; }
# shellcheck source=../tests/integration/lib/pgserver.sh
. "$here/../tests/integration/lib/pgserver.sh"
pg_setup pg_bench
trap 'pg_cleanup' EXIT
pg_start
base=${PGURL%/tickpipe}
psql -X -q "$base/postgres" -c 'CREATE DATABASE tickpipe_rows'
"$TICKPIPE" run --data "$PGTMP/data" --sim-pace max --sim-events "${EVENTS:-1000000}" \
    --http off --status-interval 0 --exit-at-eof 2>/dev/null
${PGB_WRAP:-} "$build/pg_bench" "$PGTMP/data" "$PGURL" "$base/tickpipe_rows" "${INSERT_ROWS:-100000}"
