// One run's measurements (one scenario, one map, in one child process), gathered into the JSON
// object that the child writes to its parent. See docs/lab.md ("results.json") for the fields.
//
//   phase(name, entries)   a named snapshot: map bytes, RSS, allocator figures
//   tick(entries)          one operation done; every `stride` operations a timeline sample; now
//                          and then the fraction of the expected operations done, to the parent
//                          (child_progress.hpp)
//   extra()                the scenario's own fields, at the top level of the object
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>
#include <tide/counting_allocator.hpp>

#include "lab/child_progress.hpp"
#include "lab/keys.hpp"
#include "lab/probe.hpp"

namespace tide_lab {

// About this many timeline samples per pass over N entries.
inline constexpr std::size_t samples_per_pass = 64;
// About this many times per pass over N entries, the progress sender is asked to send (it sends
// at most one line per interval).
inline constexpr std::size_t progress_checks_per_pass = 1024;

class recorder {
 public:
  template <class Kind>
  static recorder for_kind(std::string_view scenario, key_kind keys, std::size_t n,
                           std::uint64_t expected_ops, const tide::allocation_counter& counter) {
    return recorder(scenario, Kind::id, Kind::name, Kind::on_tide_heap, keys, n, expected_ops,
                    counter);
  }

  void phase(std::string_view name, std::size_t entries) {
    const allocator_figures a = read_allocator(tide_heap_);
    result_["phases"].push_back({{"name", name},
                                 {"entries", entries},
                                 {"map_bytes", counter_->bytes_in_use()},
                                 {"rss_bytes", resident_bytes()},
                                 {"allocated_bytes", a.allocated_bytes},
                                 {"held_bytes", a.held_bytes}});
    sample(entries);
  }

  void tick(std::size_t entries) {
    if (++op_ % stride_ == 0) sample(entries);
    if (op_ % progress_stride_ == 0 && active_progress_sender != nullptr) {
      active_progress_sender->send(op_, expected_ops_);
    }
  }

  // Operations done so far, and the number the run expects in all (for its progress).
  std::uint64_t ops() const noexcept { return op_; }
  void expect_ops(std::uint64_t total) noexcept { expected_ops_ = total; }

  bool tide_heap() const noexcept { return tide_heap_; }
  nlohmann::json& extra() { return result_; }
  nlohmann::json finish() && { return std::move(result_); }

 private:
  recorder(std::string_view scenario, std::string_view id, std::string_view name, bool tide_heap,
           key_kind keys, std::size_t n, std::uint64_t expected_ops,
           const tide::allocation_counter& counter)
      : counter_(&counter),
        tide_heap_(tide_heap),
        stride_(std::max<std::size_t>(1, n / samples_per_pass)),
        progress_stride_(std::max<std::size_t>(1, n / progress_checks_per_pass)),
        expected_ops_(expected_ops) {
    result_ = {{"scenario", scenario}, {"map", id},        {"map_name", name},
               {"keys", key_kind_name(keys)}, {"n", n},   {"on_tide_heap", tide_heap},
               {"phases", nlohmann::json::array()},       {"timeline", nlohmann::json::array()}};
  }

  void sample(std::size_t entries) {
    result_["timeline"].push_back({{"op", op_},
                                   {"entries", entries},
                                   {"map_bytes", counter_->bytes_in_use()},
                                   {"rss_bytes", resident_bytes()}});
  }

  const tide::allocation_counter* counter_;
  bool tide_heap_;
  std::size_t stride_;
  std::size_t progress_stride_;  // operations between two looks at the progress clock
  std::uint64_t expected_ops_;
  std::uint64_t op_ = 0;
  nlohmann::json result_;
};

}  // namespace tide_lab
