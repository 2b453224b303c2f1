#!/usr/bin/env bash
# Installs the Debian packages tickpipe needs, only those missing. Usage:
#   scripts/install-deps.sh run    what building and running needs
#   scripts/install-deps.sh test   that, plus what the test suites need
# Runs apt-get through sudo when not root. Idempotent and quiet when all is there.
set -euo pipefail
mode=${1:-run}

# nodejs and npm build the dashboard: its charting library is embedded at build time.
pkgs=(gcc make cmake ninja-build pkg-config libzstd-dev libsnappy-dev libwebsockets-dev nodejs npm)
if [ "$mode" = test ]; then
  pkgs+=(python3 python3-numpy procps curl chromium openssl)
fi

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
