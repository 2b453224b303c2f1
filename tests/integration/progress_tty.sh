#!/usr/bin/env bash
# progress_tty.sh — DESIGN.md §4: long work (replay, gen, etl, validate, compact) shows
# progress on a terminal and none when piped. Each command runs twice on the same kind of
# input: under `script` (a pseudo-terminal: stdin, stdout and stderr are a tty) and with its
# output in files (pipes or files: not a tty). Its progress text must appear in the first
# case only, and the work must succeed in both.
set -uo pipefail
TP=${TICKPIPE:?TICKPIPE must name the tickpipe binary}
fail() { echo "progress_tty: FAIL: $*" >&2; exit 1; }
command -v script >/dev/null || { echo "progress_tty: SKIP: no script(1) (bsdutils)"; exit 0; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
t0=$(date +%s%N)

# on_tty NAME CMD...: runs CMD on a pseudo-terminal, its whole output in $dir/NAME.tty
on_tty() {
    local name=$1
    shift
    local q
    q=$(printf '%q ' "$@")
    script -qec "$q" /dev/null </dev/null >"$dir/$name.tty" 2>&1 ||
        { cat "$dir/$name.tty" >&2; fail "$name on a terminal failed"; }
}
# piped NAME CMD...: runs CMD with stdout and stderr to files (and through a pipe)
piped() {
    local name=$1
    shift
    "$@" 2>&1 </dev/null | cat >"$dir/$name.pipe"
    [ "${PIPESTATUS[0]}" -eq 0 ] || { cat "$dir/$name.pipe" >&2; fail "$name piped failed"; }
}
# check NAME PATTERN: PATTERN (grep -E) in the terminal's output, not in the piped one
check() {
    grep -qE "$2" "$dir/$1.tty" || fail "$1: no progress ('$2') on a terminal: $(head -c 600 "$dir/$1.tty")"
    grep -qE "$2" "$dir/$1.pipe" && fail "$1: progress ('$2') when piped: $(head -c 600 "$dir/$1.pipe")"
    echo "$1: progress on a terminal, none when piped"
}

# gen
for m in tty pipe; do
    f=on_tty; [ $m = pipe ] && f=piped
    $f gen "$TP" gen --dataset minute-2024 --rows 20000 --seed 1 --out "$dir/m.$m.csv"
done
cmp -s "$dir/m.tty.csv" "$dir/m.pipe.csv" || fail "gen: outputs differ"
check gen 'tickpipe gen: [0-9]+ / 20000 rows'

# replay
for m in tty pipe; do
    f=on_tty; [ $m = pipe ] && f=piped
    mkdir -p "$dir/out.$m"
    $f replay "$TP" replay "$dir/m.tty.csv" --map ts=timestamp,price=stock_price \
        --instrument seed:STOCK --out "$dir/out.$m"
done
cmp -s "$dir/out.tty/bars.csv" "$dir/out.pipe/bars.csv" || fail "replay: outputs differ"
check replay 'replay: \[1/1\]'

# a data directory with a journal and a lake of many small files (for validate, compact, etl)
"$TP" run --data "$dir/data" --sim-pace max --sim-events 6000 --lake-batch 500 \
    --status-interval 0 --http off --exit-at-eof 2>"$dir/run.log" ||
    { cat "$dir/run.log" >&2; fail "run failed"; }
cp -a "$dir/data" "$dir/data2"

# validate
on_tty validate "$TP" validate --data "$dir/data"
piped validate "$TP" validate --data "$dir/data"
check validate 'tickpipe validate: [0-9]+ / [0-9]+ steps'

# etl (from the journal)
on_tty etl "$TP" etl --data "$dir/data" --every 1m:price --out "$dir/etl.tty.csv"
piped etl "$TP" etl --data "$dir/data" --every 1m:price --out "$dir/etl.pipe.csv"
cmp -s "$dir/etl.tty.csv" "$dir/etl.pipe.csv" || fail "etl: outputs differ"
check etl 'etl: journal: [0-9]+ records read'
on_tty etl_lake "$TP" etl --data "$dir/data" --every 1m:price --input lake
piped etl_lake "$TP" etl --data "$dir/data" --every 1m:price --input lake
check etl_lake 'etl: lake: summarizing'

# compact (each on its own copy: compaction changes the lake)
on_tty compact "$TP" compact --data "$dir/data"
piped compact "$TP" compact --data "$dir/data2"
grep -q 'merged into' "$dir/compact.pipe" || fail "compact piped: $(cat "$dir/compact.pipe")"
check compact 'file\(s\) -> [0-9]+, [0-9]+ rows'

echo "progress_tty: ok ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
