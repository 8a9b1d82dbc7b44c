// Where entries are placed: a split leaves no entry behind a slot it could have taken, and a
// bulk move's free_slots places entries exactly where find_insert_position would. Behaviour
// only (entries' places, through test_peer and the table functions), never timing.

#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <utility>

#include <gtest/gtest.h>
#include <tide/detail/table.hpp>
#include <tide/detail/test_peer.hpp>
#include <tide/map.hpp>

#include "support/random.hpp"

namespace {

using tide::detail::test_peer;

// A table that splits in place keeps its lower half where it was, at less than half load.
// Entries of that half that had been pushed past full groups must move back to the first
// free slot on their path, or misses keep probing a second group for them.
template <class Map, class MakeKey>
void expect_grown_map_has_no_entry_past_a_free_slot(MakeKey make_key, std::size_t n) {
  Map m;
  std::size_t checked_after_split = 0;
  std::uint64_t splits = 0;
  for (std::size_t i = 0; i < n; ++i) {
    m.emplace(make_key(i), i);
    const tide::map_stats s = m.stats();
    if (s.splits != splits) {
      splits = s.splits;
      // Check right after some splits (each check walks the whole map).
      if (splits % 16 == 1) {
        ASSERT_EQ(test_peer::entries_past_a_free_slot(m), 0u)
            << "after split #" << splits << " at " << m.size() << " entries";
        ++checked_after_split;
      }
    }
  }
  EXPECT_EQ(test_peer::entries_past_a_free_slot(m), 0u) << "at " << m.size() << " entries";
  EXPECT_GT(checked_after_split, 2u) << "growing to " << n << " split too rarely to test";
  test_peer::check_invariants(m);
}

TEST(MapProbe, SplitMovesDisplacedEntriesHomeU64) {
  expect_grown_map_has_no_entry_past_a_free_slot<tide::map<std::uint64_t, std::uint64_t>>(
      [](std::size_t i) { return tide_test::scramble(i, 7); }, 200'000);
}

TEST(MapProbe, SplitMovesDisplacedEntriesHomeString) {
  expect_grown_map_has_no_entry_past_a_free_slot<tide::map<std::string, std::uint64_t>>(
      [](std::size_t i) { return tide_test::string_key(i); }, 100'000);
}

// Two copies of one table, filled with the same random hashes: one through
// find_insert_position, the other through free_slots (which reads the ctrl bytes once, then
// keeps its own masks). Every ctrl byte, overflow bytes included, must agree after every
// entry, until the table holds max_load entries.
void expect_free_slots_place_like_find_insert_position(std::size_t groups, std::size_t prefill,
                                                       std::uint64_t seed) {
  using layout = tide::detail::table_layout<std::pair<const std::uint64_t, std::uint64_t>>;
  using tide::detail::table_ref;
  std::allocator<std::pair<const std::uint64_t, std::uint64_t>> alloc;
  const table_ref direct = layout::allocate(alloc, groups, 0);
  const table_ref masked = layout::allocate(alloc, groups, 0);
  std::mt19937_64 rng(seed);
  const std::size_t limit = tide::detail::max_load(direct.capacity());
  ASSERT_LT(prefill, limit);
  // The free_slots start from a table that already has entries (an in-place merge's).
  for (std::size_t i = 0; i < prefill; ++i) {
    const std::uint64_t h = rng();
    const std::size_t p = tide::detail::find_insert_position(direct, h);
    tide::detail::mark_full(direct, p, tide::detail::tag_of(h));
  }
  std::memcpy(masked.ctrl, direct.ctrl, direct.positions());
  masked.header() = direct.header();
  tide::detail::free_slots slots(masked);
  for (std::size_t i = prefill; i < limit; ++i) {
    const std::uint64_t h = rng();
    const std::size_t expected = tide::detail::find_insert_position(direct, h);
    const std::size_t got = slots.take(h);
    ASSERT_EQ(got, expected) << "entry " << i << " of a table of " << groups << " groups";
    tide::detail::mark_full(direct, expected, tide::detail::tag_of(h));
    tide::detail::mark_full(masked, got, tide::detail::tag_of(h));
    ASSERT_EQ(std::memcmp(direct.ctrl, masked.ctrl, direct.positions()), 0)
        << "ctrl bytes differ after entry " << i << " of a table of " << groups << " groups";
  }
  layout::deallocate(alloc, direct);
  layout::deallocate(alloc, masked);
}

TEST(MapProbe, FreeSlotsPlaceEntriesWhereFindInsertPositionWould) {
  // One group (which may fill completely), a small table, a largest table of 16-byte slots
  // (127 groups), partly full or empty, with full groups whose overflow bits get set.
  expect_free_slots_place_like_find_insert_position(1, 0, 1);
  expect_free_slots_place_like_find_insert_position(1, 7, 2);
  expect_free_slots_place_like_find_insert_position(9, 40, 3);
  expect_free_slots_place_like_find_insert_position(127, 0, 4);
  expect_free_slots_place_like_find_insert_position(127, 700, 5);
  // More groups than any table of normal keys has (4096 slots): free_slots falls back to
  // the ctrl bytes.
  expect_free_slots_place_like_find_insert_position(300, 2000, 6);
}

}  // namespace
