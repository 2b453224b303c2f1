#!/usr/bin/env bash
# validate_lake.sh — `tickpipe validate` over a data directory built by hand
# (tests/tools/lake_tool: journals written through tickpipe's journal and engine, the lake
# written with its Parquet writer in the layout of DESIGN.md §5).
#
# - a good lake passes (exit 0): every check ok, warn (the feed's resent trades) or skip; the
#   report's row counts equal what the tool wrote and, per day and instrument, what DuckDB
#   counts in the same files; every 1m bar of the engine reconciles with the lake's ticks;
#   DATA/quality.json holds the same report;
# - each injected defect fails (exit 1) naming the check, the file and the instrument: a bar
#   with high < open and low, a conflicting duplicate trade id, a NaN price, a negative price,
#   a missing day, a missing hour, a file with a row missing (journal count), a recorded gap,
#   a stale feed (--max-age), an unreadable file;
# - usage errors exit 2 (a --postgres conninfo that does not parse among them; the database
#   checks are tested in validate_pg.sh).
set -euo pipefail
TP=${TICKPIPE:?TICKPIPE must name the tickpipe binary}
SRC=${TP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${TP_BUILD:-$SRC/build-asan}
TOOL=$BUILD/lake_tool
PY=/usr/bin/python3
fail() { echo "validate_lake: FAIL: $*" >&2; exit 1; }
[ -x "$TOOL" ] || fail "no $TOOL (build first)"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
t0=$(date +%s%N)

# ---- a good lake ----
"$TOOL" "$dir/good" >"$dir/good.json"
set +e
"$TP" validate --data "$dir/good" --json >"$dir/report.json" 2>"$dir/err"; rc=$?
set -e
[ $rc -eq 0 ] || fail "good lake: exit $rc: $(cat "$dir/err"; head -c 3000 "$dir/report.json")"
[ -f "$dir/good/quality.json" ] || fail "no DATA/quality.json"
cmp -s "$dir/report.json" "$dir/good/quality.json" || fail "quality.json differs from the --json report"
ls "$dir/good" | grep -q '\.tmp$' && fail "a .tmp file was left in DATA"
$PY - "$dir/report.json" "$dir/good.json" <<'PYEOF' || fail "good lake report (above)"
import json, sys
r = json.load(open(sys.argv[1])); w = json.load(open(sys.argv[2]))
st = {c["check"]: c for c in r["checks"]}
bad = [f"{k}={c['status']}" for k, c in st.items() if c["status"] not in ("ok", "warn", "skip")]
assert not bad, bad
assert r["ok"] is True
for k in ("schema", "partitions", "counts", "nulls", "values", "bars", "reconcile", "coverage", "journal"):
    assert st[k]["status"] == "ok", (k, st[k])
assert st["duplicates"]["status"] == "warn" and "resent" in st["duplicates"]["note"], st["duplicates"]
assert st["freshness"]["status"] == "skip"
for t in ("ticks", "bars", "anomalies", "late"):
    assert r["rows"][t] == w[t], (t, r["rows"][t], w[t])
assert sum(d["ticks"] for d in r["days"]) == w["ticks"]
assert sum(d["trades"] for d in r["days"]) == w["trades"]
assert st["reconcile"]["checked"] > 10000, st["reconcile"]
assert st["journal"]["checked"] > 100, st["journal"]
print(f"good lake: {w['ticks']} ticks, {w['bars']} bars; {st['reconcile']['checked']} bar-minutes reconciled")
PYEOF
# the text report says ok, and the per-day counts agree with DuckDB over the same files
"$TP" validate --data "$dir/good" >"$dir/report.txt" || fail "text report exit $?"
grep -q '^result: ok' "$dir/report.txt" || fail "text report: $(tail -3 "$dir/report.txt")"
if command -v node >/dev/null && (cd "$SRC/tests" && node -e "import('@duckdb/node-api')" 2>/dev/null); then
  (cd "$SRC/tests" && node --input-type=module - "$dir/good/lake" "$dir/report.json") <<'JSEOF' || fail "DuckDB counts differ"
import { DuckDBInstance } from '@duckdb/node-api';
import { readFileSync } from 'node:fs';
const [lake, report] = process.argv.slice(2);
const con = await (await DuckDBInstance.create(':memory:')).connect();
const rows = (await con.runAndReadAll(`SELECT CAST(date AS VARCHAR) AS date, instrument, count(*) AS n,
  count(*) FILTER (WHERE kind = 'trade') AS t FROM read_parquet('${lake}/ticks/**/*.parquet', hive_partitioning = true)
  GROUP BY ALL ORDER BY ALL`)).getRowObjects();
const want = new Map(JSON.parse(readFileSync(report)).days.map((d) => [`${d.date} ${d.instrument}`, d]));
let bad = 0;
for (const r of rows) {
  const d = want.get(`${r.date} ${r.instrument}`);
  if (!d || d.ticks !== Number(r.n) || d.trades !== Number(r.t)) { bad++; console.error('duckdb', r, 'validate', d); }
}
if (rows.length !== want.size) { bad++; console.error(`duckdb has ${rows.length} day-instruments, validate ${want.size}`); }
process.exit(bad ? 1 : 0);
JSEOF
else
  fail "DuckDB (npm @duckdb/node-api) does not load from $SRC/tests/node_modules: run 'make node-deps'"
fi

# ---- defects: exit 1, naming the check, the file and the instrument ----
# defect | extra flags | check | file substring | instrument | detail substring
while IFS='|' read -r defect flags check file instr detail; do
  [ -n "$defect" ] || continue
  d="$dir/$defect"
  "$TOOL" "$d" --defect "$defect" >/dev/null
  set +e
  # shellcheck disable=SC2086
  "$TP" validate --data "$d" --json $flags >"$d.json" 2>"$d.err"; rc=$?
  set -e
  [ $rc -eq 1 ] || fail "$defect: exit $rc, want 1 ($(cat "$d.err"))"
  $PY - "$d.json" "$check" "$file" "$instr" "$detail" <<'PYEOF' || fail "$defect: the report does not name it (above)"
import json, sys
r = json.load(open(sys.argv[1])); check, file, instr, detail = sys.argv[2:6]
st = {c["check"]: c for c in r["checks"]}
c = st[check]
assert c["status"] == "fail", (check, c["status"])
hit = [e for e in c["examples"] if e["severity"] == "fail" and file in (e["file"] or "")
       and (e["instrument"] or "") == instr and detail in e["detail"]]
assert hit, (check, c["examples"][:5])
assert st["schema"]["status"] == "ok", st["schema"]
print(f"{check}: {hit[0]['file'] or ''} {hit[0]['instrument'] or ''}: {hit[0]['detail']}")
PYEOF
done <<'EOF2'
bar-high-lt-open||bars|bars/interval=1m/date=2024-03-02/|sim:BTC-USD|open
dup-id||duplicates|ticks/date=2024-03-02/venue=sim/|sim:ETH-USD|different ts, price or size
nan-price||nulls|ticks/date=2024-03-01/venue=binance/|binance:BTC-USDT|price is NaN
neg-price||values|ticks/date=2024-03-01/venue=sim/|sim:ETH-USD|price -
missing-day||coverage|||no ticks files for 2024-03-02
missing-hour||coverage||sim:BTC-USD|no ticks for
count||journal|ticks/date=2024-03-03/venue=sim/||rows, but the input journal has
open-gap||coverage|gaps/date=2024-03-01/|sim:BTC-USD|not backfilled
stale|--max-age 1h --as-of 2024-03-04T00:00:00Z|freshness||binance:BTC-USDT|old
EOF2
# the good lake passes the same freshness check
"$TP" validate --data "$dir/good" --max-age 1h --as-of 2024-03-04T00:00:00Z >/dev/null ||
  fail "good lake fails --max-age 1h"

# an unreadable file: schema fails naming it
cp -r "$dir/good" "$dir/corrupt"
f=$(find "$dir/corrupt/lake/bars" -name '*.parquet' | sort | sed -n 1p) # sed reads all: no SIGPIPE under pipefail
head -c 100 /dev/urandom >"$f"
set +e
"$TP" validate --data "$dir/corrupt" >"$dir/corrupt.txt" 2>&1; rc=$?
set -e
[ $rc -eq 1 ] || fail "corrupt file: exit $rc"
grep -q "FAIL  schema" "$dir/corrupt.txt" && grep -q "${f#"$dir/corrupt/lake/"}: cannot read" "$dir/corrupt.txt" ||
  fail "corrupt file not named: $(grep -A2 schema "$dir/corrupt.txt")"

# ---- usage ----
for bad in "--postgres postgresql://[bad" "--as-of yesterday" "--examples 0" "extra" "--max-gap 5x"; do
  set +e
  # shellcheck disable=SC2086
  "$TP" validate --data "$dir/good" $bad >/dev/null 2>"$dir/err"; rc=$?
  set -e
  [ $rc -eq 2 ] || fail "'validate $bad' exited $rc, want 2"
done
"$TP" help validate >"$dir/help"
grep -q -- "--max-age" "$dir/help" || fail "help validate does not list --max-age"
echo "validate_lake: ok ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
