// Latency summaries for the benchmarks that time single operations (growth_bench,
// shrink_bench): per-run maximum, 99.9th percentile and median, figures over runs, and the kind
// of structural step tide::map did in an operation (from its stats()).
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <tide/map_memory.hpp>
#include <vector>

#include "bench_common.hpp"

namespace tide_bench {

struct latency_summary {
  std::uint64_t max_ns = 0;
  std::uint64_t p999_ns = 0;
  std::uint64_t median_ns = 0;
  double mean_ns = 0;
};

inline latency_summary summarize(std::vector<std::uint64_t>& ns) {
  latency_summary s;
  if (ns.empty()) return s;
  double total = 0;
  for (std::uint64_t v : ns) {
    s.max_ns = std::max(s.max_ns, v);
    total += static_cast<double>(v);
  }
  s.mean_ns = total / static_cast<double>(ns.size());
  const auto at_rank = [&](std::size_t rank) {
    std::nth_element(ns.begin(), ns.begin() + static_cast<std::ptrdiff_t>(rank), ns.end());
    return ns[rank];
  };
  s.p999_ns = at_rank(std::min(ns.size() - 1, ns.size() * 999 / 1000));
  s.median_ns = at_rank(ns.size() / 2);
  return s;
}

// The kinds of structural step tide::map counts (stats()). An operation that did several (a split
// that doubled the directory first, a merge that halved it) is filed under the first kind here
// that it did.
constexpr std::size_t step_directory = 0, step_split = 1, step_merge = 2, step_rebuild = 3;
constexpr std::size_t step_kinds = 4;
constexpr std::array<const char*, step_kinds> step_names = {
    "directory resized", "table split", "tables merged", "table rebuilt"};

// The name of a step kind, or "none" for step_kinds.
inline const char* step_name(std::size_t kind) {
  return kind < step_kinds ? step_names[kind] : "none";
}

constexpr auto max_of = [](const latency_summary& s) { return s.max_ns; };
constexpr auto p999_of = [](const latency_summary& s) { return s.p999_ns; };
constexpr auto median_of = [](const latency_summary& s) { return s.median_ns; };

// Minimum and maximum over runs of one figure of each run's summary.
template <class Figure>
std::uint64_t min_over(const std::vector<latency_summary>& runs, Figure figure) {
  std::uint64_t v = UINT64_MAX;
  for (const auto& r : runs) v = std::min(v, figure(r));
  return v;
}
template <class Figure>
std::uint64_t max_over(const std::vector<latency_summary>& runs, Figure figure) {
  std::uint64_t v = 0;
  for (const auto& r : runs) v = std::max(v, figure(r));
  return v;
}

inline std::uint64_t ns_between(bench_clock::time_point a, bench_clock::time_point b) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count());
}

// Maps that count their structural work: tide::map's stats().
template <class Map>
concept reports_structural_work = requires(const Map& m) {
  m.stats().slots_moved;
};

// The kind of structural step between two stats() snapshots, or step_kinds if none.
inline std::size_t step_between(const tide::map_stats& before, const tide::map_stats& after) {
  if (after.directory_doublings != before.directory_doublings ||
      after.directory_halvings != before.directory_halvings) {
    return step_directory;
  }
  if (after.splits != before.splits) return step_split;
  if (after.merges != before.merges) return step_merge;
  if (after.rebuilds != before.rebuilds) return step_rebuild;
  return step_kinds;
}

}  // namespace tide_bench
