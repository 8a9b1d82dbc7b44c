// Entries of trivially copyable types move between tables by a copy made some entries after
// their place is chosen (directory.hpp, relocate_all). These tests check that every move
// (rebuilds while growing and shrinking, splits, merges, reserve, shrink_to_fit) lands each
// entry's own bytes in its own slot, for slots of one, two and three cache-line sizes, and for
// moves of fewer entries than the copies wait for. Behaviour only, never timing.

#include <array>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>
#include <tide/map.hpp>

#include "support/random.hpp"

namespace {

// A value (the slot holds the 8-byte key too) whose every word is derived from its key, so a value copied to another key's slot,
// or copied half, is seen.
template <std::size_t Words>
struct payload {
  std::array<std::uint64_t, Words> words;
  static payload of(std::uint64_t key) {
    payload p{};
    for (std::size_t i = 0; i < Words; ++i) p.words[i] = key * 0x9E3779B97F4A7C15ull + i;
    return p;
  }
  friend bool operator==(const payload&, const payload&) = default;
};
static_assert(std::is_trivially_copyable_v<payload<5>>);

template <class Map>
void expect_every_value_is_its_keys(const Map& m, const std::vector<std::uint64_t>& live,
                                    const char* when) {
  using value = typename Map::mapped_type;
  ASSERT_EQ(m.size(), live.size()) << when;
  for (const std::uint64_t k : live) {
    const auto it = m.find(k);
    ASSERT_NE(it, m.end()) << when << ": key " << k << " lost";
    ASSERT_TRUE(it->second == value::of(k)) << when << ": key " << k << " holds another value";
  }
}

// Leaves the map's move counts in *moves, for the caller to check that the moves it means to
// test happened.
template <std::size_t Words>
void grow_reserve_shrink_and_erase_everything(std::size_t n, std::uint64_t seed,
                                              tide::map_stats* moves) {
  using value = payload<Words>;
  tide::map<std::uint64_t, value> m;
  // Random keys, so erasing from the back erases in random order.
  std::vector<std::uint64_t> live = tide_test::distinct_random_keys(n, seed);
  for (const std::uint64_t k : live) m.try_emplace(k, value::of(k));
  expect_every_value_is_its_keys(m, live, "after growing");

  m.reserve(2 * n);
  expect_every_value_is_its_keys(m, live, "after reserve");

  const std::size_t keep = live.size() / 10;
  for (std::size_t i = live.size(); i > keep; --i) {
    ASSERT_EQ(m.erase(live.back()), 1u);
    live.pop_back();
    if (i % 997 == 0) expect_every_value_is_its_keys(m, live, "while erasing");
  }
  expect_every_value_is_its_keys(m, live, "after erasing 90%");
  m.shrink_to_fit();
  expect_every_value_is_its_keys(m, live, "after shrink_to_fit");
  while (!live.empty()) {
    ASSERT_EQ(m.erase(live.back()), 1u);
    live.pop_back();
    if (live.size() % 101 == 0) expect_every_value_is_its_keys(m, live, "while erasing the rest");
  }
  EXPECT_TRUE(m.empty());
  *moves = m.stats();
}

template <std::size_t Words>
void expect_values_kept_through_every_kind_of_move(std::size_t n, std::uint64_t seed) {
  tide::map_stats s;
  grow_reserve_shrink_and_erase_everything<Words>(n, seed, &s);
  EXPECT_GT(s.rebuilds, 0u);
  EXPECT_GT(s.splits, 0u);
  EXPECT_GT(s.merges, 0u);
}

TEST(MapRelocate, SixteenByteSlotsKeepTheirValuesThroughEveryMove) {
  expect_values_kept_through_every_kind_of_move<1>(60'000, 11);  // as u64 -> u64
}

TEST(MapRelocate, OneLineSlotsKeepTheirValuesThroughEveryMove) {
  expect_values_kept_through_every_kind_of_move<7>(40'000, 21);  // 64-byte slots
}

TEST(MapRelocate, SlotsAcrossCacheLinesKeepTheirValuesThroughEveryMove) {
  expect_values_kept_through_every_kind_of_move<5>(40'000, 31);   // 48-byte slots
  expect_values_kept_through_every_kind_of_move<15>(20'000, 41);  // 128-byte slots
}

// Tables of a few entries: each rebuild or merge moves fewer entries than the copies wait for.
TEST(MapRelocate, SmallMapsKeepTheirValuesThroughEveryMove) {
  for (std::size_t n : {2u, 15u, 16u, 17u, 31u, 40u, 100u}) {
    tide::map_stats s;
    grow_reserve_shrink_and_erase_everything<2>(n, 50 + n, &s);
    if (n > 15) {
      EXPECT_GT(s.rebuilds, 0u) << n << " entries outgrow one group";
    }
  }
}

}  // namespace
