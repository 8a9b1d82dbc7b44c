// memory_bench: the bytes a map keeps after erases, and under churn.
// See docs/PERFORMANCE.md for the method and the figures.
//
// For every map (tide, absl, boost, std), on a tide::counting_allocator, uint64 -> uint64:
//   erase-all   insert N keys, erase every one by key: bytes held before and after.
//   erase-90%   insert N keys, erase a random 90%: bytes held, as a ratio to a fresh map built
//               with the surviving 10% only; then again after the library's explicit shrink
//               (tide: shrink_to_fit(); absl, boost, std: rehash(0)).
//   churn       start with N keys; each round erases a random half of the live keys and inserts
//               as many new ones (size stays N): bytes after each round as a ratio to round 1.
// Keys are splitmix64(i) for distinct i: a bijection, so distinct without a check.
//
//   usage: memory_bench [N] [--rounds R]        (defaults: N = 1000000, R = 20)

#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "bench_cli.hpp"
#include "bench_common.hpp"
#include "common/explicit_shrink.hpp"

namespace tide_bench {
namespace {

struct options {
  std::size_t n = 1'000'000;
  int rounds = 20;
};

using tide_tools::explicit_shrink;

struct result {
  std::string name;
  std::size_t full = 0, after_erase_all = 0;
  std::size_t after_erase_90 = 0, fresh_10 = 0, after_shrink_90 = 0;
  std::vector<std::size_t> churn;  // bytes after each round
};

template <class Kind>
result measure(const options& opt) {
  using map_type = counted_map<Kind, std::uint64_t, std::uint64_t>;
  result res;
  res.name = std::string(Kind::name);
  const std::size_t n = opt.n;
  std::mt19937_64 rng(default_seed);

  {  // erase-all
    tide::allocation_counter counter;
    map_type m = make_counted<map_type>(counter);
    for (std::uint64_t i = 0; i < n; ++i) m.emplace(splitmix64(i), i);
    res.full = counter.bytes_in_use();
    for (std::uint64_t i = 0; i < n; ++i) m.erase(splitmix64(i));
    res.after_erase_all = counter.bytes_in_use();
  }

  {  // erase a random 90%
    std::vector<std::uint64_t> ids(n);
    std::iota(ids.begin(), ids.end(), std::uint64_t{0});
    std::shuffle(ids.begin(), ids.end(), rng);
    const std::size_t erase_count = n - n / 10;
    tide::allocation_counter counter;
    map_type m = make_counted<map_type>(counter);
    for (std::uint64_t i = 0; i < n; ++i) m.emplace(splitmix64(i), i);
    for (std::size_t j = 0; j < erase_count; ++j) m.erase(splitmix64(ids[j]));
    res.after_erase_90 = counter.bytes_in_use();
    explicit_shrink(m);
    res.after_shrink_90 = counter.bytes_in_use();

    tide::allocation_counter fresh_counter;
    map_type fresh = make_counted<map_type>(fresh_counter);
    for (std::size_t j = erase_count; j < n; ++j) fresh.emplace(splitmix64(ids[j]), ids[j]);
    res.fresh_10 = fresh_counter.bytes_in_use();
  }

  {  // churn at constant size
    tide::allocation_counter counter;
    map_type m = make_counted<map_type>(counter);
    std::vector<std::uint64_t> live(n);
    std::iota(live.begin(), live.end(), std::uint64_t{0});
    std::uint64_t next_id = n;
    for (std::uint64_t id : live) m.emplace(splitmix64(id), id);
    for (int round = 0; round < opt.rounds; ++round) {
      std::shuffle(live.begin(), live.end(), rng);
      for (std::size_t j = 0; j < n / 2; ++j) {
        m.erase(splitmix64(live[j]));
        live[j] = next_id++;
      }
      for (std::size_t j = 0; j < n / 2; ++j) m.emplace(splitmix64(live[j]), live[j]);
      res.churn.push_back(counter.bytes_in_use());
    }
  }
  return res;
}

double ratio(std::size_t a, std::size_t b) {
  return static_cast<double>(a) / static_cast<double>(std::max<std::size_t>(b, 1));
}

int run(const options& opt) {
  std::vector<result> results;
  for_each_kind([&]<class Kind>() {
    fmt::print(stderr, "memory_bench: {} ...\n", Kind::name);
    results.push_back(measure<Kind>(opt));
  });

  fmt::print("memory_bench: N = {} uint64->uint64, bytes from a counting allocator\n\n", opt.n);
  fmt::print("Erase every entry\n");
  fmt::print("{:<8} {:>14} {:>14}\n", "map", "bytes full", "after erase");
  for (const auto& r : results)
    fmt::print("{:<8} {:>14} {:>14}\n", r.name, r.full, r.after_erase_all);

  fmt::print("\nErase a random 90% (fresh = a new map holding the same 10%)\n");
  fmt::print("{:<8} {:>14} {:>14} {:>10} {:>14} {:>10}\n", "map", "after erase", "fresh", "/fresh",
             "after shrink", "/fresh");
  for (const auto& r : results) {
    fmt::print("{:<8} {:>14} {:>14} {:>10.2f} {:>14} {:>10.2f}\n", r.name, r.after_erase_90,
               r.fresh_10, ratio(r.after_erase_90, r.fresh_10), r.after_shrink_90,
               ratio(r.after_shrink_90, r.fresh_10));
  }

  fmt::print("\nChurn: {} rounds, each erases a random half and inserts as many new keys\n",
             opt.rounds);
  fmt::print("{:<8} {:>14} {:>14} {:>14} {:>12}\n", "map", "round 1", "last round", "max round",
             "max/round 1");
  for (const auto& r : results) {
    const std::size_t first = r.churn.front();
    const std::size_t max = *std::max_element(r.churn.begin(), r.churn.end());
    fmt::print("{:<8} {:>14} {:>14} {:>14} {:>12.3f}\n", r.name, first, r.churn.back(), max,
               ratio(max, first));
  }
  return 0;
}

}  // namespace
}  // namespace tide_bench

int main(int argc, char** argv) {
  tide_bench::options opt;
  CLI::App app{
      "memory_bench: the bytes each map keeps after erasing every entry, after erasing "
      "a random 90%, and under churn. See docs/PERFORMANCE.md."};
  tide_bench::add_entries_argument(app, opt.n, "Entries (at least 10)");
  app.add_option("--rounds", opt.rounds, "Churn rounds (at least 1)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  opt.n = std::max<std::size_t>(10, opt.n);
  opt.rounds = std::max(1, opt.rounds);
  return tide_bench::run(opt);
}
