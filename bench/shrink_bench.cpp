// shrink_bench: what erasing every entry of a map costs, one erase at a time, in random order.
// See docs/PERFORMANCE.md for the method and the figures.
//
// tide::map gives memory back as it shrinks: an erase may merge two tables, rebuild one smaller
// or halve the directory, and each of those frees memory through the allocator. So the map's
// worst erase depends on its allocator as much as on itself. The maps:
//   - tide on std::allocator (glibc malloc) and tide::heap_map (tide::heap);
//   - absl and boost, which never shrink on erase (their memory stays until destroyed): their
//     slowest erase is the machine's noise plus a probe.
// For each map: the maximum and 99.9th percentile of every run (the headline is the minimum
// over runs of each run's maximum, as in growth_bench), and for tide the same for the erases
// that did a structural step, by kind, with their count and median.
//
//   usage: shrink_bench [N] [--runs R]   (defaults: N = 10000000, R = 3)

#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <tide/heap_map.hpp>
#include <vector>

#include "bench_cli.hpp"
#include "bench_common.hpp"
#include "latency.hpp"

namespace tide_bench {
namespace {

struct options {
  std::size_t n = 10'000'000;
  int runs = 3;
};

struct result {
  std::string name;
  std::vector<latency_summary> runs;  // every erase, one summary per run
  bool has_structural = false;
  std::array<std::vector<latency_summary>, step_kinds> step_runs;  // runs that had the kind
  std::array<std::size_t, step_kinds> step_count{};                 // first run
};

template <class Map>
result measure(std::string name, const options& opt, const std::vector<std::uint64_t>& keys,
               std::vector<std::uint64_t>& ns) {
  result res;
  res.name = std::move(name);
  std::mt19937_64 rng(default_seed);
  std::vector<std::uint64_t> order = keys;
  for (int r = 0; r < opt.runs; ++r) {
    fmt::print(stderr, "shrink_bench: {}, run {} of {} ...\n", res.name, r + 1, opt.runs);
    std::shuffle(order.begin(), order.end(), rng);
    Map m;
    fill(m, keys);
    std::array<std::vector<std::uint64_t>, step_kinds> step_ns;
    for (std::size_t i = 0; i < order.size(); ++i) {
      [[maybe_unused]] tide::map_stats before{};
      if constexpr (reports_structural_work<Map>) before = m.stats();
      const auto t0 = bench_clock::now();
      m.erase(order[i]);
      const auto t1 = bench_clock::now();
      ns[i] = ns_between(t0, t1);
      if constexpr (reports_structural_work<Map>) {
        if (const std::size_t kind = step_between(before, m.stats()); kind != step_kinds) {
          step_ns[kind].push_back(ns[i]);
        }
      }
    }
    res.runs.push_back(summarize(ns));
    if constexpr (reports_structural_work<Map>) {
      res.has_structural = true;
      for (std::size_t k = 0; k < step_kinds; ++k) {
        if (r == 0) res.step_count[k] = step_ns[k].size();
        if (!step_ns[k].empty()) res.step_runs[k].push_back(summarize(step_ns[k]));
      }
    }
  }
  return res;
}

std::string us(std::uint64_t ns) { return fmt::format("{:.1f}", static_cast<double>(ns) / 1000.0); }

void print_tables(const options& opt, const std::vector<result>& results) {
  fmt::print("Erasing all {} keys one at a time in random order ({} runs; us)\n\n", opt.n,
             opt.runs);
  fmt::print("| map | max (min over runs) | max (worst run) | p99.9 (min over runs) |\n");
  fmt::print("|---|---|---|---|\n");
  for (const result& r : results) {
    fmt::print("| {} | {} | {} | {} |\n", r.name, us(min_over(r.runs, max_of)),
               us(max_over(r.runs, max_of)), us(min_over(r.runs, p999_of)));
  }
  fmt::print("\nErases that did a structural step, by kind (count in the first run; us)\n\n");
  fmt::print("| map | step | count | median (min over runs) | max (min over runs) | "
             "max (worst run) |\n");
  fmt::print("|---|---|---|---|---|---|\n");
  for (const result& r : results) {
    if (!r.has_structural) continue;
    for (std::size_t k = 0; k < step_kinds; ++k) {
      if (r.step_runs[k].empty()) continue;
      fmt::print("| {} | {} | {} | {} | {} | {} |\n", r.name, step_names[k], r.step_count[k],
                 us(min_over(r.step_runs[k], median_of)), us(min_over(r.step_runs[k], max_of)),
                 us(max_over(r.step_runs[k], max_of)));
    }
  }
}

int run(const options& opt) {
  const std::vector<std::uint64_t> keys = make_key_set<std::uint64_t>(opt.n).present;
  std::vector<std::uint64_t> ns(opt.n);  // touched here, before any timing
  using tide_map = tide_kind::map<std::uint64_t, std::uint64_t>;
  using heap_map = tide::heap_map<std::uint64_t, std::uint64_t>;
  using absl_map = absl_kind::map<std::uint64_t, std::uint64_t>;
  using boost_map = boost_kind::map<std::uint64_t, std::uint64_t>;
  const std::vector<result> results = {
      measure<tide_map>("tide (glibc)", opt, keys, ns),
      measure<heap_map>("tide::heap_map", opt, keys, ns),
      measure<absl_map>("absl (glibc)", opt, keys, ns),
      measure<boost_map>("boost (glibc)", opt, keys, ns),
  };
  print_tables(opt, results);
  return 0;
}

}  // namespace
}  // namespace tide_bench

int main(int argc, char** argv) {
  tide_bench::options opt;
  CLI::App app{
      "shrink_bench: single-erase latency while each map is emptied in random order, tide's "
      "by kind of structural step. See docs/PERFORMANCE.md."};
  tide_bench::add_entries_argument(app, opt.n, "Entries to erase (at least 1)");
  app.add_option("--runs", opt.runs, "Runs per map (at least 1)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  opt.n = std::max<std::size_t>(1, opt.n);
  opt.runs = std::max(1, opt.runs);
  return tide_bench::run(opt);
}
