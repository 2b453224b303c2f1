#!/usr/bin/env bash
# kafka_ingest_resume.sh — a replay file ingested over Kafka (`run --role ingest --source
# replay:FILE`) resumes exactly after SIGKILL (docs/kafka.md "Resuming a replay file",
# src/kafka/kpos.h), on librdkafka's mock cluster, checked with kcat. Checks:
#   1. a generated trades file (200000 rows, 200 instruments over 8 partitions) ingested by
#      runs SIGKILLed mid-stream three times (once the run produced 25000-60000 events, so
#      thousands are in flight) and once early (start-up, the positions read and the scan, or
#      the first batches), then run to its end: tickpipe.ticks holds every event of the file
#      exactly once, in order per instrument, with the fields of the input journal of the same
#      file replayed embedded (kafka_check.py); every message carries tickpipe-source (one id)
#      and tickpipe-seq, and the seqs are exactly 1..N, increasing in every partition;
#   2. the restarts did the work: each logged the position it read back from
#      tickpipe.positions (some past the start), and together they found events of the killed
#      runs after their last positions and did not send them again;
#   3. a run after the end sends nothing (the last position says eof): the topic is unchanged.
set -uo pipefail
source "$(dirname "$0")/kafka_lib.inc"
kafka_setup kafka_ingest_resume
t0=$(date +%s)
mock_start tickpipe.ticks:8 tickpipe.positions:1
REL=${TP_RELEASE_BIN:-$TICKPIPE}
[ -x "$REL" ] || REL=$TICKPIPE

csv=$tmp/trades.csv
"$REL" gen --dataset trades --rows 200000 --symbols 200 --zipf 0 --seed 11 --out "$csv" \
    2>"$tmp/gen.log" || { cat "$tmp/gen.log" >&2; fail "gen failed"; }
"$REL" run --data "$tmp/ref" --source "replay:$csv@max" --exit-at-eof --http off \
    --status-interval 0 2>"$tmp/ref.log" || { cat "$tmp/ref.log" >&2; fail "the embedded run failed"; }
"$REL" journal dump "$tmp/ref/journal/input" >"$tmp/ref.dump" || fail "journal dump failed"
nevents=$(grep -c '^[0-9]* event ' "$tmp/ref.dump")
[ "$nevents" -gt 200000 ] || fail "the reference journal holds only $nevents events"

# The sum of the partitions' end offsets (cheaper than kcount, which reads every message).
kends() {
    local q=()
    for p in $(seq 0 $(($2 - 1))); do q+=(-t "$1:$p:-1"); done
    kcat -b "$B" -Q "${q[@]}" 2>/dev/null | grep -o 'offset [0-9]*' | awk '{ s += $2 } END { print s + 0 }'
}
ingest=(run --role ingest --kafka "$B" --source "replay:$csv@max" --http off)
# 1. Killed runs: mid-stream (produced >= a random 25000-60000), early (50-400 ms after start).
round=0
for kind in mid early mid mid; do
    round=$((round + 1))
    log=$tmp/i$round.log
    "$TICKPIPE" "${ingest[@]}" --status-interval 50ms 2>"$log" &
    pid=$!
    track $pid
    if [ $kind = mid ]; then
        want=$((25000 + RANDOM % 35000))
        for _ in $(seq 1200); do
            n=$(grep -o '[0-9]* produced' "$log" | tail -1 | grep -o '[0-9]*')
            [ "${n:-0}" -ge $want ] && break
            grep -q 'stopped:' "$log" && break
            sleep 0.025
        done
    else
        sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.3f", 0.05 + 0.35 * r / 32767 }')"
    fi
    kill -KILL $pid 2>/dev/null
    wait $pid 2>/dev/null
    rc=$?
    [ $rc -eq 137 ] || { cat "$log" >&2; fail "run $round exited $rc before the kill"; }
    echo "kafka_ingest_resume: run $round ($kind) killed after $(grep -o '[0-9]* produced' "$log" |
        tail -1 || echo '0 produced') ($(kends tickpipe.ticks 8) messages in the topic)"
done
log=$tmp/final.log
"$TICKPIPE" "${ingest[@]}" --status-interval 0 --exit-at-eof 2>"$log" ||
    { cat "$log" >&2; fail "the final run failed"; }
grep -q ', all delivered' "$log" || { cat "$log" >&2; fail "the final run did not deliver everything"; }

kdump tickpipe.ticks '%p\t%o\t%k\t%h\t%s\n' "$tmp/ticks.txt"
/usr/bin/python3 "$CHECK" ticks "$tmp/ref.dump" "$tmp/ticks.txt" || fail "tickpipe.ticks differs"
/usr/bin/python3 - "$tmp/ticks.txt" "$nevents" <<'EOF' || fail "the event numbers are wrong"
import re, sys
ids, seqs, last = set(), [], {}
for line in open(sys.argv[1], encoding="utf-8"):
    p, o, key, hdrs, _ = line.split("\t", 4)
    h = dict(kv.split("=", 1) for kv in hdrs.split(","))
    if "tickpipe-source" not in h or "tickpipe-seq" not in h:
        sys.exit(f"message {p}/{o} lacks the source headers: {hdrs}")
    ids.add(h["tickpipe-source"])
    s = int(h["tickpipe-seq"])
    if s <= last.get(p, 0):
        sys.exit(f"partition {p}: seq {s} at offset {o} after {last[p]}")
    last[p] = s
    seqs.append(s)
n = int(sys.argv[2])
if len(ids) != 1 or not re.fullmatch(r"[0-9a-f]{16}", next(iter(ids))):
    sys.exit(f"source ids: {ids}")
if sorted(seqs) != list(range(1, n + 1)):
    sys.exit(f"{len(seqs)} seqs, {len(set(seqs))} distinct, want exactly 1..{n}")
print(f"seqs: 1..{n} once each, increasing in each of {len(last)} partitions")
EOF
[ "$(kends tickpipe.positions 1)" -ge 2 ] || fail "tickpipe.positions holds fewer than 2 records"

# 2. What the restarts found. (A run killed within its first half second or so may have
# written no record past its initial one: its restart then starts from the previous one.)
found=0 past=0
for l in "$tmp/i2.log" "$tmp/i3.log" "$tmp/i4.log" "$log"; do
    at=$(grep -o 'last position in tickpipe.positions at event [0-9]*' "$l" | grep -o '[0-9]*$')
    # (run 2, killed early, may not have got that far)
    [ -n "$at" ] || [ "$l" = "$tmp/i2.log" ] || { cat "$l" >&2; fail "a restart did not read a position"; }
    [ "${at:-0}" -gt 0 ] && past=$((past + 1))
    k=$(grep -o '[0-9]* of its event(s) after the position are in tickpipe.ticks already' "$l" |
        grep -o '^[0-9]*')
    found=$((found + ${k:-0}))
done
[ $past -gt 0 ] || fail "no restart read a position past the start"
[ $found -gt 0 ] || fail "no restart found events of a killed run after its last position"

# 3. After the end nothing more is sent.
before=$(kends tickpipe.ticks 8)
"$TICKPIPE" "${ingest[@]}" --status-interval 0 --exit-at-eof 2>"$tmp/after.log" ||
    { cat "$tmp/after.log" >&2; fail "the run after the end failed"; }
grep -q 'at event [0-9]* .*the end of the file' "$tmp/after.log" ||
    { cat "$tmp/after.log" >&2; fail "the run after the end did not read the eof position"; }
[ "$(kends tickpipe.ticks 8)" -eq "$before" ] || fail "a run after the end sent events again"
echo "kafka_ingest_resume: ok: $nevents events exactly once after 4 kills;" \
    "$found found after positions and not re-sent ($(($(date +%s) - t0)) s)"
