#!/usr/bin/env bash
# validate_pg.sh — `tickpipe validate --postgres` against a real server (Debian's PostgreSQL on
# loopback in a temporary directory, tests/integration/lib/pgserver.sh).
#
# - one `tickpipe run` writes the journals, the lake and PostgreSQL from the same simulator
#   input; `validate --data --postgres` passes (exit 0): every check ok, warn or skip, the
#   database check compared every (instrument, day) of lake, database and journal with equal
#   counts, the 1m bars reconciled with the database's ticks; the report is in
#   DATA/quality.json, in quality_reports, and per (instrument, day) in quality;
#   `validate --postgres` alone (no --data) passes too and checks the database only;
# - each defect injected in a copy of the database fails (exit 1) naming the check and the
#   rows: a conflicting duplicate trade id, a NaN price, a negative price, a 1m bar with
#   high < low, ticks deleted (the lake/database count mismatch names the day, the instrument
#   and both counts); the quality table marks that instrument and day as failed;
# - a conninfo that does not parse is a usage error (exit 2).
set -uo pipefail
: "${TICKPIPE:?TICKPIPE must name the tickpipe binary}"
here=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
# shellcheck source=lib/pgserver.sh
. "$here/lib/pgserver.sh"
pg_setup validate_pg
trap 'pg_cleanup' EXIT
fail() { echo "validate_pg: FAIL: $*" >&2; exit 1; }
t0=$(date +%s%N)
pg_start
data=$PGTMP/data
base=${PGURL%/tickpipe}

# 1. One run: journals, lake and database from the same input.
"$TICKPIPE" run --data "$data" --sim-pace max --sim-events 40000 --sim-rate 10 \
    --sim-start 2026-11-24T23:30:00Z --seed 7 --status-interval 0 \
    --http off --exit-at-eof --postgres "$PGURL" 2>"$PGTMP/run.log" ||
    { cat "$PGTMP/run.log" >&2; fail "run failed"; }

"$TICKPIPE" validate --data "$data" --postgres "$PGURL" --json >"$PGTMP/clean.json" \
    2>"$PGTMP/clean.err"
rc=$?
[ $rc -eq 0 ] || { cat "$PGTMP/clean.err" >&2; $PY -m json.tool "$PGTMP/clean.json" | grep -B3 -A12 '"fail"' | head -60 >&2; fail "clean: exit $rc"; }
cmp -s "$PGTMP/clean.json" "$data/quality.json" || fail "DATA/quality.json differs from --json"
$PY - "$PGTMP/clean.json" <<'PYEOF' || fail "clean report (above)"
import json, sys
r = json.load(open(sys.argv[1]))
st = {c["check"]: c for c in r["checks"]}
assert r["ok"] is True and r["lake"] is True and r["postgres"] is True, r["ok"]
bad = [f"{k}={c['status']}" for k, c in st.items() if c["status"] not in ("ok", "warn", "skip")]
assert not bad, bad
for k in ("schema", "counts", "nulls", "values", "bars", "reconcile", "database"):
    assert st[k]["status"] == "ok", (k, st[k])
assert r["db_rows"]["ticks"] == r["rows"]["ticks"] > 10000, (r["db_rows"], r["rows"])
assert r["db_rows"]["bars"] > 0
days = r["reconcile_days"]
assert days and all(d["lake_ticks"] == d["db_ticks"] == d["journal_ticks"] and
                    d["lake_bars_1m"] == d["db_bars_1m"] == d["journal_bars_1m"] for d in days), days
assert st["database"]["checked"] == len(days)
assert "the journal too" in st["database"]["note"], st["database"]["note"]
assert "database: " in st["reconcile"]["note"] and st["reconcile"]["checked"] > 100, st["reconcile"]
print(f"clean: {r['db_rows']['ticks']} ticks, {r['db_rows']['bars']} bars; "
      f"{len(days)} (instrument, day) reconciled; {st['reconcile']['checked']} bar-minutes")
PYEOF
[ $? -eq 0 ] || exit 1
n=$(pg_sql "SELECT count(*) FROM quality_reports WHERE ok")
[ "$n" = 1 ] || fail "quality_reports has $n ok reports, want 1"
q=$(pg_sql "SELECT count(*) FILTER (WHERE validation = 'ok' OR validation = 'warn'), count(*)
            FROM quality WHERE ticks > 0")
[ "${q%|*}" = "${q#*|}" ] && [ "${q#*|}" -gt 0 ] || fail "quality rows not all validated ok: $q"
echo "clean: quality rows validated: $q"

# the database alone
"$TICKPIPE" validate --postgres "$PGURL" >"$PGTMP/dbonly.txt" 2>"$PGTMP/dbonly.err" ||
    { cat "$PGTMP/dbonly.txt" "$PGTMP/dbonly.err" >&2; fail "database only: exit $?"; }
grep -q '^result: ok' "$PGTMP/dbonly.txt" && grep -q 'the lake was not checked' "$PGTMP/dbonly.txt" ||
    fail "database only: $(cat "$PGTMP/dbonly.txt")"
"$TICKPIPE" validate --postgres "$PGURL" --json >"$PGTMP/dbonly.json" 2>/dev/null || fail "database only --json"
$PY - "$PGTMP/dbonly.json" <<'PYEOF' || fail "database only report (above)"
import json, sys
r = json.load(open(sys.argv[1]))
st = {c["check"]: c for c in r["checks"]}
assert r["lake"] is False and r["postgres"] is True and r["ok"] is True
assert sum(d["ticks"] for d in r["days"]) == r["db_rows"]["ticks"] > 0, r["days"][:3]
assert len({d["date"] for d in r["days"]}) == 2, "the run crosses midnight: two days"
assert st["journal"]["status"] == "skip" and st["database"]["status"] == "skip"
assert st["reconcile"]["checked"] > 100
PYEOF
[ $? -eq 0 ] || exit 1
echo "database only: ok"

# 2. Defects, each in a copy of the database.
psql -X -q "$base/postgres" -c "CREATE DATABASE tp_base TEMPLATE tickpipe" || fail "template"
trade=$(pg_sql "SELECT log_offset FROM ticks WHERE kind = 'trade' AND trade_id IS NOT NULL
                ORDER BY log_offset LIMIT 1 OFFSET 500")
trade2=$(pg_sql "SELECT log_offset FROM ticks WHERE kind = 'trade' ORDER BY log_offset LIMIT 1 OFFSET 900")
read -r binst bts < <(pg_sql "SELECT instrument, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS')
                FROM bars WHERE interval = '1m' ORDER BY ts, instrument LIMIT 1 OFFSET 20" | tr '|' ' ')
read -r dinst dday dcount < <(pg_sql "SELECT instrument, to_char(date_trunc('day', ts, 'UTC') AT TIME ZONE 'UTC', 'YYYY-MM-DD'), count(*)
                FROM ticks GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 1" | tr '|' ' ')
[ -n "$trade" ] && [ -n "$trade2" ] && [ -n "$binst" ] && [ -n "$dinst" ] || fail "no rows to damage"
cols="ts, ts_ns, ts_recv, instrument, venue_symbol, kind, price, size, side, trade_id, bid, ask,
      bid_size, ask_size, open, high, low, change, value"

# inject NAME CHECK PATTERN SQL: the copy damaged by SQL fails CHECK with an example matching
# PATTERN (a Python regex), and nothing fails that should not
inject() {
    local name=$1 check=$2 pat=$3 sql=$4 url="${base}/tp_$1"
    psql -X -q "$base/postgres" -c "CREATE DATABASE tp_$name TEMPLATE tp_base" || fail "$name: createdb"
    psql -X -q -v ON_ERROR_STOP=1 "$url" -c "$sql" >/dev/null || fail "$name: injecting"
    "$TICKPIPE" validate --data "$data" --postgres "$url" --json >"$PGTMP/$name.json" 2>"$PGTMP/$name.err"
    local rc=$?
    [ $rc -eq 1 ] || { cat "$PGTMP/$name.err" >&2; fail "$name: exit $rc, want 1"; }
    $PY - "$PGTMP/$name.json" "$check" "$pat" "$name" <<'PYEOF' || fail "$name: report (above)"
import json, re, sys
r = json.load(open(sys.argv[1])); check, pat, name = sys.argv[2:5]
st = {c["check"]: c for c in r["checks"]}
assert r["ok"] is False
c = st[check]
assert c["status"] == "fail", (check, c)
hits = [e for e in c["examples"] if e["severity"] == "fail" and re.search(pat, e["detail"])]
assert hits, (check, pat, c["examples"][:5])
e = hits[0]
assert e["file"] and e["file"].startswith("postgres:"), e
assert e["instrument"], e
print(f"{name}: {check} fails: {e['file']} {e['instrument']} {e['ts']}: {e['detail']}")
PYEOF
    [ $? -eq 0 ] || exit 1
    # the quality table of that copy has the failure for an (instrument, day)
    local f
    f=$(psql -X -q -tA "$url" -c "SELECT count(*) FROM quality WHERE validation = 'fail'
                                  AND failed_checks LIKE '%$check%'")
    [ "${f:-0}" -ge 1 ] || fail "$name: no quality row marked failed for $check"
}

inject dup duplicates "trade id .* appears 2 times \\(log_offset $trade, [0-9]+\\) with different" \
    "INSERT INTO ticks ($cols, log_offset) SELECT ts, ts_ns + 1, ts_recv, instrument,
       venue_symbol, kind, price * 1.01, size, side, trade_id, bid, ask, bid_size, ask_size, open,
       high, low, change, value, (SELECT max(log_offset) + 1 FROM ticks) FROM ticks
       WHERE log_offset = $trade"
inject nan nulls "^log_offset $trade2: price is NaN" \
    "UPDATE ticks SET price = 'NaN' WHERE log_offset = $trade2"
inject neg values "^log_offset $trade2: price -" \
    "UPDATE ticks SET price = -price WHERE log_offset = $trade2"
inject highlow bars "^1m bar: high .* < low " \
    "UPDATE bars SET high = low - 1 WHERE instrument = '$binst' AND interval = '1m'
       AND ts = '${bts}Z'"
inject missing database "^$dday $dinst: ticks: lake $dcount, database $((dcount - 7)), journal $dcount\$" \
    "DELETE FROM ticks WHERE log_offset IN (SELECT log_offset FROM ticks
       WHERE instrument = '$dinst' AND date_trunc('day', ts, 'UTC') = '${dday}T00:00:00Z'
       ORDER BY log_offset DESC LIMIT 7)"

# 3. Usage.
"$TICKPIPE" validate --postgres 'postgresql://[bad' >/dev/null 2>"$PGTMP/usage.err"
rc=$?
[ $rc -eq 2 ] || fail "a bad conninfo exited $rc, want 2"
echo "validate_pg: ok ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
