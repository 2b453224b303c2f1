#!/usr/bin/env bash
# connector_metrics.sh — the connectors' statistics in /metrics and /api/health (docs/api.md,
# "Connector metrics"), checked value by value against what the loopback servers logged.
#
# One `tickpipe run` with four sources:
#   - binance:BTCUSDT,ETHUSDT@agg on tests/tools/ws_fixture_server, 60 synthetic aggTrade frames
#     with consecutive ids: conn 1: 10 frames, a protocol ping, 5 frames, an abrupt drop |
#     conn 2: handshake refused | conn 3: 3 frames lost, 10 sent, a malformed frame, 5 sent,
#     then silence (the watchdog ends it) | conn 4: 5 frames, serverShutdown | conn 5: the rest.
#     Gap backfill against rest_server.py's binance-rest route.
#   - okx:BTC-USDT@trades on a second ws_fixture_server that sends two "ping" text frames (the
#     venue's keep-alive the client must answer with "pong");
#   - yahoo:AAPL,NOPE and alphavantage:MSFT on tests/integration/rest_server.py: AAPL answers
#     200, 429 (Retry-After 1), a stall past the 1 s timeout, 503, then 200; NOPE 404 with
#     chart.error; MSFT 200, a rate-limit Note (200), then 200.
# While it runs, /metrics is sampled every 0.2 s for the WebSocket states. Once both plans are
# done and the counters settle, one /metrics snapshot must give, exactly:
#   WebSocket: 5 attempts, 4 connects, 1 failure; disconnects peer 1, stale 1, planned 1,
#   error 0; subscribe requests = acks = the requests the server received; messages and bytes
#   = the frames, acks and extras it sent (bytes summed from the frames); 1 malformed; id gaps
#   = the ids the server skipped that later ids revealed, per symbol; backfilled gaps and
#   trades to match; 0 held instruments; a skew matching the frames' times; a recent last
#   message; the states backoff, subscribed and stale were each seen;
#   REST: polls, successes, HTTP errors by class, 429s, notes, timeouts and per-instrument
#   errors = the server's request log classified by its plan; the last states (degraded: NOPE
#   failing; ok).
# /api/health carries the same figures under sources[].connector.
set -uo pipefail
: "${TICKPIPE:?TICKPIPE must name the tickpipe binary}"
: "${TP_BUILD:?TP_BUILD must name the build directory}"
SRV=$TP_BUILD/ws_fixture_server
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
[ -x "$SRV" ] || { echo "connector_metrics: FAIL: $SRV is missing" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tp_connector_metrics.XXXXXX")
wpid= rpid= tpid= mpid= opid=
cleanup() {
    for p in $mpid $tpid $wpid $opid $rpid; do { kill -KILL "$p"; wait "$p"; } 2>/dev/null; done
    [ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "connector_metrics: FAIL: $*" >&2; exit 1; }
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
export NO_PROXY='*'
wait_for() { # FILE PATTERN SECONDS
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

"$PY" - "$tmp" <<'EOF'
import json, sys
d = sys.argv[1]
out = open(d + "/frames", "w")
ids = {"BTCUSDT": 5000, "ETHUSDT": 900}
t = 1700000000000
for k in range(60):
    s = "BTCUSDT" if k % 3 else "ETHUSDT"
    ids[s] += 1
    t += 137
    px = ("%.2f" % (37000 + k * 0.5)) if s == "BTCUSDT" else ("%.2f" % (2000 + k * 0.25))
    m = {"e": "aggTrade", "E": t + 1, "s": s, "a": ids[s], "p": px, "q": "%.5f" % (0.001 * (k + 1)),
         "f": ids[s] * 3, "l": ids[s] * 3 + 1, "T": t, "m": k % 2 == 0, "M": True}
    out.write(json.dumps({"stream": s.lower() + "@aggTrade", "data": m}, separators=(",", ":")) + "\n")
open(d + "/acks", "w").write('{"result":null,"id":1}\n')
open(d + "/extra", "w").write('{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":17\n'
                              '{"e":"serverShutdown","E":1700000009999}\n')
def chart(rmt, px, n):
    ts = [1700000040 + 60 * i for i in range(n)]
    q = {"open": [10 + i + 0.125 for i in range(n)], "high": [11 + i + 0.5 for i in range(n)],
         "low": [9 + i + 0.25 for i in range(n)], "close": [10 + i + 0.375 for i in range(n)],
         "volume": [1000 * (i + 1) for i in range(n)]}
    return json.dumps({"chart": {"result": [{"meta": {"symbol": "AAPL", "regularMarketTime": rmt,
        "regularMarketPrice": px, "dataGranularity": "1m"}, "timestamp": ts,
        "indicators": {"quote": [q]}}], "error": None}}, separators=(",", ":"))
y404 = json.dumps({"chart": {"result": None, "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"}}})
def gq(px):
    return json.dumps({"Global Quote": {"01. symbol": "MSFT", "02. open": "299.0000",
        "03. high": "302.2500", "04. low": "298.5000", "05. price": px, "06. volume": "1000",
        "07. latest trading day": "2023-11-14", "08. previous close": "299.5000",
        "09. change": "0.6000", "10. change percent": "0.2003%"}})
note = json.dumps({"Note": "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute."})
# "expect": how the poller must classify the answer (rest_server.py ignores the key).
plan = {
    "yahoo:AAPL": [{"status": 200, "body": chart(1700000170, 12.5, 3), "expect": "ok"},
                   {"status": 429, "headers": {"Retry-After": "1"}, "body": "", "expect": "429"},
                   {"status": 200, "body": chart(1700000170, 12.5, 3), "stall": 2.5, "expect": "timeout"},
                   {"status": 503, "body": "busy", "expect": "5xx"},
                   {"status": 200, "body": chart(1700000230, 12.75, 3), "expect": "ok"}],
    "yahoo:NOPE": [{"status": 404, "body": y404, "expect": "4xx"}],
    "alphavantage:MSFT": [{"status": 200, "body": gq("300.1000"), "expect": "ok"},
                          {"status": 200, "body": note, "expect": "note"},
                          {"status": 200, "body": gq("301.5000"), "expect": "ok"}],
}
json.dump(plan, open(d + "/plan.json", "w"))
# OKX: application pings from the venue ("ping" text frames) that the client must answer.
with open(d + "/okx_frames", "w") as f:
    for k in range(5):
        f.write(json.dumps({"arg": {"channel": "trades", "instId": "BTC-USDT"}, "data": [{"instId": "BTC-USDT",
            "tradeId": str(100 + k), "px": "%d.5" % (37000 + k), "sz": "0.01", "side": "buy",
            "ts": str(1700000000000 + 250 * k)}]}, separators=(",", ":")) + "\n")
open(d + "/okx_acks", "w").write('{"event":"subscribe","arg":{"channel":"trades","instId":"BTC-USDT"}}\n')
open(d + "/okx_extra", "w").write("ping\n")
EOF
[ -s "$tmp/plan.json" ] || fail "cannot write the plans"

"$SRV" --file "$tmp/frames" --log "$tmp/ws.log" --port-file "$tmp/wsport" --ack-file "$tmp/acks" \
    --extra "$tmp/extra" --rate 200 \
    --plan "wait,send:10,ping,send:5,drop;refuse;wait,skip:3,send:10,extra:1,send:5,silent;wait,send:5,extra:2;wait,rest" \
    2>"$tmp/ws.err" &
wpid=$!
"$SRV" --file "$tmp/okx_frames" --log "$tmp/okx.log" --port-file "$tmp/okxport" \
    --ack-file "$tmp/okx_acks" --extra "$tmp/okx_extra" --reply 'ping=pong' --rate 200 \
    --plan "wait,extra:1,send:3,extra:1,send:2" 2>"$tmp/okx.err" &
opid=$!
"$PY" "$HERE/rest_server.py" --plan "$tmp/plan.json" --log "$tmp/req.log" \
    --port-file "$tmp/restport" --binance-frames "$tmp/frames" 2>"$tmp/rest.err" &
rpid=$!
wait_for "$tmp/wsport" . 10 || fail "the WebSocket server did not start"
wait_for "$tmp/restport" . 10 || fail "the REST server did not start"
wait_for "$tmp/okxport" . 10 || fail "the OKX WebSocket server did not start"
rest=http://127.0.0.1:$(cat "$tmp/restport")

ALPHAVANTAGE_API_KEY=demo-key "$TICKPIPE" run --data "$tmp/data" --http 127.0.0.1:0 \
    --status-interval 0 --lake off \
    --source binance:BTCUSDT,ETHUSDT@agg --source yahoo:AAPL,NOPE --source alphavantage:MSFT \
    --source okx:BTC-USDT@trades --endpoint "okx=ws://127.0.0.1:$(cat "$tmp/okxport")/ws/v5/public" \
    --endpoint "binance=ws://127.0.0.1:$(cat "$tmp/wsport")/stream" \
    --endpoint "binance-rest=$rest" --endpoint "yahoo=$rest" --endpoint "alphavantage=$rest" \
    --venue-watchdog 2s --venue-backoff-min 1500ms --venue-backoff-max 1500ms \
    --poll-interval yahoo=3s --poll-interval alphavantage=3s \
    --poll-spacing yahoo=0s --poll-spacing alphavantage=0s \
    --rest-timeout 1s --rest-backoff-min 1s --rest-backoff-max 1s 2>"$tmp/run.log" &
tpid=$!
url=
for ((i = 0; i < 150; i++)); do
    url=$(grep -o 'port [0-9]*' "$tmp/run.log" 2>/dev/null | head -1 | sed 's/port /http:\/\/127.0.0.1:/')
    [ -n "$url" ] && break
    kill -0 "$tpid" 2>/dev/null || break
    sleep 0.1
done
[ -n "$url" ] || { cat "$tmp/run.log" >&2; fail "no HTTP port in the log"; }

# The WebSocket states as /metrics shows them over the run.
(while :; do
    curl -s "$url/metrics" | grep '^tickpipe_ws_state{.*} 1$' >>"$tmp/states"
    sleep 0.2
done) &
mpid=$!

# REST plan done: every route played its last step once.
rest_done() {
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
wait_for "$tmp/ws.log" "all plans done" 60 || { cat "$tmp/run.log" >&2; fail "the WebSocket plan did not finish"; }
wait_for "$tmp/okx.log" "all plans done" 30 || { cat "$tmp/run.log" >&2; fail "the OKX plan did not finish"; }
for ((i = 0; i < 300; i++)); do
    rest_done 2>/dev/null && break
    sleep 0.1
done
rest_done 2>/dev/null || { cat "$tmp/run.log" >&2; fail "the REST plan did not finish within 30 s"; }
sleep 1.5 # the last connection settles: release, backfill
kill "$mpid" 2>/dev/null
wait "$mpid" 2>/dev/null
mpid=

# A snapshot taken while no request is in flight (polls = answers) and none started between
# the copy of the request log and the snapshot (the store is published every 0.5 s; each
# request is polled every 3 s): a few tries, as the pollers keep polling.
ok=
for ((try = 0; try < 40; try++)); do
    cp "$tmp/req.log" "$tmp/req.snap"
    curl -s "$url/metrics" >"$tmp/metrics" || fail "GET /metrics failed"
    curl -s "$url/api/health" >"$tmp/health.json" || fail "GET /api/health failed"
    if cmp -s "$tmp/req.log" "$tmp/req.snap" && "$PY" - "$tmp" quiet <<'EOF'; then ok=1; break; fi
import json, re, sys
d = sys.argv[1]
m = {}
for l in open(d + "/metrics"):
    x = re.match(r'^(tickpipe_rest_\w+)\{source="([^"]*)",venue="[^"]*"(?:,\w+="([^"]*)")?\} (\S+)$', l)
    if x:
        m[(x.group(1), x.group(2), x.group(3))] = float(x.group(4))
reqs = [json.loads(l) for l in open(d + "/req.snap")]
for src, pre in (("yahoo:AAPL,NOPE", "yahoo:"), ("alphavantage:MSFT", "alphavantage:")):
    n = sum(1 for r in reqs if r["route"] and r["route"].startswith(pre))
    polls = m.get(("tickpipe_rest_polls_total", src, None))
    done = sum(m.get(k, 0) for k in m if k[1] == src and k[0] in (
        "tickpipe_rest_successes_total", "tickpipe_rest_http_errors_total",
        "tickpipe_rest_rate_limited_total", "tickpipe_rest_timeouts_total",
        "tickpipe_rest_transport_errors_total", "tickpipe_rest_venue_errors_total",
        "tickpipe_rest_malformed_total"))
    if polls != n or done != n:
        sys.exit(1)
EOF
    sleep 0.3
done
[ -n "$ok" ] || { tail -40 "$tmp/metrics" >&2; fail "no quiet moment: the REST counters never matched the request log"; }

"$PY" - "$tmp" <<'EOF' || fail "the counters do not match"
import collections, json, re, sys, time
d = sys.argv[1]
errors = []
def err(s):
    errors.append(s)
m = {}
for l in open(d + "/metrics"):
    if l.startswith("#"):
        continue
    x = re.match(r'^(tickpipe_(?:ws|rest)_\w+)\{source="([^"]*)",venue="([^"]*)"(?:,(\w+)="([^"]*)")?\} (\S+)$', l)
    if x:
        m[(x.group(1), x.group(2), x.group(5))] = float(x.group(6))
def eq(name, src, want, label=None):
    got = m.get((name, src, label))
    if got != want:
        err("%s{%s%s} = %s, want %s" % (name, src, "," + label if label else "", got, want))

# ---- WebSocket: from the fixture server's log.
W = "binance:BTCUSDT,ETHUSDT@agg"
frames = [l.rstrip("\n") for l in open(d + "/frames")]
acks = [l.rstrip("\n") for l in open(d + "/acks")]
extra = [l.rstrip("\n") for l in open(d + "/extra")]
sent, skipped, recv, extras, conns = [], [], 0, [], set()
refused = 0
for l in open(d + "/ws.log"):
    w = l.split()
    if len(w) < 3 or w[0] != "conn":
        continue
    if w[2] == "sent":
        sent.append(int(w[3]))
    elif w[2] == "skip":
        a, b = w[3].split("..")
        skipped += range(int(a), int(b) + 1)
    elif w[2] == "recv":
        recv += 1
    elif w[2] == "extra":
        extras.append(int(w[3]))
    elif w[2] == "open":
        conns.add(w[1])
    elif w[2] == "refused":
        refused += 1
if len(conns) != 4 or refused != 1 or len(skipped) != 3 or recv != 4:
    err("the server log is not the plan: %d opened, %d refused, %d skipped, %d requests" % (len(conns), refused, len(skipped), recv))
eq("tickpipe_ws_connect_attempts_total", W, 5)
eq("tickpipe_ws_connects_total", W, len(conns))
eq("tickpipe_ws_connect_failures_total", W, refused)
for r, n in (("peer", 1), ("stale", 1), ("planned", 1), ("error", 0), ("stop", 0)):
    eq("tickpipe_ws_disconnects_total", W, n, r)
eq("tickpipe_ws_subscribe_requests_total", W, recv)
eq("tickpipe_ws_subscribe_acks_total", W, recv)
nmsg = len(sent) + recv + len(extras)
nbytes = sum(len(frames[k - 1]) for k in sent) + recv * len(acks[0]) + sum(len(extra[k - 1]) for k in extras)
eq("tickpipe_ws_messages_total", W, nmsg)
eq("tickpipe_ws_received_bytes_total", W, nbytes)
eq("tickpipe_ws_malformed_messages_total", W, 1)
eq("tickpipe_ws_venue_errors_total", W, 0)
eq("tickpipe_ws_instruments", W, 2)
eq("tickpipe_ws_held_instruments", W, 0)
# id gaps: per symbol, each run of skipped ids that a later received id revealed.
data = [json.loads(f)["data"] for f in frames]
last = {}
for k in sent:
    last[data[k - 1]["s"]] = max(last.get(data[k - 1]["s"], 0), data[k - 1]["a"])
lost = sorted((data[k - 1]["s"], data[k - 1]["a"]) for k in skipped if data[k - 1]["a"] < last.get(data[k - 1]["s"], 0))
gaps = sum(1 for i, (s, a) in enumerate(lost) if i == 0 or lost[i - 1] != (s, a - 1))
eq("tickpipe_ws_gaps_total", W, gaps, "id")
eq("tickpipe_ws_gaps_total", W, 0, "outage")
eq("tickpipe_ws_backfilled_gaps_total", W, gaps)
eq("tickpipe_ws_backfill_failed_total", W, 0)
eq("tickpipe_ws_backfilled_trades_total", W, len(lost))
if not gaps:
    err("the skipped frames revealed no gap")
pings, pongs = m.get(("tickpipe_ws_pings_sent_total", W, None)), m.get(("tickpipe_ws_pongs_received_total", W, None))
if pings is None or pongs is None or pings < 1 or pongs > pings:
    err("pings sent %s, pongs %s: want at least one probe (the silent connection) and no more pongs than pings" % (pings, pongs))
age = m.get(("tickpipe_ws_last_message_age_seconds", W, None))
if age is None or not 0 <= age < 2.5:
    err("last message age %s (the connection is open and probed)" % age)
now = time.time()
ts = [x["T"] / 1e3 for x in data]
skew = m.get(("tickpipe_ws_clock_skew_seconds", W, None))
if skew is None or not (now - max(ts) - 300 < skew < now - min(ts) + 60):
    err("clock skew %s, want about %.0f s (the frames' times)" % (skew, now - max(ts)))
state = [s for s in ("subscribed", "stale") if m.get(("tickpipe_ws_state", W, s)) == 1]
if len(state) != 1:
    err("the open connection is neither subscribed nor stale")
seen = set(re.findall(r'state="(\w+)"', open(d + "/states").read()))
for s in ("backoff", "subscribed", "stale"):
    if s not in seen:
        err("state %s never seen (seen: %s)" % (s, sorted(seen)))

# ---- OKX: the venue's two "ping" frames answered (the server logs each "pong" it got).
O = "okx:BTC-USDT@trades"
answered = sum(1 for l in open(d + "/okx.log") if l.split()[2:4] == ["recv", "pong"])
if answered != 2:
    err("the OKX server received %d pong answers, want 2" % answered)
eq("tickpipe_ws_venue_pings_answered_total", O, answered)
eq("tickpipe_ws_subscribe_requests_total", O, 1)
# The server answers every text frame but the client's own "ping" probes with its ack line,
# the client's "pong" answers included: that many acknowledgements.
acked = sum(1 for l in open(d + "/okx.log") if l.split()[2:3] == ["recv"] and l.split()[3:4] != ["ping"])
eq("tickpipe_ws_subscribe_acks_total", O, acked)
eq("tickpipe_ws_connects_total", O, 1)
eq("tickpipe_ws_state", O, 1, "subscribed")
eq("tickpipe_ws_gaps_total", O, 0, "outage")

# ---- REST: the request log classified by the plan.
plan = json.load(open(d + "/plan.json"))
reqs = [json.loads(l) for l in open(d + "/req.snap")]
for src, routes, final in (("yahoo:AAPL,NOPE", ["yahoo:AAPL", "yahoo:NOPE"], "degraded"),
                           ("alphavantage:MSFT", ["alphavantage:MSFT"], "ok")):
    c = collections.Counter()
    per = collections.Counter()
    for r in reqs:
        if r["route"] not in routes:
            continue
        steps = plan[r["route"]]
        e = steps[min(r["step"], len(steps) - 1)]["expect"]
        c[e] += 1
        if e in ("timeout", "5xx", "4xx"):
            per[r["route"]] += 1
    n = sum(c.values())
    eq("tickpipe_rest_polls_total", src, n)
    eq("tickpipe_rest_successes_total", src, c["ok"])
    eq("tickpipe_rest_http_errors_total", src, c["4xx"], "4xx")
    eq("tickpipe_rest_http_errors_total", src, c["5xx"], "5xx")
    eq("tickpipe_rest_http_errors_total", src, 0, "other")
    eq("tickpipe_rest_rate_limited_total", src, c["429"], "http_429")
    eq("tickpipe_rest_rate_limited_total", src, c["note"], "note")
    eq("tickpipe_rest_timeouts_total", src, c["timeout"])
    eq("tickpipe_rest_transport_errors_total", src, 0)
    for r in routes:
        eq("tickpipe_rest_instrument_errors_total", src, per[r], r)
    eq("tickpipe_rest_state", src, 1, final)
    age = m.get(("tickpipe_rest_last_success_age_seconds", src, None))
    if age is None or not 0 <= age < 4.5:
        err("%s: last success age %s" % (src, age))
    if src.startswith("yahoo") and not (c["ok"] >= 2 and c["429"] >= 1 and c["timeout"] >= 1 and c["5xx"] >= 1 and c["4xx"] >= 1):
        err("%s: the plan did not play every answer: %s" % (src, dict(c)))
eq("tickpipe_rest_failing_instruments", "yahoo:AAPL,NOPE", 1)
eq("tickpipe_rest_instrument_failing", "yahoo:AAPL,NOPE", 1, "yahoo:NOPE")
eq("tickpipe_rest_instrument_failing", "yahoo:AAPL,NOPE", 0, "yahoo:AAPL")

# ---- /api/health: the same figures.
h = json.load(open(d + "/health.json"))
src = {s["name"]: s for s in h["sources"]}
cw = (src.get(W) or {}).get("connector") or {}
if cw.get("kind") != "websocket" or cw.get("venue") != "binance" or cw.get("connects") != len(conns) \
        or cw.get("disconnects") != {"peer": 1, "stale": 1, "planned": 1, "error": 0, "stop": 0} \
        or cw.get("messages") != nmsg or cw.get("bytes") != nbytes or cw.get("backfilled_trades") != len(lost):
    err("/api/health binance connector: %s" % cw)
cy = (src.get("yahoo:AAPL,NOPE") or {}).get("connector") or {}
fails = {i["instrument"]: i["failing"] for i in cy.get("instruments", [])}
if cy.get("kind") != "rest" or cy.get("state") != "degraded" or fails != {"yahoo:AAPL": False, "yahoo:NOPE": True}:
    err("/api/health yahoo connector: %s" % cy)
for e in errors:
    print("connector_metrics:", e, file=sys.stderr)
if errors:
    sys.exit(1)
print("connector_metrics: websocket %d messages, %d bytes, %d id gap(s) backfilled; rest %d + %d polls; OKX pings answered %d; states seen %s" % (
    nmsg, nbytes, gaps, m[("tickpipe_rest_polls_total", "yahoo:AAPL,NOPE", None)],
    m[("tickpipe_rest_polls_total", "alphavantage:MSFT", None)], answered, sorted(seen)))
EOF
rc=$?
kill -INT "$tpid"
wait "$tpid" || { tail -20 "$tmp/run.log" >&2; fail "tickpipe run did not stop cleanly"; }
tpid=
[ "$rc" = 0 ] || { cp "$tmp/metrics" "$TP_BUILD/connector_metrics.last" 2>/dev/null; exit 1; }
echo "connector_metrics: ok"
