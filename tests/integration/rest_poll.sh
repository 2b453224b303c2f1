#!/usr/bin/env bash
# rest_poll.sh — the REST pollers end to end, on loopback only: tests/integration/
# rest_server.py plays scripted responses to `tickpipe run --source coingecko:... --source
# alphavantage:... --source yahoo:... --source fmp:... --endpoint VENUE=http://127.0.0.1:PORT`
# and logs every request. The check reads the server's request log and `tickpipe journal dump`:
#   - coingecko: the events have the exact prices and venue times of the bodies; an unchanged
#     body emits nothing; HTTP 429 with Retry-After: 2 (seconds) and with an HTTP date are
#     honoured (no request before the time given); the demo-key header is sent;
#   - alphavantage: Note and Information bodies (HTTP 200) are rate limits: the next request
#     waits the backoff (≥ 1 s after the first, ≥ 2 s after the second, against a 0.5 s
#     interval), the limit is logged once; a symbol with an Error Message is logged by name and
#     keeps being polled while the other symbol keeps its data; the apikey is sent;
#   - alphavantage intraday (`alphavantage:IBM@5min`): TIME_SERIES_INTRADAY bars in US/Eastern
#     reach the journal once each, at their start in UTC (EDT and EST days), exact values, in
#     time order, the newest bar of each body held back until a later one exists;
#   - yahoo: a stalled response times out (1 s) and is retried after the backoff; each closed
#     bar reaches the journal exactly once with its exact values, across repeated charts; a 404
#     with chart.error is logged naming the symbol, the other symbol unaffected;
#   - fmp: quotes of the pairs asked for only, exact values, quote-only, unchanged ones not
#     repeated;
#   - a restart on the same data emits nothing new for bodies already journaled.
set -uo pipefail
: "${TICKPIPE:?TICKPIPE must name the tickpipe binary}"
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tp_rest_poll.XXXXXX")
spid= tpid=
cleanup() {
    [ -n "$tpid" ] && kill -KILL "$tpid" 2>/dev/null
    [ -n "$spid" ] && { kill -KILL "$spid"; wait "$spid"; } 2>/dev/null
    [ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "rest_poll: FAIL: $*" >&2; exit 1; }
# Loopback only, whatever proxy the environment names.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
export NO_PROXY='*'

"$PY" - "$tmp/plan.json" <<'EOF'
import json, sys
def cg(btc, bt, eth, et):
    return json.dumps({"bitcoin": {"usd": btc, "usd_24h_vol": 1.5e10, "last_updated_at": bt},
                       "ethereum": {"usd": eth, "last_updated_at": et}}, separators=(",", ":"))
A = cg(100.5, 1700000000, 20.25, 1700000001)
B = cg(101, 1700000060, 20.25, 1700000001)
def gq(px):
    return json.dumps({"Global Quote": {"01. symbol": "MSFT", "02. open": "299.0000",
        "03. high": "302.2500", "04. low": "298.5000", "05. price": px, "06. volume": "1000",
        "07. latest trading day": "2023-11-14", "08. previous close": "299.5000",
        "09. change": "0.6000", "10. change percent": "0.2003%"}}, indent=4)
note = json.dumps({"Note": "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute and 500 calls per day."}, indent=4)
info = json.dumps({"Information": "Thank you for using Alpha Vantage! Our standard API rate limit is 25 requests per day."}, indent=4)
err = json.dumps({"Error Message": "Invalid API call. Please retry or visit the documentation (https://www.alphavantage.co/documentation/) for GLOBAL_QUOTE."}, indent=4)
def chart(rmt, px, n):
    ts = [1700000040 + 60 * i for i in range(n)]
    q = {"open": [10 + i + 0.125 for i in range(n)], "high": [11 + i + 0.5 for i in range(n)],
         "low": [9 + i + 0.25 for i in range(n)], "close": [10 + i + 0.375 for i in range(n)],
         "volume": [1000 * (i + 1) for i in range(n)]}
    return json.dumps({"chart": {"result": [{"meta": {"symbol": "AAPL", "regularMarketTime": rmt,
        "regularMarketPrice": px, "dataGranularity": "1m"}, "timestamp": ts,
        "indicators": {"quote": [q]}}], "error": None}}, separators=(",", ":"))
C1 = chart(1700000170, 12.5, 3)  # bars 0, 1 closed (start + 60 <= 170), bar 2 open
C2 = chart(1700000230, 12.75, 3)  # bar 2 closed now
y404 = json.dumps({"chart": {"result": None, "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"}}})
def fx(eur_bid, date):
    rows = [("EUR/USD", eur_bid, "1.0860", "1.0800", "1.0790", "1.0870", 0.0012, date),
            ("GBP/USD", "1.2650", "1.2652", "1.2600", "1.2590", "1.2670", 0.001, date),
            ("USD/JPY", "151.330", "151.345", "150.152", "150.034", "151.947", 0.0078, "2023-11-14 10:00:00")]
    return json.dumps([{"ticker": t, "bid": b, "ask": a, "open": o, "low": l, "high": h, "changes": c, "date": d}
                       for t, b, a, o, l, h, c, d in rows], indent=2)
def intraday(bars, last):
    return json.dumps({"Meta Data": {"1. Information": "Intraday (5min) open, high, low, close prices and volume",
        "2. Symbol": "IBM", "3. Last Refreshed": last, "4. Interval": "5min", "5. Output Size": "Compact",
        "6. Time Zone": "US/Eastern"},
        "Time Series (5min)": {t: {"1. open": o, "2. high": h, "3. low": l, "4. close": c, "5. volume": v}
                               for t, o, h, l, c, v in sorted(bars, reverse=True)}}, indent=4)
IB = [("2024-11-01 19:45:00", "188.3500", "188.4000", "188.3000", "188.3600", "120"),
      ("2024-11-01 19:50:00", "188.3600", "188.5000", "188.3600", "188.4900", "95"),
      ("2024-11-01 19:55:00", "188.4900", "188.5100", "188.4000", "188.4100", "60")]
IB2 = IB + [("2024-11-04 04:00:00", "189.0000", "189.2500", "188.9000", "189.1250", "300")]  # EST now
I1 = intraday(IB, "2024-11-01 19:55:00")
I2 = intraday(IB2, "2024-11-04 04:00:00")
F1 = fx("1.0855", "2023-11-14 10:00:00")
F2 = fx("1.0857", "2023-11-14 10:00:05")
ok = lambda b: {"status": 200, "body": b}
plan = {
    "coingecko": [ok(A), {"status": 429, "headers": {"Retry-After": "2"}, "body": '{"status":{"error_code":429,"error_message":"rate"}}'},
                  ok(A), {"status": 429, "retry_after_date": 2, "body": ""}, ok(B)],
    "alphavantage:MSFT": [ok(gq("300.1000")), ok(note), ok(info), ok(gq("300.1000")), ok(gq("301.5000"))],
    "alphavantage:NOPE": [ok(err)],
    "alphavantage:IBM": [ok(I1), ok(I1), ok(I2)],
    "yahoo:AAPL": [dict(ok(C1), stall=3.0), ok(C1), ok(C1), ok(C2)],
    "yahoo:NOPE": [{"status": 404, "body": y404}],
    "fmp": [ok(F1), ok(F1), ok(F2)],
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

run_tp() { # run_tp LOG — tickpipe with every REST source against the server
    ALPHAVANTAGE_API_KEY=demo-key FMP_API_KEY=fmp-key COINGECKO_API_KEY=cg-key \
        "$TICKPIPE" run --http off --data "$tmp/data" --status-interval 0 \
        --source coingecko:bitcoin,ethereum --source alphavantage:MSFT,NOPE \
        --source alphavantage:IBM@5min \
        --source yahoo:AAPL,NOPE --source fmp:EUR-USD,USD-JPY \
        --endpoint coingecko=$url --endpoint alphavantage=$url --endpoint yahoo=$url \
        --endpoint fmp=$url/ \
        --poll-interval coingecko=1s --poll-interval alphavantage=500ms \
        --poll-interval yahoo=1s --poll-interval fmp=1s \
        --poll-spacing coingecko=0s --poll-spacing alphavantage=0s --poll-spacing yahoo=0s \
        --rest-timeout 1s --rest-backoff-min 2s --rest-backoff-max 4s 2>"$1" &
    tpid=$!
}

# Waits until every route of the plan has played its last step once (or 60 s).
done_yet() {
    "$PY" - "$tmp/req.log" "$tmp/plan.json" <<'EOF'
import json, sys
plan = json.load(open(sys.argv[2]))
seen = {}
for l in open(sys.argv[1]):
    r = json.loads(l)
    seen[r["route"]] = max(seen.get(r["route"], -1), r["step"])
sys.exit(0 if all(seen.get(k, -1) >= len(v) for k, v in plan.items()) else 1)
EOF
}

run_tp "$tmp/run.log"
for ((i = 0; i < 600; i++)); do
    done_yet 2>/dev/null && break
    kill -0 "$tpid" 2>/dev/null || { cat "$tmp/run.log" >&2; fail "tickpipe run exited early"; }
    sleep 0.1
done
done_yet 2>/dev/null || { cat "$tmp/run.log" >&2; fail "the plan did not finish within 60 s"; }
kill -INT "$tpid"
wait "$tpid"
rc=$?
tpid=
[ "$rc" = 0 ] || { cat "$tmp/run.log" >&2; fail "tickpipe run exited $rc"; }
"$TICKPIPE" journal dump "$tmp/data/journal/input" >"$tmp/dump1" || fail "journal dump failed"

# A restart on the same data: the server repeats its last bodies, all already journaled.
cp "$tmp/req.log" "$tmp/req1.log"
run_tp "$tmp/run2.log"
sleep 3
kill -INT "$tpid"
wait "$tpid"
rc=$?
tpid=
[ "$rc" = 0 ] || { cat "$tmp/run2.log" >&2; fail "the restarted run exited $rc"; }
"$TICKPIPE" journal dump "$tmp/data/journal/input" >"$tmp/dump2" || fail "journal dump failed"

"$PY" - "$tmp" <<'EOF' || { [ -n "${VERBOSE:-}" ] && cat "$tmp/run.log" >&2; fail "check failed"; }
import collections, json, re, sys
d = sys.argv[1]
errors = []
def err(m):
    errors.append(m)

reqs = [json.loads(l) for l in open(d + "/req1.log")]
by = collections.defaultdict(list)
for r in reqs:
    by[r["route"]].append(r)
def times(route):
    return [r["t"] for r in by[route]]

def events(path):
    out = collections.defaultdict(list)
    rx = re.compile(r"^(\d+) event (\w+) (\S+) (.*)$")
    for l in open(path):
        m = rx.match(l)
        if not m:
            continue
        f = m.group(4).split()
        kv = dict(p.split("=", 1) for p in f if "=" in p)
        kv["flags"] = [p for p in f if "=" not in p]
        out[(m.group(2), m.group(3))].append(kv)
    return out
ev = events(d + "/dump1")
log = open(d + "/run.log").read()

# ---- coingecko
t = times("coingecko")
if len(t) < 6:
    err("coingecko: %d requests" % len(t))
else:
    if not 0.85 <= t[1] - t[0] <= 1.8: err("coingecko: interval %.2f s, not 1 s" % (t[1] - t[0]))
    if not 1.95 <= t[2] - t[1] <= 3.5: err("coingecko: Retry-After 2 s not honoured: next request after %.2f s" % (t[2] - t[1]))
    if not 1.0 <= t[4] - t[3] <= 4.0: err("coingecko: Retry-After date not honoured: next request after %.2f s" % (t[4] - t[3]))
if any(r["key"] != "cg-key" for r in by["coingecko"]): err("coingecko: the demo key header was not sent")
q = by["coingecko"][0]["query"] if by["coingecko"] else {}
if q != {"ids": "bitcoin,ethereum", "vs_currencies": "usd", "include_last_updated_at": "true"}:
    err("coingecko: query %r" % q)
btc = [(e["price"], e["ts"]) for e in ev[("snapshot", "coingecko:BTC-USD")]]
if btc != [("100.5", "2023-11-14T22:13:20.000000000Z"), ("101", "2023-11-14T22:14:20.000000000Z")]:
    err("coingecko: BTC snapshots %r" % btc)
eth = [(e["price"], e["ts"]) for e in ev[("snapshot", "coingecko:ETH-USD")]]
if eth != [("20.25", "2023-11-14T22:13:21.000000000Z")]:
    err("coingecko: ETH snapshots %r (an unchanged value was re-emitted?)" % eth)
if log.count("coingecko: rate limited") != 2:
    err("coingecko: %d rate-limit log lines, want 2 (one per limit, each cleared by a success)" % log.count("coingecko: rate limited"))

# ---- alphavantage
# the GLOBAL_QUOTE source (alphavantage:MSFT,NOPE); the intraday source has its own schedule
av = sorted([r for k, v in by.items() if k and k.startswith("alphavantage:") and k != "alphavantage:IBM" for r in v], key=lambda r: r["t"])
msft = by["alphavantage:MSFT"]
if len(msft) < 5:
    err("alphavantage: %d MSFT requests" % len(msft))
else:
    for step, least in ((1, 0.95), (2, 1.95)):
        tn = msft[step]["t"]
        nxt = [r["t"] for r in av if r["t"] > tn + 0.05]  # not those started with it
        if not nxt or nxt[0] - tn < least:
            err("alphavantage: after the rate-limit note (step %d) the next request came after %s s, want >= %.2f" % (step, "%.2f" % (nxt[0] - tn) if nxt else "never", least))
    gaps = [msft[i + 1]["t"] - msft[i]["t"] for i in (3,)]
    if not 0.4 <= gaps[0] <= 1.5: err("alphavantage: interval %.2f s after success, want 0.5 s" % gaps[0])
if any(r["query"].get("apikey") != "demo-key" for r in av): err("alphavantage: apikey not sent")
if any(r["query"].get("function") != "GLOBAL_QUOTE" for r in av):
    err("alphavantage: wrong function")
q = by["alphavantage:IBM"][0]["query"] if by["alphavantage:IBM"] else {}
if q != {"function": "TIME_SERIES_INTRADAY", "symbol": "IBM", "adjusted": "false", "interval": "5min",
         "outputsize": "compact", "apikey": "demo-key"}:
    err("alphavantage intraday: query %r" % q)
ib = [(e["ts"], e["open"], e["high"], e["low"], e["price"], e["size"], "venue_ts" in e["flags"]) for e in ev[("bar", "alphavantage:IBM")]]
want = [("2024-11-01T23:45:00.000000000Z", "188.35", "188.4", "188.3", "188.36", "120", True),  # EDT: +4 h
        ("2024-11-01T23:50:00.000000000Z", "188.36", "188.5", "188.36", "188.49", "95", True),
        ("2024-11-01T23:55:00.000000000Z", "188.49", "188.51", "188.4", "188.41", "60", True)]
if ib != want: err("alphavantage intraday: bars %r, want %r (the 04:00 EST bar held back)" % (ib, want))
if log.count("alphavantage: rate limited") != 1:
    err("alphavantage: %d rate-limit log lines for two notes in a row, want 1" % log.count("alphavantage: rate limited"))
if "Thank you for using Alpha Vantage" not in log: err("alphavantage: the note's text is not logged")
if len(by["alphavantage:NOPE"]) < 2: err("alphavantage: NOPE not polled again after its error")
if not re.search(r"alphavantage: NOPE: Invalid API call", log): err("alphavantage: the error does not name NOPE")
if log.count("alphavantage: NOPE: Invalid API call") != 1: err("alphavantage: the same error logged %d times" % log.count("alphavantage: NOPE: Invalid API call"))
ms = [(e["price"], e.get("open"), e.get("high"), e.get("low"), e.get("change")) for e in ev[("snapshot", "alphavantage:MSFT")]]
if ms != [("300.1", "299", "302.25", "298.5", "0.6"), ("301.5", "299", "302.25", "298.5", "0.6")]:
    err("alphavantage: MSFT snapshots %r" % ms)
if ev[("snapshot", "alphavantage:NOPE")]: err("alphavantage: events for NOPE")

# ---- yahoo
t = times("yahoo:AAPL")
if len(t) < 4:
    err("yahoo: %d AAPL requests" % len(t))
else:
    # stalled 3 s: the client gives up at 1 s and retries after the backoff (>= 1 s)
    if not 1.9 <= t[1] - t[0] <= 4.5: err("yahoo: retry after the timeout came %.2f s later" % (t[1] - t[0]))
if "no complete response within 1.0 s (timeout)" not in log: err("yahoo: the timeout is not logged")
bars = [(e["ts"], e["open"], e["high"], e["low"], e["price"], e["size"]) for e in ev[("bar", "yahoo:AAPL")]]
want = [("2023-11-14T22:14:00.000000000Z", "10.125", "11.5", "9.25", "10.375", "1000"),
        ("2023-11-14T22:15:00.000000000Z", "11.125", "12.5", "10.25", "11.375", "2000"),
        ("2023-11-14T22:16:00.000000000Z", "12.125", "13.5", "11.25", "12.375", "3000")]
if bars != want: err("yahoo: bars %r, want each closed bar once %r" % (bars, want))
snaps = [(e["ts"], e["price"]) for e in ev[("snapshot", "yahoo:AAPL")]]
if snaps != [("2023-11-14T22:16:10.000000000Z", "12.5"), ("2023-11-14T22:17:10.000000000Z", "12.75")]:
    err("yahoo: snapshots %r" % snaps)
if "yahoo: NOPE: HTTP 404: Not Found: No data found, symbol may be delisted" not in log:
    err("yahoo: the 404 is not logged naming NOPE")
if len(by["yahoo:NOPE"]) < 1: err("yahoo: NOPE never polled")
q = by["yahoo:AAPL"][0]["query"] if by["yahoo:AAPL"] else {}
if q != {"interval": "1m", "range": "1d"}: err("yahoo: query %r" % q)

# ---- fmp
eur = [(e["bid"], e["ask"], e["open"], e["low"], e["high"], e["change"], e["ts"], "quote_only" in e["flags"]) for e in ev[("quote", "fmp:EUR-USD")]]
if eur != [("1.0855", "1.086", "1.08", "1.079", "1.087", "0.0012", "2023-11-14T10:00:00.000000000Z", True),
           ("1.0857", "1.086", "1.08", "1.079", "1.087", "0.0012", "2023-11-14T10:00:05.000000000Z", True)]:
    err("fmp: EUR-USD quotes %r" % eur)
jpy = ev[("quote", "fmp:USD-JPY")]
if len(jpy) != 1 or jpy[0]["bid"] != "151.33" or jpy[0]["ask"] != "151.345":
    err("fmp: USD-JPY quotes %r (unchanged quotes repeated?)" % jpy)
if ev[("quote", "fmp:GBP-USD")]: err("fmp: a pair that was not asked for reached the journal")
if any(r["query"].get("apikey") != "fmp-key" for r in by["fmp"]): err("fmp: apikey not sent")

# ---- the summary line counts what happened
for pat in (r"coingecko: \d+ requests, .* 2 HTTP 429", r"alphavantage: \d+ requests, .* 2 rate-limit notes",
            r"yahoo: \d+ requests, .* 1 timeouts"):
    if not re.search(pat, log): err("no summary line matching %r" % pat)

# ---- the source status names the failing symbols, and only them
if not re.search(r"yahoo: status at stop: yahoo:NOPE: HTTP 404: Not Found", log): err("yahoo: the status does not show NOPE's error")
if not re.search(r"alphavantage: status at stop: alphavantage:NOPE: Invalid API call", log): err("alphavantage: the status does not show NOPE's error")
if "coingecko: status at stop: ok" not in log or "fmp: status at stop: ok" not in log: err("coingecko/fmp: status not ok at stop")

# ---- restart: nothing new
ev2 = events(d + "/dump2")
for k in set(ev) | set(ev2):
    if k[0] in ("snapshot", "quote", "bar") and len(ev2[k]) != len(ev[k]):
        err("restart: %s %s went from %d to %d events" % (k[0], k[1], len(ev[k]), len(ev2[k])))
reqs2 = [json.loads(l) for l in open(d + "/req.log")]
if len(reqs2) <= len(reqs): err("restart: no request after the restart")

for e in errors:
    print("rest_poll:", e, file=sys.stderr)
sys.exit(1 if errors else 0)
EOF
kill -TERM "$spid" 2>/dev/null
wait "$spid" 2>/dev/null
spid=
echo "rest_poll: ok"
