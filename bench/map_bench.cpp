// tide::map against absl::flat_hash_map, boost::unordered_flat_map and std::unordered_map.
// See docs/PERFORMANCE.md for the method and bench/run_compare.sh for the side-by-side table.
//
// Benchmarks are named BM_<Op>_<Key>/<map>/<N>. One iteration is a whole batch of N operations,
// timed by hand around the batch (UseManualTime), so building keys and maps, and destroying
// them, stay outside the measurement. The counter ns_per_op is the figure to compare
// (cpu_ns_per_op, this thread's CPU time, shows how much of it the VM took away).
//
//   Insert   N inserts into an empty map (no reserve), keys in generation order
//   FindHit  N finds of present keys, in shuffled order
//   FindMiss N finds of keys guaranteed absent
//   Erase    N erase(key) of every present key, in shuffled order, from a full map, and the
//            C library's deferred work of freeing what they held (settle_deferred_frees)
//   Iterate  one full iteration over a map of N entries (N elements visited)

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "bench_common.hpp"

namespace tide_bench {
namespace {

template <class Map>
void BM_Insert(benchmark::State& state) {
  using K = typename Map::key_type;
  const auto n = static_cast<std::size_t>(state.range(0));
  const key_set<K>& ks = cached_key_set<K>(n);
  pass_times times;
  for (auto _ : state) {
    Map m;
    times.time(state, [&] { fill(m, ks.present); });
    benchmark::DoNotOptimize(m.size());
    if (m.size() != n) state.SkipWithError("insert lost keys");
  }
  times.report(state, n);
}

template <class Map>
void BM_FindHit(benchmark::State& state) {
  using K = typename Map::key_type;
  const auto n = static_cast<std::size_t>(state.range(0));
  const key_set<K>& ks = cached_key_set<K>(n);
  Map m;
  fill(m, ks.present);
  pass_times times;
  for (auto _ : state) {
    std::uint64_t sum = 0;
    times.time(state, [&] {
      for (const K& k : ks.shuffled) {
        auto it = m.find(k);
        if (it != m.end()) sum += it->second;
      }
    });
    benchmark::DoNotOptimize(sum);
  }
  times.report(state, n);
}

template <class Map>
void BM_FindMiss(benchmark::State& state) {
  using K = typename Map::key_type;
  const auto n = static_cast<std::size_t>(state.range(0));
  const key_set<K>& ks = cached_key_set<K>(n);
  Map m;
  fill(m, ks.present);
  pass_times times;
  for (auto _ : state) {
    std::uint64_t found = 0;
    times.time(state, [&] {
      for (const K& k : ks.absent) found += m.find(k) != m.end();
    });
    benchmark::DoNotOptimize(found);
    if (found != 0) state.SkipWithError("find-miss found an absent key");
  }
  times.report(state, n);
}

// glibc's free() of a small chunk (a string key's buffer, a std::unordered_map node) only
// pushes it on a "fastbin" list. Merging it with its free neighbours waits until an
// allocation of 1 KiB or more, or a free that leaves 64 KiB free in one piece, and then is
// done for every chunk waiting. A map that allocates or frees tables while erasing (tide
// gives memory back) does that work inside its timed loop; a map that allocates nothing
// leaves it to whatever runs next. Measured with string keys at 1M (glibc 2.36): boost took
// 256 ns per erase with the work left out, 589 with it. So every map's timed erase ends with
// one 4 KiB allocation, which does whatever its loop left: each map is charged the whole
// cost of freeing its keys.
void settle_deferred_frees() {
  void* block = std::malloc(4096);
  benchmark::DoNotOptimize(block);
  std::free(block);
}

template <class Map>
void BM_Erase(benchmark::State& state) {
  using K = typename Map::key_type;
  const auto n = static_cast<std::size_t>(state.range(0));
  const key_set<K>& ks = cached_key_set<K>(n);
  pass_times times;
  for (auto _ : state) {
    Map m;
    fill(m, ks.present);  // untimed
    std::size_t erased = 0;
    times.time(state, [&] {
      for (const K& k : ks.shuffled) erased += m.erase(k);
      settle_deferred_frees();
    });
    benchmark::DoNotOptimize(erased);
    if (erased != n || !m.empty()) state.SkipWithError("erase missed keys");
  }
  times.report(state, n);
}

template <class Map>
void BM_Iterate(benchmark::State& state) {
  using K = typename Map::key_type;
  const auto n = static_cast<std::size_t>(state.range(0));
  const key_set<K>& ks = cached_key_set<K>(n);
  Map m;
  fill(m, ks.present);
  pass_times times;
  for (auto _ : state) {
    std::uint64_t sum = 0;
    times.time(state, [&] {
      for (const auto& kv : m) sum += kv.second;
    });
    benchmark::DoNotOptimize(sum);
  }
  times.report(state, n);
}

enum class op { insert, find_hit, find_miss, erase, iterate };
constexpr op all_ops[] = {op::insert, op::find_hit, op::find_miss, op::erase, op::iterate};

template <class Map>
void register_op(op o, const std::string& key_name, std::string_view map_name,
                 std::initializer_list<std::int64_t> sizes) {
  // Indexed by op, in the order of the enum.
  const std::pair<const char*, void (*)(benchmark::State&)> by_op[] = {
      {"Insert", &BM_Insert<Map>}, {"FindHit", &BM_FindHit<Map>}, {"FindMiss", &BM_FindMiss<Map>},
      {"Erase", &BM_Erase<Map>},   {"Iterate", &BM_Iterate<Map>},
  };
  const auto& [op_name, fn] = by_op[static_cast<int>(o)];
  const std::string name =
      "BM_" + std::string(op_name) + "_" + key_name + "/" + std::string(map_name);
  auto* b = benchmark::RegisterBenchmark(name.c_str(), fn);
  for (std::int64_t n : sizes) b->Arg(n);
  b->UseManualTime()->Unit(benchmark::kMillisecond);
}

void register_all() {
  // Registration order is run order: per key type and op, every map side by side.
  for (op o : all_ops) {
    for_each_kind([o]<class Kind>() {
      register_op<typename Kind::template map<std::uint64_t, std::uint64_t>>(
          o, "U64", Kind::name, {1'000'000, 10'000'000});
    });
  }
  for (op o : all_ops) {
    for_each_kind([o]<class Kind>() {
      register_op<typename Kind::template map<std::string, std::uint64_t>>(o, "String", Kind::name,
                                                                           {1'000'000});
    });
  }
}

}  // namespace
}  // namespace tide_bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  tide_bench::register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
