// Scenario churn: a map of N entries, then rounds of "insert 10% new keys, erase the 10%
// oldest" at constant size; bytes and RSS after every round. See docs/lab.md ("churn").
//
// Phases: before, full (N entries), after_churn. Extra field: rounds [{round, entries,
// map_bytes, rss_bytes}].
#pragma once

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <tide/counting_allocator.hpp>
#include <utility>

#include "lab/keys.hpp"
#include "lab/maps.hpp"
#include "lab/probe.hpp"
#include "lab/recorder.hpp"
#include "lab/request.hpp"
#include "lab/scenarios/steps.hpp"

namespace tide_lab {

template <class Kind, class K>
nlohmann::json run_churn(const run_request& req) {
  tide::allocation_counter counter;
  const std::uint64_t step = std::max<std::uint64_t>(1, req.n / 10);
  recorder rec =
      recorder::for_kind<Kind>("churn", req.keys, req.n, req.n + 2 * step * req.rounds, counter);
  auto m = make_map<Kind, K>(counter);
  rec.phase("before", 0);
  insert_entries<K>(m, rec, 0, req.n);
  rec.phase("full", m.size());
  // The live entries are oldest .. next-1.
  std::uint64_t oldest = 0, next = req.n;
  nlohmann::json rounds = nlohmann::json::array();
  for (std::size_t round = 1; round <= req.rounds; ++round) {
    insert_entries<K>(m, rec, next, next + step);
    next += step;
    erase_entries<K>(m, rec, oldest, oldest + step);
    oldest += step;
    rounds.push_back({{"round", round},
                      {"entries", m.size()},
                      {"map_bytes", counter.bytes_in_use()},
                      {"rss_bytes", resident_bytes()}});
  }
  rec.phase("after_churn", m.size());
  rec.extra()["rounds"] = std::move(rounds);
  return std::move(rec).finish();
}

}  // namespace tide_lab
