#!/usr/bin/env bash
# fault_clock.sh — the fault campaign's "clock jumps" case (docs/operations.md "Faults"): the
# optimized binary runs with tests/tools/faultshim (LD_PRELOAD), whose CLOCK_REALTIME (and
# gettimeofday, time) is shifted by the number of seconds in a file that a background loop
# rewrites every 0.3 s: +1 h, -2 h, +1 day, -1 day, ... CLOCK_MONOTONIC is left alone.
#   A. A replay paced at 60x real time (`replay:FILE@60`, about 3 s) while the clock jumps.
#      What the user sees: log lines stamped with the jumping wall clock, nothing else; the
#      run takes its paced time (pacing is on CLOCK_MONOTONIC: a backward jump does not
#      stall it, a forward one does not rush it), and its outputs (the lake, every final
#      bar) are identical to an uninterrupted replay at max speed without the shim: event
#      time comes from the file, never from the clock.
#   B. The simulator, live-paced at 2000 events/s for 6000 events, while the clock jumps.
#      What the user sees: the run takes about 3 s, no drops and no gaps; the simulated event
#      times stay continuous (they follow the wall clock read once at start plus
#      CLOCK_MONOTONIC, so a step neither releases a burst of simulated hours nor stalls the
#      market) and no trade is late.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/faultlib.sh
. "$here/lib/faultlib.sh"
fault_init fault_clock
py=/usr/bin/python3
start=$(date +%s)
rows=20000
fault_gen "$rows" 13
fault_ref

clock=$TMP/clock
echo 0 >"$clock"
jumper() { # rewrites the shift every 0.3 s until killed
    local shifts=(3600 -7200 86400 -86400 0 -3600 7200)
    local i=0
    while :; do
        echo "${shifts[i % ${#shifts[@]}]}" >"$clock.new" && mv "$clock.new" "$clock"
        i=$((i + 1))
        sleep 0.3
    done
}
jumper &
fault_bg $!

# spread LOG: seconds between the earliest and the latest log stamp (the shim was active).
spread() {
    $py - "$1" <<'PY'
import re, sys, datetime
ts = [datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")
      for m in (re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)", l) for l in open(sys.argv[1])) if m]
print(int((max(ts) - min(ts)).total_seconds()) if ts else 0)
PY
}

# ---- A: a paced replay ------------------------------------------------------------------
data=$TMP/a
t0=$(date +%s%N)
FAULTSHIM_CLOCK_FILE=$clock LD_PRELOAD=$SHIM "$REL" run --source "replay:$TMP/trades.csv@60" \
    "${FAULT_RUN[@]}" --status-interval 1s --data "$data" --exit-at-eof 2>"$TMP/a.log" ||
    { tail -20 "$TMP/a.log" >&2; fault_fail "A: the paced replay under clock jumps failed"; }
ms=$((($(date +%s%N) - t0) / 1000000))
s=$(spread "$TMP/a.log")
[ "$s" -ge 3000 ] || fault_fail "A: the log's stamps span only $s s: the clock did not jump"
# 198 s of event time at 60x: 3.3 s; monotonic pacing keeps it there whatever the clock does.
[ "$ms" -ge 2500 ] && [ "$ms" -le 15000 ] ||
    fault_fail "A: the replay paced at 60x took $ms ms (expected about 3300): pacing follows the wall clock"
fault_same "$data" "$rows"
echo "fault_clock: A: paced replay took $ms ms while log stamps jumped over $s s; outputs identical to the uninterrupted run"

# ---- B: the live simulator --------------------------------------------------------------
data=$TMP/b
t0=$(date +%s%N)
FAULTSHIM_CLOCK_FILE=$clock LD_PRELOAD=$SHIM timeout 60 "$REL" run --source sim --sim-pace live \
    --sim-rate 2000 --sim-events 6000 --http off --status-interval 0 --data "$data" \
    --exit-at-eof 2>"$TMP/b.log" || { tail -20 "$TMP/b.log" >&2; fault_fail "B: the live sim under clock jumps failed or stalled"; }
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -le 12000 ] || fault_fail "B: 6000 events at 2000/s took $ms ms: a backward jump stalled the sim"
[ "$ms" -ge 2200 ] || fault_fail "B: 6000 events at 2000/s took only $ms ms: a forward jump rushed the sim"
grep -q "drops 0, gaps 0" "$TMP/b.log" || { grep stopped "$TMP/b.log" >&2; fault_fail "B: drops or gaps under clock jumps"; }
"$REL" journal dump "$data/journal/input" >"$TMP/b.dump" || fault_fail "B: dump"
"$REL" journal dump "$data/journal/output" >"$TMP/b.out" || fault_fail "B: dump output"
$py - "$TMP/b.dump" "$TMP/b.out" <<'PY' || fault_fail "B: simulated event times are not continuous"
import calendar, re, sys
def ns(t):  # 2026-11-26T02:49:46.765060980Z
    return calendar.timegm(tuple(map(int, re.split(r"[-T:]", t[:19])))) * 10**9 + int(t[20:29])
ts = [ns(m.group(1)) for m in (re.match(r"\d+ event (?:trade|quote) .* ts=(\S+)", l)
                               for l in open(sys.argv[1])) if m]
if len(ts) < 5000:
    sys.exit("only %d trades and quotes in the input journal" % len(ts))
ts.sort()
span = (ts[-1] - ts[0]) / 1e9
gap = max(b - a for a, b in zip(ts, ts[1:])) / 1e9
late = sum(1 for l in open(sys.argv[2]) if l.split()[1:2] == ["late"])
print("fault_clock: B: %d events over %.2f s of event time, largest step %.3f s, %d late" % (len(ts), span, gap, late))
if span > 15 or gap > 2 or late:
    sys.exit("span %.1f s, largest step %.1f s, %d late records" % (span, gap, late))
PY
echo "fault_clock: B: the live sim took $ms ms under clock jumps: no drops, no gaps, event time continuous"
echo "fault_clock: ok ($(($(date +%s) - start)) s)"
