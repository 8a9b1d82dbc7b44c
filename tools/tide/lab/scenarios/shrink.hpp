// Scenario shrink: insert N keys, erase a random 90% by key; the figures after the erase, after
// the allocator's release, after the library's explicit shrink, and those of a fresh map holding
// only the survivors. See docs/lab.md ("shrink").
//
// Phases: before, full, after_erase, after_release, after_shrink (shrink_to_fit() for tide,
// rehash(0) for the others). Extra field: fresh {entries, map_bytes}: a new map built with the
// survivors (after the first one is destroyed), on its own counter.
#pragma once

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

// Entry i is among the erased 90% (a fixed pseudo-random choice, the same for every map).
inline bool erased_by_shrink(std::uint64_t i) { return random_at(0x5348524e4b, i) % 10 != 0; }

template <class Kind, class K>
nlohmann::json run_shrink(const run_request& req) {
  tide::allocation_counter counter;
  // Inserts, and the erases of about 90%.
  recorder rec =
      recorder::for_kind<Kind>("shrink", req.keys, req.n, req.n + req.n / 10 * 9, counter);
  {
    auto m = make_map<Kind, K>(counter);
    rec.phase("before", 0);
    insert_entries<K>(m, rec, 0, req.n);
    rec.phase("full", m.size());
    erase_entries<K>(m, rec, 0, req.n, erased_by_shrink);
    rec.phase("after_erase", m.size());
    release_allocator(Kind::on_tide_heap);
    rec.phase("after_release", m.size());
    explicit_shrink(m);
    rec.phase("after_shrink", m.size());
  }
  release_allocator(Kind::on_tide_heap);

  tide::allocation_counter fresh_counter;
  auto fresh = make_map<Kind, K>(fresh_counter);
  for (std::uint64_t i = 0; i < req.n; ++i) {
    if (!erased_by_shrink(i)) fresh.emplace(key_at<K>(i), i);
  }
  rec.extra()["fresh"] = {{"entries", fresh.size()}, {"map_bytes", fresh_counter.bytes_in_use()}};
  return std::move(rec).finish();
}

}  // namespace tide_lab
