#!/usr/bin/env bash
# run_etl.sh — `tickpipe run --etl-every`: the etl of docs/etl.md inside the pipeline.
#   1. `run --source replay:FILE@max --exit-at-eof --etl-every 10m:price --etl-every
#      1h:size,20m:value...` over a generated trades file spanning three UTC dates: at exit
#      the lake's summary/ holds one file per spec and date, and a separate `tickpipe etl
#      --data DIR` with the same specs afterwards recomputes nothing and changes no file
#      (bytes and mtimes); --full recomputes every date and still rewrites nothing (so the
#      run's last pass saw every tick);
#   2. a live sim run with --etl-schedule 1s: while a file stands where summary/ goes, passes
#      fail, are logged and counted (tickpipe_sink_errors_total{sink="etl"}, sink_up 0); once
#      it is removed summary files appear while it runs, /metrics counts the passes
#      (tickpipe_sink_records_total{sink="etl"} >= 2, sink_up 1), and SIGTERM stops it
#      promptly (under 5 s) with exit 0 and no further pass;
#   3. usage errors (exit 2, naming the setting): a bad spec, an interval that does not
#      divide a day, --etl-schedule without --etl-every or 0, --lake off without --postgres.
set -uo pipefail
: "${TICKPIPE:?TICKPIPE must name the tickpipe binary}"
fail() { echo "run_etl: FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tp_run_etl.XXXXXX")
pid=
trap '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
tree() { (cd "$1/summary" && find . -type f -printf '%p %s %T@\n' | LC_ALL=C sort &&
    find . -type f -name '*.parquet' | LC_ALL=C sort | xargs md5sum); }

# 1. A replay to its end: the last pass leaves nothing for a separate etl to do.
"$TICKPIPE" gen --dataset trades --rows 40000 --symbols 3 --rate 0.2 --seed 11 \
    --start 2024-03-01T12:00:00Z --out "$tmp/t.csv" 2>"$tmp/gen.log" ||
    { cat "$tmp/gen.log" >&2; fail "gen"; }
"$TICKPIPE" run --source "replay:$tmp/t.csv@max" --exit-at-eof --data "$tmp/a" --http off \
    --status-interval 0 --etl-every 10m:price --etl-every 1h:size,10m:price 2>"$tmp/a.log" ||
    { cat "$tmp/a.log" >&2; fail "run --exit-at-eof --etl-every"; }
grep -q 'etl: 2 summaries every 1m from the lake' "$tmp/a.log" || { cat "$tmp/a.log" >&2; fail "no etl start line"; }
grep -q 'etl: 1 passes, 0 failed' "$tmp/a.log" || { cat "$tmp/a.log" >&2; fail "not exactly one (last) pass"; }
dates=$(ls "$tmp/a/lake/ticks" | wc -l)
[ "$dates" -ge 3 ] || fail "the ticks span $dates dates, not 3 or more"
n=$(find "$tmp/a/lake/summary" -name part-0.parquet | wc -l)
[ "$n" = $((2 * dates)) ] || fail "$n summary files, not $dates dates x 2 specs"
tree "$tmp/a/lake" >"$tmp/tree1"
sleep 0.05
"$TICKPIPE" etl --data "$tmp/a" --every 10m:price --every 1h:size 2>"$tmp/e1.log" ||
    { cat "$tmp/e1.log" >&2; fail "etl afterwards"; }
grep 'etl: lake:' "$tmp/e1.log" | grep -q "0 dates recomputed (0 ticks, 0 windows); summary files: 0 written, 0 unchanged, 0 removed" ||
    fail "etl afterwards had work left: $(cat "$tmp/e1.log")"
"$TICKPIPE" etl --data "$tmp/a" --every 10m:price --every 1h:size --full 2>"$tmp/e2.log" ||
    { cat "$tmp/e2.log" >&2; fail "etl --full afterwards"; }
grep 'etl: lake:' "$tmp/e2.log" | grep -q "(40000 ticks, .*summary files: 0 written, $n unchanged, 0 removed" ||
    fail "etl --full afterwards differs: $(cat "$tmp/e2.log")"
tree "$tmp/a/lake" >"$tmp/tree2"
cmp -s "$tmp/tree1" "$tmp/tree2" || { diff "$tmp/tree1" "$tmp/tree2" | head >&2; fail "etl afterwards changed the summary files"; }
echo "step 1: $n summary files at exit over $dates dates; etl and etl --full afterwards changed nothing"

# 2. Live: summaries appear while the pipeline runs; /metrics counts the passes.
# A file where the summary directory goes makes the first passes fail; once it is gone the
# next period succeeds.
mkdir -p "$tmp/b/lake" && echo x >"$tmp/b/lake/summary"
"$TICKPIPE" run --source sim --sim-rate 2000 --data "$tmp/b" --http 127.0.0.1:0 \
    --status-interval 0 --lake-batch 512 --etl-every 1m:price --etl-schedule 1s 2>"$tmp/b.log" &
pid=$!
port=
for _ in $(seq 100); do
    port=$(grep -o 'port [0-9]*' "$tmp/b.log" | grep -o '[0-9]*')
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { cat "$tmp/b.log" >&2; fail "no HTTP port in the log"; }
metric() { curl -s --max-time 5 "http://127.0.0.1:$port/metrics" | grep "^$1{sink=\"etl\"}" | awk '{print $2}'; }
for _ in $(seq 100); do
    f=$(metric tickpipe_sink_errors_total)
    [ -n "$f" ] && [ "$f" -ge 1 ] && break
    sleep 0.2
done
[ -n "$f" ] && [ "$f" -ge 1 ] || { tail -20 "$tmp/b.log" >&2; fail "no failed pass counted while summary/ is a file"; }
[ "$(metric tickpipe_sink_up)" = 0 ] || fail "/metrics etl up is not 0 after a failed pass"
grep -q 'etl: this pass failed; trying again at the next period' "$tmp/b.log" || fail "the failed pass is not logged"
rm "$tmp/b/lake/summary"
seen=
for _ in $(seq 100); do
    p=$(metric tickpipe_sink_records_total)
    if [ -n "$p" ] && [ "$p" -ge 2 ] && [ -n "$(find "$tmp/b/lake/summary" -name part-0.parquet 2>/dev/null)" ]; then
        seen=1
        break
    fi
    sleep 0.2
done
[ -n "$seen" ] || { tail -20 "$tmp/b.log" >&2; fail "no summaries or passes while running (passes '$p')"; }
kill -0 "$pid" 2>/dev/null || fail "the run ended by itself"
up=$(metric tickpipe_sink_up)
[ "$up" = 1 ] || fail "/metrics etl up is '$up'"
grep -q 'etl: lake: .* summary files: [1-9]' "$tmp/b.log" || fail "no pass wrote a summary file"
ts=$(date +%s.%N)
kill -TERM "$pid"
wait "$pid" || { tail "$tmp/b.log" >&2; fail "SIGTERM did not exit 0"; }
pid=
te=$(date +%s.%N)
awk -v a="$ts" -v b="$te" 'BEGIN { exit !(b - a < 5) }' || fail "SIGTERM took over 5 s"
sed -n '/received SIGTERM/,$p' "$tmp/b.log" | grep -q 'etl: lake:' && fail "a pass ran after SIGTERM"
grep -q 'received SIGTERM' "$tmp/b.log" || fail "no SIGTERM line in the log"
passes=$(grep -o 'etl: [0-9]* passes, [1-9][0-9]* failed' "$tmp/b.log" | grep -o '[0-9]*' | head -1)
[ -n "$passes" ] && [ "$passes" -ge 2 ] || fail "the run's last line: $(grep 'passes,' "$tmp/b.log")"
echo "step 2: $(grep -o '[0-9]* passes, [0-9]* failed' "$tmp/b.log"): a failed pass was retried, summaries appeared while running, /metrics counted them, SIGTERM stopped it"

# 3. Usage errors.
usage() {
    local want=$1
    shift
    "$TICKPIPE" run --http off --data "$tmp/u" "$@" 2>"$tmp/u.log"
    local rc=$?
    [ "$rc" = 2 ] || fail "run $* exited $rc, not 2"
    grep -q -- "$want" "$tmp/u.log" || fail "run $*: '$(cat "$tmp/u.log")' does not say $want"
    [ ! -e "$tmp/u/journal" ] || fail "run $* started"
}
usage "--etl-every: 'bad'" --etl-every bad
usage "--etl-every: '1h:nope'" --etl-every 10m:price,1h:nope
usage "--etl-every: '7m:price' does not divide a day" --etl-every 7m:price
usage "--etl-schedule: '5s' needs --etl-every" --etl-schedule 5s
usage "--etl-schedule: '0s' is not a positive" --etl-every 10m:price --etl-schedule 0
usage "--etl-every: '10m:price' needs the lake" --etl-every 10m:price --lake off
echo "step 3: usage errors name the setting"
echo "run_etl: ok"
