#!/usr/bin/env bash
# Runs map_bench with repetitions and prints tide's time per operation as a ratio to the
# faster of absl::flat_hash_map and boost::unordered_flat_map (medians). See docs/PERFORMANCE.md.
#
# Each benchmark (operation, key, size, map) runs in a process of its own: the state one
# map's runs leave in the C library's allocator would otherwise change where the next map's
# memory goes (measured: boost's insert runs before tide's find-hit moved tide's figure from
# 28.8 to 37.2 ns, and MALLOC_MMAP_THRESHOLD_=131072 took it back to 28.8). The whole list
# runs ROUNDS times, interleaved, and each figure is the median over every repetition of every
# round: on a shared VM the same benchmark varied by up to 1.6x from one process to the next
# (tide find-hit at 1M: 35 to 56 ns; boost: 24 to 31 ns), far more than within one process.
#
#   usage: bench/run_compare.sh [--with-std] [--quick] [extra map_bench flags...]
#     --with-std   also run std::unordered_map (slow at 10M: adds several minutes)
#     --quick      1M only, one round
#   env: OPS (regex of operations, e.g. 'FindHit|FindMiss'; default all), MAP_BENCH (default build/release/bench/map_bench), REPS (default 3), ROUNDS (default 3),
#        OUT (directory of JSON results, one file per benchmark, default build/release/bench/map_bench.out)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

map_bench=${MAP_BENCH:-build/release/bench/map_bench}
out=${OUT:-build/release/bench/map_bench.out}
reps=${REPS:-3}
rounds=${ROUNDS:-3}
maps='tide|absl|boost'
sizes='[0-9]+'
ops=${OPS:-[A-Za-z]+}
extra=()
for arg in "$@"; do
  case "$arg" in
    --with-std) maps='tide|absl|boost|std' ;;
    --quick) sizes='1000000'; rounds=${ROUNDS:-1} ;;
    *) extra+=("$arg") ;;
  esac
done

if [[ ! -x $map_bench ]]; then
  echo "run_compare: $map_bench not built; run: cmake --preset release && cmake --build --preset release --target map_bench" >&2
  exit 1
fi

filter="^BM_(${ops})_[A-Za-z0-9]+/(${maps})/${sizes}(/|\$)"
mapfile -t benchmarks < <("$map_bench" --benchmark_list_tests --benchmark_filter="$filter")
rm -rf "$out"
mkdir -p "$out"
i=0
total=$((rounds * ${#benchmarks[@]}))
for ((round = 1; round <= rounds; round++)); do
  for name in "${benchmarks[@]}"; do
    i=$((i + 1))
    echo "[$i/$total] round $round: $name" >&2
    "$map_bench" \
      --benchmark_filter="^${name}\$" \
      --benchmark_repetitions="$reps" \
      --benchmark_display_aggregates_only=true \
      --benchmark_out="$(printf '%s/%04d.json' "$out" "$i")" --benchmark_out_format=json \
      "${extra[@]}" >/dev/null
  done
done
echo
python3 bench/compare.py "$out"/*.json
