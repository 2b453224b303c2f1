#!/usr/bin/env bash
# serve_api.sh — the HTTP API, /metrics, the live stream and the security rules, over real
# loopback connections to serve_demo (the server fed with synthetic data; see
# tests/tools/serve_demo.c): every route, every bad parameter (400 naming it), 404, traversal
# attempts, foreign Host and Origin, oversized requests, /metrics' text format, SSE delivery,
# the WebSocket protocol (serve_stream.mjs), a client that never reads being dropped while the
# publishing rate holds, and the token rule (a non-loopback bind refuses to start without
# TICKPIPE_TOKEN; with one, requests without it get 401). Only 127.0.0.1 is ever contacted.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
DEMO=${TP_BUILD:?TP_BUILD is the build directory}/serve_demo
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]+"${pids[@]}"}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
checkx() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

# start_demo NAME ARGS... : starts serve_demo, sets URL_<NAME>/PID_<NAME>.
start_demo() {
  local name=$1; shift
  "$DEMO" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 1 100); do
    grep -q '^listening on ' "$tmp/$name.out" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  local url
  url=$(sed -n 's/^listening on //p' "$tmp/$name.out")
  [ -n "$url" ] || { echo "serve_demo $name did not start:"; cat "$tmp/$name.err"; exit 1; }
  printf -v "URL_$name" '%s' "$url"
  printf -v "PID_$name" '%s' "$pid"
}

# get PATH [curl args...]: body in $tmp/body, status in $code, headers in $tmp/hdr.
get() {
  local path=$1; shift
  code=$(curl -s --path-as-is --max-time 10 -D "$tmp/hdr" -o "$tmp/body" -w '%{http_code}' "$@" "$U$path" || true)
}
body_has() { grep -qF -- "$1" "$tmp/body"; }
hdr_has() { grep -qiF -- "$1" "$tmp/hdr"; }
json() { python3 -c "import json,sys; d=json.load(open('$tmp/body')); sys.exit(0 if ($1) else 1)"; }
metric() { curl -s --max-time 5 "$1/metrics" | awk -v m="$2" '$1 == m { print $2 }'; }

start_demo main --history 30 --rate 200 --spike-every 2
U=$URL_main
sleep 1.5

# ---- every route ----
get /
check "GET / serves the dashboard" [ "$code" = 200 ]
check "the dashboard is HTML with a strict CSP" hdr_has "content-security-policy: default-src 'self'"
etag=$(awk -F': ' 'tolower($1) == "etag" { print $2 }' "$tmp/hdr" | tr -d '\r')
get / -H "If-None-Match: $etag"
check "an unchanged asset gets 304" [ "$code" = 304 ]
get /app.js
checkx "GET /app.js" '[ "$code" = 200 ] && hdr_has '\''content-type: text/javascript'\'''
get /style.css
checkx "GET /style.css" '[ "$code" = 200 ] && hdr_has '\''content-type: text/css'\'''
get /vendor/lightweight-charts.js
check "the charting library is embedded" body_has 'TradingView Lightweight Charts'
get /healthz
checkx "GET /healthz" '[ "$code" = 200 ] && body_has '\''{"status":"ok"}'\'''
get /api/instruments
check "GET /api/instruments lists the four instruments with their fields" json \
  "len(d) == 4 and all(list(r) == ['instrument','venue','venue_symbol','ts','price','bid','ask','change_24h','change_24h_pct','volume_24h','status','status_ts','records','avg_price','simulated'] for r in d) and {r['instrument'] for r in d} == {'sim:BTC-USD','sim:ETH-USD','sim:SOL-USD','fmp:EUR-USD'}"
check "a quote-only instrument shows its mid and bid/ask" json \
  "[r for r in d if r['instrument'] == 'fmp:EUR-USD'][0]['bid'] < [r for r in d if r['instrument'] == 'fmp:EUR-USD'][0]['price'] < [r for r in d if r['instrument'] == 'fmp:EUR-USD'][0]['ask']"
bar_cols="['instrument','interval','ts','open','high','low','close','volume','notional','vwap','trades','buy_volume','sell_volume','first_ts','last_ts','sma_20','ema_20','bb_upper','bb_middle','bb_lower','rsi_14','macd','macd_signal','macd_hist','atr_14','volatility_20','final']"
get '/api/bars?instrument=sim:BTC-USD&interval=1m'
check "GET /api/bars: the §5 columns, final bars then the open one" json \
  "len(d) >= 25 and all(list(b) == $bar_cols for b in d) and all(b['final'] for b in d[:-1]) and d[-1]['final'] is False and d[-1]['sma_20'] is None and d[-2]['sma_20'] is not None and d[0]['rsi_14'] is None"
check "bar times are RFC 3339 with 9 digits and Z, 1m apart" json \
  "__import__('re').fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000000000Z', d[0]['ts']) and all(b['interval'] == '1m' for b in d)"
first=$(python3 -c "import json; print(json.load(open('$tmp/body'))[5]['ts'])")
get "/api/bars?instrument=sim%3ABTC-USD&interval=1m&from=$first&limit=3"
check "from and limit: the newest 3 bars at or after from" json "len(d) == 3 and all(b['ts'] >= '$first' for b in d)"
from_epoch=$(python3 -c "import datetime; print(int(datetime.datetime.fromisoformat('${first%.*}+00:00').timestamp()))")
get "/api/bars?instrument=sim:BTC-USD&interval=5m&from=$from_epoch&to=${from_epoch}000"
check "epoch from (s) and to (ms) select nothing in an empty range" json "d == []"
get '/api/bars?instrument=sim:ETH-USD&interval=1s&limit=10'
check "1s bars with limit 10" json "len(d) == 10 and all(b['instrument'] == 'sim:ETH-USD' and b['interval'] == '1s' for b in d)"
tick_cols="['ts','ts_ns','ts_recv','instrument','venue_symbol','kind','price','size','side','trade_id','bid','ask','bid_size','ask_size','open','high','low','change','value']"
get '/api/ticks?instrument=sim:SOL-USD&limit=5'
check "GET /api/ticks: 5 rows with the §5 tick columns, ns as strings" json \
  "len(d) == 5 and all(list(t) == $tick_cols and isinstance(t['ts_ns'], str) and t['kind'] == 'trade' and isinstance(t['trade_id'], str) for t in d)"
get '/api/ticks?instrument=fmp:EUR-USD&limit=1'
check "quotes in /api/ticks carry bid and ask, price null" json "d[0]['kind'] == 'quote' and d[0]['price'] is None and d[0]['bid'] < d[0]['ask']"
get '/api/anomalies'
check "GET /api/anomalies: the anomaly columns" json \
  "len(d) >= 1 and all(list(a) == ['instrument','ts','kind','observed','expected','score','interval'] for a in d)"
last_ts=$(python3 -c "import json; print(json.load(open('$tmp/body'))[-1]['ts'])")
get "/api/anomalies?since=$last_ts"
check "since filters by time" json "len(d) >= 1 and all(a['ts'] >= '$last_ts' for a in d)"
get /api/quality
check "GET /api/quality is an empty array for now" [ "$(cat "$tmp/body")" = '[]' ]
get /api/health
check "GET /api/health" json "d['events_in'] > 0 and d['sources'][0]['name'] == 'sim'"

# ---- an empty query or a trailing '&' is no parameter ----
get '/api/instruments?'
check "GET /api/instruments? (empty query) is 200" [ "$code" = 200 ]
get '/api/bars?instrument=sim:BTC-USD&interval=1m&'
check "a trailing '&' is ignored" [ "$code" = 200 ]

# ---- bad parameters: 400 naming the parameter ----
while IFS='|' read -r path param; do
  get "$path"
  if [ "$code" = 400 ] && json "set(d) == {'error'} and \"'$param'\" in d['error']"; then
    ok "400 for $path names '$param'"
  else
    bad "$path: $code $(head -c 300 "$tmp/body")"
  fi
done <<'EOF'
/api/bars|instrument
/api/bars?instrument=BTCUSD|instrument
/api/bars?instrument=sim:BTC-USD&interval=2x|interval
/api/bars?instrument=sim:BTC-USD&interval=-1m|interval
/api/bars?instrument=sim:BTC-USD&from=tomorrow|from
/api/bars?instrument=sim:BTC-USD&to=2026-02-30T00:00:00Z|to
/api/bars?instrument=sim:BTC-USD&from=2026-02-02&to=2026-02-01|from
/api/bars?instrument=sim:BTC-USD&limit=0|limit
/api/bars?instrument=sim:BTC-USD&limit=99999|limit
/api/bars?instrument=sim:BTC-USD&limit=ten|limit
/api/bars?instrument=sim:BTC-USD&colour=red|colour
/api/bars?instrument=sim:BTC-USD&instrument=sim:ETH-USD|instrument
/api/ticks|instrument
/api/ticks?instrument=sim:BTC-USD&limit=1.5|limit
/api/anomalies?since=yesterday|since
/api/anomalies?instrument=sim|instrument
/api/anomalies?limit=-3|limit
/api/instruments?all=1|all
/api/quality?x=1|x
/api/stream?sse=1&kinds=ticks&instruments=bad|instruments
/api/stream?sse=1&kinds=trades&instruments=*|kinds
/api/stream?sse=1&instruments=*&intervals=x|intervals
/api/stream?sse=1&instruments=*&since=1|since
EOF

# ---- not found, traversal, methods, Host, size ----
for p in /nope /api/nope /api/bars/x '/../etc/passwd' '/%2e%2e%2fetc%2fpasswd' '/..%2f..%2fetc%2fpasswd' \
         '/..%5c..%5cetc%5cpasswd' '/static/%2e%2e/%2e%2e/etc/passwd' '/index.html/..%00/etc/passwd' \
         '/app.js%00.html' '/web/index.html'; do
  get "$p"
  if [ "$code" = 200 ] || grep -q 'root:' "$tmp/body" 2>/dev/null; then bad "$p served something ($code)";
  elif [ "$code" = 404 ]; then
    if json "d == {'error': 'not found'}"; then ok "$p → 404 JSON"; else bad "$p: 404 without JSON"; fi
  else ok "$p refused ($code)"; fi
done
get /api/instruments -X POST -d 'x=1'
check "POST is 405" [ "$code" = 405 ]
get /api/instruments -H 'Host: attacker.example'
check "a foreign Host is 403 on a loopback bind (DNS rebinding)" [ "$code" = 403 ]
get /healthz -H "X-Pad: $(head -c 16000 /dev/zero | tr '\0' a)"
check "an oversized request is refused" [ "$code" != 200 ]
get /api/instruments -H 'Origin: http://evil.example'
check "no CORS headers, even for a foreign Origin" bash -c "! grep -qi '^access-control' '$tmp/hdr'"

# ---- /metrics ----
get /metrics
check "/metrics is Prometheus text 0.0.4" hdr_has 'content-type: text/plain; version=0.0.4'
check "/metrics lines are comments or samples, each family declared" python3 - "$tmp/body" <<'EOF'
import re, sys
declared, ok = set(), True
for line in open(sys.argv[1]):
    line = line.rstrip('\n')
    m = re.fullmatch(r'# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)', line)
    if m:
        if m.group(1) == 'TYPE':
            ok &= m.group(3) in ('counter', 'gauge')
            declared.add(m.group(2))
        continue
    m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-z_]+="([^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+)', line)
    if not m or m.group(1) not in declared:
        print('bad line:', line); ok = False
sys.exit(0 if ok else 1)
EOF
for m in tickpipe_events_in_total tickpipe_events_out_total 'tickpipe_source_events_total{source="sim"}' \
         'tickpipe_bars_emitted_total{interval="1m"}' 'tickpipe_anomalies_total{kind="return_zscore"}' \
         tickpipe_late_events_total tickpipe_duplicate_events_total tickpipe_bad_events_total \
         tickpipe_lag_seconds 'tickpipe_queue_depth{queue="input"}' 'tickpipe_stream_clients{transport="sse"}' \
         'tickpipe_http_requests_total{route="/api/bars",code="400"}' tickpipe_stream_clients_dropped_total; do
  check "/metrics has $m" grep -q "^$m " "$tmp/body"
done

# ---- SSE ----
curl -s -N --max-time 3 "$U/api/stream?sse=1&instruments=sim:BTC-USD,sim:SOL-USD&kinds=ticks,anomalies" >"$tmp/sse" || true
check "SSE: subscribed first" bash -c "head -1 '$tmp/sse' | grep -q '^data: {\"type\":\"subscribed\",\"kinds\":{\"ticks\":\[\"sim:BTC-USD\",\"sim:SOL-USD\"\]'"
check "SSE delivers ticks of the subscribed instruments only" python3 - "$tmp/sse" <<'EOF'
import json, sys
msgs = [json.loads(l[6:]) for l in open(sys.argv[1]) if l.startswith('data: ')]
ticks = [m for m in msgs if m['type'] == 'tick']
print('  %d ticks' % len(ticks))
sys.exit(0 if len(ticks) >= 20 and {m['data']['instrument'] for m in ticks} == {'sim:BTC-USD', 'sim:SOL-USD'} else 1)
EOF
curl -s -N --max-time 2 -H 'Accept: text/event-stream' "$U/api/stream?instruments=*&kinds=prices" >"$tmp/sse2" || true
check "SSE by Accept header; prices for every instrument at once" bash -c "[ \$(grep -c '\"type\":\"price\"' '$tmp/sse2') -ge 4 ]"
get /api/stream
check "GET /api/stream without upgrade or SSE is 400" [ "$code" = 400 ]

# ---- WebSocket protocol ----
if node "$here/serve_stream.mjs" protocol "$U" >"$tmp/ws.out" 2>&1; then ok "WebSocket protocol ($(tail -1 "$tmp/ws.out"))"
else cat "$tmp/ws.out"; bad "WebSocket protocol"; fi

# ---- a client that never reads is dropped; the publisher's rate holds ----
start_demo fast --history 0 --rate 5000 --client-queue 64
F=$URL_fast
sleep 1
for kind in sse ws; do
  d0=$(metric "$F" tickpipe_stream_clients_dropped_total)
  node "$here/serve_stream.mjs" "slow-$kind" "$F" >"$tmp/slow-$kind.out" 2>&1 &
  slow=$!
  pids+=("$slow")
  e0=$(metric "$F" tickpipe_live_events_total); t0=$(date +%s.%N)
  dropped=no
  for _ in $(seq 1 100); do
    d=$(metric "$F" tickpipe_stream_clients_dropped_total)
    c=$(curl -s --max-time 5 "$F/metrics" | awk '/^tickpipe_stream_clients\{/ { s += $2 } END { print s }')
    if [ "${d:-0}" -gt "${d0:-0}" ] && [ "${c:-1}" = 0 ]; then dropped=yes; break; fi
    sleep 0.2
  done
  e1=$(metric "$F" tickpipe_live_events_total); t1=$(date +%s.%N)
  check "a $kind client that never reads is told it lagged and dropped" [ "$dropped" = yes ]
  rate=$(python3 -c "print(int(($e1 - $e0) / ($t1 - $t0)))")
  check "publishing held its rate meanwhile ($rate events/s, 5000 wanted)" [ "$rate" -ge 3500 ]
  kill "$slow" 2>/dev/null || true
done
U=$F get /healthz
check "the server still answers after dropping slow clients" [ "$code" = 200 ]

# ---- the token rule ----
if TICKPIPE_TOKEN= "$DEMO" --http 0.0.0.0:0 >"$tmp/notoken.out" 2>"$tmp/notoken.err"; then rc=0; else rc=$?; fi
check "a non-loopback bind without TICKPIPE_TOKEN refuses to start (exit $rc)" [ "$rc" = 2 ]
check "the refusal names TICKPIPE_TOKEN" grep -q 'refusing to serve on 0.0.0.0:0 without a token.*TICKPIPE_TOKEN' "$tmp/notoken.err"
TICKPIPE_TOKEN=s3cret-Token_1 start_demo tok --http 0.0.0.0:0 --history 5
port=${URL_tok##*:}
U=http://127.0.0.1:$port
get /api/instruments
checkx "with a token, a request without it is 401" '[ "$code" = 401 ] && hdr_has '\''www-authenticate: Bearer'\'''
get /api/instruments -H 'Authorization: Bearer wrong'
check "a wrong token is 401" [ "$code" = 401 ]
get /api/instruments -H 'Authorization: Bearer s3cret-Token_1'
check "the bearer token is accepted" [ "$code" = 200 ]
get '/?token=s3cret-Token_1'
checkx "?token= is accepted and sets an HttpOnly SameSite cookie" '[ "$code" = 200 ] && hdr_has '\''set-cookie: tp_token=s3cret-Token_1; Path=/; HttpOnly; SameSite=Strict'\'''
get /api/instruments -H 'Cookie: a=b; tp_token=s3cret-Token_1'
check "the cookie is accepted" [ "$code" = 200 ]
get /healthz
check "/healthz needs no token" [ "$code" = 200 ]
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
  -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' "$U/api/stream" || true)
check "a WebSocket upgrade without the token is 401" [ "$code" = 401 ]

# ---- clean shutdown ----
for n in main fast tok; do
  pid_var=PID_$n
  kill -TERM "${!pid_var}"
  if wait "${!pid_var}"; then ok "serve_demo $n stops cleanly on SIGTERM"; else bad "serve_demo $n exit $?: $(tail -5 "$tmp/$n.err")"; fi
done
for n in main fast tok; do
  if grep -q 'ERROR\|Sanitizer' "$tmp/$n.err"; then bad "$n stderr: $(head -5 "$tmp/$n.err")"; fi
done

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
