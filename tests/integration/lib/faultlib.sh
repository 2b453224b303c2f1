# faultlib.sh — sourced by the fault campaign's tests (tests/integration/fault_*.sh,
# docs/operations.md "Faults"): binaries, a scratch directory, tmpfs mounts that skip cleanly
# where mounting is not permitted, the uninterrupted reference run, and the "nothing lost"
# comparison the crash campaign uses (tests/crash/crash.sh).
#
#   fault_init NAME         sets SRC, TMP (removed at exit), REL (the optimized binary, for
#                           LD_PRELOAD), SHIM (libfaultshim.so), JB (journal_bars); fails when
#                           one is missing
#   fault_mount DIR SIZE    a tmpfs of SIZE on DIR (unmounted at exit); without the right to
#                           mount (not root, no CAP_SYS_ADMIN, a container) the test prints
#                           SKIP with the reason and exits 0
#   fault_gen ROWS SEED     writes $TMP/trades.csv (tickpipe gen --dataset trades, 8 symbols)
#   fault_ref               the uninterrupted run of $TMP/trades.csv into $TMP/ref
#   fault_same DATA [ROWS]  DATA's lake equals its own journals (lake_check.mjs), its lake
#                           equals the reference run's (crash_check.mjs: every trade once, bars
#                           and anomalies identical) and its output journal's final bars are
#                           the reference's, each once
#   fault_port LOG          the HTTP port the run logging to LOG listens on (waits for it)
#   fault_metric PORT NAME [LABELS]  one sample of /metrics ("" when absent)
#   fault_bg PID            remembers a background process to kill at exit
#   FAULT_CLEANUP_HOOK      a function the exit trap calls after killing those (a server)
FAULT_PIDS=()
FAULT_MOUNTS=()

fault_fail() {
    echo "$FAULT_NAME: FAIL: $*" >&2
    exit 1
}

fault_cleanup() {
    local p m
    for p in "${FAULT_PIDS[@]}"; do kill -CONT "$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null; done
    wait 2>/dev/null
    [ -n "${FAULT_CLEANUP_HOOK:-}" ] && "$FAULT_CLEANUP_HOOK"
    for m in "${FAULT_MOUNTS[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
    [ -n "${TMP:-}" ] && [ -z "${FAULT_KEEP:-}" ] && rm -rf "$TMP"
    [ -n "${FAULT_KEEP:-}" ] && echo "$FAULT_NAME: kept $TMP"
}

fault_init() {
    FAULT_NAME=$1
    : "${TICKPIPE:?TICKPIPE must name the tickpipe binary}"
    SRC=${TP_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
    local build=${TP_BUILD:-$(dirname "$TICKPIPE")}
    REL=${TP_RELEASE_BIN:-$SRC/build/tickpipe}
    [ -x "$REL" ] || fault_fail "no optimized binary at $REL (make build; TP_RELEASE_BIN)"
    SHIM=$build/libfaultshim.so
    [ -f "$SHIM" ] || SHIM=$(dirname "$REL")/libfaultshim.so
    [ -f "$SHIM" ] || fault_fail "no libfaultshim.so in $build or $(dirname "$REL")"
    JB=$build/journal_bars
    [ -x "$JB" ] || JB=$(dirname "$REL")/journal_bars
    [ -x "$JB" ] || fault_fail "no journal_bars (build tests/tools)"
    command -v node >/dev/null || fault_fail "node is not installed (make test installs it)"
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/tp_$FAULT_NAME.XXXXXX")
    trap fault_cleanup EXIT
}

fault_mount() {
    local dir=$1 size=$2 err
    mkdir -p "$dir"
    if ! err=$(mount -t tmpfs -o "size=$size,mode=0755" tmpfs "$dir" 2>&1); then
        echo "$FAULT_NAME: SKIP: cannot mount a tmpfs on $dir (needs root or CAP_SYS_ADMIN): $err"
        exit 0
    fi
    FAULT_MOUNTS=("$dir" "${FAULT_MOUNTS[@]}")
}

fault_gen() {
    "$REL" gen --dataset trades --rows "$1" --symbols 8 --seed "$2" --out "$TMP/trades.csv" \
        2>"$TMP/gen.log" || { cat "$TMP/gen.log" >&2; fault_fail "gen failed"; }
}

# The settings every run of the campaign shares: small lake batches and checkpoints, so that
# commits and checkpoints happen often.
FAULT_RUN=(--http off --status-interval 0 --checkpoint-every 20000 --lake-batch 4000)

fault_ref() {
    "$REL" run --source "replay:$TMP/trades.csv@max" "${FAULT_RUN[@]}" --data "$TMP/ref" \
        --exit-at-eof 2>"$TMP/ref.log" || { cat "$TMP/ref.log" >&2; fault_fail "the reference run failed"; }
}

fault_same() {
    local data=$1 rows=${2:-}
    "$REL" journal dump "$data/journal/input" >"$TMP/in.dump" || fault_fail "dump of $data's input journal"
    "$REL" journal dump "$data/journal/output" >"$TMP/out.dump" || fault_fail "dump of $data's output journal"
    (cd "$SRC/tests" && node duckdb/lake_check.mjs --lake "$data/lake" --input-dump "$TMP/in.dump" \
        --output-dump "$TMP/out.dump") >"$TMP/lake_check.out" 2>&1 ||
        { cat "$TMP/lake_check.out" >&2; fault_fail "the lake of $data differs from its journals"; }
    if [ -n "$rows" ]; then
        (cd "$SRC/tests" && node crash/crash_check.mjs --lake "$data/lake" --ref "$TMP/ref/lake" \
            --trades "$rows") || fault_fail "the lake of $data differs from the uninterrupted run's"
    fi
    "$JB" "$data/journal/output" | tail -n +2 | LC_ALL=C sort >"$TMP/bars.sorted" || fault_fail "journal_bars"
    "$JB" "$TMP/ref/journal/output" | tail -n +2 | LC_ALL=C sort >"$TMP/refbars.sorted" || fault_fail "journal_bars (ref)"
    [ "$(uniq -d "$TMP/bars.sorted" | wc -l)" -eq 0 ] || fault_fail "a final bar is in the output journal twice"
    cmp -s "$TMP/bars.sorted" "$TMP/refbars.sorted" ||
        fault_fail "the output journal's final bars differ from the uninterrupted run's ($(wc -l <"$TMP/bars.sorted") vs $(wc -l <"$TMP/refbars.sorted"))"
    echo "$FAULT_NAME: $data: lake = its journals; lake and $(wc -l <"$TMP/bars.sorted") final bars = the uninterrupted run's, each once"
}

fault_port() {
    local p
    for _ in $(seq 200); do
        p=$(grep -o '(port [0-9]*' "$1" 2>/dev/null | head -1 | grep -o '[0-9]*$')
        [ -n "$p" ] && { echo "$p"; return 0; }
        sleep 0.05
    done
    fault_fail "no HTTP port in $1"
}

fault_metric() { # PORT NAME [LABELS as in the exposition, e.g. {sink="lake"}]
    curl -s --max-time 2 "http://127.0.0.1:$1/metrics" | awk -v n="$2${3:-}" '$1 == n {print $2}'
}

fault_bg() { FAULT_PIDS+=("$1"); }
