// The tests' window into tide's containers: internals and constants that are not part of
// the public API (as Go's export_test.go). Include only from tests and benchmarks.
#pragma once

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
  // Slots of the largest table a split produces (one table's worth of work).
  template <class M>
  static constexpr std::size_t max_table_slots() {
    return table_layout<slot_of<M>>::max_groups * group_slots;
  }
  // Slots of a tide::concurrent_map's largest table (one table's worth of work).
  template <class M>
  static constexpr std::size_t concurrent_max_table_slots() {
    return M::max_table_slots;
  }
};

}  // namespace tide::detail
