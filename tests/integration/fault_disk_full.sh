#!/usr/bin/env bash
# fault_disk_full.sh — the fault campaign's "disk full" case (docs/operations.md "Faults"):
# tmpfs mounts made by the test stand in for a full disk (the test skips, saying why, where it
# may not mount). Two parts:
#
#  A. The disk under the journal fills: DATA is a small tmpfs and a replay writes more than it
#     holds. What the user sees: `tickpipe run` stops by itself with exit code 3 and an error
#     naming the journal file and "No space left on device" ("journal DATA/journal/input:
#     write of DATA/journal/input/NNN.seg failed: No space left on device; stopping: records
#     below offset N are in the journal ..."). The journal never acknowledges what it could not
#     write: the failed write is cut back to the last whole record, so `journal verify` finds
#     both journals clean. After the space grows (remount) a restart resumes the replay where
#     the journal ends: the records the journal held before are unchanged (a byte-identical
#     prefix of the dump), every trade is in the journal and the lake exactly once, and the
#     lake and final bars equal an uninterrupted run's.
#  B. The disk under the lake fills while the journal's has room: DATA/lake is a small tmpfs
#     filled with a ballast file. What the user sees: the run keeps going (the journal takes
#     every event), the lake sink pauses with "lake DATA/lake: commit ... failed: No space
#     left on device" and "sink lake: No space left on device; retrying with backoff (the
#     journal keeps the data)", said once per outage, with a growing backoff; /metrics shows
#     tickpipe_sink_up{sink="lake"} 0 and the lag. When the ballast is deleted the sink catches
#     up by itself (up 1, the lag down to the lake's open batch) without a restart, and after
#     SIGTERM the lake equals the journals.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/faultlib.sh
. "$here/lib/faultlib.sh"
fault_init fault_disk_full
rows=${FAULT_DISK_ROWS:-60000}
start=$(date +%s)
fault_gen "$rows" 11
fault_ref

# ---- A: the journal's disk fills --------------------------------------------------------
data=$TMP/a
fault_mount "$data" 2m
"$TICKPIPE" run --source "replay:$TMP/trades.csv@max" "${FAULT_RUN[@]}" --data "$data" \
    --exit-at-eof 2>"$TMP/a1.log"
rc=$?
[ $rc -eq 3 ] || { tail -20 "$TMP/a1.log" >&2; fault_fail "A: run on a full disk exited $rc, not 3"; }
line=$(grep -E "error journal $data/journal/(input|output): write of $data/journal/(input|output)/[0-9]{20}\.seg failed: No space left on device" "$TMP/a1.log" | head -1)
[ -n "$line" ] || { cat "$TMP/a1.log" >&2; fault_fail "A: no error naming the journal file and ENOSPC"; }
grep -q "error tickpipe run: " "$TMP/a1.log" || fault_fail "A: no final error line"
for j in input output; do
    "$REL" journal verify "$data/journal/$j" >"$TMP/verify.out" 2>&1 ||
        { cat "$TMP/verify.out" >&2; fault_fail "A: journal verify of the $j journal after ENOSPC"; }
done
held=$("$REL" journal dump "$data/journal/input" | tee "$TMP/a_before.dump" | wc -l)
[ "$held" -gt 0 ] && [ "$held" -lt "$rows" ] ||
    fault_fail "A: the input journal holds $held records after ENOSPC (expected some, fewer than $rows)"
echo "fault_disk_full: A: stopped with exit 3: ${line#*error }"
echo "fault_disk_full: A: both journals verify clean; the input journal holds $held records"

mount -o remount,size=64m "$data" || fault_fail "A: remount bigger"
"$TICKPIPE" run --source "replay:$TMP/trades.csv@max" "${FAULT_RUN[@]}" --data "$data" \
    --exit-at-eof 2>"$TMP/a2.log" || { tail -20 "$TMP/a2.log" >&2; fault_fail "A: the restart after freeing space failed"; }
"$REL" journal dump "$data/journal/input" --limit "$held" >"$TMP/a_after.dump"
cmp -s "$TMP/a_before.dump" "$TMP/a_after.dump" ||
    fault_fail "A: the records the journal held before the restart changed"
fault_same "$data" "$rows"
echo "fault_disk_full: A: after the restart the $held records held are unchanged and nothing is lost or doubled"

# ---- B: the lake's disk fills, the journal's does not -----------------------------------
data=$TMP/b
fault_mount "$data/lake" 64m
# The ballast fills the tmpfs but for 64 KiB (room for the lake's directories and ack file,
# not for a Parquet file); deleting it leaves room for the whole lake.
dd if=/dev/zero of="$data/lake/ballast" bs=1M 2>/dev/null
truncate -s -64K "$data/lake/ballast" || fault_fail "B: cannot truncate the ballast"
"$TICKPIPE" run --source "replay:$TMP/trades.csv@max" --http 127.0.0.1:0 --status-interval 0 \
    --checkpoint-every 20000 --lake-batch 4000 --data "$data" 2>"$TMP/b.log" &
pid=$!
fault_bg "$pid"
port=$(fault_port "$TMP/b.log")
for _ in $(seq 400); do
    grep -q "sink lake: No space left on device; retrying with backoff" "$TMP/b.log" &&
        grep -q "end of file after" "$TMP/b.log" && break
    kill -0 "$pid" 2>/dev/null || { cat "$TMP/b.log" >&2; fault_fail "B: the run stopped when the lake's disk filled"; }
    sleep 0.05
done
grep -q "error lake $data/lake: commit of the .* log's batch failed: No space left on device" "$TMP/b.log" ||
    { cat "$TMP/b.log" >&2; fault_fail "B: no error naming the lake and ENOSPC"; }
grep -q "end of file after" "$TMP/b.log" || fault_fail "B: the replay did not reach the end while the lake was full"
sleep 1.5 # a few retries
kill -0 "$pid" 2>/dev/null || fault_fail "B: the run stopped while the lake was full"
up=$(fault_metric "$port" tickpipe_sink_up '{sink="lake"}')
lag=$(fault_metric "$port" tickpipe_sink_lag_records '{sink="lake"}')
[ "$up" = 0 ] && [ "${lag:-0}" -gt 0 ] ||
    fault_fail "B: while the lake is full /metrics says sink_up '$up', lag '$lag' (want 0 and > 0)"
warns=$(grep -c "sink lake: No space left on device; retrying" "$TMP/b.log")
fails=$(fault_metric "$port" tickpipe_sink_errors_total '{sink="lake"}')
[ "$warns" -le 2 ] || fault_fail "B: the retry warning was logged $warns times in one outage"
echo "fault_disk_full: B: lake full: the run goes on, sink_up 0, lag $lag records, ${fails:-?} failed attempts, warned $warns time(s)"
rm -f "$data/lake/ballast"
caught=
for _ in $(seq 900); do # the backoff may have grown to several seconds
    up=$(fault_metric "$port" tickpipe_sink_up '{sink="lake"}')
    lag=$(fault_metric "$port" tickpipe_sink_lag_records '{sink="lake"}')
    # caught up: up, and behind by less than the lake's open batch of each log (4000 offsets)
    [ "$up" = 1 ] && [ -n "$lag" ] && [ "$lag" -lt 8000 ] && { caught=1; break; }
    sleep 0.05
done
[ -n "$caught" ] || { tail -5 "$TMP/b.log" >&2; fault_fail "B: the lake did not catch up after the ballast was deleted (up '$up', lag '$lag')"; }
grep -q "sink lake: connected again" "$TMP/b.log" || fault_fail "B: no 'connected again' in the log"
kill -TERM "$pid"
wait "$pid"
rc=$?
[ $rc -eq 0 ] || { tail -20 "$TMP/b.log" >&2; fault_fail "B: SIGTERM after the catch-up exited $rc"; }
fault_same "$data" "$rows"
echo "fault_disk_full: B: after the ballast went, the lake caught up without a restart"
echo "fault_disk_full: ok ($(($(date +%s) - start)) s)"
