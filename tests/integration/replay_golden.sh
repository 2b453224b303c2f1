#!/usr/bin/env bash
# replay_golden.sh — golden tests of `tickpipe replay` (DESIGN.md §3, §4, §5).
#
# Each tests/data/replay/<case>/ holds input*.csv (replayed in name order), an optional `args`
# file (extra arguments, one per line), expected/{bars,anomalies,late}.csv computed by hand (the
# case's README says how), and the outputs must match them byte for byte. Every case runs twice
# and the two runs must give identical files. Then: bad-row reporting in stats.json, --strict,
# exit codes for usage and I/O errors, --speed pacing, multiple inputs, and `help replay`.
#
# Env: TICKPIPE (the binary under test), TP_SRC (source root).
set -uo pipefail
: "${TICKPIPE:?set TICKPIPE to the tickpipe binary}"
: "${TP_SRC:?set TP_SRC to the source root}"
DATA="$TP_SRC/tests/data/replay"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/replay_golden.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# expect_exit CODE DESCRIPTION -- COMMAND...: runs COMMAND, checks its exit status, keeps
# stderr in $WORK/stderr.
expect_exit() {
    local want=$1 what=$2
    shift 3
    "$@" >"$WORK/stdout" 2>"$WORK/stderr"
    local got=$?
    if [ "$got" != "$want" ]; then
        fail "$what: exit $got, want $want"
        sed 's/^/    /' "$WORK/stderr" >&2
        return 1
    fi
    return 0
}

json_get() { # json_get FILE PYTHON-EXPRESSION-ON-d
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# ---- golden cases -------------------------------------------------------------------------
ncases=0
for dir in "$DATA"/*/; do
    name=$(basename "$dir")
    inputs=("$dir"input*.csv)
    args=()
    [ -f "$dir/args" ] && mapfile -t args <"$dir/args"
    for run in 1 2; do
        out="$WORK/$name.$run"
        expect_exit 0 "$name (run $run)" -- "$TICKPIPE" replay "${inputs[@]}" --out "$out" \
            "${args[@]}" || continue 2
        grep -q . "$WORK/stdout" && fail "$name: replay wrote to stdout"
    done
    ncases=$((ncases + 1))
    for f in bars.csv anomalies.csv late.csv; do
        if ! diff -u "$dir/expected/$f" "$WORK/$name.1/$f" >"$WORK/diff"; then
            fail "$name: $f differs from expected/$f"
            sed 's/^/    /' "$WORK/diff" | head -40 >&2
        fi
        cmp -s "$WORK/$name.1/$f" "$WORK/$name.2/$f" || fail "$name: $f differs between runs"
    done
    [ -f "$WORK/$name.1/stats.json" ] || fail "$name: no stats.json"
    ls "$WORK/$name.1" | grep -q '\.tmp$' && fail "$name: .tmp files left behind"
    json_get "$WORK/$name.1/stats.json" 'd["bad_rows"]["total"]' >"$WORK/v" || fail "$name: stats.json"
    [ "$(cat "$WORK/v")" = 0 ] || fail "$name: bad rows in a golden input"
done
[ "$ncases" -ge 6 ] || fail "only $ncases golden cases ran"

# stats.json of the cases, against the expected files
s="$WORK/lateness.1/stats.json"
[ "$(json_get "$s" 'd["late"]')" = "{'1s': 2, '1m': 1, '5m': 1, '15m': 0, '1h': 0, '1d': 0}" ] ||
    fail "lateness: late per interval: $(json_get "$s" 'd["late"]')"
[ "$(json_get "$s" 'd["bars"]["1s"], d["bars"]["1d"], d["trades"], d["events_read"]')" = "(6, 1, 8, 8)" ] ||
    fail "lateness: stats $(json_get "$s" 'd["bars"], d["trades"], d["events_read"]')"
s="$WORK/duplicates.1/stats.json"
[ "$(json_get "$s" 'd["duplicates"], d["events_read"]')" = "(3, 10)" ] ||
    fail "duplicates: $(json_get "$s" 'd["duplicates"], d["events_read"]')"
s="$WORK/indicators_flat.1/stats.json"
[ "$(json_get "$s" 'd["anomalies"]["volume_spike"], d["anomalies"]["return_zscore"]')" = "(1, 0)" ] ||
    fail "indicators_flat: anomalies $(json_get "$s" 'd["anomalies"]')"

# ---- bad rows -----------------------------------------------------------------------------
bad="$WORK/bad.csv"
cat >"$bad" <<'EOF'
ts,instrument,price,size,side,trade_id
2026-11-23T12:00:00Z,sim:B,10,1,buy,1
nope,sim:B,10,1,buy,2
2026-11-23T12:00:01Z,sim:B,-1,1,buy,3
2026-11-23T12:00:02Z,sim:B,10,1,buy
2026-11-23T12:00:03Z,sim:B,NaN,1,buy,5
2026-11-23T12:00:04Z,nocolon,10,1,buy,6
2026-11-23T12:00:05Z,sim:B,10,-2,buy,7
2026-11-23T12:00:06Z,sim:B,10,1,maybe,8
also bad,sim:B,10,1,buy,9
2026-11-23T12:00:07Z,sim:B,11,1,sell,10
EOF
expect_exit 0 "bad rows without --strict" -- "$TICKPIPE" replay "$bad" --out "$WORK/bad"
grep -q "8 bad rows" "$WORK/stderr" || fail "bad rows: no summary on stderr: $(cat "$WORK/stderr")"
s="$WORK/bad/stats.json"
[ "$(json_get "$s" 'd["bad_rows"]["total"], d["events_read"], d["rows_read"]')" = "(8, 2, 10)" ] ||
    fail "bad rows: totals $(json_get "$s" 'd["bad_rows"]["total"], d["events_read"], d["rows_read"]')"
for pair in bad_ts:3,10 nonpositive_price:4 column_count:5 not_finite:6 bad_instrument:7 \
    negative_size:8 bad_side:9; do
    reason=${pair%%:*}
    lines=${pair#*:}
    got=$(json_get "$s" "','.join(str(x['line']) for x in d['bad_rows']['$reason']['first'])")
    [ "$got" = "$lines" ] || fail "bad rows: $reason at lines '$got', want '$lines'"
    files=$(json_get "$s" "set(x['file'] for x in d['bad_rows']['$reason']['first'])")
    [ "$files" = "{'$bad'}" ] || fail "bad rows: $reason names files $files"
done
[ "$(json_get "$s" 'd["bad_rows"]["bad_ts"]["count"]')" = 2 ] || fail "bad rows: bad_ts count"
# the two good rows made bars (1s 12:00:00 and 12:00:07, ...)
[ "$(grep -c '^sim:B,1s,' "$WORK/bad/bars.csv")" = 2 ] || fail "bad rows: good rows lost"

# --strict stops at the first bad row, names file, line and reason, writes nothing
expect_exit 1 "--strict" -- "$TICKPIPE" replay "$bad" --out "$WORK/strict" --strict
grep -q "$bad:3: bad row: bad_ts" "$WORK/stderr" || fail "--strict message: $(cat "$WORK/stderr")"
[ ! -e "$WORK/strict/bars.csv" ] || fail "--strict left bars.csv"
[ -z "$(ls -A "$WORK/strict" 2>/dev/null)" ] || fail "--strict left files: $(ls "$WORK/strict")"
# --strict on a clean file is fine
expect_exit 0 "--strict clean" -- "$TICKPIPE" replay "$DATA/windows/input.csv" --out "$WORK/sc" --strict
cmp -s "$WORK/sc/bars.csv" "$DATA/windows/expected/bars.csv" || fail "--strict changed the output"

# ---- usage and I/O errors -----------------------------------------------------------------
in="$DATA/windows/input.csv"
o="$WORK/err"
expect_exit 2 "no input" -- "$TICKPIPE" replay --out "$o"
expect_exit 2 "no --out" -- "$TICKPIPE" replay "$in"
expect_exit 2 "unknown option" -- "$TICKPIPE" replay "$in" --out "$o" --frobnicate
expect_exit 2 "--format xml" -- "$TICKPIPE" replay "$in" --out "$o" --format xml
expect_exit 2 "--input-format parquet of a CSV" -- "$TICKPIPE" replay "$in" --out "$o" --input-format parquet
expect_exit 2 "--venue unknown" -- "$TICKPIPE" replay "$in" --out "$o" --venue nowhere &&
    { grep -q "venue" "$WORK/stderr" || fail "--venue: message"; }
expect_exit 2 "--speed with --max" -- "$TICKPIPE" replay "$in" --out "$o" --speed 2 --max
expect_exit 2 "--speed 0" -- "$TICKPIPE" replay "$in" --out "$o" --speed 0
expect_exit 2 "--ts-unit" -- "$TICKPIPE" replay "$in" --out "$o" --ts-unit days
expect_exit 2 "--map unknown field" -- "$TICKPIPE" replay "$in" --out "$o" --map colour=x
expect_exit 2 "--map missing column" -- "$TICKPIPE" replay "$in" --out "$o" --map price=stock_price &&
    { grep -q "stock_price" "$WORK/stderr" || fail "--map: message names the column"; }
expect_exit 2 "--instrument invalid" -- "$TICKPIPE" replay "$in" --out "$o" --instrument 'no way'
expect_exit 2 "--intervals" -- "$TICKPIPE" replay "$in" --out "$o" --intervals 1m,1s
expect_exit 2 "--lateness" -- "$TICKPIPE" replay "$in" --out "$o" --lateness soon
expect_exit 2 "macd periods" -- "$TICKPIPE" replay "$in" --out "$o" --macd-fast 30
expect_exit 2 "no ts column" -- "$TICKPIPE" replay "$DATA/seed/input.csv" --out "$o"
# a second input with a bad header is found before any work
expect_exit 2 "bad second header" -- "$TICKPIPE" replay "$in" "$DATA/seed/input.csv" --out "$o"
[ ! -e "$o" ] || fail "a usage error created the output directory"
expect_exit 3 "missing input" -- "$TICKPIPE" replay "$WORK/nonexistent.csv" --out "$o"
touch "$WORK/afile"
expect_exit 3 "--out under a file" -- "$TICKPIPE" replay "$in" --out "$WORK/afile/sub"
expect_exit 3 "missing journal" -- "$TICKPIPE" replay "$WORK/nojournal" --out "$o" --input-format journal

# ---- several inputs: in order, eof after each ---------------------------------------------
printf 'ts,instrument,price,size\n2026-11-23T12:00:00Z,sim:ONE,1,1\n' >"$WORK/a.csv"
printf 'ts,instrument,price,size\n2026-11-23T11:00:00Z,sim:TWO,2,1\n' >"$WORK/b.csv"
expect_exit 0 "two inputs" -- "$TICKPIPE" replay "$WORK/a.csv" "$WORK/b.csv" --out "$WORK/two"
[ "$(cut -d, -f1,2 "$WORK/two/bars.csv" | tail -n +2 | tr '\n' ' ')" = \
    "sim:ONE,1s sim:ONE,1m sim:ONE,5m sim:ONE,15m sim:ONE,1h sim:ONE,1d sim:TWO,1s sim:TWO,1m sim:TWO,5m sim:TWO,15m sim:TWO,1h sim:TWO,1d " ] ||
    fail "two inputs: order $(cut -d, -f1,2 "$WORK/two/bars.csv" | tr '\n' ' ')"
[ "$(json_get "$WORK/two/stats.json" '[(x["events"], x["bad_rows"]) for x in d["inputs"]]')" = "[(1, 0), (1, 0)]" ] ||
    fail "two inputs: per-input stats"
# a rerun into the same directory replaces the files
expect_exit 0 "rerun" -- "$TICKPIPE" replay "$WORK/a.csv" --out "$WORK/two"
[ "$(wc -l <"$WORK/two/bars.csv")" = 7 ] || fail "rerun did not replace bars.csv"

# ---- split inputs are one stream: a file cut in two gives the bars of the whole file ---------
w="$TP_SRC/tests/data/replay/windows/input.csv"
total=$(($(wc -l <"$w") - 1))
half=$((total / 2 + 1))
head -n "$half" "$w" >"$WORK/split1.csv"
{ head -n 1 "$w"; tail -n +"$((half + 1))" "$w"; } >"$WORK/split2.csv"
expect_exit 0 "whole file" -- "$TICKPIPE" replay "$w" --out "$WORK/whole"
expect_exit 0 "split files" -- "$TICKPIPE" replay "$WORK/split1.csv" "$WORK/split2.csv" --out "$WORK/split"
cmp -s "$WORK/whole/bars.csv" "$WORK/split/bars.csv" || fail "a file split in two gave other bars"
cmp -s "$WORK/whole/late.csv" "$WORK/split/late.csv" || fail "a file split in two gave other late rows"

# ---- --speed paces by event time ----------------------------------------------------------
printf 'ts,instrument,price,size\n2026-11-23T12:00:00Z,sim:P,1,1\n2026-11-23T12:00:02Z,sim:P,1,1\n' >"$WORK/p.csv"
t0=$(date +%s%N)
expect_exit 0 "--speed 4" -- "$TICKPIPE" replay "$WORK/p.csv" --out "$WORK/p" --speed 4
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -ge 450 ] || fail "--speed 4 over 2 s of event time took ${ms} ms"
expect_exit 0 "--max" -- "$TICKPIPE" replay "$WORK/p.csv" --out "$WORK/pm" --max
cmp -s "$WORK/p/bars.csv" "$WORK/pm/bars.csv" || fail "--speed changed the output"

# ---- help ---------------------------------------------------------------------------------
expect_exit 0 "help replay" -- "$TICKPIPE" help replay
for flag in --out --map --instrument --ts-unit --speed --max --strict --lateness --intervals \
    --input-format --format TICKPIPE_LATENESS; do
    grep -q -- "$flag" "$WORK/stdout" || fail "help replay does not list $flag"
done
expect_exit 0 "replay --help" -- "$TICKPIPE" replay --help

if [ "$failures" -ne 0 ]; then
    echo "replay_golden: $failures failure(s)" >&2
    exit 1
fi
echo "replay_golden: $ncases golden cases and the error paths passed"
