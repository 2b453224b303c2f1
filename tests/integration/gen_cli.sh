#!/usr/bin/env bash
# gen_cli.sh — `tickpipe gen` from the command line: help lists the settings, usage errors
# exit 2, files appear complete under their names with the trades
# sidecar beside them, the same seed gives the same bytes, minute-2024 --rows takes a prefix
# and replays with the README's --map.
set -euo pipefail
TP=${TICKPIPE:?TICKPIPE must name the tickpipe binary}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

help=$("$TP" help gen)
for s in --dataset --rows --symbols --seed --format --out TICKPIPE_SEED; do
  grep -q -- "$s" <<<"$help" || fail "help gen does not list $s"
done

set +e
"$TP" gen --dataset trades --format xml --out "$dir/x" 2>"$dir/err"; rc=$?
set -e
[ $rc -eq 2 ] || fail "--format xml exited $rc, want 2"
grep -q "csv or parquet" "$dir/err" || fail "--format xml error does not say what is allowed: $(cat "$dir/err")"
for bad in "--dataset nope --out $dir/x" "--dataset trades" "--dataset minute-2024 --symbols 5 --out $dir/x" \
           "--dataset minute-2024 --rows 527041 --out $dir/x" "--symbols 0 --out $dir/x" \
           "--duplicates 1 --out $dir/x" "--ts-unit hours --out $dir/x" "--out $dir/x extra"; do
  set +e
  # shellcheck disable=SC2086
  "$TP" gen $bad 2>/dev/null; rc=$?
  set -e
  [ $rc -eq 2 ] || fail "'gen $bad' exited $rc, want 2"
done
[ ! -e "$dir/x" ] || fail "a usage error left a file behind"

"$TP" gen --dataset trades --rows 50000 --symbols 20 --seed 5 --out "$dir/a.csv" 2>/dev/null
TICKPIPE_SEED=5 "$TP" gen --rows 50000 --symbols 20 --out "$dir/b.csv" 2>/dev/null
cmp -s "$dir/a.csv" "$dir/b.csv" || fail "same seed (flag vs environment), different bytes"
"$TP" gen --rows 50000 --symbols 20 --seed 6 --out "$dir/c.csv" 2>/dev/null
! cmp -s "$dir/a.csv" "$dir/c.csv" || fail "different seeds, same bytes"
[ "$(wc -l <"$dir/a.csv")" -eq 50001 ] || fail "trades: $(wc -l <"$dir/a.csv") lines, want 50001"
[ -f "$dir/a.csv.json" ] || fail "no sidecar a.csv.json"
ls "$dir" | grep -q '\.tmp$' && fail "a .tmp file was left behind"
grep -q '"rows": 50000,' "$dir/a.csv.json" || fail "sidecar rows: $(cat "$dir/a.csv.json")"
grep -q '"symbols": 20,' "$dir/a.csv.json" || fail "sidecar symbols"
# distinct instruments ≤ 20 and named gen:S00NN-USD
n=$(tail -n +2 "$dir/a.csv" | cut -d, -f2 | sort -u | grep -c '^gen:S00[0-9][0-9]-USD$')
[ "$n" -ge 15 ] && [ "$n" -le 20 ] || fail "instruments: $n"
# the sidecar's duplicate count equals the repeated (instrument, trade_id) pairs in the file
dups=$(tail -n +2 "$dir/a.csv" | cut -d, -f2,6 | sort | uniq -d -c | awk '{s += $1 - 1} END {print s + 0}')
grep -q "\"duplicates\": $dups," "$dir/a.csv.json" || fail "duplicates: file has $dups, sidecar $(grep '"duplicates"' "$dir/a.csv.json")"

"$TP" gen --dataset minute-2024 --rows 1440 --out "$dir/m.csv" 2>/dev/null
[ "$(wc -l <"$dir/m.csv")" -eq 1441 ] || fail "minute-2024 --rows 1440"
[ "$(sed -n 2p "$dir/m.csv" | cut -d, -f1-3)" = "1,2024-01-01 00:00:00,100.00" ] || fail "first row: $(sed -n 2p "$dir/m.csv")"
[ "$(tail -1 "$dir/m.csv" | cut -d, -f1-2)" = "1440,2024-01-01 23:59:00" ] || fail "last row: $(tail -1 "$dir/m.csv")"
[ ! -e "$dir/m.csv.json" ] || fail "minute-2024 wrote a sidecar"
# the dataset replays as the README shows: one 1m bar a minute, 24 hourly bars
"$TP" replay "$dir/m.csv" --map ts=timestamp,price=stock_price,value=sales_trend \
  --instrument seed:STOCK --out "$dir/mout" --intervals 1m,1h 2>/dev/null || fail "replay of minute-2024"
[ "$(grep -c '^seed:STOCK,1m,' "$dir/mout/bars.csv")" -eq 1440 ] || fail "minute-2024: not 1440 1m bars"
[ "$(grep -c '^seed:STOCK,1h,' "$dir/mout/bars.csv")" -eq 24 ] || fail "minute-2024: not 24 1h bars"
grep -q '^seed:STOCK,1m,2024-01-01T00:00:00.000000000Z,100,100,100,100,' "$dir/mout/bars.csv" ||
  fail "minute-2024: first bar: $(sed -n 2p "$dir/mout/bars.csv")"
echo "gen_cli: ok"
