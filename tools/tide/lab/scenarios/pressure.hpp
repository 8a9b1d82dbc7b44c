// Scenario pressure: the process works under a memory limit. See docs/lab.md ("pressure").
//
// The workload: insert N keys, erase a random 90% by key, then the rest of the program
// allocates `ballast` bytes of other data (twice the map's peak bytes in the calibration run,
// so the process's peak comes after the erase, where compacting can help) in 64 KiB blocks (through tide::heap for
// tide::heap_map, malloc for the others), each block written.
//
// The parent first runs it for tide::heap_map with no limit (the calibration run, limit 0). At
// its end, with the ballast allocated, tide::release_memory() returns the heap's idle pages:
// the footprint left, R, is the least the heap holds without the map's help; then
// shrink_to_fit() and release_memory() again leave C, what compacting reaches. The limit is
// halfway between, C + (R - C) / 2 (R if compacting gains nothing). In the managed run (tide::heap_map, limit
// set) tide::set_memory_limit() is set and a tide::on_memory_pressure() callback asks the map
// to compact. The callback runs inside an allocation (possibly the map's own), so it only sets
// a flag; the workload loop sees it after the current operation and calls shrink_to_fit() and
// tide::release_memory(). The other maps run the same workload with nothing listening: their
// figures show where they end up against the same limit.
//
// The heap's background release is switched off in these runs, so that what the heap holds
// does not depend on how long a run takes: pages go back to the OS through the limit (and the
// calibration's explicit release) only.
//
// Phases: before, full, after_erase, after_ballast; the calibration run adds after_release
// and after_shrink. Extra fields: limit_bytes, ballast_bytes, managed, peak_held_bytes,
// final_held_bytes, released_held_bytes and compacted_held_bytes (calibration: R and C
// above), pressure_events, compactions,
// under_limit (null without a limit).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <nlohmann/json.hpp>
#include <tide/counting_allocator.hpp>
#include <tide/heap.hpp>
#include <tide/memstats.hpp>
#include <utility>
#include <vector>

#include "lab/keys.hpp"
#include "lab/maps.hpp"
#include "lab/probe.hpp"
#include "lab/recorder.hpp"
#include "lab/request.hpp"
#include "lab/scenarios/steps.hpp"
#include "lab/scenarios/shrink.hpp"

namespace tide_lab {

inline constexpr std::size_t ballast_block_bytes = 64 * 1024;
inline constexpr std::size_t peak_samples = 32;  // peak_held_bytes: samples over the ballast

template <class Kind, class K>
nlohmann::json run_pressure(const run_request& req) {
  constexpr bool tide_heap = Kind::on_tide_heap;
  const bool managed = tide_heap && req.limit_bytes > 0;
  const bool calibration = tide_heap && req.limit_bytes == 0;
  std::atomic<bool> pressure{false};
  tide::pressure_registration registration;
  if (tide_heap) tide::set_background_release(false);
  if (managed) {
    registration = tide::on_memory_pressure([&](const tide::memory_pressure&) { pressure = true; });
    tide::set_memory_limit(req.limit_bytes);
  }

  tide::allocation_counter counter;
  // Inserts, the erases of about 90%, the ballast blocks (their number is known here, except in
  // the calibration: counted once the ballast is).
  recorder rec = recorder::for_kind<Kind>(
      "pressure", req.keys, req.n, req.n + req.n / 10 * 9 + req.ballast_bytes / ballast_block_bytes,
      counter);
  auto m = make_map<Kind, K>(counter);
  std::size_t compactions = 0;
  auto answer_pressure = [&] {
    if (!pressure.exchange(false)) return;
    explicit_shrink(m);
    tide::release_memory();
    ++compactions;
  };

  rec.phase("before", 0);
  insert_entries<K>(m, rec, 0, req.n, answer_pressure);
  rec.phase("full", m.size());
  erase_entries<K>(m, rec, 0, req.n, erased_by_shrink, answer_pressure);
  rec.phase("after_erase", m.size());

  const std::size_t ballast = req.ballast_bytes > 0 ? req.ballast_bytes : 2 * counter.peak_bytes();
  rec.expect_ops(rec.ops() + ballast / ballast_block_bytes);
  std::vector<void*> blocks;
  blocks.reserve(ballast / ballast_block_bytes + 1);
  const std::size_t sample_every = std::max<std::size_t>(1, ballast / ballast_block_bytes / peak_samples);
  std::size_t peak_held = read_allocator(tide_heap).held_bytes;
  for (std::size_t done = 0; done < ballast; done += ballast_block_bytes) {
    void* p = tide_heap ? tide::heap::allocate(ballast_block_bytes)
                        : std::malloc(ballast_block_bytes);
    if (p == nullptr) throw std::bad_alloc();
    std::memset(p, 0x5a, ballast_block_bytes);
    blocks.push_back(p);
    // mallinfo2() walks glibc's free lists (all 1.8M freed nodes of a std::unordered_map of 2M
    // after the erase: 80 ms a call): sample at peak_samples points, not at every block.
    if (blocks.size() % sample_every == 0) {
      peak_held = std::max(peak_held, read_allocator(tide_heap).held_bytes);
    }
    rec.tick(m.size());
    answer_pressure();
  }
  rec.phase("after_ballast", m.size());
  const std::size_t final_held = read_allocator(tide_heap).held_bytes;
  peak_held = std::max(peak_held, final_held);
  if (calibration) {
    tide::release_memory();
    rec.phase("after_release", m.size());
    rec.extra()["released_held_bytes"] = read_allocator(tide_heap).held_bytes;
    explicit_shrink(m);
    tide::release_memory();
    rec.phase("after_shrink", m.size());
    rec.extra()["compacted_held_bytes"] = read_allocator(tide_heap).held_bytes;
  }
  for (void* p : blocks) {
    if (tide_heap) {
      tide::heap::deallocate(p, ballast_block_bytes);
    } else {
      std::free(p);
    }
  }

  nlohmann::json& out = rec.extra();
  out["limit_bytes"] = req.limit_bytes;
  out["ballast_bytes"] = ballast;
  out["managed"] = managed;
  out["peak_held_bytes"] = peak_held;
  out["final_held_bytes"] = final_held;
  out["pressure_events"] = tide_heap ? tide::read_memstats().pressure_events : 0;
  out["compactions"] = compactions;
  out["under_limit"] = req.limit_bytes > 0 ? nlohmann::json(final_held <= req.limit_bytes)
                                           : nlohmann::json(nullptr);
  if (managed) tide::set_memory_limit(0);
  return std::move(rec).finish();
}

}  // namespace tide_lab
