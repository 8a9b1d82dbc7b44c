// tide::concurrent_map's incremental growth and shrink: tables split (doubling the directory)
// and merge (halving it) one at a time, no single insert or erase moves more than one table's
// entries, churn at a threshold does not rebuild back and forth, and readers running during
// splits and merges always find what is there (the tsan preset is for that test).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <latch>
#include <optional>
#include <random>
#include <thread>
#include <tide/concurrent_map.hpp>
#include <tide/detail/test_peer.hpp>
#include <tide/heap_allocator.hpp>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "support/boxed.hpp"
#include "support/faults.hpp"
#include "support/scale.hpp"

namespace {

using tide::detail::test_peer;
using u64_map = tide::concurrent_map<std::uint64_t, std::uint64_t>;
using boxed_u64 = tide_test::boxed<std::uint64_t>;  // values in nodes (support/boxed.hpp)
using node_map = tide::concurrent_map<std::uint64_t, boxed_u64>;

std::uint64_t structural_work(const tide::map_stats& s) {
  return s.rebuilds + s.splits + s.merges + s.directory_doublings + s.directory_halvings;
}

// Keys spread over the whole hash range (tide::hash<u64> avalanches, so any distinct keys do).
std::uint64_t key(std::size_t i) { return i * 0x9E3779B97F4A7C15ull + 1; }

template <class Map>
void expect_holds_exactly(const Map& m, std::size_t from, std::size_t to, const char* when) {
  for (std::size_t i = from; i < to; ++i) {
    const auto got = m.find(key(i));
    ASSERT_TRUE(got.has_value()) << when << ": find(key " << i << ") got nothing want " << i;
    ASSERT_EQ(std::uint64_t(*got), i) << when << ": find(key " << i << ")";
  }
  EXPECT_EQ(m.size(), to - from) << when;
}

// Growing one shard far past one table splits tables and doubles the directory; erasing back
// merges them and halves it; erasing everything frees the tables and the directory.
template <class Map>
void check_split_then_merge() {
  Map m(1, {}, {}, {});
  const std::size_t n = tide_test::scaled(60000, 6000);
  for (std::size_t i = 0; i < n; ++i) ASSERT_TRUE(m.insert({key(i), i}));
  const tide::map_stats grown = m.stats();
  const tide::concurrent_map_memory full = m.memory();
  EXPECT_GT(grown.splits, 0u) << n << " entries in one shard never split a table";
  EXPECT_GT(grown.directory_doublings, 0u);
  EXPECT_GT(full.tables, 4u);
  EXPECT_GT(full.directory_bytes, 0u);
  EXPECT_LE(grown.max_slots_moved, test_peer::concurrent_max_table_slots<Map>());
  m.check_invariants();
  expect_holds_exactly(m, 0, n, "after growing");

  for (std::size_t i = 0; i + n / 50 < n; ++i) ASSERT_EQ(m.erase(key(i)), 1u) << "erase " << i;
  const tide::map_stats shrunk = m.stats();
  const tide::concurrent_map_memory sparse = m.memory();
  EXPECT_GT(shrunk.merges, 0u) << "erasing 98% never merged two tables";
  EXPECT_GT(shrunk.directory_halvings, 0u) << "erasing 98% never halved the directory";
  EXPECT_LE(2 * sparse.tables, full.tables) << "tables after erasing 98%";
  EXPECT_LT(sparse.directory_bytes, full.directory_bytes);
  m.check_invariants();
  expect_holds_exactly(m, n - n / 50, n, "after shrinking");

  for (std::size_t i = n - n / 50; i < n; ++i) ASSERT_EQ(m.erase(key(i)), 1u);
  m.reclaim();
  const tide::concurrent_map_memory empty = m.memory();
  EXPECT_EQ(empty.tables, 0u);
  EXPECT_EQ(empty.table_bytes, 0u);
  EXPECT_EQ(empty.directory_bytes, 0u) << "an empty shard keeps no directory";
  EXPECT_EQ(empty.retired_bytes, 0u);
  m.check_invariants();
}

TEST(ConcurrentMapGrowth, SplitsAndMergesInline) { check_split_then_merge<u64_map>(); }
TEST(ConcurrentMapGrowth, SplitsAndMergesNodes) { check_split_then_merge<node_map>(); }
// On tide::heap: its tables must come back 64-byte aligned (entries keep log2(groups) there).
TEST(ConcurrentMapGrowth, SplitsAndMergesOnHeapAllocator) {
  check_split_then_merge<tide::concurrent_map<
      std::uint64_t, std::uint64_t, tide::hash<std::uint64_t>, std::equal_to<std::uint64_t>,
      tide::heap_allocator<std::pair<const std::uint64_t, std::uint64_t>>>>();
}

// The bound: growing a map of few shards to 1M entries and erasing them all, no single insert or
// erase moves more entries than the largest table holds (counted by stats(), never timed).
template <class Map>
void check_no_operation_moves_more_than_one_table(std::size_t n) {
  Map m(4, {}, {}, {});
  const std::uint64_t limit = test_peer::concurrent_max_table_slots<Map>();
  std::uint64_t prev_moved = 0;
  // The entries the last operation moved.
  auto moved_by_last = [&] {
    const std::uint64_t total = m.stats().slots_moved;
    const std::uint64_t moved = total - prev_moved;
    prev_moved = total;
    return moved;
  };
  for (std::size_t i = 0; i < n; ++i) {
    m.insert({key(i), i});
    const std::uint64_t moved = moved_by_last();
    ASSERT_LE(moved, limit) << "insert #" << i + 1 << " moved " << moved
                            << " entries; one table holds at most " << limit;
  }
  const tide::map_stats grown = m.stats();
  const tide::concurrent_map_memory full = m.memory();
  EXPECT_GT(grown.splits, 0u);
  EXPECT_GT(grown.directory_doublings, 0u);
  EXPECT_GT(grown.slots_moved, n / 2) << "growing to " << n << " must move entries";
  EXPECT_LE(grown.max_slots_moved, limit);
  EXPECT_LT(64 * full.directory_bytes, full.table_bytes)
      << "the directories (copied when they double) are small next to the tables";
  for (std::size_t i = 0; i < n; ++i) {
    ASSERT_EQ(m.erase(key(i)), 1u);
    const std::uint64_t moved = moved_by_last();
    ASSERT_LE(moved, limit) << "erase #" << i + 1 << " moved " << moved
                            << " entries; one table holds at most " << limit;
  }
  const tide::map_stats shrunk = m.stats();
  EXPECT_GT(shrunk.merges, grown.merges) << "erasing everything never merged";
  EXPECT_GT(shrunk.directory_halvings, 0u);
  EXPECT_EQ(m.memory().tables, 0u);
}

TEST(ConcurrentMapGrowth, NoSingleInsertOrEraseMovesMoreThanOneTableInline) {
  check_no_operation_moves_more_than_one_table<u64_map>(tide_test::scaled(1000000, 20000));
}
TEST(ConcurrentMapGrowth, NoSingleInsertOrEraseMovesMoreThanOneTableNodes) {
  check_no_operation_moves_more_than_one_table<node_map>(tide_test::scaled(300000, 20000));
}

// Hysteresis: insert until a table splits, then erase and re-insert the last key many times;
// erase until two tables merge, then insert and erase one key many times. Neither rebuilds
// again: a rebuilt table lands away from the point that would undo it.
template <class Map>
void check_churn_at_thresholds() {
  Map m(1, {}, {}, {});
  std::size_t n = 0;
  std::uint64_t before = 0;
  do {
    before = m.stats().splits;
    m.insert({key(n), n});
    ++n;
  } while (m.stats().splits == before || n < 4 * test_peer::concurrent_max_table_slots<Map>());
  const std::uint64_t at_split = structural_work(m.stats());
  for (int round = 0; round < 1000; ++round) {
    ASSERT_EQ(m.erase(key(n - 1)), 1u);
    ASSERT_TRUE(m.insert({key(n - 1), n - 1}));
  }
  EXPECT_EQ(structural_work(m.stats()), at_split)
      << "erase/insert of one key right after a split rebuilt, split or merged a table";

  std::size_t erased = 0;
  do {
    before = m.stats().merges;
    ASSERT_EQ(m.erase(key(erased)), 1u);
    ++erased;
  } while (m.stats().merges == before);
  const std::uint64_t at_merge = structural_work(m.stats());
  for (int round = 0; round < 1000; ++round) {
    ASSERT_TRUE(m.insert({key(erased - 1), erased - 1}));
    ASSERT_EQ(m.erase(key(erased - 1)), 1u);
  }
  EXPECT_EQ(structural_work(m.stats()), at_merge)
      << "insert/erase of one key right after a merge rebuilt, split or merged a table";
  m.check_invariants();
  expect_holds_exactly(m, erased, n, "after churn");
}

TEST(ConcurrentMapGrowth, ChurnAtSplitAndMergeDoesNotThrashInline) {
  check_churn_at_thresholds<u64_map>();
}
TEST(ConcurrentMapGrowth, ChurnAtSplitAndMergeDoesNotThrashNodes) {
  check_churn_at_thresholds<node_map>();
}

// A group holds seven entries: a tags word and seven node pointers (one cache line), or a tags
// word, a version and seven inline key/value pairs (128 bytes, in the table's three arrays of
// tags words, versions and lanes); a table is its groups and a one-line header. A one-group
// table takes five entries (3/4 of seven) before it grows. memory() counts exactly that, table
// by table, as it grows.
template <class Map>
void check_groups_of_seven(std::size_t group_bytes) {
  constexpr std::size_t header_bytes = 64;
  Map m(1, {}, {}, {});
  for (std::size_t i = 0; i < 5; ++i) m.insert({key(i), i});
  EXPECT_EQ(m.memory().capacity, 7u) << "five entries in one group";
  EXPECT_EQ(m.memory().table_bytes, header_bytes + group_bytes) << "one header and one group";
  m.insert({key(5), 5});
  EXPECT_EQ(m.memory().capacity, 14u) << "the sixth entry grew the table to two groups";
  for (std::size_t i = 6; i < 3000; ++i) {
    m.insert({key(i), i});
    const tide::concurrent_map_memory mem = m.memory();
    ASSERT_EQ(mem.capacity % 7, 0u) << "after " << i + 1 << " entries";
    ASSERT_EQ(mem.table_bytes, mem.tables * header_bytes + mem.capacity / 7 * group_bytes)
        << "after " << i + 1 << " entries, " << mem.tables << " tables";
  }
  m.check_invariants();
}
TEST(ConcurrentMapGrowth, InlineGroupsTake128BytesForSevenEntries) {
  check_groups_of_seven<u64_map>(128);
}
TEST(ConcurrentMapGrowth, NodeGroupsAreOneLineOfSevenPointers) {
  check_groups_of_seven<node_map>(64);
}

// reserve() splits ahead: inserting what was reserved moves nothing.
TEST(ConcurrentMapGrowth, ReserveSplitsAheadSoInsertsMoveNothing) {
  u64_map m(2, {}, {}, {});
  m.insert({key(0), 0});
  const std::size_t n = tide_test::scaled(100000, 5000);
  m.reserve(n);
  m.check_invariants();
  const tide::map_stats reserved = m.stats();
  const std::size_t tables = m.memory().tables;
  EXPECT_GT(tables, 2u) << "reserve(" << n << ") over 2 shards made no more tables";
  for (std::size_t i = 1; i < n; ++i) m.insert({key(i), i});
  EXPECT_EQ(m.stats().slots_moved, reserved.slots_moved)
      << "inserting the reserved count moved entries";
  EXPECT_EQ(m.memory().tables, tables);
  expect_holds_exactly(m, 0, n, "after reserve and insert");
  m.check_invariants();
}

// erase_if compacts what it leaves sparse, and frees everything when it erases everything.
TEST(ConcurrentMapGrowth, EraseIfCompactsAndFrees) {
  u64_map m(2, {}, {}, {});
  const std::size_t n = tide_test::scaled(50000, 5000);
  for (std::size_t i = 0; i < n; ++i) m.insert({key(i), i});
  const std::size_t tables = m.memory().tables;
  EXPECT_EQ(m.erase_if([](const std::uint64_t&, const std::uint64_t& v) { return v % 20 != 0; }),
            n - (n + 19) / 20);
  m.check_invariants();
  const tide::concurrent_map_memory after = m.memory();
  EXPECT_LT(after.tables, tables) << "erase_if of 95% merged no tables";
  {
    u64_map fresh(2, {}, {}, {});
    for (std::size_t i = 0; i < n; i += 20) fresh.insert({key(i), i});
    const tide::concurrent_map_memory want = fresh.memory();
    std::printf(
        "after erase_if: %zu tables, %zu table bytes, %zu directory bytes; fresh: %zu, %zu, %zu\n",
        after.tables, after.table_bytes, after.directory_bytes, want.tables, want.table_bytes,
        want.directory_bytes);
    EXPECT_LE(after.table_bytes + after.directory_bytes,
              2 * (want.table_bytes + want.directory_bytes))
        << "after erase_if of 95%, more than 2x a fresh map of the survivors";
  }
  for (std::size_t i = 0; i < n; ++i) {
    ASSERT_EQ(m.contains(key(i)), i % 20 == 0) << "key " << i;
  }
  EXPECT_EQ(m.erase_if([](const std::uint64_t&, const std::uint64_t&) { return true; }),
            (n + 19) / 20);
  EXPECT_EQ(m.memory().tables, 0u);
  EXPECT_EQ(m.memory().directory_bytes, 0u);
  m.check_invariants();
}

// Random operations on 6,000 keys in one shard, in phases that mostly insert and phases that
// mostly erase, mirrored into std::unordered_map and compared after each: tables split, merge,
// double and halve the directory over and over; erase_if and clear run now and then.
template <class Map>
void check_random_ops_through_splits_and_merges() {
  Map m(1, {}, {}, {});
  std::unordered_map<std::uint64_t, std::uint64_t> ref;
  std::mt19937_64 rng(2024);
  const std::size_t phase = 8000;  // enough to take the map from empty to full and back
  const std::size_t ops = tide_test::scaled(16 * phase, 4 * phase);
  const std::size_t range = 6000;
  for (std::size_t i = 0; i < ops; ++i) {
    const std::uint64_t insert_percent = (i / phase) % 2 == 0 ? 80 : 20;
    const std::size_t k = rng() % range;
    const std::uint64_t v = rng();
    switch (rng() % 100) {
      case 0:
        if (rng() % 256 == 0) {
          m.clear();
          ref.clear();
        }
        break;
      case 1:
        if (rng() % 16 == 0) {
          const std::uint64_t mod = 2 + rng() % 5;
          const std::size_t want =
              std::erase_if(ref, [mod](const auto& kv) { return kv.second % mod == 0; });
          ASSERT_EQ(m.erase_if([mod](const std::uint64_t&, const auto& value) {
            return std::uint64_t(value) % mod == 0;
          }),
                    want);
        }
        break;
      default:
        if (rng() % 100 < insert_percent) {
          ASSERT_EQ(m.insert_or_assign(key(k), v), ref.insert_or_assign(key(k), v).second);
        } else {
          ASSERT_EQ(m.erase(key(k)), ref.erase(key(k))) << "erase " << k;
        }
    }
    ASSERT_EQ(m.size(), ref.size()) << "after op " << i;
    if (i % 97 == 0) {
      const std::size_t probe = rng() % range;
      const auto it = ref.find(key(probe));
      const auto got = m.find(key(probe));
      ASSERT_EQ(got.has_value(), it != ref.end()) << "find(key " << probe << ") after op " << i;
      if (got) {
        ASSERT_EQ(std::uint64_t(*got), it->second);
      }
    }
  }
  m.check_invariants();
  for (const auto& [k, v] : ref) {
    const auto got = m.find(k);
    ASSERT_TRUE(got.has_value() && std::uint64_t(*got) == v) << "find(" << k << ") at the end";
  }
  std::size_t seen = 0;
  m.visit_all([&](const std::uint64_t& k, const auto& v) {
    ++seen;
    const auto it = ref.find(k);
    ASSERT_TRUE(it != ref.end() && it->second == std::uint64_t(v)) << "visit_all saw " << k;
  });
  EXPECT_EQ(seen, ref.size());
  const tide::map_stats s = m.stats();
  EXPECT_GE(s.splits, 2u);
  EXPECT_GE(s.merges, 2u);
  EXPECT_GE(s.directory_doublings, 1u);
  EXPECT_GE(s.directory_halvings, 1u);
}

TEST(ConcurrentMapGrowth, RandomOpsThroughSplitsAndMergesMatchUnorderedMapInline) {
  check_random_ops_through_splits_and_merges<u64_map>();
}
TEST(ConcurrentMapGrowth, RandomOpsThroughSplitsAndMergesMatchUnorderedMapNodes) {
  check_random_ops_through_splits_and_merges<node_map>();
}

// A throwing hash or allocator in an insert or erase that rebuilds, splits or merges a table (one
// shard, 3,000 keys, grow and shrink phases) leaves the map as it was: the operation that threw
// either happened or not, nothing leaks, and retried without faults it does its move. Inline
// entries rehash their keys when they move, so a hash fault can land inside the move itself.
template <class Value>
void check_faults_inside_splits_and_merges() {
  using namespace tide_test;
  disarm_all_on_exit disarm;
  value_lifetimes = {};
  {
    tide::concurrent_map<int, Value, throwing_hash<int>, std::equal_to<int>,
                         throwing_allocator<std::pair<const int, Value>>>
        m(1, {}, {}, {});
    std::unordered_map<int, int> ref;
    std::mt19937 rng(17);
    std::size_t faults = 0;
    std::size_t faults_in_moves = 0;  // the operation, retried without faults, moved a table
    const std::size_t phase = 6000;   // long enough to fill 3,000 keys and empty them again
    const std::size_t ops = tide_test::scaled(16 * phase, 4 * phase);
    for (std::size_t i = 0; i < ops; ++i) {
      const bool grow = (i / phase) % 2 == 0;
      const int k = static_cast<int>(rng() % 3000);
      const bool insert = rng() % 100 < (grow ? 80u : 20u);
      const auto op = [&] {
        if (insert) {
          if (m.try_emplace(k, static_cast<int>(i))) ref.emplace(k, static_cast<int>(i));
        } else if (m.erase(k) == 1) {
          ref.erase(k);
        }
      };
      // A hash fault past the first hash lands in a rehash (inline moves); a table move makes a
      // few allocations (its new tables, the retire list, a directory).
      if (rng() % 2 == 0) {
        hash_faults.arm(1 + static_cast<std::int64_t>(rng() % 40));
      } else {
        alloc_faults.arm(1 + static_cast<std::int64_t>(rng() % 3));
      }
      try {
        op();
      } catch (const injected_fault&) {
        ++faults;
        hash_faults.disarm();
        alloc_faults.disarm();
        ASSERT_EQ(m.size(), ref.size()) << "after the fault in op " << i;
        const std::uint64_t before = structural_work(m.stats());
        op();
        faults_in_moves += structural_work(m.stats()) > before;
      }
      hash_faults.disarm();
      alloc_faults.disarm();
      ASSERT_EQ(m.size(), ref.size()) << "after op " << i;
    }
    const tide::map_stats s = m.stats();
    std::printf(
        "faults: %zu, %zu of them in an operation that moves a table; %llu splits, %llu "
        "merges, %llu rebuilds\n",
        faults, faults_in_moves, static_cast<unsigned long long>(s.splits),
        static_cast<unsigned long long>(s.merges), static_cast<unsigned long long>(s.rebuilds));
    EXPECT_GT(faults_in_moves, 0u) << "no fault landed in an operation that moves a table";
    EXPECT_GE(s.splits, 1u);
    EXPECT_GE(s.merges, 1u);
    m.check_invariants();
    for (const auto& [k, v] : ref) {
      std::optional<int> got;
      m.visit(k, [&](const Value& value) { got = int(value); });
      EXPECT_EQ(got, std::optional<int>(v)) << "find(" << k << ")";
    }
  }
  EXPECT_EQ(tide_test::throwing_allocator_live_bytes, 0) << "bytes leaked";
  EXPECT_EQ(tide_test::value_lifetimes.live(), 0) << "a value leaked or was destroyed twice";
}

TEST(ConcurrentMapGrowth, FaultsInsideSplitsAndMergesLoseNothingInline) {
  check_faults_inside_splits_and_merges<int>();
}
TEST(ConcurrentMapGrowth, FaultsInsideSplitsAndMergesLoseNothingNodes) {
  check_faults_inside_splits_and_merges<tide_test::boxed<int>>();
}

// One writer grows a key range far past one table and shrinks it back, round after round
// (splits, directory doublings, merges, halvings), in one or two shards, while readers look up
// keys that never change: present ones (inserted before and never erased) must always be found
// with their value, absent ones never; every visit_all must see each present key exactly once.
template <class Map>
void check_readers_during_splits_and_merges(std::size_t shards) {
  Map m(shards, {}, {}, {});
  const std::size_t stable = 200;          // keys 0..199, present throughout
  const std::size_t churn_base = 1000000;  // keys from here on come and go
  const std::size_t churn = tide_test::scaled(20000, 3000);
  const int rounds = 3;
  for (std::size_t i = 0; i < stable; ++i) m.insert({key(i), i});
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint64_t> reads{0};
  std::latch start(3);
  std::thread writer([&] {
    start.arrive_and_wait();
    for (int r = 0; r < rounds; ++r) {
      for (std::size_t i = 0; i < churn; ++i) m.insert({key(churn_base + i), churn_base + i});
      for (std::size_t i = 0; i < churn; ++i) m.erase(key(churn_base + i));
    }
    done.store(true);
  });
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&, t] {
      std::mt19937_64 rng(5 + static_cast<std::uint64_t>(t));
      start.arrive_and_wait();
      do {
        for (int i = 0; i < 64; ++i) {
          const std::size_t k = rng() % stable;
          const auto got = m.find(key(k));
          if (!got || std::uint64_t(*got) != k) errors.fetch_add(1);
          if (m.contains(key(500000 + rng() % 1000))) errors.fetch_add(1);  // never inserted
        }
        if (t == 0) {
          std::vector<int> seen(stable, 0);
          m.visit_all([&](const std::uint64_t&, const auto& v) {
            if (std::uint64_t(v) < stable) ++seen[std::uint64_t(v)];
          });
          for (int count : seen) {
            if (count != 1) errors.fetch_add(1);
          }
        }
        reads.fetch_add(1, std::memory_order_relaxed);
      } while (!done.load());
    });
  }
  writer.join();
  for (auto& r : readers) r.join();
  EXPECT_EQ(errors.load(), 0u) << "a reader missed a present key, found an absent one, or "
                                  "visit_all saw a present key other than once";
  EXPECT_GT(reads.load(), 0u);
  const tide::map_stats s = m.stats();
  EXPECT_GT(s.splits, 0u);
  EXPECT_GT(s.merges, 0u);
  EXPECT_GT(s.directory_doublings, 0u);
  EXPECT_GT(s.directory_halvings, 0u);
  m.check_invariants();
  expect_holds_exactly(m, 0, stable, "after the run");
  m.reclaim();
  EXPECT_EQ(m.memory().retired_objects, 0u);
}

TEST(ConcurrentMapGrowthThreads, ReadersDuringSplitsAndMergesInline) {
  check_readers_during_splits_and_merges<u64_map>(1);
}
TEST(ConcurrentMapGrowthThreads, ReadersDuringSplitsAndMergesNodes) {
  check_readers_during_splits_and_merges<node_map>(2);
}

}  // namespace
