#!/usr/bin/env bash
# Builds tide and runs its tests, one CMake preset at a time; stops at the first failure.
#
#   usage: scripts/test.sh [preset...]     presets: release debug-invariants asan tsan fuzz
#                                           (default: all five, the CI list, in the order
#                                            release asan tsan debug-invariants fuzz)
#   JOBS=n sets build parallelism (default: nproc).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/deps.sh

presets=("$@")
if ((${#presets[@]} == 0)); then
  presets=(release asan tsan debug-invariants fuzz)
fi
jobs=${JOBS:-$(nproc)}

tide_install_deps

times=()
for preset in "${presets[@]}"; do
  echo "==== tide: preset ${preset} ===="
  start=$SECONDS
  cmake --preset "$preset"
  cmake --build --preset "$preset" -j "$jobs"
  built=$SECONDS
  ctest --preset "$preset" -j "$jobs"
  times+=("${preset}: configure+build $((built - start)) s, test $((SECONDS - built)) s")
  echo "==== tide: preset ${times[-1]} ===="
done
echo "==== tide: all presets passed: ${presets[*]} ===="
printf '  %s\n' "${times[@]}"
