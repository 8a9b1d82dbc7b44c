// Memory behaviour, measured with tide::counting_allocator: the map gives memory back by
// itself, stays compact under churn, peaks close to its final size while growing, does
// bounded work per operation (counted in slots moved, never timed), and reports its memory
// truthfully through memory().
#include <algorithm>
#include <cstdint>
#include <deque>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <tide/counting_allocator.hpp>
#include <tide/detail/test_peer.hpp>
#include <tide/map.hpp>
#include <tide/set.hpp>

#include "support/hashes.hpp"
#include "support/random.hpp"
#include "support/scale.hpp"

namespace {

using tide::detail::test_peer;
using A = tide::counting_allocator<std::pair<const std::uint64_t, std::uint64_t>>;
using CM = tide::map<std::uint64_t, std::uint64_t, tide::hash<std::uint64_t>,
                     std::equal_to<std::uint64_t>, A>;

// 1M by default (the figures in the issue are for 1M), less under sanitizers.
std::size_t million() { return tide_test::scaled(1000000, 100000); }

const std::vector<std::uint64_t>& keys() {
  static const std::vector<std::uint64_t> k = tide_test::distinct_random_keys(million() * 3, 42);
  return k;
}

std::uint64_t structural_work(const tide::map_stats& s) { return s.rebuilds + s.splits + s.merges; }

std::string mib(std::size_t bytes) {
  return std::to_string(bytes) + " bytes (" + std::to_string(static_cast<double>(bytes) / 1048576.0) +
         " MiB)";
}

// Inserts keys()[0..n), each mapped to its index.
template <class Map>
void insert_first_keys(Map& m, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) m.emplace(keys()[i], i);
}

// ---- (a) erasing everything gives everything back -----------------------------------------------

TEST(MapMemory, EraseAllOneByOneLeavesAtMostOneGroup) {
  tide::allocation_counter counter;
  CM m{A(counter)};
  const std::size_t n = million();
  insert_first_keys(m, n);
  const std::size_t full = counter.bytes_in_use();
  ASSERT_GT(full, n * sizeof(std::pair<const std::uint64_t, std::uint64_t>));
  // Erase in a different order than inserted.
  for (std::size_t i = n; i-- > 0;) ASSERT_EQ(m.erase(keys()[i]), 1u) << "erase(" << keys()[i] << ")";
  EXPECT_TRUE(m.empty());
  EXPECT_LE(counter.bytes_in_use(), test_peer::one_group_bytes<CM>())
      << "after erasing all " << n << " entries one by one, holding " << mib(counter.bytes_in_use())
      << " (full map held " << mib(full) << ")";
  EXPECT_EQ(m.memory().bytes, counter.bytes_in_use());
  test_peer::check_invariants(m);
  // And it grows again normally.
  for (std::size_t i = 0; i < 1000; ++i) m.emplace(keys()[i], i);
  EXPECT_EQ(m.size(), 1000u);
  test_peer::check_invariants(m);
}

TEST(MapMemory, ClearLeavesAtMostOneGroup) {
  tide::allocation_counter counter;
  CM m{A(counter)};
  for (std::size_t i = 0; i < million(); ++i) m.emplace(keys()[i], i);
  m.clear();
  EXPECT_TRUE(m.empty());
  EXPECT_LE(counter.bytes_in_use(), test_peer::one_group_bytes<CM>())
      << "after clear() of " << million() << " entries, holding " << mib(counter.bytes_in_use());
  test_peer::check_invariants(m);
}

TEST(MapMemory, EraseIfEverythingLeavesAtMostOneGroup) {
  tide::allocation_counter counter;
  CM m{A(counter)};
  for (std::size_t i = 0; i < million() / 4; ++i) m.emplace(keys()[i], i);
  EXPECT_EQ(tide::erase_if(m, [](const auto&) { return true; }), million() / 4);
  EXPECT_LE(counter.bytes_in_use(), test_peer::one_group_bytes<CM>())
      << "after erase_if(all), holding " << mib(counter.bytes_in_use());
}

TEST(SetMemory, EraseAllOneByOneLeavesAtMostOneGroup) {
  using S = tide::set<std::uint64_t, tide::hash<std::uint64_t>, std::equal_to<std::uint64_t>,
                      tide::counting_allocator<std::uint64_t>>;
  tide::allocation_counter counter;
  S s{tide::counting_allocator<std::uint64_t>(counter)};
  const std::size_t n = million() / 4;
  for (std::size_t i = 0; i < n; ++i) s.insert(keys()[i]);
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(s.erase(keys()[i]), 1u);
  EXPECT_LE(counter.bytes_in_use(), test_peer::one_group_bytes<S>())
      << "set after erasing all " << n << " keys holds " << mib(counter.bytes_in_use());
}

// ---- (b) erasing a random 90% --------------------------------------------------------------------

// The memory of a map built from `keys` alone (its bytes are the allocator's count: see
// MemorySnapshotIsConsistent).
tide::map_memory memory_of_fresh_map(const std::vector<std::uint64_t>& keys) {
  CM fresh;
  for (std::uint64_t k : keys) fresh.emplace(k, 0);
  return fresh.memory();
}

// m holds exactly the keys `survivors`, and its invariants hold.
void expect_holds(const CM& m, const std::vector<std::uint64_t>& survivors, const char* when) {
  EXPECT_EQ(m.size(), survivors.size()) << when;
  for (std::uint64_t k : survivors) ASSERT_TRUE(m.contains(k)) << "find(" << k << ") got end() " << when;
  test_peer::check_invariants(m);
}

TEST(MapMemory, EraseRandom90PercentStaysWithin2xOfFreshAndShrinkToFitWithin1_1x) {
  tide::allocation_counter counter;
  CM m{A(counter)};
  const std::size_t n = million();
  insert_first_keys(m, n);
  tide_test::rng r(90);
  std::vector<std::uint64_t> survivors;
  for (std::size_t i = 0; i < n; ++i) {
    if (r.chance(9, 10)) {
      ASSERT_EQ(m.erase(keys()[i]), 1u);
    } else {
      survivors.push_back(keys()[i]);
    }
  }
  const std::size_t fresh_bytes = memory_of_fresh_map(survivors).bytes;
  ASSERT_GT(fresh_bytes, 0u);
  const double after_erase = static_cast<double>(counter.bytes_in_use()) / static_cast<double>(fresh_bytes);
  EXPECT_LE(after_erase, 2.0) << "after erasing a random 90% of " << n << " entries the map holds "
                              << mib(counter.bytes_in_use()) << ", a fresh map of the "
                              << survivors.size() << " survivors holds " << mib(fresh_bytes);
  test_peer::check_invariants(m);
  m.shrink_to_fit();
  const double after_shrink = static_cast<double>(counter.bytes_in_use()) / static_cast<double>(fresh_bytes);
  EXPECT_LE(after_shrink, 1.1) << "after shrink_to_fit() the map holds " << mib(counter.bytes_in_use())
                               << ", a fresh map of the survivors holds " << mib(fresh_bytes);
  expect_holds(m, survivors, "after shrink_to_fit");
  RecordProperty("ratio_after_erase_x1000", static_cast<int>(after_erase * 1000));
  RecordProperty("ratio_after_shrink_x1000", static_cast<int>(after_shrink * 1000));
}

// erase(iterator) never moves entries (other iterators stay valid): it flags its table, and the
// inserts and erase(key)s that follow compact flagged tables, one per operation.
TEST(MapMemory, EraseRandom90PercentThroughIteratorsIsGivenBackByLaterMutations) {
  tide::allocation_counter counter;
  CM m{A(counter)};
  const std::size_t n = million();
  insert_first_keys(m, n);
  tide_test::rng r(91);
  std::vector<std::uint64_t> survivors;
  for (auto it = m.begin(); it != m.end();) {
    if (r.chance(9, 10)) {
      it = m.erase(it);
    } else {
      survivors.push_back(it->first);
      ++it;
    }
  }
  ASSERT_EQ(m.size(), survivors.size());
  const std::size_t fresh_bytes = memory_of_fresh_map(survivors).bytes;
  const std::size_t held_after_erasing = counter.bytes_in_use();
  // Two mutations per directory entry: more than enough steps to reach every flagged table.
  const std::size_t pairs = std::size_t{1} << m.memory().global_depth;
  for (std::size_t j = 0; j < pairs; ++j) {
    m.emplace(keys()[n + j], j);
    ASSERT_EQ(m.erase(keys()[n + j]), 1u);
  }
  const double ratio = static_cast<double>(counter.bytes_in_use()) / static_cast<double>(fresh_bytes);
  EXPECT_LE(ratio, 2.0) << "after erasing a random 90% of " << n << " entries through iterators ("
                        << mib(held_after_erasing) << " held) and " << pairs
                        << " insert/erase pairs, the map holds " << mib(counter.bytes_in_use())
                        << "; a fresh map of the " << survivors.size() << " survivors holds "
                        << mib(fresh_bytes);
  expect_holds(m, survivors, "after the insert/erase pairs");
  RecordProperty("ratio_x1000", static_cast<int>(ratio * 1000));
}

// Tables merge as the map empties, and the directory halves when no table is as deep as it.
TEST(MapMemory, EraseAllButATenthOfAPercentHalvesTheDirectory) {
  tide::allocation_counter counter;
  CM m{A(counter)};
  const std::size_t n = million();
  insert_first_keys(m, n);
  const std::size_t full_depth = m.memory().global_depth;
  const std::size_t kept = n / 1000;
  for (std::size_t i = kept; i < n; ++i) ASSERT_EQ(m.erase(keys()[i]), 1u);
  const std::vector<std::uint64_t> survivors(keys().begin(), keys().begin() + kept);
  const tide::map_memory fresh = memory_of_fresh_map(survivors);
  const tide::map_memory mem = m.memory();
  EXPECT_LE(mem.global_depth, fresh.global_depth + 1)
      << "the directory had depth " << full_depth << " at " << n << " entries and "
      << mem.global_depth << " (" << mem.tables << " tables) after erasing all but " << kept
      << "; a fresh map of those holds " << fresh.tables << " table(s) at depth "
      << fresh.global_depth;
  EXPECT_LE(mem.bytes, 2 * fresh.bytes);
  test_peer::check_invariants(m);
}

// ---- (c) churn at constant size does not drift ------------------------------------------------------

TEST(MapMemory, TwentyRoundsOfTenPercentChurnStayWithin1_25xOfRoundOne) {
  tide::allocation_counter counter;
  CM m{A(counter)};
  const std::size_t n = million();
  const std::size_t step = n / 10;
  std::deque<std::uint64_t> fifo;
  std::size_t next = 0;
  for (; next < n; ++next) {
    m.emplace(keys()[next], next);
    fifo.push_back(keys()[next]);
  }
  std::size_t round_one = 0;
  std::size_t worst = 0;
  for (int round = 1; round <= 20; ++round) {
    for (std::size_t i = 0; i < step; ++i, ++next) {
      m.emplace(keys()[next % keys().size()], next);
      fifo.push_back(keys()[next % keys().size()]);
    }
    for (std::size_t i = 0; i < step; ++i) {
      ASSERT_EQ(m.erase(fifo.front()), 1u) << "erase(" << fifo.front() << ") in round " << round;
      fifo.pop_front();
    }
    ASSERT_EQ(m.size(), n);
    const std::size_t bytes = counter.bytes_in_use();
    if (round == 1) round_one = bytes;
    worst = std::max(worst, bytes);
    EXPECT_LE(static_cast<double>(bytes), 1.25 * static_cast<double>(round_one))
        << "round " << round << " holds " << mib(bytes) << ", round 1 held " << mib(round_one);
  }
  test_peer::check_invariants(m);
  RecordProperty("worst_over_round_one_x1000",
                 static_cast<int>(1000.0 * static_cast<double>(worst) / static_cast<double>(round_one)));
}

// ---- (d) growth peaks close to the final size --------------------------------------------------------

TEST(MapMemory, PeakWhileGrowingIsWithin1_10xOfFinal) {
  tide::allocation_counter counter;
  CM m{A(counter)};
  for (std::size_t i = 0; i < million(); ++i) m.emplace(keys()[i], i);
  const std::size_t final_bytes = counter.bytes_in_use();
  const double ratio = static_cast<double>(counter.peak_bytes()) / static_cast<double>(final_bytes);
  EXPECT_LE(ratio, 1.10) << "growing to " << million() << " entries peaked at "
                         << mib(counter.peak_bytes()) << ", final " << mib(final_bytes);
  RecordProperty("peak_over_final_x1000", static_cast<int>(ratio * 1000));
}

// ---- (e) bounded work per operation, counted in slots moved ----------------------------------------

TEST(MapMemory, NoSingleInsertOrEraseMovesMoreThanOneTable) {
  CM m;
  const std::size_t n = million();
  const std::uint64_t limit = test_peer::max_table_slots<CM>();
  std::uint64_t prev_moved = 0;
  bool grew = false;
  for (std::size_t i = 0; i < n; ++i) {
    m.emplace(keys()[i], i);
    const tide::map_stats s = m.stats();
    const std::uint64_t moved = s.slots_moved - prev_moved;
    prev_moved = s.slots_moved;
    ASSERT_LE(moved, limit) << "insert #" << i + 1 << " (key " << keys()[i] << ") moved " << moved
                            << " slots; one table holds at most " << limit;
    ASSERT_LE(s.max_slots_moved, limit) << "after insert #" << i + 1;
    if (structural_work(s) > 0) grew = true;
    if (grew) {
      ASSERT_GE(s.max_slots_moved, 1u) << "the map grew but counted no slots moved";
    }
  }
  const tide::map_stats grown = m.stats();
  EXPECT_TRUE(grew);
  EXPECT_GT(grown.slots_moved, n / 2) << "growing to " << n << " must move entries";
  EXPECT_GT(grown.splits + grown.directory_doublings, 0u) << "growing to " << n << " never split";
  // Shrinking by erasing everything.
  for (std::size_t i = 0; i < n; ++i) {
    m.erase(keys()[i]);
    const tide::map_stats s = m.stats();
    const std::uint64_t moved = s.slots_moved - prev_moved;
    prev_moved = s.slots_moved;
    ASSERT_LE(moved, limit) << "erase #" << i + 1 << " (key " << keys()[i] << ") moved " << moved
                            << " slots; one table holds at most " << limit;
    ASSERT_LE(s.max_slots_moved, limit) << "after erase #" << i + 1;
  }
  const tide::map_stats shrunk = m.stats();
  EXPECT_GT(shrunk.merges + shrunk.rebuilds, grown.merges + grown.rebuilds)
      << "erasing everything never merged or shrank a table";
}

// Nor does an insert copy the whole directory: past a small size the doubled directory is built
// a few entries per split, and the doubling only swaps it in (without that, growing to 1M keys
// copied 512 entries at once, and 2^16 at 100M). memory() counts the directory being built.
// 300K keys reach global depth 8.
TEST(MapMemory, TheDirectoryIsDoubledAheadSoNoInsertCopiesIt) {
  CM m;
  // Past directory_ahead_depth + 1, and within keys() in every build (at least 300K keys).
  const std::size_t n = 300'000;
  ASSERT_LE(n, keys().size());
  for (std::size_t i = 0; i < n; ++i) m.emplace(keys()[i], i);
  const tide::map_memory mem = m.memory();
  ASSERT_GT(mem.global_depth, test_peer::directory_ahead_depth<CM>() + 1)
      << "the directory must double at least twice past the size built ahead";
  EXPECT_EQ(m.stats().max_directory_entries_copied, test_peer::max_directory_entries_copied<CM>())
      << "only the last directory copied whole, half the size built ahead";
  const std::size_t dir_entries = std::size_t{1} << mem.global_depth;
  EXPECT_EQ(mem.directory_bytes, 3 * dir_entries * sizeof(tide::detail::table_ref))
      << "the directory and the doubled one being built";
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(m.at(keys()[i]), i);
}

// The same after the operations that leave the next directory unbuilt or every table as deep as
// the directory: a halving keeps the old directory as the next one, and a copy or a rehash
// builds it whole (before, the first doubling after each copied the whole directory: 128 entries
// or more here).
TEST(MapMemory, AfterAHalvingACopyOrARehashTheDirectoryIsStillDoubledAhead) {
  const std::size_t n = 250'000, kept = 100'000;
  ASSERT_LE(n, keys().size());
  const std::size_t ahead_depth = test_peer::directory_ahead_depth<CM>();
  const std::size_t most_copied = test_peer::max_directory_entries_copied<CM>();
  CM m;
  insert_first_keys(m, n);
  const std::size_t depth = m.memory().global_depth;
  ASSERT_GT(depth, ahead_depth + 1);

  std::size_t erased = 0;
  while (m.memory().global_depth == depth) m.erase(keys()[erased++]);
  ASSERT_GE(m.memory().global_depth, ahead_depth) << "the halved directory is built ahead";
  for (std::size_t i = 0; i < erased; ++i) m.emplace(keys()[i], i);
  ASSERT_EQ(m.memory().global_depth, depth) << "re-inserting the keys doubles it again";
  EXPECT_EQ(m.stats().max_directory_entries_copied, most_copied) << "after a halving";

  for (std::size_t i = kept; i < n; ++i) m.erase(keys()[i]);
  m.shrink_to_fit();  // every table as deep as the directory, so a split doubles it
  CM copy(m);
  for (CM* map : {&m, &copy}) {
    const std::size_t packed_depth = map->memory().global_depth;
    ASSERT_GE(packed_depth, ahead_depth);
    for (std::size_t i = kept; i < n; ++i) map->emplace(keys()[i], i);
    ASSERT_GT(map->memory().global_depth, packed_depth);
    EXPECT_LE(map->stats().max_directory_entries_copied, most_copied)
        << (map == &m ? "after shrink_to_fit()" : "after a copy");
    for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(map->at(keys()[i]), i);
  }
}

// Erasing every key merges tables as it goes; a merge moves only the emptier buddy's entries
// into the other when they fit (for types whose move cannot throw). Measured with these keys at
// 1M: 0.78 entries moved per erase, 1.42 with every merge into a new table (0.58 and 0.90 at
// 100K, the size under sanitizers, where this bound does not tell the two apart).
TEST(MapMemory, ErasingEverythingMovesLessThanOneEntryPerErase) {
  CM m;
  const std::size_t n = million();
  insert_first_keys(m, n);
  const std::uint64_t before = m.stats().slots_moved;
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(m.erase(keys()[i]), 1u);
  const double per_erase = static_cast<double>(m.stats().slots_moved - before) / static_cast<double>(n);
  EXPECT_LT(per_erase, 1.0) << "erasing all " << n << " keys moved " << per_erase
                            << " entries per erase";
  RecordProperty("moved_per_erase_x1000", static_cast<int>(per_erase * 1000));
}

// A map that fell below half of its record size grows again as a growing map does (tables
// double), not with the gentle steps of churn at a constant size. Measured at 1M: 1.0 entries
// moved per insert; 6.3 when the record never restarts.
TEST(MapMemory, RegrowingAfterErasing95PercentMovesAboutOneEntryPerInsert) {
  CM m;
  const std::size_t n = million();
  insert_first_keys(m, n);
  const std::size_t erased = n / 20 * 19;
  for (std::size_t i = 0; i < erased; ++i) ASSERT_EQ(m.erase(keys()[i]), 1u);
  const std::uint64_t before = m.stats().slots_moved;
  for (std::size_t i = n; i < n + erased; ++i) m.emplace(keys()[i], i);
  ASSERT_EQ(m.size(), n);
  const double per_insert =
      static_cast<double>(m.stats().slots_moved - before) / static_cast<double>(erased);
  EXPECT_LT(per_insert, 2.0) << "growing back from " << n - erased << " to " << n
                             << " entries moved " << per_insert << " entries per insert";
  test_peer::check_invariants(m);
  RecordProperty("moved_per_insert_x1000", static_cast<int>(per_insert * 1000));
}

// ---- (f) churn just below a growth threshold ---------------------------------------------------------

// These tests hash with fixed seeds, so each gives the same result in every run. Their figures
// depend on where the keys land: under constant-size churn each table's count wanders (it is
// binomial around its share of the map), and a table whose count wanders past 13/16 of its
// slots while its growth runs out grows to the 12/16 landing (docs/map.md, "Churn"). With
// tide::hash's per-process seed, the small map below ends up with two tables, and for about 1
// seed in 250 one of them wanders more than 3 standard deviations high within the million pairs
// (or both grow), which takes the map past 1.25x (measured: 1.29x at worst over 1,500 seeds).
using churn_map = tide::map<std::uint64_t, std::uint64_t, tide_test::fixed_seed_hash,
                            std::equal_to<std::uint64_t>, A>;
constexpr std::uint64_t churn_seeds[] = {0x9E3779B97F4A7C15ull, 0xD1B54A32D192ED03ull,
                                         0x8CB92BA72F3D8DD7ull};

churn_map make_churn_map(std::uint64_t seed, const A& alloc) {
  return churn_map(0, tide_test::fixed_seed_hash{seed}, std::equal_to<std::uint64_t>{}, alloc);
}

// Insert keys()[0..] until the structure changes (a rebuild or split) at or after `at_least`
// entries; returns the size at which it changed.
std::size_t growth_threshold_at_or_after(std::size_t at_least, std::uint64_t seed) {
  tide::allocation_counter counter;
  churn_map m = make_churn_map(seed, A(counter));
  std::size_t i = 0;
  for (; i < at_least; ++i) m.emplace(keys()[i], i);
  const std::uint64_t before = structural_work(m.stats());
  while (structural_work(m.stats()) == before) {
    m.emplace(keys()[i], i);
    ++i;
  }
  return i;
}

struct churn_result {
  std::size_t start_bytes, worst_bytes;
  std::uint64_t work;
};

// `pairs` rounds of insert-new-key / erase-oldest-key on m (which holds keys()[0..size)).
churn_result churn(churn_map& m, tide::allocation_counter& counter, std::size_t pairs) {
  std::deque<std::uint64_t> fifo;
  for (std::size_t i = 0; i < m.size(); ++i) fifo.push_back(keys()[i]);
  churn_result r{counter.bytes_in_use(), counter.bytes_in_use(), 0};
  EXPECT_EQ(m.memory().bytes, r.start_bytes);
  const std::uint64_t work_before = structural_work(m.stats());
  std::size_t next = m.size();
  for (std::size_t p = 0; p < pairs; ++p, ++next) {
    const std::uint64_t k = keys()[next % keys().size()];
    m.emplace(k, p);
    fifo.push_back(k);
    m.erase(fifo.front());
    fifo.pop_front();
    if ((p & 1023) == 0 || p + 1 == pairs) {
      r.worst_bytes = std::max(r.worst_bytes, m.memory().bytes);
      if (r.worst_bytes > r.start_bytes * 5 / 4) break;
    }
  }
  r.work = structural_work(m.stats()) - work_before;
  return r;
}

// Go issue 70886 (swiss maps kept growing under insert/delete churn) and hashbrown issue 85
// (tombstones forcing a rehash on nearly every insert at a size just below a threshold).
void churn_regression(std::size_t at_least, bool fresh, std::uint64_t seed) {
  SCOPED_TRACE("hash seed " + std::to_string(seed));
  const std::size_t threshold = growth_threshold_at_or_after(at_least, seed);
  tide::allocation_counter counter;
  churn_map m = make_churn_map(seed, A(counter));
  if (fresh) {
    // A map that has not grown yet, three entries short of the threshold (so the size
    // during a pair, one more, stays below it: only tombstones could force growth).
    for (std::size_t i = 0; i + 3 < threshold; ++i) m.emplace(keys()[i], i);
  } else {
    // A map that just grew, then lost a few entries.
    for (std::size_t i = 0; i < threshold; ++i) m.emplace(keys()[i], i);
    for (std::size_t i = threshold - 3; i < threshold; ++i) m.erase(keys()[i]);
  }
  const std::size_t pairs = tide_test::scaled(1000000, 10000);
  const std::size_t size = m.size();
  const churn_result r = churn(m, counter, pairs);
  EXPECT_EQ(m.size(), size);
  EXPECT_LE(r.worst_bytes, r.start_bytes * 5 / 4)
      << "churn at size " << size << " (growth threshold " << threshold << "): bytes grew from "
      << mib(r.start_bytes) << " to " << mib(r.worst_bytes);
  EXPECT_LT(r.work, pairs / 16) << "churn at size " << size << " (growth threshold " << threshold
                                << "): " << r.work << " rebuilds/splits/merges in " << pairs
                                << " insert/erase pairs";
  test_peer::check_invariants(m);
}

// A map of one table whose size is between the churn landing (12/16) and 13/16 of its slots:
// when churn uses up its room, a rebuild for its entries would make it larger, so only cleaning
// its tombstones at the same size keeps its bytes. A single table's count cannot wander, so
// this holds for every hash seed.
TEST(MapChurnRegression, TombstonesAreCleanedAtTheSameSize) {
  tide::allocation_counter counter;
  churn_map m = make_churn_map(churn_seeds[0], A(counter));
  const std::size_t size = 740;
  insert_first_keys(m, size + 1);
  m.erase(keys()[size]);  // one below the record, so the pairs are churn, not growth
  const tide::map_memory before = m.memory();
  ASSERT_EQ(before.tables, 1u);
  ASSERT_GT(size * 16, before.capacity * tide::detail::churn_load16) << "above the churn landing";
  ASSERT_LT(size * 16, before.capacity * 13) << "below 13/16";
  const std::uint64_t rebuilds_before = m.stats().rebuilds;
  const std::size_t pairs = tide_test::scaled(200000, 20000);
  const churn_result r = churn(m, counter, pairs);
  EXPECT_EQ(r.worst_bytes, r.start_bytes) << "the table grew under churn at a constant size";
  EXPECT_EQ(m.memory().groups, before.groups);
  EXPECT_GT(m.stats().rebuilds, rebuilds_before) << "no tombstones were cleaned";
  EXPECT_LT(r.work, pairs / 16);
  test_peer::check_invariants(m);
}

TEST(MapChurnRegression, GoIssue70886_HashbrownIssue85_SmallMapJustBelowThreshold) {
  for (const std::uint64_t seed : churn_seeds) churn_regression(1000, /*fresh=*/true, seed);
}
TEST(MapChurnRegression, GoIssue70886_HashbrownIssue85_SmallMapJustAfterGrowing) {
  for (const std::uint64_t seed : churn_seeds) churn_regression(1000, /*fresh=*/false, seed);
}
TEST(MapChurnRegression, GoIssue70886_HashbrownIssue85_LargeMapJustBelowThreshold) {
  churn_regression(tide_test::scaled(100000, 20000), /*fresh=*/true, churn_seeds[0]);
}
TEST(MapChurnRegression, GoIssue70886_HashbrownIssue85_LargeMapJustAfterGrowing) {
  churn_regression(tide_test::scaled(100000, 20000), /*fresh=*/false, churn_seeds[0]);
}

// ---- (g) an empty map allocates nothing ---------------------------------------------------------------

TEST(MapMemory, EmptyMapAllocatesNothing) {
  tide::allocation_counter counter;
  {
    CM m{A(counter)};
    EXPECT_EQ(counter.bytes_in_use(), 0u) << "default construction";
    EXPECT_TRUE(m.find(1) == m.end());
    EXPECT_FALSE(m.contains(2));
    EXPECT_EQ(m.count(3), 0u);
    EXPECT_EQ(m.erase(4), 0u);
    EXPECT_TRUE(m.equal_range(5).first == m.end());
    for (auto& kv : m) ADD_FAILURE() << "an empty map iterated over " << kv.first;
    EXPECT_TRUE(m.begin() == m.end());
    m.clear();
    m.rehash(0);
    m.shrink_to_fit();
    EXPECT_EQ(counter.bytes_in_use(), 0u) << "after lookups, clear, rehash(0), shrink_to_fit";
    EXPECT_EQ(counter.allocations(), 0u);
    const tide::map_memory mem = m.memory();
    EXPECT_EQ(mem.bytes, 0u);
    EXPECT_EQ(mem.capacity, 0u);
    EXPECT_EQ(mem.size, 0u);
    EXPECT_EQ(mem.load_factor, 0.0);
    CM copy(m);
    CM moved(std::move(copy));
    CM assigned{A(counter)};
    assigned = m;
    EXPECT_EQ(counter.bytes_in_use(), 0u) << "copying and moving empty maps";
    CM hinted(0, tide::hash<std::uint64_t>{}, std::equal_to<std::uint64_t>{}, A(counter));
    EXPECT_EQ(counter.bytes_in_use(), 0u) << "construction with bucket count 0";
  }
  EXPECT_EQ(counter.allocations(), 0u);
}

TEST(MapMemory, MovedFromMapHoldsNothing) {
  tide::allocation_counter counter;
  CM a{A(counter)};
  for (std::uint64_t i = 0; i < 10000; ++i) a.emplace(i, i);
  const std::size_t bytes = counter.bytes_in_use();
  CM b(std::move(a));
  EXPECT_EQ(a.memory().bytes, 0u) << "a moved-from map still holds memory";
  EXPECT_EQ(b.memory().bytes, bytes);
  EXPECT_EQ(counter.bytes_in_use(), bytes) << "moving must not copy the tables";
}

TEST(MapMemory, SmallMapsUseOneGroup) {
  // DESIGN.md: "an empty map allocates nothing; maps of <= 8 entries use one group".
  for (std::uint64_t n = 1; n <= 8; ++n) {
    tide::allocation_counter counter;
    CM m{A(counter)};
    for (std::uint64_t i = 0; i < n; ++i) m.emplace(keys()[i], i);
    EXPECT_GT(counter.bytes_in_use(), 0u);
    EXPECT_LE(counter.bytes_in_use(), test_peer::one_group_bytes<CM>())
        << "a map of " << n << " entries holds " << counter.bytes_in_use() << " bytes";
    EXPECT_EQ(m.memory().groups, 1u) << "a map of " << n << " entries";
  }
}

// ---- (h) memory() tells the truth -------------------------------------------------------------------

TEST(MapMemory, MemorySnapshotIsConsistent) {
  tide::allocation_counter counter;
  CM m{A(counter)};
  std::size_t next = 0;
  auto check = [&](const char* when) {
    const tide::map_memory mem = m.memory();
    SCOPED_TRACE(std::string(when) + ", size " + std::to_string(m.size()));
    EXPECT_EQ(mem.bytes, counter.bytes_in_use()) << "memory().bytes vs the allocator's count";
    EXPECT_EQ(mem.size, m.size());
    EXPECT_EQ(mem.directory_bytes + mem.table_bytes, mem.bytes);
    EXPECT_GE(mem.capacity, mem.size);
    EXPECT_EQ(mem.groups * tide::detail::group_slots, mem.capacity) << "slots per group";
    EXPECT_LE(mem.tombstones, mem.capacity - mem.size);
    if (m.empty()) return;
    EXPECT_GE(mem.tables, 1u);
    ASSERT_LT(mem.global_depth, 64u);
    EXPECT_LE(mem.tables, std::size_t{1} << mem.global_depth)
        << "more tables than directory entries";
    EXPECT_GT(mem.load_factor, 0.0);
    EXPECT_LE(mem.load_factor, 1.0);
    EXPECT_NEAR(mem.load_factor, static_cast<double>(mem.size) / static_cast<double>(mem.capacity), 1e-9);
  };
  check("empty");
  for (std::size_t target : {1u, 7u, 8u, 9u, 100u, 1000u, 1025u, 10000u, 100000u, 300000u}) {
    for (; m.size() < target; ++next) m.emplace(keys()[next], next);
    check("growing");
  }
  for (std::size_t i = 0; i < next; i += 2) m.erase(keys()[i]);
  check("after erasing half by key");
  std::size_t i = 0;
  for (auto it = m.begin(); it != m.end(); ++i) it = (i % 3 == 0) ? m.erase(it) : std::next(it);
  check("after erasing a third by iterator");
  m.shrink_to_fit();
  check("after shrink_to_fit");
  m.clear();
  check("after clear");
}

}  // namespace
