#!/usr/bin/env bash
# venue_live.sh — the live venue sources end to end, on loopback only: tests/tools/
# ws_fixture_server plays recorded frames from ../shared/fixtures (Binance aggTrade, OKX
# trades + tickers, Bybit spot session) to `tickpipe run --source VENUE:... --endpoint
# VENUE=ws://127.0.0.1:PORT/...` and misbehaves on cue. For each venue the check reads the
# server's log (what it sent, skipped and received) and `tickpipe journal dump` of the input
# journal, and asserts:
#   - every trade the server sent is in the journal exactly once, with its exact price and
#     size, and nothing else is; every trade it skipped (lost in an outage) is absent and
#     inside an id gap record of its instrument (Binance: consecutive aggTrade ids);
#   - each connection the client opened received the same subscribe requests as the first
#     (resubscription after every reconnect);
#   - a refused handshake, an abrupt drop, a stalled server (the watchdog reconnects), a
#     venue shutdown notice (reconnect at once) and a malformed frame (counted, run goes on)
#     are all survived; the client answers the server's protocol ping;
#   - per instrument: heartbeats (never decreasing) while subscribed, a hold at every outage
#     and the final stop, each outage released after resubscribing, and for venues without
#     consecutive trade ids a time gap over every outage;
#   - a restart on the same data keeps the instruments held and records the downtime as a gap
#     from the old hold once resubscribed (OKX);
#   - the same path over wss:// with a CA made here: accepted; an untrusted CA and a
#     certificate for another name are refused, and the client keeps retrying.
# Skips (exit 0 with a message) when the fixtures are absent (the TLS part without openssl).
set -uo pipefail
: "${TICKPIPE:?TICKPIPE must name the tickpipe binary}"
: "${TP_BUILD:?TP_BUILD must name the build directory}"
FX=${TP_SHARED:-$(dirname "$0")/../../../shared}/fixtures
SRV=$TP_BUILD/ws_fixture_server
PY=/usr/bin/python3
if [ ! -f "$FX/binance/combined_aggTrade.jsonl" ]; then
    echo "venue_live: SKIP: fixtures not found at $FX"
    exit 0
fi
[ -x "$SRV" ] || { echo "venue_live: FAIL: $SRV is missing" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tp_venue_live.XXXXXX")
spid= tpid=
cleanup() {
    [ -n "$tpid" ] && kill -KILL "$tpid" 2>/dev/null
    [ -n "$spid" ] && kill -KILL "$spid" 2>/dev/null
    [ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "venue_live: FAIL: $*" >&2; exit 1; }

# wait_for FILE PATTERN SECONDS
wait_for() {
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# run_case NAME SPEC VENUE PATH FRAMES PLAN [server options...]; SCHEME (ws, wss) and RUN_EXTRA
# (more tickpipe options) from the caller.
RUN_EXTRA=()
run_case() {
    local name=$1 spec=$2 venue=$3 path=$4 frames=$5 plan=$6
    shift 6
    local d=$tmp/$name
    mkdir -p "$d"
    "$SRV" --file "$frames" --plan "$plan" --log "$d/server.log" --port-file "$d/port" \
        --rate 300 "$@" 2>"$d/server.err" &
    spid=$!
    wait_for "$d/port" . 10 || fail "$name: the fixture server did not start"
    local port
    port=$(cat "$d/port")
    "$TICKPIPE" run --source "$spec" --endpoint "$venue=${SCHEME:-ws}://127.0.0.1:$port$path" \
        --http off --data "$d/data" --status-interval 0 --venue-watchdog 2s \
        --venue-backoff-min 100ms --venue-backoff-max 500ms "${RUN_EXTRA[@]}" 2>"$d/run.log" &
    tpid=$!
    if ! wait_for "$d/server.log" "all plans done" 60; then
        cat "$d/run.log" >&2
        fail "$name: the plan did not finish within 60 s (server log: $(tail -3 "$d/server.log"))"
    fi
    # Let the last connection settle: the outage release and a few heartbeats.
    sleep 2.5
    kill -TERM "$tpid"
    wait "$tpid"
    local rc=$?
    tpid=
    kill -TERM "$spid" 2>/dev/null
    wait "$spid" 2>/dev/null
    spid=
    [ "$rc" = 0 ] || { cat "$d/run.log" >&2; fail "$name: tickpipe run exited $rc"; }
    "$TICKPIPE" journal dump "$d/data/journal/input" >"$d/dump" || fail "$name: journal dump failed"
}

# check NAME VENUE FRAMES OUTAGES IDGAPS(1|0) — the assertions listed at the top.
check() {
    "$PY" - "$tmp/$1" "$2" "$3" "$4" "$5" <<'EOF' || fail "$1: check failed"
import collections, json, re, sys
d, venue, frames_path, outages, idgaps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] == "1"
name = d.rsplit("/", 1)[1]
frames = [l.rstrip("\n") for l in open(frames_path) if l.strip()]
errors = []
def err(msg):
    errors.append(msg)

def trades_of(line):
    """(vsym, id, price, size) of the trades in one frame."""
    m = json.loads(line)
    out = []
    if venue == "binance":
        x = m.get("data", m)
        if x.get("e") == "aggTrade":
            out.append((x["s"], str(x["a"]), x["p"], x["q"]))
        elif x.get("e") == "trade":
            out.append((x["s"], str(x["t"]), x["p"], x["q"]))
    elif venue == "okx":
        if m.get("arg", {}).get("channel") == "trades":
            out += [(x["instId"], x["tradeId"], x["px"], x["sz"]) for x in m["data"]]
    elif venue == "bybit":
        if m.get("topic", "").startswith("publicTrade."):
            out += [(x["s"], x["i"], x["p"], x["v"]) for x in m["data"]]
    return out

# The server's log.
sent, skipped = [], []
conns = collections.defaultdict(lambda: {"recv": [], "events": []})
for l in open(d + "/server.log"):
    w = l.rstrip("\n").split(" ", 3)
    if w[0] != "conn":
        continue
    c, what = int(w[1]), w[2]
    rest = w[3].rstrip("\n") if len(w) > 3 else ""
    conns[c]["events"].append(what)
    if what == "sent":
        sent.append(int(rest))
    elif what == "skip":
        a, b = rest.split("..")
        skipped += range(int(a), int(b) + 1)
    elif what == "recv":
        conns[c]["recv"].append(rest)
expect = [t for k in sent for t in trades_of(frames[k - 1])]
lost = [t for k in skipped for t in trades_of(frames[k - 1])]
if len(sent) + len(skipped) != len(frames):
    err("the server sent %d and skipped %d of %d frames" % (len(sent), len(skipped), len(frames)))
if not expect:
    err("no trades were sent")

# The journal.
rx = re.compile(r"^(\d+) event (\w+) (\S+) (.*)$")
trades, gaps, status = collections.Counter(), [], collections.defaultdict(list)
values = {}
for l in open(d + "/dump"):
    m = rx.match(l)
    if not m:
        continue
    kind, instr, f = m.group(2), m.group(3), m.group(4)
    kv = dict(p.split("=", 1) for p in f.split() if "=" in p)
    if kind == "trade":
        key = (kv.get("vsym"), kv.get("id"))
        trades[key] += 1
        values[key] = (float(kv["price"]), float(kv["size"]))
    elif kind == "status":
        st = f.split()[0]
        status[instr].append((st, kv, " (times)" in f))
        if st == "gap":
            a, b = kv["gap"].split("..")
            gaps.append((kv.get("vsym"), int(a), int(b), " (times)" in f))

for vs, tid, p, q in expect:
    n = trades[(vs, tid)]
    if n != 1:
        err("trade %s %s is in the journal %d times" % (vs, tid, n))
    elif values[(vs, tid)] != (float(p), float(q)):
        err("trade %s %s: %s x %s != %s x %s" % (vs, tid, *values[(vs, tid)], p, q))
if sum(trades.values()) != len(expect):
    err("%d trades in the journal, %d sent" % (sum(trades.values()), len(expect)))
for vs, tid, p, q in lost:
    if trades[(vs, tid)]:
        err("skipped trade %s %s is in the journal" % (vs, tid))
    if not any(g[0] == vs and not g[3] and g[1] <= int(tid) <= g[2] for g in gaps):
        err("skipped trade %s %s is not inside a gap record" % (vs, tid))
if idgaps and not lost:
    err("the plan lost no trade: the id gap path was not exercised")

# Resubscription: every connection that opened got the first connection's requests.
opened = [c for c in sorted(conns) if "open" in conns[c]["events"]]
def subs(c):
    return sorted(r for r in conns[c]["recv"] if "subscribe" in r.lower())
first = subs(opened[0]) if opened else []
if not first:
    err("the first connection received no subscribe request")
for c in opened[1:]:
    if subs(c) != first:
        err("connection %d got %s, not the first connection's %s" % (c, subs(c), first))
if len(opened) < outages + 1:
    err("%d connections opened, expected at least %d" % (len(opened), outages + 1))

# Per instrument: heartbeats, holds, releases, outage gaps.
for instr, recs in sorted(status.items()):
    kinds = [r[0] for r in recs]
    hb = [int(r[1]["ts"].replace("-", "").replace(":", "").replace("T", "").replace(".", "").rstrip("Z")) for r in recs if r[0] == "heartbeat"]
    if len(hb) < 2:
        err("%s: %d heartbeats" % (instr, len(hb)))
    if hb != sorted(hb):
        err("%s: heartbeat times go backwards" % instr)
    seq = [k for k in kinds if k in ("hold", "release")]
    if seq[:1] != ["hold"] or any(a == b for a, b in zip(seq, seq[1:])) or seq[-1:] != ["hold"]:
        err("%s: holds and releases do not alternate from a hold to the final hold: %s" % (instr, seq))
    if seq.count("release") < outages:
        err("%s: %d releases for %d outages" % (instr, seq.count("release"), outages))
    if "connected" not in kinds or "subscribed" not in kinds:
        err("%s: no connected / subscribed record" % instr)
    if not idgaps:
        tg = [r for r in recs if r[0] == "gap" and r[2]]
        if len(tg) < outages:
            err("%s: %d time gaps for %d outages" % (instr, len(tg), outages))
if not status:
    err("no status records at all")

if errors:
    for e in errors[:30]:
        print("venue_live %s: %s" % (name, e), file=sys.stderr)
    sys.exit(1)
print("venue_live %s: %d trades exactly once, %d lost and gap-recorded, %d connections, %d instruments held and released"
      % (name, len(expect), len(lost), len(opened), len(status)))
EOF
}

# Symbols of a frames file, for the spec (every instrument the server will play).
symbols() {
    "$PY" - "$1" "$2" <<'EOF'
import json, sys
seen = []
for l in open(sys.argv[2]):
    m = json.loads(l)
    if sys.argv[1] == "binance":
        s = m.get("data", m).get("s")
    elif sys.argv[1] == "okx":
        s = m.get("arg", {}).get("instId")
    else:
        t = m.get("topic", "")
        s = t.split(".")[-1] if t.startswith(("publicTrade.", "tickers.")) else None
    if s and s not in seen:
        seen.append(s)
print(",".join(seen))
EOF
}

# --- Binance: aggTrade ids, every failure mode -------------------------------------------
# conn 1: 15 frames, a ping, 5 frames, drop | conn 2: refused | conn 3: 3 frames lost, 10
# sent, a malformed frame, 5 sent, then silence (watchdog) | conn 4: 5 sent, serverShutdown |
# conn 5: the rest.
printf '%s\n' '{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":16186773' \
    '{"e":"serverShutdown","E":1770123456789}' >"$tmp/binance_extra"
F=$FX/binance/combined_aggTrade.jsonl
run_case binance "binance:$(symbols binance "$F")@agg" binance /stream "$F" \
    "wait,send:15,ping,send:5,drop;refuse;wait,skip:3,send:10,extra:1,send:5,silent;wait,send:5,extra:2;wait,rest" \
    --ack-file "$FX/binance/subscription_ack.jsonl" --extra "$tmp/binance_extra"
check binance binance "$F" 2 1 # drop, silence; the shutdown comes before the release
log=$tmp/binance/run.log
grep -q "watchdog: no message" "$log" || fail "binance: no watchdog reconnect in the log"
grep -q "announces a disconnect (serverShutdown)" "$log" || fail "binance: serverShutdown not acted on"
grep -q "unusable message (bad_json" "$log" || fail "binance: the malformed frame was not reported"
grep -q "1 unusable" "$log" || fail "binance: the malformed frame was not counted once"
grep -q "gap in binance:ONT-TRY trade ids" "$log" || fail "binance: the id gap was not logged"
grep -q "^conn 1 pong" "$tmp/binance/server.log" || fail "binance: the client did not answer the ping"
grep -q "^conn 2 refused" "$tmp/binance/server.log" || fail "binance: no refused handshake"
grep -q "1 watchdog, 1 planned" "$log" || fail "binance: the summary does not count the watchdog and planned reconnects"

# --- OKX: no consecutive ids (time gaps), text ping/pong ---------------------------------
F=$tmp/okx_frames
cat "$FX/okx/trades_2021-07-22.jsonl" "$FX/okx/tickers_2021-07-22.jsonl" >"$F"
run_case okx "okx:$(symbols okx "$F")" okx /ws/v5/public "$F" \
    "wait,send:30,drop;refuse;wait,send:25,silent;wait,rest" \
    --ack-file <(head -1 "$FX/okx/subscribe_ack_2021-07-22.jsonl") --reply 'ping=pong'
check okx okx "$F" 2 0
grep -q "watchdog: no message" "$tmp/okx/run.log" || fail "okx: no watchdog reconnect in the log"
grep -q "gap recorded for" "$tmp/okx/run.log" || fail "okx: the outage gap was not logged"
# A restart on the same data: the holds written at the stop carry over; the first
# subscription of the new run records the downtime as a gap from each hold and releases it.
cp "$tmp/okx/dump" "$tmp/okx/dump1"
rm -f "$tmp/okx/server.log" "$tmp/okx/port"
run_case okx "okx:$(symbols okx "$F")" okx /ws/v5/public "$F" "wait,send:5" --reply 'ping=pong'
"$PY" - "$tmp/okx/dump1" "$tmp/okx/dump" <<'EOF2' || fail "okx: the restart did not carry the holds over"
import sys
def recs(path):
    out = []
    for l in open(path):
        w = l.split()
        if len(w) > 4 and w[1] == "event" and w[2] == "status":
            kv = dict(x.split("=", 1) for x in w[5:] if "=" in x)
            out.append((int(w[0]), w[3], w[4], kv))
    return out
def ns(t):  # RFC 3339 with 9 digits -> epoch ns
    import calendar, time
    sec = calendar.timegm(time.strptime(t[:19], "%Y-%m-%dT%H:%M:%S"))
    return sec * 10**9 + int(t[20:29])
first, both = recs(sys.argv[1]), recs(sys.argv[2])
n1 = max(r[0] for r in first) + 1
held = {}
for off, instr, st, kv in first:
    if st == "hold":
        held[instr] = kv["ts"]
bad = 0
for instr, ts in held.items():
    later = [(st, kv) for off, i, st, kv in both if off >= n1 and i == instr]
    kinds = [st for st, kv in later]
    # still held from the first run: no new hold before the release, one gap from the old hold
    ok = "release" in kinds and "hold" not in kinds[: kinds.index("release")]
    gaps = [kv for st, kv in later[: kinds.index("release")] if st == "gap"] if ok else []
    if not ok or len(gaps) != 1 or not gaps[0]["gap"].startswith(str(ns(ts))):
        print("venue_live okx restart: %s: %s %s" % (instr, kinds[:8], gaps), file=sys.stderr)
        bad += 1
if not held or bad:
    sys.exit(1)
print("venue_live okx restart: %d instruments held across the restart, gap and release after resubscribing" % len(held))
EOF2

# --- Bybit spot: string ids, acks inside the session, JSON ping/pong ---------------------
F=$FX/bybit/spot_session_no_orderbook.jsonl
run_case bybit "bybit:$(symbols bybit "$F")" bybit /v5/public/spot "$F" \
    "wait,send:50,close;wait,send:40,sleep:1500,drop;wait,rest" \
    --reply '*"op":"ping"*='"$(head -1 "$FX/bybit/pong_docs.jsonl")" \
    --ack-file <(head -1 "$FX/bybit/spot_subscribe_ack.jsonl")
check bybit bybit "$F" 2 0
grep -q "peer closed (code 1001" "$tmp/bybit/run.log" || fail "bybit: the close frame was not reported"

# --- TLS: the same path over wss:// with a CA made here -----------------------------------
if ! command -v openssl >/dev/null; then
    echo "venue_live: SKIP the TLS part: no openssl command"
    echo "venue_live: ok"
    exit 0
fi
mkdir -p "$tmp/pki"
cd "$tmp/pki" || fail "pki dir"
mkcert() { # NAME SAN: a key and a certificate signed by the test CA
    openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$1" 2>/dev/null &&
        printf 'subjectAltName=%s\n' "$2" >"$1.ext" &&
        openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$1.pem" \
            -days 2 -extfile "$1.ext" 2>/dev/null
}
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
    -subj "/CN=tickpipe test CA" 2>/dev/null || fail "cannot make the test CA"
mkcert good "IP:127.0.0.1" || fail "cannot make the server certificate"
mkcert wrong "DNS:other.example" || fail "cannot make the second certificate"
cd - >/dev/null || exit 1
F=$FX/binance/combined_aggTrade.jsonl
SCHEME=wss RUN_EXTRA=(--venue-ca-file "$tmp/pki/ca.pem")
run_case tls "binance:$(symbols binance "$F")@agg" binance /stream "$F" \
    "wait,send:20,sleep:1500,drop;wait,skip:3,rest" --ack-file "$FX/binance/subscription_ack.jsonl" \
    --cert "$tmp/pki/good.pem" --key "$tmp/pki/good.key"
check tls binance "$F" 1 1
grep -q "connected to wss://127.0.0.1" "$tmp/tls/run.log" || fail "tls: no wss connection logged"

# refused: a CA that is not trusted, and a certificate for another name
# tls_refused NAME CERT WHY [tickpipe options]: the handshake must never complete, for WHY
tls_refused() {
    local d=$tmp/$1 cert=$2 why=$3
    shift 3
    mkdir -p "$d"
    "$SRV" --file "$F" --plan "wait,rest" --log "$d/server.log" --port-file "$d/port" \
        --cert "$tmp/pki/$cert.pem" --key "$tmp/pki/$cert.key" 2>/dev/null &
    spid=$!
    wait_for "$d/port" . 10 || fail "$1: the fixture server did not start"
    "$TICKPIPE" run --source binance:BTCUSDT --endpoint "binance=wss://127.0.0.1:$(cat "$d/port")/ws" \
        --http off --data "$d/data" --status-interval 0 --venue-backoff-min 100ms \
        --venue-backoff-max 300ms "$@" 2>"$d/run.log" &
    tpid=$!
    wait_for "$d/run.log" "connect failed" 20 || { cat "$d/run.log" >&2; fail "$1: no failed connect"; }
    sleep 1
    kill -TERM "$tpid"
    wait "$tpid" || fail "$1: tickpipe run failed"
    tpid=
    kill -TERM "$spid"
    wait "$spid" 2>/dev/null
    spid=
    ! grep -q "open" "$d/server.log" || fail "$1: a WebSocket handshake completed"
    ! grep -q "binance: connected" "$d/run.log" || fail "$1: the client says it connected"
    [ "$(grep -c "connect failed" "$d/run.log")" -ge 2 ] || fail "$1: the client did not keep retrying"
    grep -q "$why" "$d/run.log" || fail "$1: the refusal does not say '$why'"
}
tls_refused tls_untrusted good "unable to get local issuer certificate"
tls_refused tls_wrong_name wrong "IP address mismatch" --venue-ca-file "$tmp/pki/ca.pem"
echo "venue_live: tls ok (trusted CA accepted; untrusted CA and wrong name refused)"
echo "venue_live: ok"
