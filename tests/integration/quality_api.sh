#!/usr/bin/env bash
# quality_api.sh — /api/quality shows the latest `tickpipe validate` report of the data
# directory that `tickpipe run` serves: [] before any, the report (the same JSON object as
# DATA/quality.json) once validate has run, and the new one after validate runs again. The
# file is read by a watcher thread, never by the HTTP loop. Only 127.0.0.1 is contacted.
set -euo pipefail
TP=${TICKPIPE:?TICKPIPE must name the tickpipe binary}
SRC=${TP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${TP_BUILD:-$SRC/build-asan}
fail() { echo "quality_api: FAIL: $*" >&2; exit 1; }
dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT

: >"$dir/run.err" # exists before the loop reads it (the background job opens it later)
"$TP" run --data "$dir/d" --http 127.0.0.1:0 --sim-rate 50 --status-interval 0 2>"$dir/run.err" &
pid=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$dir/run.err" | head -1)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || fail "run did not start: $(cat "$dir/run.err")"
U=http://127.0.0.1:$port
[ "$(curl -s --max-time 5 "$U/api/quality")" = "[]" ] || fail "before validate: $(curl -s "$U/api/quality")"
[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$U/api/quality?x=1")" = 400 ] ||
  fail "an unknown parameter is not refused"

# a report of a good lake, copied into the served data directory
"$BUILD/lake_tool" "$dir/lake" --days 1 >/dev/null
"$TP" validate --data "$dir/lake" --json >/dev/null || fail "validate of the good lake"
cp "$dir/lake/quality.json" "$dir/d/quality.json.new" && mv "$dir/d/quality.json.new" "$dir/d/quality.json"
wait_for() { # python condition on the parsed body d
  for _ in $(seq 60); do
    curl -s --max-time 5 "$U/api/quality" >"$dir/body" || true
    /usr/bin/python3 -c "import json,sys; d=json.load(open('$dir/body')); sys.exit(0 if ($1) else 1)" 2>/dev/null && return 0
    sleep 0.25
  done
  return 1
}
wait_for "len(d) == 1 and d[0]['ok'] is True and d[0]['rows']['ticks'] > 0" ||
  fail "the good report did not appear: $(head -c 300 "$dir/body")"
/usr/bin/python3 - "$dir/body" "$dir/lake/quality.json" <<'PYEOF' || fail "the API's report differs from quality.json"
import json, sys
assert json.load(open(sys.argv[1]))[0] == json.load(open(sys.argv[2]))
PYEOF
# validate of the served directory itself (no lake yet): a failing report replaces it
set +e
"$TP" validate --data "$dir/d" >/dev/null; rc=$?
set -e
[ $rc -eq 1 ] || fail "validate of a directory without a lake: exit $rc"
wait_for "len(d) == 1 and d[0]['ok'] is False and any(c['check'] == 'schema' and c['status'] == 'fail' for c in d[0]['checks'])" ||
  fail "the new report did not replace the old one: $(head -c 300 "$dir/body")"
# a malformed file keeps the last good report
printf '{"broken' >"$dir/d/quality.json.new" && mv "$dir/d/quality.json.new" "$dir/d/quality.json"
sleep 2.5
wait_for "len(d) == 1 and d[0]['ok'] is False" || fail "a malformed file replaced the report"
kill "$pid"
wait "$pid" || fail "run did not stop cleanly"
pid=
echo "quality_api: ok"
