#!/usr/bin/env bash
# deps.sh — installs the Debian packages of tests/fuzz/packages.txt that are missing (what
# `make fuzz` needs beyond scripts/install-deps.sh). Quick when they are present; needs root
# (or sudo) to install.
set -euo pipefail
cd "$(dirname "$0")"
mapfile -t packages < <(sed 's/#.*//' packages.txt | tr -s ' ' '\n' | grep -v '^$')
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "fuzz deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
