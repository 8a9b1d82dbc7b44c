// Instructions per map operation, counted under callgrind: deterministic where this VM's
// wall-clock figures move by up to 1.5x from one run to the next. See docs/PERFORMANCE.md.
//
//   bench/run_instructions.sh [N]     (runs this program under callgrind and prints the table)
//
// Each operation runs in a function of its own, count_<op><map type> (one per map), over the
// same keys as map_bench (u64 -> u64, N keys, default 200,000): insert (no reserve), find of
// every present key, find of as many absent keys, erase of every key in shuffled order. A
// function's inclusive count divided by N is the figure per operation. It counts work, not
// time: a cache miss costs one instruction here.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "bench_cli.hpp"
#include "bench_common.hpp"

namespace tide_bench {
namespace {

// One function per operation: callgrind_annotate lists each instantiation (each map) apart.
template <class Map>
__attribute__((noinline)) void count_insert(Map& m, const std::vector<std::uint64_t>& keys) {
  for (std::size_t i = 0; i < keys.size(); ++i) m.emplace(keys[i], i);
}
template <class Map>
__attribute__((noinline)) std::uint64_t count_find_hit(const Map& m,
                                                       const std::vector<std::uint64_t>& keys) {
  std::uint64_t sum = 0;
  for (const std::uint64_t k : keys) {
    if (auto it = m.find(k); it != m.end()) sum += it->second;
  }
  return sum;
}
// Not the same body as count_find_hit: g++ would fold the two into one function.
template <class Map>
__attribute__((noinline)) std::uint64_t count_find_miss(const Map& m,
                                                        const std::vector<std::uint64_t>& keys) {
  std::uint64_t missed = 0;
  for (const std::uint64_t k : keys) missed += m.find(k) == m.end();
  return missed;
}
template <class Map>
__attribute__((noinline)) std::size_t count_erase(Map& m, const std::vector<std::uint64_t>& keys) {
  std::size_t erased = 0;
  for (const std::uint64_t k : keys) erased += m.erase(k);
  return erased;
}

// Entries tide moved so far (rebuilds, splits, merges), or 0 for maps that do not count them.
template <class Map>
std::uint64_t entries_moved(const Map& m) {
  if constexpr (requires { m.stats().slots_moved; }) {
    return m.stats().slots_moved;
  } else {
    return 0;
  }
}

template <class Kind>
std::uint64_t run_one(const key_set<std::uint64_t>& ks) {
  typename Kind::template map<std::uint64_t, std::uint64_t> m;
  const double n = static_cast<double>(ks.present.size());
  count_insert(m, ks.present);
  const std::uint64_t moved_growing = entries_moved(m);
  std::uint64_t sink = count_find_hit(m, ks.shuffled) + count_find_miss(m, ks.absent);
  if (count_erase(m, ks.shuffled) != ks.present.size() || !m.empty()) {
    std::fprintf(stderr, "map_instructions: %s missed keys\n", Kind::name.data());
    std::exit(1);
  }
  if (moved_growing != 0) {
    std::printf("%s moved %.2f entries per insert and %.2f per erase\n", Kind::name.data(),
                static_cast<double>(moved_growing) / n,
                static_cast<double>(entries_moved(m) - moved_growing) / n);
  }
  return sink;
}

int run(std::size_t n) {
  const key_set<std::uint64_t> ks = make_key_set<std::uint64_t>(n);
  const std::uint64_t sink =
      run_one<tide_kind>(ks) + run_one<absl_kind>(ks) + run_one<boost_kind>(ks);
  std::printf("map_instructions: %zu keys per operation (checksum %llu)\n", n,
              static_cast<unsigned long long>(sink));
  return 0;
}

}  // namespace
}  // namespace tide_bench

int main(int argc, char** argv) {
  std::size_t n = 200'000;
  CLI::App app{
      "map_instructions: every map operation over N keys, each in a function of its "
      "own, for bench/run_instructions.sh to count under callgrind."};
  app.add_option("N", n, "Keys per operation")
      ->capture_default_str()
      ->check(tide_bench::non_negative);
  CLI11_PARSE(app, argc, argv);
  return tide_bench::run(n);
}
