#!/usr/bin/env bash
# fault_malformed.sh — the fault campaign's "flood of malformed input" case (docs/operations.md
# "Faults"): `tickpipe run --source replay:FILE@max` reads a CSV file where a third of the
# lines are garbage (a 1/2 chance after each clean line), interleaved with every line of a
# clean generated file: wrong column counts, bad timestamps, instruments and numbers, NaN,
# negative sizes, bad sides, bad quoting on one line, high bytes, and lines longer than the
# 64 KiB line limit.
# What the user sees: the run keeps going at speed; the log says, per reason, how many rows
# were bad and the first line of each ("source replay:...: N bad row(s): bad_price (first at
# line L)"); /metrics tickpipe_bad_events_total equals the number of garbage lines, exactly;
# and every good row is there: the lake and the final bars are identical to a run over the
# clean file (every trade exactly once).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/faultlib.sh
. "$here/lib/faultlib.sh"
fault_init fault_malformed
py=/usr/bin/python3
rows=${FAULT_MALFORMED_ROWS:-40000}
start=$(date +%s)
fault_gen "$rows" 14
t0=$(date +%s%N)
fault_ref
ref_ms=$((($(date +%s%N) - t0) / 1000000))

# The flood: after each clean line, a garbage line with probability 1/2 (fixed seed).
bad=$($py - "$TMP/trades.csv" "$TMP/flood.csv" <<'PY'
import random, sys
rnd = random.Random(14)
kinds = [
    lambda: "a,b",                                                    # column_count
    lambda: "1,2,3,4,5,6,7,8,9",                                      # column_count
    lambda: "notatime,gen:S0001-USD,1.5,2,buy,9",                     # bad_ts
    lambda: "1704067200000,,1.5,2,buy,9",                             # bad_instrument
    lambda: "1704067200000,NOCOLON,1.5,2,buy,9",                      # bad_instrument
    lambda: "1704067200000,gen:S0001-USD,abc,2,buy,9",                # bad_price
    lambda: "1704067200000,gen:S0001-USD,-5,2,buy,9",                 # nonpositive_price
    lambda: "1704067200000,gen:S0001-USD,nan,2,buy,9",                # not_finite
    lambda: "1704067200000,gen:S0001-USD,1.5,x,buy,9",                # bad_size
    lambda: "1704067200000,gen:S0001-USD,1.5,-2,buy,9",               # negative_size
    lambda: "1704067200000,gen:S0001-USD,1.5,2,up,9",                 # bad_side
    lambda: '"1704067200000"x,gen:S0001-USD,1.5,2,buy,9',             # bad_quoting
    lambda: "".join(chr(rnd.randrange(0x80, 0x100)) for _ in range(rnd.randrange(1, 200))),
    lambda: "".join(rnd.choice("abcdefgh ;:|\t{}[]") for _ in range(rnd.randrange(1, 300))),
]
longline = lambda: "x" * (70 << 10)                                    # line_too_long
out = open(sys.argv[2], "w", encoding="latin-1", newline="\n")
n = bad = 0
for line in open(sys.argv[1], encoding="latin-1"):
    out.write(line)
    n += 1
    if n == 1:
        continue  # the header
    if rnd.random() < 0.5:
        g = longline() if rnd.random() < 0.0005 else rnd.choice(kinds)()
        out.write(g + "\n")
        bad += 1
print(bad)
PY
) || fault_fail "could not write the flood file"
lines=$(wc -l <"$TMP/flood.csv")
# The flood file is not the reference's file: its events are compared, not its positions.
data=$TMP/flood
t0=$(date +%s%N)
"$TICKPIPE" run --source "replay:$TMP/flood.csv@max" --http 127.0.0.1:0 --status-interval 0 \
    --checkpoint-every 20000 --lake-batch 4000 --data "$data" 2>"$TMP/flood.log" &
pid=$!
fault_bg "$pid"
port=$(fault_port "$TMP/flood.log")
for _ in $(seq 1200); do
    grep -q "end of file after" "$TMP/flood.log" && break
    kill -0 "$pid" 2>/dev/null || { cat "$TMP/flood.log" >&2; fault_fail "the run stopped during the flood"; }
    sleep 0.05
done
eof_ms=$((($(date +%s%N) - t0) / 1000000))
grep -q "end of file after $((rows + 8)) event(s)" "$TMP/flood.log" ||
    { grep "end of file" "$TMP/flood.log" >&2; fault_fail "the replay did not read every good row ($rows + 8 eof records)"; }
got=
for _ in $(seq 100); do
    got=$(fault_metric "$port" tickpipe_bad_events_total)
    [ "$got" = "$bad" ] && break
    sleep 0.05
done
[ "$got" = "$bad" ] || fault_fail "/metrics tickpipe_bad_events_total is '$got', the file has $bad garbage lines"
kill -TERM "$pid"
wait "$pid" || { tail -20 "$TMP/flood.log" >&2; fault_fail "the flood run did not stop cleanly"; }
logged=$(grep -o 'bad row(s): [a-z_]* ' "$TMP/flood.log" | wc -l)
sum=$(grep -o '[0-9]* bad row(s)' "$TMP/flood.log" | awk '{s += $1} END {print s + 0}')
[ "$sum" -eq "$bad" ] || fault_fail "the log counts $sum bad rows, the file has $bad"
[ "$logged" -ge 10 ] || fault_fail "the log names only $logged kinds of bad rows"
fault_same "$data" "$rows"
# Speed: garbage costs parsing, not a slowdown of the pipeline (generous: ASan, a busy machine).
[ "$eof_ms" -le $((ref_ms * 20 + 20000)) ] ||
    fault_fail "the flood took $eof_ms ms to the end of the file, a clean run $ref_ms ms"
echo "fault_malformed: $lines lines, $bad garbage: /metrics counted $got bad events, the log $sum in $logged reasons;" \
    "end of file after $eof_ms ms (ASan; the clean file with the optimized binary: $ref_ms ms)"
echo "fault_malformed: ok ($(($(date +%s) - start)) s)"
