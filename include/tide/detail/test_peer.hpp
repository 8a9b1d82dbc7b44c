// The tests' window into tide's containers: internals and constants that are not part of
// the public API (as Go's export_test.go). Include only from tests and benchmarks.
#pragma once

#include <bit>
#include <cstddef>

#include "tide/detail/directory.hpp"
#include "tide/detail/table.hpp"

namespace tide::detail {

struct test_peer {
  template <class M>
  using slot_of = typename M::value_type;

  // Aborts with the name of the broken invariant, if any.
  template <class M>
  static void check_invariants(const M& m) {
    m.check_invariants();
  }
  // Bytes of the smallest table: one group of 8 slots, its ctrl word and its header.
  template <class M>
  static constexpr std::size_t one_group_bytes() {
    return table_layout<slot_of<M>>::bytes(1);
  }
  // The global depth from which the next directory is built ahead, and so the most entries a
  // doubling copies when every larger directory was built in time: the largest directory
  // copied whole, half of directory_ahead_from.
  template <class M>
  static constexpr std::size_t directory_ahead_depth() {
    return static_cast<std::size_t>(std::countr_zero(M::directory_ahead_from));
  }
  template <class M>
  static constexpr std::size_t max_directory_entries_copied() {
    return M::directory_ahead_from / 2;
  }
  // Slots of the largest table a split produces (one table's worth of work).
  template <class M>
  static constexpr std::size_t max_table_slots() {
    return table_layout<slot_of<M>>::max_groups * group_slots;
  }
  // Entries that sit past a group with a free slot on their probe path, counting only
  // paths that do not wrap round the end of their table. An insert takes the first free
  // slot on the path, so a map that has only grown has none unless something left entries
  // behind when it emptied slots in front of them.
  template <class M>
  static std::size_t entries_past_a_free_slot(const M& m) {
    std::size_t count = 0;
    m.for_each_table([&](const table_ref& t, std::size_t) {
      const auto* slots = M::layout::slots(t);
      for_each_full(t, [&](std::size_t p) {
        const std::size_t g = p / group_width;
        const std::size_t h = m.hash_of(M::policy_type::key(slots[slot_index(p)]));
        for (std::size_t b = start_group(h, t.groups); b < g; ++b) {
          if (group(t.ctrl + b * group_width).match_empty()) {
            ++count;
            break;
          }
        }
      });
    });
    return count;
  }
  // Slots of a tide::concurrent_map's largest table (one table's worth of work).
  template <class M>
  static constexpr std::size_t concurrent_max_table_slots() {
    return M::max_table_slots;
  }
};

}  // namespace tide::detail
