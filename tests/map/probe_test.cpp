// Probe paths after growth: a split leaves no entry behind a slot it could have taken.
// Behaviour only (entries' places, through test_peer), never timing.

#include <cstdint>
#include <string>

#include <gtest/gtest.h>
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

}  // namespace
