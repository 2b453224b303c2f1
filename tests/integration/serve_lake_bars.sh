#!/usr/bin/env bash
# serve_lake_bars.sh — GET /api/bars answers history from the Parquet lake after a restart.
#
#  1. `tickpipe run` with the simulator at max pace from a fixed past start (2026-11-23 22:00
#     UTC, about 2 h of event time across midnight, a price shock every 5 s) writes the lake
#     and stops at its end.
#  2. A new `tickpipe run` on the same data (live simulator; its live store does not hold that
#     history) serves HTTP on a free port. /api/bars for ranges before the restart must be
#     exactly what DuckDB reads from the lake (tests/duckdb/lake_bars_api.mjs: every served
#     column), with from/to/limit respected, across the date partitions; 1s bars (not in the
#     lake) come from the live store only; bad parameters are still 400 naming the parameter;
#     a corrupt lake file gives a 500 with a JSON error and the server keeps serving.
#  3. With every lake read held 3 s (TICKPIPE_TEST_HISTORY_DELAY_MS, a test hook), /healthz,
#     /api/instruments and a live-only /api/bars answer at once while a history request waits
#     (the reads are off the event loop), the waiting request then completes with its bars,
#     and a client that gives up while its read runs does not disturb the server; SIGTERM
#     with a read in flight exits 0 (ASan: no leak, no use after free).
set -uo pipefail
: "${TICKPIPE:?TICKPIPE must name the tickpipe binary}"
SRC=${TP_SRC:?TP_SRC is the source root}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tp_lake_bars.XXXXXX")
pid=
trap '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
data=$tmp/data
pass=0 failed=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
die() { echo "serve_lake_bars: FAIL: $*" >&2; exit 1; }

# 1. History into the lake.
"$TICKPIPE" run --data "$data" --sim-start 2026-11-23T22:00:00Z --sim-pace max --sim-rate 20 \
    --sim-events 150000 --sim-shock 5s --exit-at-eof --http off 2>"$tmp/run1.log" ||
    { cat "$tmp/run1.log" >&2; die "the first run failed"; }
ls "$data"/lake/bars/interval=1m/date=2026-11-23/*.parquet "$data"/lake/bars/interval=1m/date=2026-11-24/*.parquet >/dev/null ||
    die "the lake has no 1m bars for both days"

# start LOG [ENV...]: tickpipe run on a free port in the background; sets pid and url.
start() {
    local log=$1; shift
    env "$@" "$TICKPIPE" run --data "$data" --http 127.0.0.1:0 --status-interval 0 2>"$log" &
    pid=$!
    url=
    for _ in $(seq 150); do
        url=$(grep -o 'port [0-9]*' "$log" 2>/dev/null | head -1 | sed 's/port /http:\/\/127.0.0.1:/')
        [ -n "$url" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$url" ] || { cat "$log" >&2; die "tickpipe run did not start serving"; }
}
stop() { # LOG: SIGTERM, exit 0 expected
    kill -TERM "$pid"
    wait "$pid"
    local rc=$?
    pid=
    if [ $rc -eq 0 ]; then ok "SIGTERM exits 0 ($1)"; else bad "exit $rc ($1): $(tail -5 "$tmp/$1")"; fi
}
status() { curl -s -o "$tmp/body" -w '%{http_code}' "$url$1"; }

# 2. History after a restart.
start "$tmp/run2.log"
I=sim:BTC-USD
QUERIES=$(cat <<EOF
[{"instrument":"$I","interval":"1m","from":"2026-11-23T22:30:00Z","to":"2026-11-23T23:30:00Z","min":60},
 {"instrument":"$I","interval":"1m","from":"2026-11-23T23:00:00Z","to":"2026-11-24T00:10:00Z","limit":50,"min":50},
 {"instrument":"$I","interval":"1m","to":"2026-11-24T00:00:00Z","limit":10000,"min":100},
 {"instrument":"$I","interval":"1m","from":"2026-11-23T23:59:00Z","to":"2026-11-24T00:01:00Z","min":2},
 {"instrument":"$I","interval":"5m","limit":10000,"min":20},
 {"instrument":"$I","interval":"1h","min":2},
 {"instrument":"$I","interval":"1d","min":1},
 {"instrument":"sim:AAPL","interval":"15m","from":"2026-11-23T22:00:00Z","min":5},
 {"instrument":"sim:ETH-USD","interval":"1m","to":"2026-11-23T22:20:00Z","limit":7,"min":7},
 {"instrument":"sim:EUR-USD","interval":"5m","from":"2026-11-23T23:00:00Z","to":"2026-11-24T00:00:00Z","min":12},
 {"instrument":"sim:NOPE-USD","interval":"1m"},
 {"instrument":"$I","interval":"1m","from":"2026-11-20T00:00:00Z","to":"2026-11-21T00:00:00Z"}]
EOF
)
if (cd "$SRC/tests" && QUERIES=$QUERIES node duckdb/lake_bars_api.mjs "$url" "$data/lake"); then
    ok "/api/bars history equals DuckDB's reading of the lake"
else
    bad "/api/bars history differs from DuckDB"
fi
# 1s bars are not in the lake: only what the live store holds (nothing that old).
code=$(status "/api/bars?instrument=$I&interval=1s&to=2026-11-23T23:00:00Z")
[ "$code" = 200 ] && [ "$(cat "$tmp/body")" = "[]" ] && ok "1s history is live-only ([])" || bad "1s: $code $(head -c 200 "$tmp/body")"
# Bad parameters are still 400, naming the parameter.
for q in "instrument=$I&limit=0:limit" "instrument=$I&limit=10001:limit" "instrument=$I&interval=x:interval" \
    "instrument=$I&from=yesterday:from" "instrument=$I&from=2026-11-24&to=2026-11-23:from" \
    "interval=1m:instrument" "instrument=BTC:instrument" "instrument=$I&foo=1:foo" "instrument=$I&limit=5&limit=6:limit"; do
    p=${q%:*} name=${q##*:}
    code=$(status "/api/bars?$p")
    if [ "$code" = 400 ] && grep -q "'$name'" "$tmp/body"; then ok "400 for $p"; else bad "$p: $code $(cat "$tmp/body")"; fi
done
# A corrupt lake file: 500 with a JSON error; the server goes on serving.
bogus=$data/lake/bars/interval=15m/date=2026-11-23/part-output-0-00000000000000000001-00000000000000000002.parquet
head -c 3000 /dev/urandom >"$bogus"
code=$(status "/api/bars?instrument=$I&interval=15m")
if [ "$code" = 500 ] && grep -q '"error":"lake read failed: ' "$tmp/body"; then ok "corrupt file: 500 $(head -c 160 "$tmp/body")"; else bad "corrupt file: $code $(cat "$tmp/body")"; fi
rm -f "$bogus"
code=$(status "/api/bars?instrument=$I&interval=15m&to=2026-11-24")
[ "$code" = 200 ] && grep -q '"final":true' "$tmp/body" && ok "and 200 once it is gone" || bad "after removal: $code"
[ "$(status /healthz)" = 200 ] && ok "/healthz after the errors" || bad "/healthz after the errors"
sleep 1.1 # the history queue is published once a second
status /metrics >/dev/null
grep -q '^tickpipe_queue_depth{queue="http:history"} 0$' "$tmp/body" &&
    grep -q '^tickpipe_queue_capacity{queue="http:history"} 32$' "$tmp/body" &&
    ok "/metrics shows the history queue" || bad "/metrics: $(grep history "$tmp/body")"
stop run2.log

# 3. Lake reads off the event loop: hold each one 3 s.
start "$tmp/run3.log" TICKPIPE_TEST_HISTORY_DELAY_MS=3000
t0=$(date +%s%N)
curl -s -o "$tmp/slow.json" -w '%{http_code}' "$url/api/bars?instrument=$I&interval=1h&to=2026-11-24" >"$tmp/slow.code" &
slow=$!
sleep 0.3
t1=$(date +%s%N)
h=$(status /healthz)
i=$(status /api/instruments)
l=$(status "/api/bars?instrument=$I&interval=1s&limit=5")
t2=$(date +%s%N)
if kill -0 "$slow" 2>/dev/null && [ "$h$i$l" = 200200200 ] && [ $(((t2 - t1) / 1000000)) -lt 2000 ]; then
    ok "healthz, instruments and live bars answer in $(((t2 - t1) / 1000000)) ms while a history read waits"
else
    bad "other requests blocked or failed: $h $i $l in $(((t2 - t1) / 1000000)) ms"
fi
wait "$slow"
t3=$(date +%s%N)
if [ "$(cat "$tmp/slow.code")" = 200 ] && [ "$(grep -o '"final":true' "$tmp/slow.json" | wc -l)" -ge 2 ] && [ $(((t3 - t0) / 1000000)) -ge 2900 ]; then
    ok "the held history request completes with its bars after $(((t3 - t0) / 1000000)) ms"
else
    bad "held request: $(cat "$tmp/slow.code") $(head -c 200 "$tmp/slow.json")"
fi
# A full queue: 2 reads run, 32 wait, the rest are refused at once (503); the waiting
# clients give up after 2 s (their reads are cancelled).
args=()
for k in $(seq 40); do
    args+=(-o /dev/null -w '%{http_code}\n' "$url/api/bars?instrument=$I&interval=1h&to=2026-11-24&limit=$((100 + k))")
done
curl -s -m 2 --parallel --parallel-immediate --parallel-max 50 "${args[@]}" >"$tmp/codes" 2>/dev/null || true
n503=$(grep -c '^503$' "$tmp/codes" || true)
n000=$(grep -c '^000$' "$tmp/codes" || true)
if [ "$n503" -ge 6 ] && [ "$n503" -le 8 ] && [ $((n503 + n000)) -eq 40 ]; then
    ok "a full history queue refuses $n503 of 40 requests with 503 at once"
else
    bad "full queue: $(sort "$tmp/codes" | uniq -c | tr '\n' ' ')"
fi
sleep 2.2
status /metrics >/dev/null
grep -q "^tickpipe_queue_dropped_total{queue=\"http:history\"} $n503\$" "$tmp/body" &&
    grep -q '^tickpipe_queue_depth{queue="http:history"} 0$' "$tmp/body" &&
    ok "/metrics counts the $n503 refused; the queue is empty again" || bad "/metrics: $(grep history "$tmp/body")"
# A client that gives up while its read runs (and one still queued).
gone=()
for iv in 5m 15m 1m; do # two reads run, one waits in the queue
    curl -s -m 1 "$url/api/bars?instrument=$I&interval=$iv&to=2026-11-24" >/dev/null 2>&1 &
    gone+=($!)
done
wait "${gone[@]}"
sleep 2.5
[ "$(status /healthz)" = 200 ] && ok "server fine after clients left mid-read" || bad "server after clients left"
# SIGTERM while a read is in flight.
curl -s -m 5 "$url/api/bars?instrument=$I&interval=1h&to=2026-11-24" >/dev/null 2>&1 &
inflight=$!
sleep 0.5
stop run3.log
wait "$inflight"
if grep -q 'ERROR: AddressSanitizer\|LeakSanitizer\|runtime error' "$tmp"/run*.log; then
    bad "sanitizer report: $(grep -h -m3 'Sanitizer\|runtime error' "$tmp"/run*.log)"
else
    ok "no sanitizer reports"
fi
echo "$pass passed, $failed failed"
[ $failed -eq 0 ]
