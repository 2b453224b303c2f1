#!/usr/bin/env bash
# crash_short.sh — the short form of the crash campaign (tests/crash/crash.sh, docs/testing.md)
# run by `make test`: the whole pipeline (replay → journals → engine → lake) SIGKILLed 8 times
# at random moments (early, inside a lake commit, random), restarted each time, then finished;
# no partial lake file is ever visible and the lake and the output journal's bars equal an
# uninterrupted run's. The long form is `make crash` (100 kills, CRASH_KILLS).
set -uo pipefail
: "${TICKPIPE:?TICKPIPE must name the tickpipe binary}"
SRC=${TP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
exec bash "$SRC/tests/crash/crash.sh" --kills "${CRASH_SHORT_KILLS:-8}"
