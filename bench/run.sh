#!/usr/bin/env bash
# run.sh — `make bench`: runs every benchmark in bench/ (each *.sh but this one), one after
# another (they measure wall time; never run them in parallel), and stops at the first failure.
set -euo pipefail
cd "$(dirname "$0")"
for b in *.sh; do
  [ "$b" = run.sh ] && continue
  echo "== bench/$b"
  bash "./$b"
done
