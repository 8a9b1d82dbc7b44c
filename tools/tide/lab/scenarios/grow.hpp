// Scenario grow: insert N keys into an empty map (no reserve), timing every insert; latency
// percentiles and distribution, peak and final bytes, bytes per entry as the map grows. See
// docs/lab.md ("grow").
//
// Each insert is timed with std::chrono::steady_clock around emplace alone (the key is made
// before the first clock read). Phases: before, full. Extra fields: latency_ns {p50, p99,
// p999, max, mean}, latency_histogram [{lo_ns, hi_ns, count}] (10 buckets per decade, empty
// buckets left out), peak_map_bytes, final_map_bytes, bytes_per_entry [{entries,
// bytes_per_entry}] at log-spaced sizes (8 per decade from 100) and at N.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <tide/counting_allocator.hpp>
#include <utility>
#include <vector>

#include "lab/keys.hpp"
#include "lab/maps.hpp"
#include "lab/probe.hpp"
#include "lab/recorder.hpp"
#include "lab/request.hpp"

namespace tide_lab {

// Sizes at which bytes per entry is sampled: 100 * 10^(i/8) below n, and n.
inline std::vector<std::size_t> grow_checkpoints(std::size_t n) {
  std::vector<std::size_t> points;
  for (int i = 0;; ++i) {
    const auto p = static_cast<std::size_t>(std::llround(100.0 * std::pow(10.0, i / 8.0)));
    if (p >= n) break;
    if (points.empty() || p != points.back()) points.push_back(p);
  }
  points.push_back(n);
  return points;
}

// Percentiles, mean and a log-bucketed histogram of `ns` (sorted in place).
inline void summarize_latency(std::vector<std::uint64_t>& ns, nlohmann::json& out) {
  std::sort(ns.begin(), ns.end());
  auto at = [&](double q) {
    const auto rank = static_cast<std::size_t>(q * static_cast<double>(ns.size() - 1));
    return ns[rank];
  };
  double total = 0;
  for (std::uint64_t v : ns) total += static_cast<double>(v);
  out["latency_ns"] = {{"p50", at(0.50)},
                       {"p99", at(0.99)},
                       {"p999", at(0.999)},
                       {"max", ns.back()},
                       {"mean", total / static_cast<double>(ns.size())}};
  std::map<int, std::uint64_t> buckets;  // bucket b holds [10^(b/10), 10^((b+1)/10)) ns
  for (std::uint64_t v : ns) {
    const int b = static_cast<int>(std::floor(10.0 * std::log10(static_cast<double>(std::max<std::uint64_t>(v, 1)))));
    ++buckets[b];
  }
  nlohmann::json histogram = nlohmann::json::array();
  for (const auto& [b, count] : buckets) {
    histogram.push_back({{"lo_ns", std::pow(10.0, b / 10.0)},
                         {"hi_ns", std::pow(10.0, (b + 1) / 10.0)},
                         {"count", count}});
  }
  out["latency_histogram"] = std::move(histogram);
}

template <class Kind, class K>
nlohmann::json run_grow(const run_request& req) {
  using clock = std::chrono::steady_clock;
  std::vector<std::uint64_t> ns(req.n, 1);  // touched before the first insert
  const std::vector<std::size_t> points = grow_checkpoints(req.n);
  tide::allocation_counter counter;
  recorder rec = recorder::for_kind<Kind>("grow", req.keys, req.n, req.n, counter);
  auto m = make_map<Kind, K>(counter);
  rec.phase("before", 0);
  nlohmann::json bytes_per_entry = nlohmann::json::array();
  std::size_t next_point = 0;
  for (std::uint64_t i = 0; i < req.n; ++i) {
    K key = key_at<K>(i);
    const auto t0 = clock::now();
    m.emplace(std::move(key), i);
    const auto t1 = clock::now();
    ns[i] = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
    rec.tick(m.size());
    if (next_point < points.size() && m.size() == points[next_point]) {
      bytes_per_entry.push_back(
          {{"entries", m.size()},
           {"bytes_per_entry",
            static_cast<double>(counter.bytes_in_use()) / static_cast<double>(m.size())}});
      ++next_point;
    }
  }
  rec.phase("full", m.size());
  nlohmann::json& out = rec.extra();
  out["peak_map_bytes"] = counter.peak_bytes();
  out["final_map_bytes"] = counter.bytes_in_use();
  out["bytes_per_entry"] = std::move(bytes_per_entry);
  summarize_latency(ns, out);
  return std::move(rec).finish();
}

}  // namespace tide_lab
