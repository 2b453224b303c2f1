#!/usr/bin/env bash
# rest_backfill.sh — REST backfill of trade-id gaps, end to end on loopback: tests/tools/
# ws_fixture_server plays Binance aggTrade frames (written here, two symbols, consecutive
# ids) to `tickpipe run --source binance:...@agg` and skips some of them (trades the venue
# never delivered); tests/integration/rest_server.py answers /api/v3/aggTrades from the same
# frames (`--endpoint binance-rest=http://...`). The check reads the journal and both logs:
#   - every trade sent or skipped is in the journal exactly once with its exact price, size,
#     side and id — the skipped ones fetched by REST — except skipped trades no later trade
#     revealed (nothing tells they are missing);
#   - each id gap is recorded (gap first..last) and then marked backfilled with the same range;
#     its instrument is held from before the gap's first record until after the backfill
#     (hold ... release), so the fetched trades are not late for the engine;
#   - the REST requests asked for exactly the missing ids (symbol, fromId, limit);
#   - the engine reports each gap once as missing (one anomaly) and once backfilled, writes no
#     late record, and every final 1s bar counts exactly the journal's trades of its window;
#   - with --venue-backfill off the gaps are only reported.
set -uo pipefail
: "${TICKPIPE:?TICKPIPE must name the tickpipe binary}"
: "${TP_BUILD:?TP_BUILD must name the build directory}"
SRV=$TP_BUILD/ws_fixture_server
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
[ -x "$SRV" ] || { echo "rest_backfill: FAIL: $SRV is missing" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tp_rest_backfill.XXXXXX")
wpid= rpid= tpid=
cleanup() {
    for p in $tpid $wpid $rpid; do { kill -KILL "$p"; wait "$p"; } 2>/dev/null; done
    [ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "rest_backfill: FAIL: $*" >&2; exit 1; }
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

# 40 aggTrade frames, BTCUSDT and ETHUSDT interleaved, ids consecutive per symbol.
"$PY" - "$tmp/frames" <<'EOF'
import json, sys
out = open(sys.argv[1], "w")
ids = {"BTCUSDT": 5000, "ETHUSDT": 900}
t = 1700000000000
for k in range(40):
    s = "BTCUSDT" if k % 3 else "ETHUSDT"
    ids[s] += 1
    t += 137
    px = ("%.2f" % (37000 + k * 0.5)) if s == "BTCUSDT" else ("%.2f" % (2000 + k * 0.25))
    d = {"e": "aggTrade", "E": t + 1, "s": s, "a": ids[s], "p": px, "q": "%.5f" % (0.001 * (k + 1)),
         "f": ids[s] * 3, "l": ids[s] * 3 + 1, "T": t, "m": k % 2 == 0, "M": True}
    out.write(json.dumps({"stream": s.lower() + "@aggTrade", "data": d}, separators=(",", ":")) + "\n")
EOF
echo '{"result":null,"id":1}' >"$tmp/acks"
echo '{}' >"$tmp/plan.json"

start_servers() { # NAME PLAN
    local d=$tmp/$1
    mkdir -p "$d"
    "$SRV" --file "$tmp/frames" --plan "$2" --log "$d/ws.log" --port-file "$d/wsport" \
        --ack-file "$tmp/acks" --rate 200 2>"$d/ws.err" &
    wpid=$!
    "$PY" "$HERE/rest_server.py" --plan "$tmp/plan.json" --log "$d/req.log" \
        --port-file "$d/restport" --binance-frames "$tmp/frames" 2>"$d/rest.err" &
    rpid=$!
    wait_for "$d/wsport" . 10 || fail "$1: the WebSocket server did not start"
    wait_for "$d/restport" . 10 || fail "$1: the REST server did not start"
}

run_case() { # NAME PLAN BACKFILL
    local d=$tmp/$1
    start_servers "$1" "$2"
    "$TICKPIPE" run --source binance:BTCUSDT,ETHUSDT@agg --http off --data "$d/data" \
        --status-interval 0 --venue-backfill "$3" \
        --endpoint "binance=ws://127.0.0.1:$(cat "$d/wsport")/stream" \
        --endpoint "binance-rest=http://127.0.0.1:$(cat "$d/restport")" 2>"$d/run.log" &
    tpid=$!
    wait_for "$d/ws.log" "all plans done" 60 || { cat "$d/run.log" >&2; fail "$1: the plan did not finish"; }
    sleep 2
    kill -INT "$tpid"
    wait "$tpid"
    local rc=$?
    tpid=
    for p in $wpid $rpid; do { kill -TERM "$p"; wait "$p"; } 2>/dev/null; done
    wpid= rpid=
    [ "$rc" = 0 ] || { cat "$d/run.log" >&2; fail "$1: tickpipe run exited $rc"; }
    "$TICKPIPE" journal dump "$d/data/journal/input" >"$d/dump" || fail "$1: journal dump failed"
    "$TICKPIPE" journal dump "$d/data/journal/output" >"$d/outdump" || fail "$1: journal dump failed"
}

check() { # NAME BACKFILL(1|0)
    "$PY" - "$tmp/$1" "$tmp/frames" "$2" <<'EOF' || fail "$1: check failed"
import collections, json, re, sys
d, frames_path, bf = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
frames = [json.loads(l)["data"] for l in open(frames_path)]
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
last_sent = {}
for k in sent:
    f = frames[k - 1]
    last_sent[f["s"]] = max(last_sent.get(f["s"], 0), f["a"])
revealed = [k for k in skipped if frames[k - 1]["a"] < last_sent.get(frames[k - 1]["s"], 0)]
expect = sent + (revealed if bf else [])
rx = re.compile(r"^(\d+) event (\w+) (\S+) (.*)$")
trades = collections.Counter()
vals = {}
order = []  # (kind, instr, fields) in journal order
for l in open(d + "/dump"):
    m = rx.match(l)
    if not m:
        continue
    f = m.group(4).split()
    kv = dict(p.split("=", 1) for p in f if "=" in p)
    order.append((m.group(2), m.group(3), f, kv))
    if m.group(2) == "trade":
        key = (kv["vsym"], int(kv["id"]))
        trades[key] += 1
        vals[key] = (kv["price"], kv["size"], kv.get("side"))
for k in expect:
    f = frames[k - 1]
    key = (f["s"], f["a"])
    if trades[key] != 1:
        errors.append("trade %s %s is in the journal %d times" % (key + (trades[key],)))
    elif vals[key][2] != ("sell" if f["m"] else "buy"):
        errors.append("trade %s has side %s" % (key, vals[key][2]))
    elif float(vals[key][0]) != float(f["p"]) or float(vals[key][1]) != float(f["q"]):
        errors.append("trade %s: %s, want %s %s" % (key, vals[key], f["p"], f["q"]))
if sum(trades.values()) != len(expect):
    errors.append("%d trades in the journal, %d expected" % (sum(trades.values()), len(expect)))
gaps = [(o[1], o[3]["gap"], "backfilled" in o[2]) for o in order if o[0] == "status" and o[2][0] == "gap"]
plain = [g[:2] for g in gaps if not g[2]]
filled = [g[:2] for g in gaps if g[2]]
if not plain:
    errors.append("no gap was recorded")
if bf:
    if sorted(plain) != sorted(filled):
        errors.append("gaps %r, backfilled %r" % (plain, filled))
    # hold after the gap record, release after the backfilled mark, per instrument
    for instr, rng in plain:
        idx = [i for i, o in enumerate(order) if o[1] == instr]
        seq = [order[i][2][0] if order[i][0] == "status" else order[i][0] for i in idx]
        s = " ".join(seq)
        if not re.search(r"gap hold trade.* gap release", s):
            errors.append("%s: no hold after the gap and release after the backfill: %s" % (instr, s))
    reqs = [json.loads(l) for l in open(d + "/req.log") if '"binance-rest"' in l]
    asked = sorted((r["query"]["symbol"], int(r["query"]["fromId"]), int(r["query"]["limit"])) for r in reqs)
    want = []
    for instr, rng in plain:
        a, b = map(int, rng.split(".."))
        want.append((instr.split(":")[1].replace("-", ""), a, b - a + 1))
    if asked != sorted(want):
        errors.append("REST requests %r, want %r" % (asked, sorted(want)))
    log = open(d + "/run.log").read()
    if log.count("backfilled:") != len(plain):
        errors.append("%d backfill log lines for %d gaps" % (log.count("backfilled:"), len(plain)))
    # The engine: each gap once as missing (with its anomaly) and once backfilled; the fetched
    # trades in their 1s bars, none late (the hold kept their windows open).
    out = [l.split() for l in open(d + "/outdump")]
    og = sorted((w[2], w[4].split("=")[1], w[-1] == "backfilled") for w in out if len(w) > 4 and w[1] == "gap")
    want_g = sorted([(i, r, False) for i, r in plain] + [(i, r, True) for i, r in plain])
    if og != want_g:
        errors.append("engine gaps %r, want %r" % (og, want_g))
    if sum(1 for w in out if len(w) > 2 and w[1] == "anomaly" and w[3] == "gap") != len(plain):
        errors.append("not one gap anomaly per gap")
    if any(len(w) > 1 and w[1] == "late" for w in out):
        errors.append("late records: backfilled trades missed their windows")
    def ns(t):
        import datetime
        dt = datetime.datetime.strptime(t[:26], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc)
        return int(dt.timestamp()) * 10**9 + int(t[20:29])
    per = collections.defaultdict(list)
    for k in expect:
        f = frames[k - 1]
        per["binance:%s-USDT" % f["s"][:-4]].append(f["T"] * 10**6)
    bars = 0
    for w in out:
        if len(w) > 4 and w[1] == "bar" and w[3] == "1s" and w[-1] == "final":
            kv = dict(x.split("=", 1) for x in w if "=" in x)
            t0 = ns(kv["ts"])
            n = sum(1 for t in per[w[2]] if t0 <= t < t0 + 10**9)
            bars += 1
            if int(kv["trades"]) != n:
                errors.append("bar %s %s has %s trades, the journal %d" % (w[2], kv["ts"], kv["trades"], n))
    if bars < 3:
        errors.append("only %d final 1s bars" % bars)
else:
    if filled:
        errors.append("backfilled gaps with --venue-backfill off")
for e in errors:
    print("rest_backfill:", e, file=sys.stderr)
sys.exit(1 if errors else 0)
EOF
}

run_case on "wait,send:10,skip:2,send:12,skip:5,rest" on
check on 1
run_case off "wait,send:10,skip:2,rest" off
check off 0
echo "rest_backfill: ok"
