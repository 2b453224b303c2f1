#!/usr/bin/env bash
# stream_vs_batch.sh — the streaming engine against an independent batch computation.
#
# Generates 1,000,000 trades over 100 instruments with out-of-order rows (within the 2 s
# lateness), rows late beyond it, and re-emitted duplicates (tickpipe gen), runs
# `tickpipe replay FILE --out DIR --intervals 1m,5m`, then computes the same bars in DuckDB SQL
# over the same CSV with the rules of DESIGN.md §3 (tests/duckdb/bars_sql.mjs, which first
# proves its SQL on a hand-computed case) and compares every bar, the bar keys, and the late
# rows (also against the generator's own counts). DuckDB comes from npm (@duckdb/node-api,
# installed by `make test` / `make node-deps`); if it cannot load, this test FAILS.
set -euo pipefail
SRC=${TP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${TICKPIPE:-}
if [ -n "${TP_RELEASE_BIN:-}" ] && [ -x "${TP_RELEASE_BIN}" ]; then BIN=$TP_RELEASE_BIN; fi
fail() { echo "stream_vs_batch: FAIL: $*" >&2; exit 1; }
[ -n "$BIN" ] && [ -x "$BIN" ] || fail "no tickpipe binary (set TICKPIPE or TP_RELEASE_BIN)"
command -v node >/dev/null || fail "node is not installed (make test installs it)"
(cd "$SRC/tests" && node -e "import('@duckdb/node-api').catch((e) => {
    console.error(e.message); process.exit(1); })") ||
  fail "DuckDB (npm @duckdb/node-api) does not load from $SRC/tests/node_modules: run 'make node-deps'"

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
echo "stream_vs_batch: binary $BIN"

node "$SRC/tests/duckdb/bars_sql.mjs" --selftest

t0=$(date +%s%N)
"$BIN" gen --dataset trades --rows 1000000 --symbols 100 --seed 20240101 --late 0.002 \
  --out "$dir/trades.csv"
# the data must hold every case the comparison is about
node -e '
  const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const need = { duplicates: s.duplicates, out_of_order: s.out_of_order,
                 beyond_lateness: s.beyond_lateness, late_1m: s.late["1m"], late_5m: s.late["5m"] };
  for (const [k, v] of Object.entries(need)) if (!(v > 0)) { console.error(`no ${k}`); process.exit(1); }
  if (s.rows !== 1000000 || s.symbols !== 100) process.exit(1);
' "$dir/trades.csv.json" || fail "the generated data lacks a case: $(cat "$dir/trades.csv.json")"

t1=$(date +%s%N)
"$BIN" replay "$dir/trades.csv" --out "$dir/out" --intervals 1m,5m ||
  fail "tickpipe replay exited $?"
t2=$(date +%s%N)
echo "stream_vs_batch: replay of 1,000,000 rows took $(( (t2 - t1) / 1000000 )) ms"
# the engine's own counters against the generator's (bad rows would be a generator bug)
node -e '
  const fs = require("fs");
  const g = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  const s = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const bad = [];
  if (s.bad_rows.total !== 0) bad.push(`replay skipped ${s.bad_rows.total} bad rows`);
  if (s.rows_read !== g.rows) bad.push(`replay read ${s.rows_read} rows, generated ${g.rows}`);
  if (s.duplicates !== g.duplicates)
    bad.push(`duplicates: replay ${s.duplicates}, generator ${g.duplicates}`);
  for (const iv of ["1m", "5m"])
    if (s.late[iv] !== g.late[iv]) bad.push(`late ${iv}: replay ${s.late[iv]}, generator ${g.late[iv]}`);
  console.log(`stream_vs_batch: replay stats: ${s.trades} trades, ${s.duplicates} duplicates, ` +
              `late ${JSON.stringify(s.late)}, bars ${JSON.stringify(s.bars)}`);
  if (bad.length) { console.error(bad.join("\n")); process.exit(1); }
' "$dir/trades.csv.json" "$dir/out/stats.json" || fail "replay's stats.json disagrees with the generator"

node "$SRC/tests/duckdb/bars_sql.mjs" --csv "$dir/trades.csv" --sidecar "$dir/trades.csv.json" \
  --out "$dir/out" --intervals 1m,5m --lateness 2s || fail "tickpipe and DuckDB disagree (above)"
echo "stream_vs_batch: ok ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
