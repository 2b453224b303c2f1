#!/usr/bin/env bash
# fault_ws_flood.sh — the fault campaign's "flood of malformed input" case on a live venue
# connection (docs/operations.md "Faults"): tests/tools/ws_fixture_server plays, as fast as it
# can (--rate 20000), a Binance combined stream of synthetic aggTrade frames for BTCUSDT with
# consecutive ids, a garbage frame after about half of them (text that is not JSON, JSON cut
# short, an aggTrade whose price is not a number, one without a price), to `tickpipe run
# --source binance:BTCUSDT@agg --endpoint binance=ws://127.0.0.1:PORT/stream`.
# What the user sees: the connection stays up (garbage is not a reason to reconnect), the log
# reports unusable messages by reason ("unusable message (bad_json ...)"), /metrics
# tickpipe_bad_events_total equals the number of garbage frames exactly, and every good
# trade is in the journal once, with no id gap recorded.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/faultlib.sh
. "$here/lib/faultlib.sh"
fault_init fault_ws_flood
py=/usr/bin/python3
FX=${TP_SHARED:-$SRC/../shared}/fixtures
SRV=$(dirname "$JB")/ws_fixture_server
[ -x "$SRV" ] || fault_fail "no $SRV (build tests/tools)"
[ -f "$FX/binance/subscription_ack.jsonl" ] || { echo "fault_ws_flood: SKIP: fixtures not found at $FX"; exit 0; }
start=$(date +%s)
n=${FAULT_WS_FRAMES:-20000}
bad=$($py - "$n" "$TMP/frames" <<'PY'
import random, sys
n, path = int(sys.argv[1]), sys.argv[2]
rnd = random.Random(15)
T0 = 1618677373000
def agg(i, price='"%.2f"'):
    p = price % (60000 + (i % 500) / 10) if "%" in price else price
    return ('{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":%d,"s":"BTCUSDT","a":%d,'
            '"p":%s,"q":"0.%03d","f":%d,"l":%d,"T":%d,"m":%s,"M":true}}'
            % (T0 + i + 1, 1000 + i, p, 1 + i % 999, 5000 + i, 5000 + i, T0 + i, "true" if i % 3 else "false"))
kinds = [
    lambda i: "this is not json " + "x" * rnd.randrange(0, 100),
    lambda i: agg(i)[: rnd.randrange(5, 60)],
    lambda i: agg(i, '"abc"'),
    lambda i: agg(i).replace('"p":', '"P":'),
]
out = open(path, "w")
bad = 0
for i in range(n):
    out.write(agg(i) + "\n")
    if rnd.random() < 0.5:
        out.write(rnd.choice(kinds)(i) + "\n")
        bad += 1
print(bad)
PY
) || fault_fail "could not write the frames"

"$SRV" --file "$TMP/frames" --plan "wait,rest" --log "$TMP/server.log" --port-file "$TMP/port" \
    --rate 20000 --ack-file "$FX/binance/subscription_ack.jsonl" 2>"$TMP/server.err" &
fault_bg $!
for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.05; done
[ -s "$TMP/port" ] || fault_fail "the fixture server did not start"
data=$TMP/data
"$TICKPIPE" run --source binance:BTCUSDT@agg --endpoint "binance=ws://127.0.0.1:$(cat "$TMP/port")/stream" \
    --http 127.0.0.1:0 --data "$data" --status-interval 0 2>"$TMP/run.log" &
pid=$!
fault_bg "$pid"
hport=$(fault_port "$TMP/run.log")
t0=$(date +%s%N)
for _ in $(seq 1200); do
    grep -q "all plans done" "$TMP/server.log" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { cat "$TMP/run.log" >&2; fault_fail "the run stopped during the flood"; }
    sleep 0.05
done
grep -q "all plans done" "$TMP/server.log" || fault_fail "the server did not send every frame within 60 s"
ms=$((($(date +%s%N) - t0) / 1000000))
got=
for _ in $(seq 100); do
    got=$(fault_metric "$hport" tickpipe_bad_events_total)
    [ "$got" = "$bad" ] && break
    sleep 0.05
done
[ "$got" = "$bad" ] || { tail -5 "$TMP/run.log" >&2; fault_fail "/metrics tickpipe_bad_events_total is '$got', the server sent $bad garbage frames"; }
kill -TERM "$pid"
wait "$pid" || { tail -20 "$TMP/run.log" >&2; fault_fail "the run did not stop cleanly"; }
conns=$(grep -c "^conn [0-9]* open" "$TMP/server.log")
[ "$conns" -eq 1 ] || fault_fail "the client connected $conns times: garbage made it reconnect"
grep -q "unusable message" "$TMP/run.log" || fault_fail "no unusable message reported in the log"
"$REL" journal dump "$data/journal/input" >"$TMP/dump" || fault_fail "journal dump"
$py - "$TMP/dump" "$n" <<'PY' || fault_fail "the journal does not hold every good trade exactly once"
import re, sys
n = int(sys.argv[2])
ids = [int(m.group(1)) for m in (re.search(r" event trade binance:BTC-USDT .*\bid=(\d+)", l) for l in open(sys.argv[1])) if m]
gaps = sum(1 for l in open(sys.argv[1]) if " gap " in l)
want = list(range(1000, 1000 + n))
if sorted(ids) != want:
    sys.exit("%d trades in the journal (%d distinct), want %d" % (len(ids), len(set(ids)), n))
if gaps:
    sys.exit("%d gap records" % gaps)
print("fault_ws_flood: the journal holds the %d good trades, each once, no gap" % n)
PY
echo "fault_ws_flood: $n good and $bad garbage frames in $ms ms on one connection; /metrics counted $got bad"
echo "fault_ws_flood: ok ($(($(date +%s) - start)) s)"
