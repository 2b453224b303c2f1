#!/usr/bin/env bash
# run_cli.sh — the command line of `tickpipe run`: `help run` lists every setting with its
# default; a bad flag or value is exit 2 with one line naming the setting; sources and roles
# not in this version are exit 2 with one line; SIGTERM stops cleanly (exit 0) and leaves a
# journal that verifies; a finite simulator run with --exit-at-eof ends by itself.
set -uo pipefail
: "${TICKPIPE:?TICKPIPE must name the tickpipe binary}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tp_run_cli.XXXXXX")
pid=
trap '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
fail() { echo "run_cli: FAIL: $*" >&2; exit 1; }

# help lists every setting, its variable and its default
help=$("$TICKPIPE" help run) || fail "help run exited $?"
for s in data source sim-rate sim-pace sim-events seed sync sync-interval sync-records \
    segment-bytes ring-capacity status-interval retention-bytes retention-age http \
    exit-at-eof role; do
    grep -q -- "--$s\b" <<<"$help" || fail "help run does not list --$s"
    var=TICKPIPE_$(tr 'a-z-' 'A-Z_' <<<"$s")
    grep -q "env $var," <<<"$help" || fail "help run does not name $var"
done
grep -q 'default: ./data' <<<"$help" || fail "help run does not show the default of --data"
grep -q 'default: group' <<<"$help" || fail "help run does not show the default of --sync"
rh=$("$TICKPIPE" run --help) || fail "run --help exited $?"
grep -q -- "--sim-rate" <<<"$rh" || fail "run --help differs from help run"

# expect_usage NAME_IN_MESSAGE ARGS...: exit 2, exactly one line on stderr naming it
expect_usage() {
    local want=$1
    shift
    local err rc
    err=$("$TICKPIPE" run --data "$tmp/never" "$@" 2>&1 >/dev/null)
    rc=$?
    [ $rc -eq 2 ] || fail "run $* exited $rc, want 2 ($err)"
    [ "$(wc -l <<<"$err")" -eq 1 ] || fail "run $* printed more than one line: $err"
    grep -qF -- "$want" <<<"$err" || fail "run $*: message does not name '$want': $err"
}
expect_usage "--bogus" --bogus
expect_usage "--sync" --sync sometimes
expect_usage "--sim-rate" --sim-rate fast
expect_usage "--sim-rate" --sim-rate 0
expect_usage "--sim-rate" --sim-rate 5000000
expect_usage "--sim-pace" --sim-pace slow
expect_usage "--sim-events" --sim-events -5
expect_usage "--seed" --seed x
expect_usage "--status-interval" --status-interval soon
expect_usage "--sync-interval" --sync-interval 0
expect_usage "--ring-capacity" --ring-capacity 1000
expect_usage "--segment-bytes" --segment-bytes 10
expect_usage "--http" --http nowhere
expect_usage "--role" --role process
expect_usage "--role" --role boss
expect_usage "--retention-age" --retention-age forever
expect_usage "--source" --source binance:BTC-USDT@candles
expect_usage "--source" --source okx:BTC-USDT@trades+bars=1m
expect_usage "--source" --source binance:
expect_usage "--source" --source coingecko:
expect_usage "--source" --source yahoo:AAPL@7m
expect_usage "--endpoint" --endpoint coingecko=ws://127.0.0.1:1/ --source sim
expect_usage "--poll-interval" --poll-interval coingecko=soon --source sim
expect_usage "--poll-interval" --poll-interval binance=5s --source sim
expect_usage "--venue-backfill" --venue-backfill maybe --source sim
expect_usage "--endpoint" --endpoint binance=http://127.0.0.1:1/ --source sim
expect_usage "--venue-watchdog" --venue-watchdog 10ms --source sim
expect_usage "--venue-backoff-max" --venue-backoff-min 2s --venue-backoff-max 1s --source sim
expect_usage "missing.csv" --source "replay:$tmp/missing.csv"
printf 'ts,instrument,price,size\n' >"$tmp/ok.csv"
expect_usage "speed" --source "replay:$tmp/ok.csv@0"
expect_usage "--source" --source "replay:$tmp/ok.csv@fast"
expect_usage "another replay source" --source "replay:$tmp/ok.csv" --source "replay:$tmp/./ok.csv@2" \
    --exit-at-eof --http off
expect_usage "--source" --source kafka:tickpipe.ticks
expect_usage "--source" --source nonsense
expect_usage "--source" --source sim:BTC-USD,NOPE
expect_usage "--source" --source sim:BTC-USD --source sim:ETH-USD
expect_usage "unexpected argument" stray
[ ! -e "$tmp/never" ] || fail "a refused run created its data directory"
# environment variables are settings too
err=$(TICKPIPE_SYNC=sometimes "$TICKPIPE" run --data "$tmp/never" 2>&1 >/dev/null)
[ $? -eq 2 ] && grep -q -- "--sync" <<<"$err" || fail "TICKPIPE_SYNC=sometimes was not refused: $err"

# SIGTERM: exit 0, everything committed, a journal that verifies
data=$tmp/data
"$TICKPIPE" run --data "$data" --sim-rate 5000 --status-interval 300ms --http 127.0.0.1:0 \
    2>"$tmp/run.log" &
pid=$!
sleep 1.5
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
[ $rc -eq 0 ] || { cat "$tmp/run.log" >&2; fail "SIGTERM: exit $rc, want 0"; }
grep -q 'status: .* ev/s, .* events, journal next [0-9]* durable [0-9]*, .*, drops [0-9]*' \
    "$tmp/run.log" || { cat "$tmp/run.log" >&2; fail "no status line"; }
grep -q 'http: serving .* (port [0-9]*)' "$tmp/run.log" || fail "no notice of the HTTP port"
grep -q 'received SIGTERM' "$tmp/run.log" || fail "SIGTERM not logged"
next=$(grep -o 'journal next [0-9]* all durable' "$tmp/run.log" | grep -o '[0-9]*')
[ -n "$next" ] && [ "$next" -gt 1000 ] || fail "final line does not report the durable records"
"$TICKPIPE" journal verify "$data/journal/input" >"$tmp/verify.out" 2>&1 ||
    { cat "$tmp/verify.out" >&2; fail "journal verify failed after SIGTERM"; }

# A restart on the same journal says what recovery found (here: a torn tail of 5 bytes, as a
# crash in the middle of a write leaves), then continues it.
seg=$(ls "$data/journal/input/"*.seg | sort | tail -1)
printf '\x40\x00\x00\x00\x01' >>"$seg"
"$TICKPIPE" run --data "$data" --http off --sim-events 2000 --sim-pace max --exit-at-eof \
    --status-interval 0 2>"$tmp/run2.log" || { cat "$tmp/run2.log" >&2; fail "finite run failed"; }
grep -q "offsets 0\.\.$next" "$tmp/run2.log" || { cat "$tmp/run2.log" >&2; fail "recovery report"; }
grep -q "cut a torn tail of 5 byte(s) from .*$(basename "$seg")" "$tmp/run2.log" ||
    { cat "$tmp/run2.log" >&2; fail "the torn tail was not reported"; }
grep -q 'every source reached its end' "$tmp/run2.log" || fail "finite run did not end by itself"
"$TICKPIPE" journal verify "$data/journal/input" >"$tmp/verify.out" 2>&1 ||
    { cat "$tmp/verify.out" >&2; fail "journal verify failed after the finite run"; }

# A journal that cannot be opened (the data path is a file) is a runtime failure: exit 3.
touch "$tmp/file"
"$TICKPIPE" run --data "$tmp/file" --status-interval 0 --http off 2>"$tmp/run3.log"
rc=$?
[ $rc -eq 3 ] || { cat "$tmp/run3.log" >&2; fail "unusable data dir: exit $rc, want 3"; }
echo "run_cli: ok"
