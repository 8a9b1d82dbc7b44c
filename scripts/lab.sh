#!/usr/bin/env bash
# Installs what is missing, builds the release preset's tide command and runs `tide lab`: the
# memory lab (docs/lab.md). Arguments go to `tide lab`.
#
#   usage: scripts/lab.sh [tide lab options]      e.g. scripts/lab.sh --n 500000 --maps tide,absl
#   JOBS=n sets build parallelism (default: nproc).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/deps.sh

tide_install_deps
cmake --preset release >/dev/null
cmake --build --preset release -j "${JOBS:-$(nproc)}" --target tide_cli
exec build/release/tools/tide/tide lab "$@"
