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
#include "lab/scenarios/steps.hpp"

namespace tide_lab {

template <class Kind, class K>
nlohmann::json run_delete_all(const run_request& req) {
  tide::allocation_counter counter;
  recorder rec = recorder::for_kind<Kind>("delete-all", req.keys, req.n, 3 * req.n, counter);
  auto m = make_map<Kind, K>(counter);
  rec.phase("before", 0);
  insert_entries<K>(m, rec, 0, req.n);
  rec.phase("full", m.size());
  erase_entries<K>(m, rec, 0, req.n);
  rec.phase("after_erase", m.size());
  release_allocator(Kind::on_tide_heap);
  rec.phase("after_release", m.size());
  insert_entries<K>(m, rec, 0, req.n);
  rec.phase("refilled", m.size());
  return std::move(rec).finish();
}

}  // namespace tide_lab
