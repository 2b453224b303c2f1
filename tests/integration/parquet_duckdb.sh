#!/usr/bin/env bash
# parquet_duckdb.sh — tickpipe's Parquet writer and reader against DuckDB, both ways.
#
# tests/duckdb/parquet_check.mjs drives tests/tools/pq_tool (built next to the binary, in
# TP_BUILD): DuckDB reads the files tickpipe writes (every column kind, codec, dictionary or
# PLAIN, data page v1 and v2) and must agree on types, values, row groups, statistics and
# key-value metadata; tickpipe reads the files DuckDB writes (ZSTD, SNAPPY, uncompressed) and
# must agree on kinds, values and statistics. DuckDB comes from npm (@duckdb/node-api,
# installed by `make test` / `make node-deps`); if it cannot load, this test FAILS.
set -euo pipefail
SRC=${TP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${TP_BUILD:-$SRC/build-asan}
TOOL=$BUILD/pq_tool
fail() { echo "parquet_duckdb: FAIL: $*" >&2; exit 1; }
[ -x "$TOOL" ] || fail "no $TOOL (build first: make build-asan)"
command -v node >/dev/null || fail "node is not installed (make test installs it)"
(cd "$SRC/tests" && node -e "import('@duckdb/node-api').catch((e) => {
    console.error(e.message); process.exit(1); })") ||
  fail "DuckDB (npm @duckdb/node-api) does not load from $SRC/tests/node_modules: run 'make node-deps'"

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
t0=$(date +%s%N)
node "$SRC/tests/duckdb/parquet_check.mjs" --tool "$TOOL" --dir "$dir" ||
  fail "tickpipe and DuckDB disagree (above)"
echo "parquet_duckdb: ok ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
