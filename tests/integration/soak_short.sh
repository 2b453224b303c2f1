#!/usr/bin/env bash
# soak_short.sh — the short form of the memory soak (tests/soak/soak.sh; `make soak` runs the
# long one): the ASan binary for 20 s at 20 k simulated events/s plus 50 replayed
# instruments, HTTP on a free port, one WebSocket client subscribed to every tick and bar.
# The client takes the ticks of 20 replayed instruments (about 200/s: a test on a busy shared
# machine must not depend on the ASan build's HTTP thread keeping up with every tick) and the
# bars of every instrument.
# Checks: the client stays connected and receives ticks and bars, tickpipe stops cleanly,
# RSS stays under 1 GiB (ASan's shadow and quarantine included), and LeakSanitizer reports
# nothing at exit. RSS flatness needs the long run (ASan's quarantine grows for minutes).
set -euo pipefail
: "${TICKPIPE:?}" "${TP_SRC:?}"
out=$(mktemp -d "${TMPDIR:-/tmp}/tp_soak_short.XXXXXX")
trap 'rm -rf "$out"' EXIT
SOAK_TICKS=$(seq -f 'soak:S%03g' 1 20 | paste -sd,) SOAK_BIN=$TICKPIPE SOAK_SECONDS=${SOAK_SECONDS:-20} SOAK_RATE=20000 SOAK_INSTRUMENTS=50 \
  SOAK_REPLAY_RATE=500 SOAK_FLAT=0 SOAK_LEAKS=1 SOAK_RSS_MAX_MB=1024 SOAK_OUT=$out \
  "$TP_SRC/tests/soak/soak.sh"
