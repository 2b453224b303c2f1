#!/usr/bin/env bash
# Runs every suite: unit and integration tests under ASan+UBSan (build-asan), with each
# test's time printed by ctest, then a summary line.
set -uo pipefail
cd "$(dirname "$0")/.."
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TP_RELEASE_BIN=$PWD/build/tickpipe
start=$(date +%s)
ctest --test-dir build-asan --output-on-failure -j 2 --timeout 1800
rc=$?
echo "make test: total $(( $(date +%s) - start ))s"
exit $rc
