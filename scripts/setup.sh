#!/usr/bin/env bash
# setup.sh — README command 1: install what is missing, build, and show what strata will run on.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
make -j"$(nproc)"
bin/strata info
