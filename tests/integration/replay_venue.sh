#!/usr/bin/env bash
# replay --venue: raw wire messages through a venue's parser, exactly as live, into bars.
# A small Binance sample written here from the documented trade-stream format always runs;
# the recorded sessions in ../shared/fixtures run when that folder is present.
set -uo pipefail
: "${TICKPIPE:?}"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fail=0
err() { echo "replay_venue: $*" >&2; fail=1; }

cat >"$WORK/binance.jsonl" <<'J'
{"e":"trade","E":1700000000100,"s":"BTCUSDT","t":1,"p":"37000.10","q":"0.5","T":1700000000100,"m":true,"M":true}
{"e":"trade","E":1700000000900,"s":"BTCUSDT","t":2,"p":"37001.00","q":"0.25","T":1700000000900,"m":false,"M":true}
{"result":null,"id":1}
{"e":"trade","E":1700000061000,"s":"BTCUSDT","t":3,"p":"36999.5","q":"1","T":1700000061000,"m":false,"M":true}
not json
J
"$TICKPIPE" replay --venue binance "$WORK/binance.jsonl" --out "$WORK/o" --intervals 1m 2>"$WORK/err"
rc=$?
[ $rc -eq 0 ] || err "exit $rc: $(cat "$WORK/err")"
want='binance:BTC-USDT,1m,2023-11-14T22:13:00.000000000Z,37000.1,37001,37000.1,37001,0.75,27750.3,37000.4,2,0.25,0.5'
got=$(sed -n 2p "$WORK/o/bars.csv" | cut -d, -f1-13)
[ "$got" = "$want" ] || err "first bar: got '$got' want '$want'"
[ "$(wc -l <"$WORK/o/bars.csv")" = 3 ] || err "expected 2 bars, got $(($(wc -l <"$WORK/o/bars.csv") - 1))"
grep -q 'bad messages' "$WORK/err" || err "the bad line was not reported"
"$TICKPIPE" replay --venue binance "$WORK/binance.jsonl" --out "$WORK/s" --strict 2>/dev/null
[ $? -eq 1 ] || err "--strict on a bad line should exit 1"
"$TICKPIPE" replay --venue nowhere "$WORK/binance.jsonl" --out "$WORK/x" 2>/dev/null
[ $? -eq 2 ] || err "an unknown venue should exit 2"

fx="${TP_SHARED:-}/fixtures"
if [ -d "$fx" ]; then
    for v in binance:combined_session_2021-04-17 okx:trades_2021-07-22 kraken:v2_trade \
        bybit:spot_publicTrade bitstamp:live_trades finnhub:trade coinbase:market_trades; do
        venue=${v%%:*} file=${v#*:}
        dir=$venue
        [ "$venue" = coinbase ] && dir=coinbase_advanced
        f="$fx/$dir/$file.jsonl"
        [ -f "$f" ] || { echo "replay_venue: skip $f (absent)"; continue; }
        "$TICKPIPE" replay --venue "$venue" "$f" --out "$WORK/$venue.1" 2>/dev/null || err "$venue: exit $?"
        "$TICKPIPE" replay --venue "$venue" "$f" --out "$WORK/$venue.2" 2>/dev/null || err "$venue: exit $?"
        n=$(($(wc -l <"$WORK/$venue.1/bars.csv") - 1))
        [ "$n" -gt 0 ] || err "$venue: no bars from $file"
        cmp -s "$WORK/$venue.1/bars.csv" "$WORK/$venue.2/bars.csv" || err "$venue: replay not deterministic"
        echo "replay_venue: $venue $file: $n bars"
    done
else
    echo "replay_venue: skip the recorded sessions: $fx is absent"
fi
[ $fail -eq 0 ] && echo "replay_venue: 1 passed, 0 failed"
exit $fail
