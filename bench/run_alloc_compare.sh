#!/usr/bin/env bash
# Runs alloc_bench on tide::heap (called directly, and as malloc through libtide_malloc.so),
# glibc malloc, jemalloc, tcmalloc and mimalloc and prints markdown tables of time and peak RSS,
# with tide's figures as ratios to each allocator's.
# See docs/PERFORMANCE.md ("Allocators").
#
# Every (allocator, workload) pair runs in a process of its own; the other allocators are
# loaded with LD_PRELOAD into the same binary, which then calls malloc/free (--allocator=system).
# The whole list runs ROUNDS times, interleaved across allocators, and bench/alloc_compare.py
# takes the median over rounds.
#
#   usage: bench/run_alloc_compare.sh [--quick]
#     --quick   one round, fewer operations (under a minute; mostly the give-back waits)
#   env: ALLOC_BENCH (default build/release/bench/alloc_bench), TIDE_MALLOC_LIB (default
#        build/release/libtide_malloc.so), ROUNDS (default 3, --quick 1),
#        OUT (JSON lines, one per run, default build/release/bench/alloc_bench.jsonl)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bench=${ALLOC_BENCH:-build/release/bench/alloc_bench}
tide_shim=${TIDE_MALLOC_LIB:-build/release/libtide_malloc.so}
out=${OUT:-build/release/bench/alloc_bench.jsonl}
quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    *) echo "usage: bench/run_alloc_compare.sh [--quick]" >&2; exit 2 ;;
  esac
done
rounds=${ROUNDS:-$((quick ? 1 : 3))}

if [[ ! -x $bench ]]; then
  echo "run_alloc_compare: $bench not built; run: cmake --preset release && cmake --build --preset release -j2 --target alloc_bench" >&2
  exit 1
fi

# The shared object each Debian -dev package installs, found with dpkg -L.
declare -A preload
declare -A package=([jemalloc]=libjemalloc-dev [tcmalloc]=libgoogle-perftools-dev [mimalloc]=libmimalloc-dev)
declare -A soname=([jemalloc]=libjemalloc.so [tcmalloc]=libtcmalloc_minimal.so [mimalloc]=libmimalloc.so)
for name in jemalloc tcmalloc mimalloc; do
  lib=$(dpkg -L "${package[$name]}" 2>/dev/null | grep -E "/${soname[$name]//./\\.}\$" | head -n1 || true)
  if [[ -z $lib || ! -e $lib ]]; then
    echo "run_alloc_compare: ${soname[$name]} not found; install ${package[$name]} (scripts/deps.sh lists it)" >&2
    exit 1
  fi
  # ld.so only warns when it cannot preload a library; make that an error here.
  if LD_PRELOAD=$lib /bin/true 2>&1 | grep -q .; then
    echo "run_alloc_compare: cannot preload $lib" >&2
    exit 1
  fi
  preload[$name]=$lib
done
if [[ ! -e $tide_shim ]]; then
  echo "run_alloc_compare: $tide_shim not built; run: cmake --build --preset release -j2 --target tide_malloc" >&2
  exit 1
fi
preload[tide-shim]=$(realpath "$tide_shim")

if ((quick)); then
  churn_ops=1000000 random_ops=1000000 prodcons_ops=500000 map_entries=200000 batch_rounds=40
else
  churn_ops=10000000 random_ops=5000000 prodcons_ops=2000000 map_entries=1000000 batch_rounds=400
fi
cases=(
  "--workload=churn --size=16 --ops=$churn_ops"
  "--workload=churn --size=64 --ops=$churn_ops"
  "--workload=churn --size=256 --ops=$churn_ops"
  "--workload=churn --size=4096 --ops=$churn_ops"
  "--workload=churn --size=1048576 --live=256 --ops=$churn_ops"
  "--workload=batch --size=40960 --live=256 --ops=$batch_rounds"
  "--workload=batch --size=262144 --live=256 --ops=$batch_rounds"
  "--workload=random --live=20000 --ops=$random_ops"
  "--workload=prodcons --size=64 --ops=$prodcons_ops"
  "--workload=map-u64 --ops=$map_entries"
  "--workload=map-string --ops=$map_entries"
  "--workload=fragmented --mib=512"
  "--workload=give-back --mib=512"
  "--workload=give-back-release --mib=512"
)
allocators=(tide tide-shim glibc jemalloc tcmalloc mimalloc)

# The explicit release is malloc_trim(0), glibc's own (and the shim's), or
# tide::release_memory(): the other allocators skip give-back-release.
runs_for() {
  if [[ $1 == *give-back-release* ]]; then echo tide tide-shim glibc; else echo "${allocators[@]}"; fi
}

run() {
  local allocator=$1
  shift
  case "$allocator" in
    tide) "$bench" --allocator=tide "$@" ;;
    glibc) "$bench" --allocator=system "$@" ;;
    *) LD_PRELOAD=${preload[$allocator]} "$bench" --allocator=system "$@" ;;
  esac
}

mkdir -p "$(dirname "$out")"
: >"$out"
per_round=0
for c in "${cases[@]}"; do
  read -ra list <<<"$(runs_for "$c")"
  per_round=$((per_round + ${#list[@]}))
done
i=0
total=$((rounds * per_round))
for ((round = 1; round <= rounds; round++)); do
  for c in "${cases[@]}"; do
    for allocator in $(runs_for "$c"); do
      i=$((i + 1))
      echo "[$i/$total] round $round: $allocator $c" >&2
      # shellcheck disable=SC2086  # $c is a list of options
      line=$(run "$allocator" $c)
      printf '{"allocator": "%s", "round": %d, "result": %s}\n' "$allocator" "$round" "$line" >>"$out"
    done
  done
done

echo
versions=$(dpkg-query -W -f '${Package} ${Version}, ' libc6 libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0 2>/dev/null || true)
echo "Allocators: ${versions%, }; tide at $(git rev-parse --short HEAD 2>/dev/null || echo '?'); $rounds round(s); $(nproc) CPUs; $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
python3 bench/alloc_compare.py "$out"
