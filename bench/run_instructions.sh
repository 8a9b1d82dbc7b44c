#!/usr/bin/env bash
# Instructions per operation of tide::map, absl::flat_hash_map and boost::unordered_flat_map
# (u64 -> u64), counted by callgrind over bench/map_instructions. See docs/PERFORMANCE.md.
#
#   usage: bench/run_instructions.sh [N]   (keys per operation, default 200000)
#   env: MAP_INSTRUCTIONS (default build/release/bench/map_instructions)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

program=${MAP_INSTRUCTIONS:-build/release/bench/map_instructions}
n=${1:-200000}
if [[ ! -x $program ]]; then
  echo "run_instructions: $program not built; run: cmake --preset release && cmake --build --preset release --target map_instructions" >&2
  exit 1
fi
command -v valgrind >/dev/null || { echo "run_instructions: needs valgrind (apt-get install -y valgrind)" >&2; exit 1; }

out=$(mktemp)
trap 'rm -f "$out"' EXIT
valgrind --tool=callgrind --callgrind-out-file="$out" "$program" "$n" 2>/dev/null | grep -v checksum
# A function's inclusive count shows on several lines (one per source file it spans); the
# largest is the whole.
callgrind_annotate --inclusive=yes "$out" |
  sed -nE 's/^ *([0-9,]+) .*::count_([a-z_]+)<([a-z]+)::.*/\1 \2 \3/p' | tr -d , |
  awk -v n="$n" '
    { if ($1 > best[$2 " " $3]) best[$2 " " $3] = $1 }
    END {
      split("insert find_hit find_miss erase", ops, " ")
      printf "%-10s %8s %8s %8s %12s\n", "per op", "tide", "absl", "boost", "tide/boost"
      for (i = 1; i <= 4; i++) {
        o = ops[i]
        printf "%-10s %8.1f %8.1f %8.1f %11.2fx\n", o, best[o " tide"] / n, best[o " absl"] / n,
               best[o " boost"] / n, best[o " tide"] / best[o " boost"]
      }
    }'
