// Scenario delete-all: insert N keys, erase every one by key, ask the allocator to give memory
// back, then insert the N keys again (the seeds' "erase everything, refill": the memory given
// back is taken again, no more). See docs/lab.md ("delete-all").
//
// Phases: before (empty map), full, after_erase, after_release (release_allocator(), probe.hpp),
// refilled.
#pragma once

#include <nlohmann/json.hpp>
#include <tide/counting_allocator.hpp>
#include <utility>

#include "lab/keys.hpp"
#include "lab/maps.hpp"
#include "lab/probe.hpp"
#include "lab/recorder.hpp"
#include "lab/request.hpp"

namespace tide_lab {

template <class Kind, class K>
nlohmann::json run_delete_all(const run_request& req) {
  tide::allocation_counter counter;
  recorder rec = recorder::for_kind<Kind>("delete-all", req.keys, req.n, 3 * req.n, counter);
  auto m = make_map<Kind, K>(counter);
  rec.phase("before", 0);
  for (std::uint64_t i = 0; i < req.n; ++i) {
    m.emplace(key_at<K>(i), i);
    rec.tick(m.size());
  }
  rec.phase("full", m.size());
  for (std::uint64_t i = 0; i < req.n; ++i) {
    m.erase(key_at<K>(i));
    rec.tick(m.size());
  }
  rec.phase("after_erase", m.size());
  release_allocator(Kind::on_tide_heap);
  rec.phase("after_release", m.size());
  for (std::uint64_t i = 0; i < req.n; ++i) {
    m.emplace(key_at<K>(i), i);
    rec.tick(m.size());
  }
  rec.phase("refilled", m.size());
  return std::move(rec).finish();
}

}  // namespace tide_lab
