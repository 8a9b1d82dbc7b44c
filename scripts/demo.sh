#!/usr/bin/env bash
# Builds the release preset's example and runs it: tide::map gives its memory back after
# erase; std::unordered_map keeps its bucket array.
#
#   usage: scripts/demo.sh [N]     (N keys, default 1000000)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/deps.sh

tide_install_deps
cmake --preset release >/dev/null
cmake --build --preset release -j "${JOBS:-$(nproc)}" --target give_back
exec build/release/examples/give_back "$@"
