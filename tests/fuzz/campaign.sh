#!/usr/bin/env bash
# campaign.sh — the long fuzz campaign (issue 10): runs libFuzzer targets already built in
# build-fuzz/ (`make fuzz` builds them) for SECONDS each, JOBS at a time, at nice 19, and
# prints one line per target: seconds, executions, corpus entries and bytes, cov and ft (from
# -print_final_stats) — the figures tests/fuzz/README.md records. Each target's grown corpus
# goes to build-fuzz/corpus/<name> (never committed), its log to build-fuzz/logs/<name>.log,
# and a crash to build-fuzz/crashes/. Exit 1 when any target found a crash.
#
#   tests/fuzz/campaign.sh [-t SECONDS] [-j JOBS] [TARGET...]   (default: every fuzz_*.c)
set -uo pipefail
cd "$(dirname "$0")/../.."
secs=600
jobs=2
while getopts "t:j:" o; do
  case $o in
  t) secs=$OPTARG ;;
  j) jobs=$OPTARG ;;
  *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do targets+=("$(basename "$f" .c)"); done
fi
mkdir -p build-fuzz/logs build-fuzz/crashes

run_one() {
  local name=$1
  mkdir -p "build-fuzz/corpus/$name"
  # -close_fd_mask=2: targets whose parsers print one-line errors to stderr stay quiet.
  nice -n 19 "build-fuzz/$name" -max_total_time="$secs" -print_final_stats=1 -timeout=10 \
    -rss_limit_mb=1024 -close_fd_mask=2 -artifact_prefix="build-fuzz/crashes/$name-" \
    "build-fuzz/corpus/$name" "tests/fuzz/corpus/$name" >"build-fuzz/logs/$name.log" 2>&1
}

summary() {
  local name=$1 log=build-fuzz/logs/$1.log
  local execs cov ft t
  execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
  t=$(awk '/Done [0-9]+ runs in/ {print $(NF-1)}' "$log")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  local n bytes
  n=$(find "build-fuzz/corpus/$name" -type f | wc -l)
  bytes=$(du -sb "build-fuzz/corpus/$name" | awk '{print $1}')
  local status=clean
  ls build-fuzz/crashes/"$name"-* >/dev/null 2>&1 && status=CRASH
  printf '%-22s %6ss %12s execs  corpus %5s files %9s B  cov %5s  ft %6s  %s\n' \
    "$name" "${t:-?}" "${execs:-?}" "$n" "$bytes" "${cov:-?}" "${ft:-?}" "$status"
  [ "$status" = clean ]
}

rc=0
pending=("${targets[@]}")
running=()
while [ ${#pending[@]} -gt 0 ] || [ ${#running[@]} -gt 0 ]; do
  while [ ${#running[@]} -lt "$jobs" ] && [ ${#pending[@]} -gt 0 ]; do
    name=${pending[0]}
    pending=("${pending[@]:1}")
    echo "fuzz: $name for ${secs}s ($(date -u +%H:%M:%S))" >&2
    run_one "$name" &
    running+=("$!:$name")
  done
  wait -n || true
  still=()
  for r in "${running[@]}"; do
    if kill -0 "${r%%:*}" 2>/dev/null; then still+=("$r"); else
      wait "${r%%:*}" 2>/dev/null
      summary "${r#*:}" || rc=1
    fi
  done
  running=("${still[@]+"${still[@]}"}")
done
exit $rc
