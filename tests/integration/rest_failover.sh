#!/usr/bin/env bash
# rest_failover.sh — a failover group of REST pollers end to end, on loopback only:
# `--source alphavantage:IBM@5min --source yahoo:IBM@5m --failover alphavantage,yahoo
# --failover-after 2 --failover-probe 2s` against tests/integration/rest_server.py, whose
# Alpha Vantage route answers with data twice, then HTTP 500 and a rate-limit note
# (Information, HTTP 200), then 503 to the first probe, then data again. Checked from the
# server's request log and `tickpipe journal dump`:
#   - yahoo sends no request while alphavantage is healthy (a standby spends no quota);
#   - after the second failed poll in a row yahoo takes over at once (its first request within
#     1 s), and alphavantage sends only probes, --failover-probe apart;
#   - when a probe answers, alphavantage takes back over: yahoo sends nothing more, and
#     alphavantage keeps polling;
#   - each event keeps its own source's instrument: alphavantage:IBM bars (exact values, UTC
#     from US/Eastern, each once) and yahoo:IBM bars, counted per source; a `failover` status
#     record (id FROM->TO) on both sources' instruments for each switch, the takeover record
#     before yahoo's first bar;
#   - the switches are logged; a group naming a venue no source polls, or one venue, is refused
#     (exit 2).
set -uo pipefail
: "${TICKPIPE:?TICKPIPE must name the tickpipe binary}"
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tp_rest_failover.XXXXXX")
spid= tpid=
cleanup() {
    [ -n "$tpid" ] && kill -KILL "$tpid" 2>/dev/null
    [ -n "$spid" ] && { kill -KILL "$spid"; wait "$spid"; } 2>/dev/null
    [ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "rest_failover: FAIL: $*" >&2; exit 1; }
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
export NO_PROXY='*'

# Configuration errors first: refused before anything starts.
ALPHAVANTAGE_API_KEY=k "$TICKPIPE" run --http off --data "$tmp/bad" --source alphavantage:IBM@5min \
    --source yahoo:IBM --failover alphavantage,fmp >"$tmp/bad1" 2>&1
rc=$?
[ $rc = 2 ] || fail "a group naming a venue no source polls: exit $rc, want 2"
grep -q -- "--failover: 'alphavantage,fmp' names a venue no --source polls" "$tmp/bad1" ||
    fail "the refusal does not say why: $(cat "$tmp/bad1")"
ALPHAVANTAGE_API_KEY=k "$TICKPIPE" run --http off --data "$tmp/bad" --source alphavantage:IBM@5min \
    --failover alphavantage >"$tmp/bad2" 2>&1
rc=$?
[ $rc = 2 ] || fail "a group of one source: exit $rc, want 2"
grep -q "2 to 8 sources" "$tmp/bad2" || fail "the refusal does not say why: $(cat "$tmp/bad2")"

"$PY" - "$tmp/plan.json" <<'EOF'
import json, sys
def intraday(bars, last):
    return json.dumps({"Meta Data": {"1. Information": "Intraday (5min) open, high, low, close prices and volume",
        "2. Symbol": "IBM", "3. Last Refreshed": last, "4. Interval": "5min", "5. Output Size": "Compact",
        "6. Time Zone": "US/Eastern"},
        "Time Series (5min)": {t: {"1. open": o, "2. high": h, "3. low": l, "4. close": c, "5. volume": v}
                               for t, o, h, l, c, v in sorted(bars, reverse=True)}}, indent=4)
B = [("2024-11-04 09:30:00", "190.1000", "190.5000", "190.0000", "190.2500", "5100"),
     ("2024-11-04 09:35:00", "190.2500", "190.3000", "189.7500", "189.8000", "4200"),
     ("2024-11-04 09:40:00", "189.8000", "190.0000", "189.6000", "189.9000", "3900"),
     ("2024-11-04 09:45:00", "189.9000", "190.1250", "189.8500", "190.0625", "3000"),
     ("2024-11-04 09:50:00", "190.0625", "190.2000", "190.0000", "190.1000", "2500")]
A1 = intraday(B[:3], "2024-11-04 09:40:00")
A2 = intraday(B, "2024-11-04 09:50:00")
info = json.dumps({"Information": "Thank you for using Alpha Vantage! Our standard API rate limit is 25 requests per day."}, indent=4)
t0 = 1730731200  # 2024-11-04T14:40:00Z
chart = json.dumps({"chart": {"result": [{"meta": {"symbol": "IBM", "regularMarketTime": t0 + 910,
    "regularMarketPrice": 189.95, "dataGranularity": "5m"}, "timestamp": [t0, t0 + 300, t0 + 600],
    "indicators": {"quote": [{"open": [189.9, 189.95, 190.0], "high": [190.0, 190.1, 190.2],
    "low": [189.5, 189.9, 189.95], "close": [189.95, 190.0, 190.125], "volume": [3900, 3000, 2500]}]}}],
    "error": None}}, separators=(",", ":"))
ok = lambda b: {"status": 200, "body": b}
plan = {
    "alphavantage:IBM": [ok(A1), ok(A1), {"status": 500, "body": "oops"}, ok(info),
                         {"status": 503, "body": ""}, ok(A2), ok(A2)],
    "yahoo:IBM": [ok(chart)],
}
json.dump(plan, open(sys.argv[1], "w"))
EOF
[ -s "$tmp/plan.json" ] || fail "cannot write the plan"

"$PY" "$HERE/rest_server.py" --plan "$tmp/plan.json" --log "$tmp/req.log" \
    --port-file "$tmp/port" 2>"$tmp/server.err" &
spid=$!
for ((i = 0; i < 100; i++)); do [ -s "$tmp/port" ] && break; sleep 0.1; done
[ -s "$tmp/port" ] || fail "the server did not start: $(cat "$tmp/server.err")"
url=http://127.0.0.1:$(cat "$tmp/port")

ALPHAVANTAGE_API_KEY=demo-key "$TICKPIPE" run --http off --data "$tmp/data" --status-interval 0 \
    --source alphavantage:IBM@5min --source yahoo:IBM@5m --failover alphavantage,yahoo \
    --failover-after 2 --failover-probe 2s \
    --endpoint alphavantage=$url --endpoint yahoo=$url \
    --poll-interval alphavantage=300ms --poll-interval yahoo=300ms \
    --poll-spacing alphavantage=0s --poll-spacing yahoo=0s \
    --rest-timeout 1s --rest-backoff-min 300ms --rest-backoff-max 600ms 2>"$tmp/run.log" &
tpid=$!
# Until alphavantage has answered twice after taking back over (step 7), or 40 s.
for ((i = 0; i < 400; i++)); do
    n=$(grep -c '"route": "alphavantage:IBM"' "$tmp/req.log" 2>/dev/null)
    [ "${n:-0}" -ge 9 ] && break
    kill -0 "$tpid" 2>/dev/null || { cat "$tmp/run.log" >&2; fail "tickpipe run exited early"; }
    sleep 0.1
done
kill -INT "$tpid"
wait "$tpid"
rc=$?
tpid=
[ "$rc" = 0 ] || { cat "$tmp/run.log" >&2; fail "tickpipe run exited $rc"; }
"$TICKPIPE" journal dump "$tmp/data/journal/input" >"$tmp/dump" || fail "journal dump failed"

"$PY" - "$tmp" <<'EOF' || { [ -n "${VERBOSE:-}" ] && cat "$tmp/run.log" >&2; fail "check failed"; }
import collections, json, re, sys
d = sys.argv[1]
errors = []
err = errors.append
reqs = [json.loads(l) for l in open(d + "/req.log")]
av = [r for r in reqs if r["route"] == "alphavantage:IBM"]
ya = [r for r in reqs if r["route"] == "yahoo:IBM"]
log = open(d + "/run.log").read()
if len(av) < 8:
    err("alphavantage: %d requests, want at least 8" % len(av))
else:
    t = [r["t"] for r in av]
    # failed polls: step 2 (HTTP 500), step 3 (the note): yahoo takes over after step 3
    if any(r["t"] < t[3] for r in ya):
        err("yahoo polled while alphavantage was healthy (%d requests before its 2nd failure)" % sum(r["t"] < t[3] for r in ya))
    first = [r["t"] for r in ya if r["t"] >= t[3]]
    if not first or first[0] - t[3] > 1.0:
        err("yahoo did not take over within 1 s of the 2nd failed poll (%s)" % ("%.2f s" % (first[0] - t[3]) if first else "never"))
    # probes (steps 4, 5) come --failover-probe (2 s) apart
    for a, b in ((3, 4), (4, 5)):
        if not 1.9 <= t[b] - t[a] <= 3.5:
            err("alphavantage: probe %d came %.2f s after step %d, want about 2 s" % (b, t[b] - t[a], a))
    # step 5 answered: alphavantage polls again, yahoo stops (a request in flight may finish)
    late = [r["t"] - t[5] for r in ya if r["t"] > t[5] + 0.5]
    if late: err("yahoo kept polling after alphavantage took back over: %d requests, first %.2f s later" % (len(late), late[0]))
    if not 0.2 <= t[6] - t[5] <= 1.2: err("alphavantage: interval after taking back over %.2f s" % (t[6] - t[5]))
    if not ya: err("yahoo never polled")
    elif len(ya) < 3: err("yahoo: only %d requests while active (~4 s at 300 ms)" % len(ya))

ev = collections.defaultdict(list)
rx = re.compile(r"^(\d+) event (\w+) (\S+) (.*)$")
for l in open(d + "/dump"):
    m = rx.match(l)
    if not m: continue
    f = m.group(4).split()
    kv = dict(p.split("=", 1) for p in f if "=" in p)
    kv["off"] = int(m.group(1))
    kv["words"] = [p for p in f if "=" not in p]
    ev[(m.group(2), m.group(3))].append(kv)
avb = [(e["ts"], e["open"], e["high"], e["low"], e["price"], e["size"]) for e in ev[("bar", "alphavantage:IBM")]]
want = [("2024-11-04T14:30:00.000000000Z", "190.1", "190.5", "190", "190.25", "5100"),  # EST: +5 h
        ("2024-11-04T14:35:00.000000000Z", "190.25", "190.3", "189.75", "189.8", "4200"),
        ("2024-11-04T14:40:00.000000000Z", "189.8", "190", "189.6", "189.9", "3900"),
        ("2024-11-04T14:45:00.000000000Z", "189.9", "190.125", "189.85", "190.0625", "3000")]
if avb != want: err("alphavantage:IBM bars %r, want %r" % (avb, want))
yb = [(e["ts"], e["price"]) for e in ev[("bar", "yahoo:IBM")]]
if yb != [("2024-11-04T14:40:00.000000000Z", "189.95"), ("2024-11-04T14:45:00.000000000Z", "190"),
          ("2024-11-04T14:50:00.000000000Z", "190.125")]:
    err("yahoo:IBM bars %r (each closed bar once, own instrument)" % yb)
for inst in ("alphavantage:IBM", "yahoo:IBM"):
    fo = [e for e in ev[("status", inst)] if "failover" in e["words"]]
    ids = [e.get("id") for e in fo]
    if ids != ["alphavantage->yahoo", "yahoo->alphavantage"]:
        err("%s: failover records %r, want one per switch" % (inst, ids))
    if fo and fo[0].get("vsym") != "IBM": err("%s: failover record without the native symbol" % inst)
yfo = [e for e in ev[("status", "yahoo:IBM")] if "failover" in e["words"]]
ybars = ev[("bar", "yahoo:IBM")]
if yfo and ybars and yfo[0]["off"] > ybars[0]["off"]:
    err("the takeover record comes after yahoo's first bar")
others = {k for k in ev if k[1] not in ("alphavantage:IBM", "yahoo:IBM")}
if others: err("events of other instruments: %r" % sorted(others))

for pat in (r"failover alphavantage,yahoo: alphavantage polls; the next takes over after 2 failed polls",
            r"failover alphavantage,yahoo: alphavantage is unhealthy after 2 failed polls in a row \(last: rate limited: Thank you",
            r"failover alphavantage,yahoo: yahoo takes over from alphavantage \(alphavantage: 2 failed polls in a row",
            r"failover alphavantage,yahoo: alphavantage answers again \(probe\)",
            r"failover alphavantage,yahoo: alphavantage takes back over from yahoo \(alphavantage answers again\)",
            r"alphavantage: status at stop: failover alphavantage,yahoo: polling; ok",
            r"yahoo: status at stop: failover alphavantage,yahoo: standby, alphavantage polls; ok"):
    if not re.search(pat, log): err("no log line matching %r" % pat)
for e in errors:
    print("rest_failover:", e, file=sys.stderr)
sys.exit(1 if errors else 0)
EOF
kill -TERM "$spid" 2>/dev/null
wait "$spid" 2>/dev/null
spid=
echo "rest_failover: ok"
