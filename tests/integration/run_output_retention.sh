#!/usr/bin/env bash
# run_output_retention.sh — retention of the OUTPUT journal (docs/journal.md "Truncate and
# retention"): `tickpipe run --retention-bytes` trims it like the input journal, but never
# what a sink has not acknowledged or what the process stage reads at restart (its last
# checkpoint record). Small segments (64 KiB) and a small limit (256 KiB) roll and trim many
# segments in a few seconds.
#
#   reference: a generated file (200,000 trades, 8 instruments) replayed by one uninterrupted
#     run without retention; its output journal is the expected result, segment by segment.
#   run 1: a fresh data directory gets a prefix of the reference's input journal (whole
#     segments, copied), and `run --source none` processes it with retention on and the lake
#     as a lagging sink (it acknowledges the output journal only in batches of 3000 offsets).
#     While it runs, every 0.1 s: the output journal's oldest segment never starts after the
#     lake's acknowledged output offset (listed before the lake's ack file is read, so a
#     later acknowledgement cannot excuse it). Then it is killed with SIGKILL once its
#     retention has removed old output segments.
#   run 2: the rest of the reference's input segments are added, and a run with
#     --exit-at-eof resumes from the last checkpoint (it reports resuming at an output offset
#     past the removed ones) and processes to the end; the lake resumes from its ack (a
#     record it needed but retention removed would stop it with an error).
# Checks at the end: (a) old output segments are gone (the first offset is > 0, fewer
# segments than the reference); (c) every remaining output segment is byte for byte the
# reference's segment of the same name, and the last one ends where the reference's does;
# (d) `tickpipe journal verify` and `journal dump` of the trimmed output journal work, the
# dump starts at the first kept offset and equals the reference's dump from there; (b) the
# lake's final ack is the journal's end and `tickpipe validate` finds the lake and the trimmed
# journals consistent.
set -uo pipefail
: "${TICKPIPE:?TICKPIPE must name the tickpipe binary}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tp_out_retention.XXXXXX")
pid=
trap '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
fail() { echo "run_output_retention: FAIL: $*" >&2; exit 1; }

csv=$tmp/trades.csv
"$TICKPIPE" gen --dataset trades --rows 200000 --symbols 8 --seed 42 --out "$csv" \
    2>"$tmp/gen.log" || { cat "$tmp/gen.log" >&2; fail "gen failed"; }
common=(--http off --segment-bytes 65536 --checkpoint-every 5000 --retention-age 0)

# The reference: uninterrupted, nothing removed.
ref=$tmp/ref
"$TICKPIPE" run "${common[@]}" --data "$ref" --source "replay:$csv@max" --lake off \
    --status-interval 0 --exit-at-eof 2>"$tmp/ref.log" ||
    { cat "$tmp/ref.log" >&2; fail "the reference run failed"; }
mapfile -t rin < <(cd "$ref/journal/input" && ls -1 ./*.seg | sed 's|^\./||')
nref=$(ls -1 "$ref/journal/output" | grep -c '\.seg$')
[ "${#rin[@]}" -ge 20 ] && [ "$nref" -ge 40 ] ||
    fail "the reference journals are too small (${#rin[@]} input, $nref output segments)"

# Run 1: half of the input, retention on, the lake lagging.
data=$tmp/data
mkdir -p "$data/journal/input"
half=$((${#rin[@]} / 2))
for ((i = 0; i < half; i++)); do cp "$ref/journal/input/${rin[i]}" "$data/journal/input/"; done
split=$((10#${rin[half]%.seg})) # the prefix ends before this input offset
args=("${common[@]}" --data "$data" --source none --lake on --lake-batch 3000
      --retention-bytes 262144)
"$TICKPIPE" run "${args[@]}" --status-interval 100ms 2>"$tmp/run1.log" &
pid=$!
odir=$data/journal/output
ack_of() { sed -n "s/^$1 \([0-9]*\)$/\1/p" "$data/lake/_tickpipe/ack" 2>/dev/null; }
first_seg() { # the oldest output segment's first offset (empty when none)
    local f
    f=$(ls -1 "$odir" 2>/dev/null | grep '\.seg$' | head -1)
    [ -n "$f" ] && echo $((10#${f%.seg}))
}
samples=0 held_back=0 done1=0
for _ in $(seq 300); do
    sleep 0.1
    kill -0 "$pid" 2>/dev/null || { cat "$tmp/run1.log" >&2; fail "run 1 died"; }
    f=$(first_seg) # listed first, then the ack: the ack read can only be newer
    a=$(ack_of output)
    [ -n "$f" ] || continue
    a=${a:-0}
    samples=$((samples + 1))
    [ "$f" -le "$a" ] || [ "$f" -eq 0 ] ||
        fail "output segments below offset $f were removed, but the lake acknowledged only $a"
    # Kept beyond the byte limit because the lake still needs it.
    kept=$(du -sb "$odir" | cut -f1)
    [ "$kept" -gt $((262144 + 2 * 65536)) ] && [ "$f" -gt 0 ] && held_back=1
    if grep -q "engine at $split," "$tmp/run1.log" && [ "$f" -gt 0 ]; then
        done1=$((done1 + 1))
        [ $done1 -ge 15 ] && break # 1.5 s more: retention's last turns ran
    fi
done
[ $done1 -ge 15 ] || { cat "$tmp/run1.log" >&2; fail "run 1 did not process its input and trim"; }
f1=$(first_seg) a1=$(ack_of output)
[ "$f1" -le "${a1:-0}" ] || fail "after run 1 the output starts at $f1, past the lake's ack ${a1:-0}"
grep -q 'retention: removed [0-9]* old output journal segment' "$tmp/run1.log" ||
    fail "run 1 did not say it removed output segments"
[ $held_back -eq 1 ] || fail "the lake's lag never held output segments beyond the byte limit"
kill -KILL "$pid"
wait "$pid" 2>/dev/null
pid=
echo "run 1: input 0..$split processed, output trimmed to start at $f1 (lake ack $a1;" \
    "$samples samples, each within the lake's ack), killed"

# Run 2: the rest of the input; resume from the last checkpoint, to the end.
for ((i = half; i < ${#rin[@]}; i++)); do cp "$ref/journal/input/${rin[i]}" "$data/journal/input/"; done
"$TICKPIPE" run "${args[@]}" --status-interval 0 --exit-at-eof 2>"$tmp/run2.log" ||
    { cat "$tmp/run2.log" >&2; fail "run 2 failed"; }
ck=$(grep -o 'resumed from the checkpoint at offset [0-9]*' "$tmp/run2.log" | grep -o '[0-9]*$')
[ -n "$ck" ] && [ "$ck" -ge "$f1" ] || { cat "$tmp/run2.log" >&2; fail "run 2 did not resume from a kept checkpoint"; }
grep -q 'no longer holds' "$tmp/run2.log" && fail "a sink lost records to retention"
echo "run 2: resumed from the checkpoint at output offset $ck, ran to the end"

# (a) trimmed; (c) identical to the reference, segment by segment.
first=$(first_seg)
mapfile -t out < <(ls -1 "$odir" | grep '\.seg$')
[ "$first" -gt 0 ] && [ "${#out[@]}" -lt "$nref" ] ||
    fail "the output journal was not trimmed (first $first, ${#out[@]} of $nref segments)"
for s in "${out[@]}"; do
    cmp -s "$odir/$s" "$ref/journal/output/$s" || fail "output segment $s differs from the reference's"
done
[ "${out[-1]}" = "$(ls -1 "$ref/journal/output" | grep '\.seg$' | tail -1)" ] ||
    fail "the output journal's last segment ${out[-1]} is not the reference's"
echo "output: ${#out[@]} of $nref segments kept (from offset $first), each identical to the reference's"

# (d) the tools on a journal whose first offset is > 0.
"$TICKPIPE" journal verify "$odir" >"$tmp/verify.out" 2>&1 ||
    { cat "$tmp/verify.out" >&2; fail "journal verify of the trimmed output journal"; }
"$TICKPIPE" journal dump "$odir" >"$tmp/out.dump" 2>"$tmp/dump.err" ||
    { cat "$tmp/dump.err" >&2; fail "journal dump of the trimmed output journal"; }
"$TICKPIPE" journal dump "$ref/journal/output" --from "$first" >"$tmp/ref.dump" ||
    fail "journal dump --from $first of the reference"
[ "$(head -1 "$tmp/out.dump" | cut -d' ' -f1)" = "$first" ] || fail "the dump does not start at $first"
cmp -s "$tmp/out.dump" "$tmp/ref.dump" || fail "the dump differs from the reference's from offset $first"
echo "journal verify and dump work from offset $first ($(wc -l <"$tmp/out.dump") records)"

# (b) the lake acknowledged everything, and agrees with what the journals still hold.
end=$("$TICKPIPE" journal dump "$ref/journal/output" | tail -1 | cut -d' ' -f1)
[ "$(ack_of output)" = $((end + 1)) ] || fail "the lake's output ack $(ack_of output), want $((end + 1))"
"$TICKPIPE" validate --data "$data" --max-gap 0 >"$tmp/validate.out" 2>&1 ||
    { cat "$tmp/validate.out" >&2; fail "validate of the lake against the trimmed journals"; }
echo "lake: acknowledged to $((end + 1)); validate passes"
echo "run_output_retention: ok"
