#!/usr/bin/env bash
# dashboard_e2e.sh — the dashboard in Debian's headless chromium (tests/e2e/dashboard.mjs,
# playwright-core from tests/package.json), against serve_demo on a free loopback port with
# three hours of history and a price spike every 3 s. Screenshots are kept in
# $TP_BUILD/artifacts/dashboard/ (the test's scratch directory is removed). Skipped, saying
# why, when chromium or tests/node_modules is missing (`make test` installs both).
set -euo pipefail
src=${TP_SRC:?TP_SRC is the source root}
DEMO=${TP_BUILD:?TP_BUILD is the build directory}/serve_demo
if [ ! -x /usr/bin/chromium ]; then echo "SKIP: /usr/bin/chromium is not installed (scripts/install-deps.sh test)"; exit 0; fi
if [ ! -d "$src/tests/node_modules/playwright-core" ]; then echo "SKIP: tests/node_modules is missing (make node-deps)"; exit 0; fi
tmp=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

"$DEMO" --history 180 --spike-every 3 --rate 40 >"$tmp/demo.out" 2>"$tmp/demo.err" &
pid=$!
for _ in $(seq 1 100); do grep -q '^listening on ' "$tmp/demo.out" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$tmp/demo.out")
[ -n "$url" ] || { cat "$tmp/demo.err"; exit 1; }

mkdir -p "$tmp/shots"
rc=0
(cd "$src/tests" && HOME=$tmp node e2e/dashboard.mjs "$url/" "$tmp/shots") || rc=$?
art=$TP_BUILD/artifacts/dashboard
mkdir -p "$art"
cp "$tmp"/shots/*.png "$art/" 2>/dev/null && echo "screenshots: $art"
kill -TERM "$pid"
if ! wait "$pid"; then echo "FAIL serve_demo did not stop cleanly"; cat "$tmp/demo.err"; rc=1; fi
pid=
exit $rc
