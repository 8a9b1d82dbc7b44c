#!/usr/bin/env bash
# Builds tide and runs its tests, one CMake preset at a time; stops at the first failure.
#
#   usage: scripts/test.sh [preset...]     presets: release debug-invariants asan tsan fuzz
#                                           (default: release asan)
#   JOBS=n sets build parallelism (default: nproc).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/deps.sh

presets=("$@")
if ((${#presets[@]} == 0)); then
  presets=(release asan)
fi
jobs=${JOBS:-$(nproc)}

tide_install_deps

for preset in "${presets[@]}"; do
  echo "==== tide: preset ${preset} ===="
  cmake --preset "$preset"
  cmake --build --preset "$preset" -j "$jobs"
  ctest --preset "$preset" -j "$jobs"
done
echo "==== tide: all presets passed: ${presets[*]} ===="
