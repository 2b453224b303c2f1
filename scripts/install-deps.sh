#!/usr/bin/env bash
# Installs the Debian packages tickpipe needs, only those missing. Usage:
#   scripts/install-deps.sh run    what building and running needs
#   scripts/install-deps.sh test   that, plus what the test suites need
# Runs apt-get through sudo when not root. Idempotent and quiet when all is there.
set -euo pipefail
mode=${1:-run}

# nodejs and npm build the dashboard: its charting library is embedded at build time.
pkgs=(gcc make cmake ninja-build pkg-config libzstd-dev libsnappy-dev libwebsockets-dev nodejs npm)
# One line per need (libraries to build; servers and tools for the tests).
pkgs+=(libpq-dev)      # the PostgreSQL sink and etl (libpq)
pkgs+=(libhiredis-dev) # the Redis sink (hiredis)
pkgs+=(libcurl4-openssl-dev libssl-dev) # the S3 uploader (libcurl) and SigV4 (libcrypto)
tpkgs=(python3 python3-numpy python3-yaml procps curl chromium)
tpkgs+=(postgresql postgresql-client) # a real PostgreSQL server (initdb, pg_ctl) and psql
tpkgs+=(redis-server redis-tools)     # Redis sink tests: a server on loopback, redis-cli
pkgs+=(librdkafka-dev)                # Kafka (librdkafka)
tpkgs+=(kcat)                         # Kafka tests: topics checked with kcat
tpkgs+=(openssl)                      # venue tests: a CA and certificates made by the test
[ "$mode" = test ] && pkgs+=("${tpkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# A Node.js from another source (nodesource) provides node and npm itself.
if command -v node >/dev/null && command -v npm >/dev/null; then
  keep=()
  for p in "${missing[@]}"; do [ "$p" = nodejs ] || [ "$p" = npm ] || keep+=("$p"); done
  missing=("${keep[@]+"${keep[@]}"}")
fi
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
