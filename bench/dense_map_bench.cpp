// tide::dense_map against tide::map and absl::flat_hash_map on dense keys (0 .. N-1, u64
// values). See docs/PERFORMANCE.md ("dense_map").
//
// Benchmarks are named BM_<Op>/<map>/<N>. One iteration is a batch of N operations timed by
// hand (UseManualTime); ns_per_op is the figure to compare.
//
//   Insert   N operator[] assignments into an empty map (no reserve), keys shuffled
//   FindHit  N finds of present keys, shuffled
//   Iterate  one full iteration, summing the values (N entries visited)
//   Bytes    fill N keys on a counting allocator: bytes_per_entry (no time figure)
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <tide/counting_allocator.hpp>
#include <tide/dense_map.hpp>
#include <vector>

#include "bench_common.hpp"

namespace tide_bench {
namespace {

using u64 = std::uint64_t;

struct dense_kind {
  template <class A = std::allocator<u64>>
  using map = tide::dense_map<u64, A>;
  using value_alloc = tide::counting_allocator<u64>;
};
struct tide_map_kind {
  template <class A = default_alloc<std::size_t, u64>>
  using map = tide_kind::map<std::size_t, u64, A>;
  using value_alloc = tide::counting_allocator<std::pair<const std::size_t, u64>>;
};
struct absl_map_kind {
  template <class A = default_alloc<std::size_t, u64>>
  using map = absl_kind::map<std::size_t, u64, A>;
  using value_alloc = tide::counting_allocator<std::pair<const std::size_t, u64>>;
};

const std::vector<std::size_t>& shuffled_keys(std::size_t n) {
  static std::map<std::size_t, std::vector<std::size_t>> cache;
  std::vector<std::size_t>& keys = cache[n];
  if (keys.empty()) {
    keys.resize(n);
    std::iota(keys.begin(), keys.end(), std::size_t{0});
    std::shuffle(keys.begin(), keys.end(), std::mt19937_64(default_seed));
  }
  return keys;
}

template <class Kind>
void BM_Insert(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto& keys = shuffled_keys(n);
  pass_times times;
  for (auto _ : state) {
    typename Kind::template map<> m;
    times.time(state, [&] {
      for (std::size_t k : keys) m[k] = k;
    });
    benchmark::DoNotOptimize(m.size());
  }
  times.report(state, n);
}

template <class Kind>
void BM_FindHit(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto& keys = shuffled_keys(n);
  typename Kind::template map<> m;
  for (std::size_t k = 0; k < n; ++k) m[k] = k;
  pass_times times;
  for (auto _ : state) {
    u64 sum = 0;
    times.time(state, [&] {
      for (std::size_t k : keys) {
        auto it = m.find(k);
        if (it != m.end()) sum += it->second;
      }
    });
    benchmark::DoNotOptimize(sum);
  }
  times.report(state, n);
}

template <class Kind>
void BM_Iterate(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  typename Kind::template map<> m;
  for (std::size_t k = 0; k < n; ++k) m[k] = k;
  pass_times times;
  for (auto _ : state) {
    u64 sum = 0;
    times.time(state, [&] {
      for (const auto& [k, v] : m) sum += v;
    });
    benchmark::DoNotOptimize(sum);
  }
  times.report(state, n);
}

template <class Kind>
void BM_Bytes(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  tide::allocation_counter counter;
  std::size_t bytes = 0;
  for (auto _ : state) {
    typename Kind::template map<typename Kind::value_alloc> m{typename Kind::value_alloc(counter)};
    for (std::size_t k = 0; k < n; ++k) m[k] = k;
    bytes = counter.bytes_in_use();
  }
  state.counters["bytes_per_entry"] = static_cast<double>(bytes) / static_cast<double>(n);
}

void sizes(benchmark::internal::Benchmark* b) {
  b->Arg(100'000)->Arg(1'000'000)->Arg(10'000'000);
  b->UseManualTime()->Unit(benchmark::kMillisecond);
}

BENCHMARK(BM_Insert<dense_kind>)->Name("BM_Insert/dense_map")->Apply(sizes);
BENCHMARK(BM_Insert<tide_map_kind>)->Name("BM_Insert/tide_map")->Apply(sizes);
BENCHMARK(BM_Insert<absl_map_kind>)->Name("BM_Insert/absl")->Apply(sizes);
BENCHMARK(BM_FindHit<dense_kind>)->Name("BM_FindHit/dense_map")->Apply(sizes);
BENCHMARK(BM_FindHit<tide_map_kind>)->Name("BM_FindHit/tide_map")->Apply(sizes);
BENCHMARK(BM_FindHit<absl_map_kind>)->Name("BM_FindHit/absl")->Apply(sizes);
BENCHMARK(BM_Iterate<dense_kind>)->Name("BM_Iterate/dense_map")->Apply(sizes);
BENCHMARK(BM_Iterate<tide_map_kind>)->Name("BM_Iterate/tide_map")->Apply(sizes);
BENCHMARK(BM_Iterate<absl_map_kind>)->Name("BM_Iterate/absl")->Apply(sizes);
BENCHMARK(BM_Bytes<dense_kind>)->Name("BM_Bytes/dense_map")->Arg(1'000'000)->Iterations(1);
BENCHMARK(BM_Bytes<tide_map_kind>)->Name("BM_Bytes/tide_map")->Arg(1'000'000)->Iterations(1);
BENCHMARK(BM_Bytes<absl_map_kind>)->Name("BM_Bytes/absl")->Arg(1'000'000)->Iterations(1);

}  // namespace
}  // namespace tide_bench

BENCHMARK_MAIN();
