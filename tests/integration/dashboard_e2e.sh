#!/usr/bin/env bash
# dashboard_e2e.sh — the dashboard of a real `tickpipe run` in Debian's headless chromium
# (tests/e2e/dashboard.mjs, playwright-core from tests/package.json).
#
#  1. A first `tickpipe run` writes three hours of history into the lake: the simulator from
#     three hours ago at max pace (20 events/s of event time, ending a little before now),
#     stopped at its end.
#  2. A second `tickpipe run` serves the dashboard on a free loopback port, on a new data
#     directory holding only that lake (and --lake off, so nothing writes it): its journal and
#     live store have none of the history, so every bar before the restart the chart shows
#     came from the lake through /api/bars. (The same data directory would not do: the first
#     run's end is an eof, after which the engine takes every later trade of an instrument as
#     late — docs/engine.md.) The simulator runs live (200 events/s) with a price shock every
#     2 s of event time (--sim-shock), which the engine's 3-sigma return detector reports.
#     A Binance source and a Yahoo poller point at a closed port: the health panel must list
#     them with their connector state (backoff or connecting; failing or waiting).
#  3. The browser checks what a user sees: the instrument list, live prices, the candlestick
#     chart with history from the lake (/api/bars: bars from before the restart), switching
#     instrument and interval, an anomaly arriving in the alert feed, no console errors.
# Screenshots are kept in $TP_BUILD/artifacts/dashboard/ (the scratch directory is removed).
# Skipped, saying why, when chromium or tests/node_modules is missing (`make test` installs
# both).
set -euo pipefail
src=${TP_SRC:?TP_SRC is the source root}
: "${TICKPIPE:?TICKPIPE must name the tickpipe binary}"
: "${TP_BUILD:?TP_BUILD is the build directory}"
if [ ! -x /usr/bin/chromium ]; then echo "SKIP: /usr/bin/chromium is not installed (scripts/install-deps.sh test)"; exit 0; fi
if [ ! -d "$src/tests/node_modules/playwright-core" ]; then echo "SKIP: tests/node_modules is missing (make node-deps)"; exit 0; fi
tmp=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
data=$tmp/data

# 1. History: 3 h of event time at 20 events/s, ending about 2.5 minutes before now.
start=$(date -u -d '-3 hours' +%Y-%m-%dT%H:%M:00Z)
if ! "$TICKPIPE" run --data "$tmp/first" --sim-start "$start" --sim-pace max --sim-rate 20 \
    --sim-events 213000 --exit-at-eof --http off 2>"$tmp/run1.log"; then
  cat "$tmp/run1.log"; exit 1
fi
ls "$tmp"/first/lake/bars/interval=5m/date=*/*.parquet >/dev/null || { echo "FAIL no 5m bars in the lake"; exit 1; }
mkdir -p "$data"
mv "$tmp/first/lake" "$data/lake"

# 2. Live, serving.
restart=$(date -u +%Y-%m-%dT%H:%M:%SZ)
# Two connectors pointed at a closed loopback port, for the health panel's connector rows
# (a WebSocket venue backing off, a REST poller failing); they write no data.
closed=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$TICKPIPE" run --data "$data" --lake off --http 127.0.0.1:0 --sim-shock 2s --status-interval 0 \
    --source sim --source binance:BTCUSDT --endpoint "binance=ws://127.0.0.1:$closed/ws" \
    --source yahoo:AAPL --endpoint "yahoo=http://127.0.0.1:$closed" 2>"$tmp/run2.log" &
pid=$!
url=
for _ in $(seq 1 150); do
  url=$(grep -o 'port [0-9]*' "$tmp/run2.log" 2>/dev/null | head -1 | sed 's/port /http:\/\/127.0.0.1:/' || true)
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$url" ] || { cat "$tmp/run2.log"; exit 1; }

mkdir -p "$tmp/shots"
rc=0
(cd "$src/tests" && HOME=$tmp HISTORY_BEFORE=$restart node e2e/dashboard.mjs "$url/#sim%3ABTC-USD/1m" "$tmp/shots") || rc=$?
art=$TP_BUILD/artifacts/dashboard
mkdir -p "$art"
cp "$tmp"/shots/*.png "$art/" 2>/dev/null && echo "screenshots: $art"
kill -TERM "$pid"
if ! wait "$pid"; then echo "FAIL tickpipe run did not stop cleanly"; tail -20 "$tmp/run2.log"; rc=1; fi
pid=
exit $rc
