#!/usr/bin/env bash
# Runs map_bench with repetitions and prints tide's time per operation as a ratio to the
# faster of absl::flat_hash_map and boost::unordered_flat_map (medians). See docs/PERFORMANCE.md.
#
#   usage: bench/run_compare.sh [--with-std] [--quick] [extra map_bench flags...]
#     --with-std   also run std::unordered_map (slow at 10M: adds several minutes)
#     --quick      1M only, 3 repetitions
#   env: OPS (regex of operations, e.g. 'FindHit|FindMiss'; default all), MAP_BENCH (default build/release/bench/map_bench), REPS (default 5),
#        OUT (JSON results, default build/release/bench/map_bench.json)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

map_bench=${MAP_BENCH:-build/release/bench/map_bench}
out=${OUT:-build/release/bench/map_bench.json}
reps=${REPS:-5}
maps='tide|absl|boost'
sizes='[0-9]+'
ops=${OPS:-[A-Za-z]+}
extra=()
for arg in "$@"; do
  case "$arg" in
    --with-std) maps='tide|absl|boost|std' ;;
    --quick) sizes='1000000'; reps=${REPS:-3} ;;
    *) extra+=("$arg") ;;
  esac
done

if [[ ! -x $map_bench ]]; then
  echo "run_compare: $map_bench not built; run: cmake --preset release && cmake --build --preset release --target map_bench" >&2
  exit 1
fi

"$map_bench" \
  --benchmark_filter="^BM_(${ops})_[A-Za-z0-9]+/(${maps})/${sizes}(/|\$)" \
  --benchmark_repetitions="$reps" \
  --benchmark_display_aggregates_only=true \
  --benchmark_out="$out" --benchmark_out_format=json \
  "${extra[@]}"
echo
python3 bench/compare.py "$out"
