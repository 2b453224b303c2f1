#!/usr/bin/env bash
# rest_backfill_venues.sh — REST backfill of Coinbase trade-id gaps and of OKX and Bybit
# outages, end to end on loopback. tests/tools/ws_fixture_server plays a session written here
# (two instruments, one trade per frame, strictly increasing times) to `tickpipe run --source
# VENUE:...@trades`, skips frames inside a connection and/or drops the connection and skips
# frames before the next one (trades the venue never delivered); tests/integration/
# rest_server.py answers the venue's REST trades endpoint from the same session, in short
# pages (--page-max 2) so that paging is exercised. The check reads the journals and logs:
#   - every trade of the complete session is in the journal exactly once with its exact
#     price, size, taker side and id (the skipped ones fetched by REST);
#   - each gap (Coinbase: ids, from the parser; OKX, Bybit: the outage's times) is recorded,
#     then recorded again with the same range flagged backfilled; its instrument is held from
#     before the fetched trades until after that mark (hold ... release);
#   - the REST requests: Coinbase pages walk back from the last missing id + 1 by the smallest
#     id seen; OKX pages start below the first trade after the outage and walk back the same
#     way; requests of a source are at least 100 ms apart; Bybit asks once for the recent list;
#   - the engine reports each gap once missing (one gap anomaly) and once backfilled, writes no
#     late record, and every final 1s bar equals the bar of the complete session (count,
#     volume, open, high, low, close);
#   - failures: a REST 404 (Coinbase) and a Bybit recent list too short to reach the outage's
#     start leave the gap recorded and not backfilled (logged as such), the instrument is
#     released and the feed keeps running: every trade sent is journaled once.
set -uo pipefail
: "${TICKPIPE:?TICKPIPE must name the tickpipe binary}"
: "${TP_BUILD:?TP_BUILD must name the build directory}"
SRV=$TP_BUILD/ws_fixture_server
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
[ -x "$SRV" ] || { echo "rest_backfill_venues: FAIL: $SRV is missing" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tp_rest_backfill_v.XXXXXX")
wpid= rpid= tpid=
cleanup() {
    for p in $tpid $wpid $rpid; do { kill -KILL "$p"; wait "$p"; } 2>/dev/null; done
    [ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "rest_backfill_venues: FAIL: $*" >&2; exit 1; }
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

# The session: 40 trades, two instruments interleaved; frames per venue, and the trades as
# JSON lines (sym, id, T ms, price, size, taker side) for the check.
"$PY" - "$tmp" <<'EOF'
import datetime, json, sys
d = sys.argv[1]
venues = {"coinbase": ("BTC-USD", "ETH-USD"), "okx": ("BTC-USDT", "ETH-USDT"),
          "bybit": ("BTCUSDT", "ETHUSDT")}
for v, (a, b) in venues.items():
    ids = {a: 880000, b: 330000}
    fr, tr = open("%s/%s.frames" % (d, v), "w"), open("%s/%s.trades" % (d, v), "w")
    t = 1700000000000
    for k in range(40):
        s = a if k % 3 else b
        ids[s] += 1 if v != "okx" else 1 + k % 2  # OKX ids are not consecutive
        t += 137
        px = ("%.2f" % (37000 + k * 0.5)) if s == a else ("%.2f" % (2000 + k * 0.25))
        sz = "%.5f" % (0.001 * (k + 1))
        side = "buy" if k % 2 == 0 else "sell"
        iso = datetime.datetime.fromtimestamp(t / 1000, datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%S.%fZ")
        if v == "coinbase":
            m = {"channel": "market_trades", "client_id": "", "timestamp": iso, "sequence_num": k + 10,
                 "events": [{"type": "update", "trades": [{"trade_id": str(ids[s]), "product_id": s,
                            "price": px, "size": sz, "side": "SELL" if side == "buy" else "BUY",
                            "time": iso}]}]}
        elif v == "okx":
            m = {"arg": {"channel": "trades", "instId": s}, "data": [{"instId": s, "tradeId": str(ids[s]),
                 "px": px, "sz": sz, "side": side, "ts": str(t), "count": "1"}]}
        else:
            m = {"topic": "publicTrade." + s, "ts": t + 1, "type": "snapshot",
                 "data": [{"T": t, "s": s, "S": side.capitalize(), "v": sz, "p": px,
                           "i": str(ids[s] * 1000 + 7), "BT": False, "RPI": False}]}
        fr.write(json.dumps(m, separators=(",", ":")) + "\n")
        idv = ids[s] * 1000 + 7 if v == "bybit" else ids[s]
        tr.write(json.dumps({"s": s, "id": idv, "T": t, "p": px, "q": sz, "side": side}) + "\n")
EOF
FX=${TP_SHARED:-$HERE/../../../shared}/fixtures
echo '{"channel":"subscriptions","client_id":"","timestamp":"2023-11-14T22:13:20Z","sequence_num":1,"events":[{"subscriptions":{"market_trades":["BTC-USD","ETH-USD"]}}]}' >"$tmp/coinbase.acks"
echo '{"event":"subscribe","arg":{"channel":"trades","instId":"BTC-USDT"},"connId":"a4d3ae55"}' >"$tmp/okx.acks"
echo '{"success":true,"ret_msg":"subscribe","conn_id":"c1","op":"subscribe"}' >"$tmp/bybit.acks"

RUN_EXTRA=()
run_case() { # NAME VENUE SYMS PATH WSPLAN RESTPLAN NGAPS [REST SERVER ARGS...]
    local name=$1 v=$2 syms=$3 path=$4 wsplan=$5 restplan=$6 ngaps=$7
    shift 7
    local d=$tmp/$name
    mkdir -p "$d"
    echo "$restplan" >"$d/plan.json"
    "$SRV" --file "$tmp/$v.frames" --plan "$wsplan" --log "$d/ws.log" --port-file "$d/wsport" \
        --ack-file "$tmp/$v.acks" --reply 'ping=pong' --rate 200 2>"$d/ws.err" &
    wpid=$!
    "$PY" "$HERE/rest_server.py" --plan "$d/plan.json" --log "$d/req.log" \
        --port-file "$d/restport" --"$v"-frames "$tmp/$v.frames" --page-max 2 "$@" \
        2>"$d/rest.err" &
    rpid=$!
    wait_for "$d/wsport" . 10 || fail "$name: the WebSocket server did not start"
    wait_for "$d/restport" . 10 || fail "$name: the REST server did not start"
    "$TICKPIPE" run --source "$v:$syms@trades" --http off --data "$d/data" \
        --status-interval 0 --venue-backoff-min 100ms --venue-backoff-max 300ms \
        --endpoint "$v=ws://127.0.0.1:$(cat "$d/wsport")$path" \
        --endpoint "$v-rest=http://127.0.0.1:$(cat "$d/restport")" "${RUN_EXTRA[@]}" \
        2>"$d/run.log" &
    tpid=$!
    wait_for "$d/ws.log" "all plans done" 60 || { cat "$d/run.log" >&2; fail "$name: the plan did not finish"; }
    local i
    for ((i = 0; i < 300; i++)); do # every gap's backfill has ended (done or given up)
        [ "$(grep -c -e 'backfilled:' -e 'the gap stays recorded' "$d/run.log")" -ge "$ngaps" ] && break
        sleep 0.1
    done
    sleep 2 # heartbeats close the last bars
    kill -INT "$tpid"
    wait "$tpid"
    local rc=$?
    tpid=
    for p in $wpid $rpid; do { kill -TERM "$p"; wait "$p"; } 2>/dev/null; done
    wpid= rpid=
    [ "$rc" = 0 ] || { cat "$d/run.log" >&2; fail "$name: tickpipe run exited $rc"; }
    "$TICKPIPE" journal dump "$d/data/journal/input" >"$d/dump" || fail "$name: journal dump failed"
    "$TICKPIPE" journal dump "$d/data/journal/output" >"$d/outdump" || fail "$name: journal dump failed"
}

check() { # NAME VENUE EXPECT(ok|fail)
    "$PY" - "$tmp/$1" "$tmp/$2.trades" "$2" "$3" <<'EOF' || fail "$1: check failed"
import collections, datetime, json, re, sys
d, trades_path, venue, want_ok = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "ok"
name = d.rsplit("/", 1)[1]
trs = [json.loads(l) for l in open(trades_path)]
errors = []
sent, skipped = [], []
for l in open(d + "/ws.log"):
    w = l.split()
    if len(w) >= 4 and w[0] == "conn" and w[2] == "sent":
        sent.append(int(w[3]))
    elif len(w) >= 4 and w[0] == "conn" and w[2] == "skip":
        a, b = w[3].split("..")
        skipped += range(int(a), int(b) + 1)
if not skipped:
    errors.append("the server skipped nothing")
expect = sorted(sent + (skipped if want_ok else []))
def instr(s):
    if venue == "bybit":
        return "bybit:%s-USDT" % s[:-4]
    return "%s:%s" % (venue, s)
rx = re.compile(r"^(\d+) event (\w+) (\S+) (.*)$")
got = collections.Counter()
vals = {}
order = []
for l in open(d + "/dump"):
    m = rx.match(l)
    if not m:
        continue
    f = m.group(4).split()
    kv = dict(p.split("=", 1) for p in f if "=" in p)
    order.append((m.group(2), m.group(3), f, kv))
    if m.group(2) == "trade":
        key = (kv["vsym"], int(kv["id"]))
        got[key] += 1
        vals[key] = (kv["price"], kv["size"], kv.get("side"))
for k in expect:
    t = trs[k - 1]
    key = (t["s"], t["id"])
    if got[key] != 1:
        errors.append("trade %s %s is in the journal %d times" % (key + (got[key],)))
    elif vals[key][2] != t["side"]:
        errors.append("trade %s has side %s, want %s" % (key, vals[key][2], t["side"]))
    elif float(vals[key][0]) != float(t["p"]) or float(vals[key][1]) != float(t["q"]):
        errors.append("trade %s: %s, want %s %s" % (key, vals[key], t["p"], t["q"]))
if sum(got.values()) != len(expect):
    errors.append("%d trades in the journal, %d expected" % (sum(got.values()), len(expect)))
gaps = [(o[1], o[3]["gap"], "backfilled" in o[2]) for o in order if o[0] == "status" and o[2][0] == "gap"]
plain = [g[:2] for g in gaps if not g[2]]
filled = [g[:2] for g in gaps if g[2]]
if not plain:
    errors.append("no gap was recorded")
log = open(d + "/run.log").read()
reqs = [json.loads(l) for l in open(d + "/req.log")]
reqs = [r for r in reqs if r["route"] == venue + "-rest"]
if not reqs:
    errors.append("no REST request")
if want_ok:
    if sorted(plain) != sorted(filled):
        errors.append("gaps %r, backfilled %r" % (plain, filled))
    for ins, rng in plain:
        seq = [o[2][0] if o[0] == "status" else o[0] for o in order if o[1] == ins]
        s = " ".join(seq)
        pat = r"gap hold trade.* gap release" if venue == "coinbase" else r"hold .*gap .*gap release"
        if not re.search(pat, s):
            errors.append("%s: no hold before the fetched trades and release after: %s" % (ins, s))
    if log.count("backfilled:") != len(plain):
        errors.append("%d backfill log lines for %d gaps" % (log.count("backfilled:"), len(plain)))
    # Requests: cursors walk back by the smallest id seen; at least 100 ms apart.
    by_sym = collections.defaultdict(list)
    for r in reqs:
        q = r["query"]
        by_sym[q.get("product") or q.get("instId") or q.get("symbol") or r["path"].split("/")[2]].append(r)
    # The client spaces request starts by 100 ms. The server stamps a request when its handler
    # thread runs, which on a loaded machine can come ~100 ms late, so one pair may look close
    # together (seen: 1 ms) while the next looks far apart; the span of n requests is robust:
    # it must cover (n-1) spacings, less one such late stamp at either end.
    if len(reqs) > 1:
        span = reqs[-1]["t"] - reqs[0]["t"]
        if span < 0.095 * (len(reqs) - 1) - 0.12:
            errors.append("%d requests within %.3f s" % (len(reqs), span))
    if venue == "coinbase":
        # The gaps are fetched one after the other, in the order they were recorded.
        k, paged = 0, 0
        for ins, rng in plain:
            a, b = map(int, rng.split(".."))
            sym = ins.split(":")[1]
            ids = sorted((t["id"] for t in trs if t["s"] == sym), reverse=True)
            cur, n = b + 1, 0
            while cur > a and k < len(reqs):
                r = reqs[k]
                if r["path"] != "/products/%s/trades" % sym or int(r["query"]["after"]) != cur \
                        or int(r["query"]["limit"]) != min(1000, cur - a):
                    errors.append("%s %s: request %s %r, want after=%d limit=%d" % (ins, rng, r["path"], r["query"], cur, cur - a))
                    break
                k += 1
                n += 1
                page = [i for i in ids if i < cur][:min(2, cur - a)]
                if not page:
                    break
                cur = min(page)
            if cur > a:
                errors.append("%s %s: the pages did not reach id %d" % (ins, rng, a))
            paged += n > 1
        if k != len(reqs):
            errors.append("%d requests, %d expected" % (len(reqs), k))
        if not paged:
            errors.append("no gap took more than one page")
    elif venue == "okx":
        for sym, rs in by_sym.items():
            nxt = [t["id"] for t in trs if t["s"] == sym]
            first_after = None
            if len(rs) < 2:
                errors.append("okx %s: %d request(s), want paging" % (sym, len(rs)))
            cur = int(rs[0]["query"]["after"]) if "after" in rs[0]["query"] else None
            for r in rs[1:]:
                page = sorted((i for i in nxt if cur is None or i < cur), reverse=True)[:2]
                want = min(page)
                if int(r["query"].get("after", 0)) != want or r["query"].get("type") != "1":
                    errors.append("okx %s: request %r, want after=%d" % (sym, r["query"], want))
                cur = want
    else:
        if len(reqs) != len(plain):
            errors.append("bybit: %d requests for %d gaps" % (len(reqs), len(plain)))
        for r in reqs:
            if r["query"].get("category") != "spot" or r["query"].get("limit") != "60":
                errors.append("bybit request %r" % r["query"])
    out = [l.split() for l in open(d + "/outdump")]
    og = sorted((w[2], w[4].split("=")[1], w[-1] == "backfilled") for w in out if len(w) > 4 and w[1] == "gap")
    want_g = sorted([(i, r, False) for i, r in plain] + [(i, r, True) for i, r in plain])
    og = [(a, b.replace("(times)", ""), c) for a, b, c in og]
    if og != want_g:
        errors.append("engine gaps %r, want %r" % (og, want_g))
    if sum(1 for w in out if len(w) > 3 and w[1] == "anomaly" and w[3] == "gap") != len(plain):
        errors.append("not one gap anomaly per gap")
    if any(len(w) > 1 and w[1] == "late" for w in out):
        errors.append("late records: backfilled trades missed their windows")
    def ns(t):
        dt = datetime.datetime.strptime(t[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
        return int(dt.timestamp()) * 10**9 + int((t[20:29] + "000000000")[:9] if len(t) > 19 else 0)
    per = collections.defaultdict(list)
    for t in trs:  # the complete session
        per[instr(t["s"])].append(t)
    bars = 0
    for w in out:
        if len(w) > 4 and w[1] == "bar" and w[3] == "1s" and w[-1] == "final":
            kv = dict(x.split("=", 1) for x in w if "=" in x)
            t0 = ns(kv["ts"])
            ts = sorted((t for t in per[w[2]] if t0 <= t["T"] * 10**6 < t0 + 10**9), key=lambda t: t["T"])
            bars += 1
            if not ts:
                errors.append("bar %s %s: the complete session has no trade there" % (w[2], kv["ts"]))
                continue
            px = [float(t["p"]) for t in ts]
            exp = {"trades": len(ts), "volume": sum(float(t["q"]) for t in ts), "open": px[0],
                   "close": px[-1], "high": max(px), "low": min(px)}
            for k, v in exp.items():
                if abs(float(kv[k]) - v) > 1e-9 * max(1, abs(v)):
                    errors.append("bar %s %s: %s=%s, the complete session %s" % (w[2], kv["ts"], k, kv[k], v))
    if bars < 3:
        errors.append("only %d final 1s bars" % bars)
else:
    if filled:
        errors.append("gaps marked backfilled after a failure: %r" % filled)
    if log.count("the gap stays recorded") != len(plain):
        errors.append("%d failures logged for %d gaps" % (log.count("the gap stays recorded"), len(plain)))
    for ins, rng in plain:  # released after the failure; the feed went on
        seq = [o[2][0] if o[0] == "status" else o[0] for o in order if o[1] == ins]
        s = " ".join(seq)
        # id gaps: trades flow on after the gap; outages: the new connection's trades came
        # before the gap record (written once resubscribed and settled)
        after = r"gap .*trade" if venue == "coinbase" else r"subscribed .*trade.* gap"
        if not re.search(r"gap .*release", s) or not re.search(after, s):
            errors.append("%s: no release, or no trade, after the failed backfill: %s" % (ins, s))
    if venue == "okx" and "timeout" not in log.lower() and "timed out" not in log.lower():
        errors.append("okx: the timeout was not logged")
    if venue == "coinbase" and "HTTP 404" not in log:
        errors.append("coinbase: the 404 was not logged")
    if venue == "bybit" and "do not reach back" not in log:
        errors.append("bybit: the log does not say the recent list was too short")
for e in errors:
    print("rest_backfill_venues %s:" % name, e, file=sys.stderr)
sys.exit(1 if errors else 0)
EOF
}

# Coinbase: ids skipped inside a connection and over an outage; pages of 2, walking back.
run_case coinbase coinbase BTC-USD,ETH-USD / "wait,send:8,skip:3,send:8,drop;wait,skip:4,rest" '{}' 4
check coinbase coinbase ok
# OKX and Bybit: an outage with trades lost; fetched by time window (OKX by id cursor).
run_case okx okx BTC-USDT,ETH-USDT /ws/v5/public "wait,send:12,drop;wait,skip:6,rest" '{}' 2
check okx okx ok
run_case bybit bybit BTCUSDT,ETHUSDT /v5/public/spot "wait,send:12,drop;wait,skip:6,rest" '{}' 2
check bybit bybit ok
# Failures: a 404, a REST server that does not answer in time, and a recent list that does
# not reach back to the outage.
run_case cb404 coinbase BTC-USD,ETH-USD / "wait,send:8,skip:3,rest" \
    '{"coinbase-rest":[{"status":404,"body":"{\"message\":\"NotFound\"}"}]}' 2
check cb404 coinbase fail
RUN_EXTRA=(--rest-timeout 300ms)
run_case okxstall okx BTC-USDT,ETH-USDT /ws/v5/public "wait,send:12,drop;wait,skip:6,rest" \
    '{"okx-rest":[{"status":200,"body":"{}","stall":2}]}' 2
check okxstall okx fail
RUN_EXTRA=()
run_case byshort bybit BTCUSDT,ETHUSDT /v5/public/spot "wait,send:12,drop;wait,skip:6,rest" '{}' 2 \
    --bybit-recent 3
check byshort bybit fail
echo "rest_backfill_venues: ok"
