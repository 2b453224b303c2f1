#!/usr/bin/env bash
# fault_fsync.sh — the fault campaign's "fsync fails" case (docs/operations.md "Faults"): the
# optimized binary runs a replay with tests/tools/faultshim (LD_PRELOAD) making fsync and
# fdatasync fail with EIO after a few calls on one kind of file, as a disk whose write-back
# failed does. The PostgreSQL "fsyncgate" lesson: after a failed fsync the kernel may have
# dropped the dirty pages, so a retry that succeeds proves nothing; tickpipe must stop.
# Three parts, by the file that fails:
#   A. an input journal segment:  "journal DATA/journal/input: fdatasync of
#      DATA/journal/input/NNN.seg failed: Input/output error; stopping: ..." and exit 3;
#   B. an output journal segment: "journal DATA/journal/output: fdatasync of ... failed:
#      Input/output error; the engine resumes from its last checkpoint ..." and exit 3;
#   C. a staged lake file:        "lake: fsync of DATA/lake/.../.part-....parquet.tmp failed:
#      Input/output error", "sink lake: fatal: Input/output error; stopping the sink" and
#      exit 3 (the lake sink never retries an EIO, unlike a full disk).
# In each, the shim's log shows that no fsync of the failed file was attempted again (no
# silent retry), and a restart without the shim recovers: the replay resumes where the
# journal ends and the lake, the journals and the final bars equal an uninterrupted run's,
# every trade exactly once.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/faultlib.sh
. "$here/lib/faultlib.sh"
fault_init fault_fsync
rows=${FAULT_FSYNC_ROWS:-40000}
start=$(date +%s)
fault_gen "$rows" 12
fault_ref

# part NAME MATCH AFTER REGEX: a run whose fsyncs of files matching MATCH fail after AFTER
# calls must exit 3 with a line matching REGEX; then a restart without the shim recovers.
part() {
    local name=$1 match=$2 after=$3 re=$4 data=$TMP/d_$1
    mkdir -p "$data"
    FAULTSHIM_FSYNC_AFTER=$after FAULTSHIM_FSYNC_MATCH=$match FAULTSHIM_LOG=$TMP/$name.shim \
        LD_PRELOAD=$SHIM "$REL" run --source "replay:$TMP/trades.csv@max" "${FAULT_RUN[@]}" \
        --data "$data" --exit-at-eof 2>"$TMP/$name.log"
    local rc=$?
    [ $rc -eq 3 ] || { tail -20 "$TMP/$name.log" >&2; fault_fail "$name: the run with failing fsync exited $rc, not 3"; }
    local line
    line=$(grep -E "$re" "$TMP/$name.log" | head -1)
    [ -n "$line" ] || { cat "$TMP/$name.log" >&2; fault_fail "$name: no error matching /$re/"; }
    grep -q "^fail " "$TMP/$name.shim" 2>/dev/null || fault_fail "$name: the shim injected no failure"
    if grep -q "^retry " "$TMP/$name.shim"; then
        cat "$TMP/$name.shim" >&2
        fault_fail "$name: a failed fsync was retried"
    fi
    echo "fault_fsync: $name: exit 3, not retried: ${line#*Z }"
    "$TICKPIPE" run --source "replay:$TMP/trades.csv@max" "${FAULT_RUN[@]}" --data "$data" \
        --exit-at-eof 2>"$TMP/$name.2.log" ||
        { tail -20 "$TMP/$name.2.log" >&2; fault_fail "$name: the restart without the shim failed"; }
    fault_same "$data" "$rows"
}

seg='[0-9]{20}\.seg'
part input journal/input/ 4 \
    "error journal $TMP/d_input/journal/input: fdatasync of $TMP/d_input/journal/input/$seg failed: Input/output error; stopping"
part output journal/output/ 4 \
    "error journal $TMP/d_output/journal/output: fdatasync of $TMP/d_output/journal/output/$seg failed: Input/output error"
part lake .parquet.tmp 2 "error lake: fsync of $TMP/d_lake/lake/[^ ]*\\.parquet\\.tmp failed: Input/output error"
grep -q "sink lake: fatal: Input/output error" "$TMP/lake.log" || fault_fail "lake: the sink did not stop as fatal"
echo "fault_fsync: ok ($(($(date +%s) - start)) s)"
