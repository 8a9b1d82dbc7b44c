// tide::concurrent_map on one thread: the API, a randomized differential run against
// std::unordered_map, memory after erases and reclamation, and exception safety.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <tide/concurrent_map.hpp>
#include <tide/counting_allocator.hpp>
#include <unordered_map>
#include <vector>

#include "support/boxed.hpp"
#include "support/faults.hpp"
#include "support/scale.hpp"

namespace {

using u64_map = tide::concurrent_map<std::uint64_t, std::uint64_t>;

TEST(ConcurrentMapApi, InsertFindErase) {
  u64_map m;
  EXPECT_TRUE(m.empty());
  EXPECT_TRUE(m.insert({1, 10}));
  EXPECT_FALSE(m.insert({1, 11})) << "insert of a present key must not replace";
  EXPECT_TRUE(m.try_emplace(2, 20));
  EXPECT_FALSE(m.try_emplace(2, 21));
  EXPECT_TRUE(m.emplace(3, 30));
  EXPECT_FALSE(m.emplace(3, 31));
  EXPECT_EQ(m.size(), 3u);
  EXPECT_EQ(m.find(1), std::optional<std::uint64_t>(10));
  EXPECT_EQ(m.find(2), std::optional<std::uint64_t>(20));
  EXPECT_EQ(m.find(3), std::optional<std::uint64_t>(30));
  EXPECT_EQ(m.find(4), std::nullopt);
  EXPECT_TRUE(m.contains(1));
  EXPECT_FALSE(m.contains(4));

  EXPECT_FALSE(m.insert_or_assign(1, 100));
  EXPECT_TRUE(m.insert_or_assign(4, 40));
  EXPECT_EQ(m.find(1), std::optional<std::uint64_t>(100));
  EXPECT_EQ(m.find(4), std::optional<std::uint64_t>(40));

  std::uint64_t seen = 0;
  EXPECT_TRUE(m.visit(4, [&](const std::uint64_t& v) { seen = v; }));
  EXPECT_EQ(seen, 40u);
  EXPECT_FALSE(m.visit(5, [&](const std::uint64_t&) { FAIL() << "visit(5) called f"; }));

  EXPECT_EQ(m.erase(4), 1u);
  EXPECT_EQ(m.erase(4), 0u);
  EXPECT_EQ(m.size(), 3u);
  m.check_invariants();
}

TEST(ConcurrentMapApi, LoadOrStore) {
  u64_map m;
  EXPECT_EQ(m.load_or_store(7, 70), std::make_pair(std::uint64_t{70}, false));
  EXPECT_EQ(m.load_or_store(7, 71), std::make_pair(std::uint64_t{70}, true));
  EXPECT_EQ(m.find(7), std::optional<std::uint64_t>(70));
}

TEST(ConcurrentMapApi, StringKeysAndValues) {
  tide::concurrent_map<std::string, std::string> m;
  for (int i = 0; i < 1000; ++i) m.try_emplace("key" + std::to_string(i), std::string(i % 50, 'x'));
  EXPECT_EQ(m.size(), 1000u);
  for (int i = 0; i < 1000; ++i) {
    auto v = m.find("key" + std::to_string(i));
    ASSERT_TRUE(v.has_value()) << "find(key" << i << ") got nullopt";
    EXPECT_EQ(*v, std::string(i % 50, 'x'));
  }
  m.check_invariants();
}

// With a transparent hash and equality, a std::string_view finds, visits and erases a
// std::string key without building a std::string.
TEST(ConcurrentMapApi, HeterogeneousLookup) {
  tide::concurrent_map<std::string, int, tide::hash<std::string>, std::equal_to<>> m;
  m.try_emplace("alpha", 1);
  const std::string_view alpha = "alpha";
  EXPECT_TRUE(m.contains(alpha));
  EXPECT_EQ(m.find(alpha), std::optional<int>(1));
  EXPECT_TRUE(m.visit(alpha, [](const int& v) { EXPECT_EQ(v, 1); }));
  EXPECT_FALSE(m.contains(std::string_view("beta")));
  EXPECT_EQ(m.erase(alpha), 1u);
  EXPECT_FALSE(m.contains(alpha));
}

TEST(ConcurrentMapApi, VisitAllEraseIfClear) {
  u64_map m;
  for (std::uint64_t i = 0; i < 500; ++i) m.insert({i, i * 2});
  std::uint64_t count = 0;
  std::uint64_t sum = 0;
  m.visit_all([&](const std::uint64_t& k, const std::uint64_t& v) {
    ++count;
    sum += v;
    EXPECT_EQ(v, 2 * k);
  });
  EXPECT_EQ(count, 500u);
  EXPECT_EQ(sum, 2u * (499u * 500u / 2));

  EXPECT_EQ(m.erase_if([](const std::uint64_t& k, const std::uint64_t&) { return k % 2 == 0; }),
            250u);
  EXPECT_EQ(m.size(), 250u);
  for (std::uint64_t i = 0; i < 500; ++i) EXPECT_EQ(m.contains(i), i % 2 == 1) << "key " << i;
  m.check_invariants();

  m.clear();
  EXPECT_EQ(m.size(), 0u);
  EXPECT_FALSE(m.contains(1));
  m.check_invariants();
  EXPECT_TRUE(m.insert({1, 1}));
}

TEST(ConcurrentMapApi, ReserveAvoidsRebuildsAndKeepsEntries) {
  u64_map m;
  m.insert({5, 5});
  m.reserve(10000);
  const std::size_t capacity = m.memory().capacity;
  EXPECT_GE(capacity, 2u * 10000);
  for (std::uint64_t i = 0; i < 10000; ++i) m.insert({i, i});
  EXPECT_EQ(m.memory().capacity, capacity) << "inserting the reserved count rebuilt a table";
  EXPECT_EQ(m.find(5), std::optional<std::uint64_t>(5));
  m.check_invariants();
}

using boxed_u64 = tide_test::boxed<std::uint64_t>;  // values in nodes (support/boxed.hpp)

// Random operations mirrored into std::unordered_map, compared after each op and in full at
// the end, with a small key range so inserts, erases, tombstones and rebuilds all recur.
template <class Value>
void check_random_ops_match_unordered_map(std::size_t shards) {
  tide::concurrent_map<std::uint64_t, Value> m(shards, {}, {}, {});
  std::unordered_map<std::uint64_t, std::uint64_t> ref;
  std::mt19937_64 rng(42);
  const std::size_t ops = tide_test::scaled(200000, 2000);
  for (std::size_t i = 0; i < ops; ++i) {
    // The key range breathes, so tables grow and shrink back.
    const std::uint64_t range = 1 + (i / 5000 % 2 == 0 ? 2000 : 50);
    const std::uint64_t key = rng() % range;
    const std::uint64_t value = rng();
    switch (rng() % 6) {
      case 0:
        ASSERT_EQ(m.insert({key, value}), ref.emplace(key, value).second) << "insert " << key;
        break;
      case 1:
        ASSERT_EQ(m.insert_or_assign(key, value), ref.insert_or_assign(key, value).second);
        break;
      case 2:
      case 3:
        ASSERT_EQ(m.erase(key), ref.erase(key)) << "erase " << key;
        break;
      case 4: {
        const auto [v, loaded] = m.load_or_store(key, value);
        const auto [it, inserted] = ref.emplace(key, value);
        ASSERT_EQ(loaded, !inserted);
        ASSERT_EQ(std::uint64_t(v), it->second);
        break;
      }
      default: {
        const auto it = ref.find(key);
        const auto got = m.find(key);
        ASSERT_EQ(got.has_value(), it != ref.end()) << "find(" << key << ")";
        if (got) {
          ASSERT_EQ(std::uint64_t(*got), it->second) << "find(" << key << ") value";
        }
      }
    }
    ASSERT_EQ(m.size(), ref.size());
  }
  m.check_invariants();
  std::size_t seen = 0;
  m.visit_all([&](const std::uint64_t& k, const Value& v) {
    ++seen;
    const auto it = ref.find(k);
    ASSERT_NE(it, ref.end()) << "visit_all saw " << k << ", not in the reference";
    EXPECT_EQ(std::uint64_t(v), it->second);
  });
  EXPECT_EQ(seen, ref.size());
}

TEST(ConcurrentMapDifferential, RandomOpsMatchUnorderedMapInline) {
  check_random_ops_match_unordered_map<std::uint64_t>(4);
}
// One shard: the whole map is one table (the shard index takes no bits of the hash).
TEST(ConcurrentMapDifferential, RandomOpsMatchUnorderedMapNodesOneShard) {
  check_random_ops_match_unordered_map<boxed_u64>(1);
}

// u64 -> Value on a counting allocator, for the memory() checks.
template <class Value>
using counting_alloc = tide::counting_allocator<std::pair<const std::uint64_t, Value>>;
template <class Value>
using counted_map = tide::concurrent_map<std::uint64_t, Value, tide::hash<std::uint64_t>,
                                         std::equal_to<std::uint64_t>, counting_alloc<Value>>;

// Once every entry is erased and reclaim() ran, a map holds its shard array and nothing else.
template <class Map>
void expect_empty_after_reclaim(Map& m, const tide::allocation_counter& counter,
                                std::size_t empty_bytes) {
  m.reclaim();
  const tide::concurrent_map_memory mem = m.memory();
  EXPECT_EQ(mem.size, 0u);
  EXPECT_EQ(mem.table_bytes, 0u) << "an empty shard keeps no table";
  EXPECT_EQ(mem.retired_bytes, 0u);
  EXPECT_EQ(counter.bytes_in_use(), empty_bytes) << "everything but the shard array returned";
}

// Erasing shrinks the tables; once no thread is pinned, reclaim() empties the retire lists, and
// what the map holds falls back to the shard array. A counting allocator checks memory().
template <class Value>
void check_shrinks_and_reclaims() {
  tide::allocation_counter counter;
  using alloc = counting_alloc<Value>;
  using map_type = counted_map<Value>;
  map_type m(16, {}, {}, alloc(counter));
  const std::size_t empty_bytes = counter.bytes_in_use();
  const std::uint64_t n = tide_test::scaled(100000, 5000);
  for (std::uint64_t i = 0; i < n; ++i) m.insert({i, i});

  for (std::uint64_t i = 0; i < n; ++i) {
    if (i % 10 != 0) m.erase(i);
  }
  m.reclaim();
  auto after = m.memory();
  EXPECT_EQ(after.size, (n + 9) / 10);
  EXPECT_EQ(after.retired_objects, 0u);
  EXPECT_EQ(after.retired_bytes, 0u);
  EXPECT_EQ(after.bytes, counter.bytes_in_use()) << "memory() agrees with the allocator";
  {
    tide::allocation_counter fresh_counter;
    map_type fresh(16, {}, {}, alloc(fresh_counter));
    for (std::uint64_t i = 0; i < n; i += 10) fresh.insert({i, i});
    const auto want = fresh.memory();
    EXPECT_LE(after.table_bytes + after.node_bytes, 2 * (want.table_bytes + want.node_bytes))
        << "after erasing 90%, more than 2x a fresh map of the survivors";
  }

  for (std::uint64_t i = 0; i < n; i += 10) m.erase(i);
  expect_empty_after_reclaim(m, counter, empty_bytes);
}

TEST(ConcurrentMapMemory, ShrinksAfterEraseAndReclaimsBacklogInline) {
  check_shrinks_and_reclaims<std::uint64_t>();
}
TEST(ConcurrentMapMemory, ShrinksAfterEraseAndReclaimsBacklogNodes) {
  check_shrinks_and_reclaims<boxed_u64>();
}

TEST(ConcurrentMapMemory, ReplacedValuesAreRetiredThenFreed) {
  tide_test::value_lifetimes = {};
  {
    tide::concurrent_map<int, tide_test::counted_value> m;
    for (int round = 0; round < 100; ++round) {
      for (int k = 0; k < 20; ++k) m.insert_or_assign(k, tide_test::counted_value(round));
    }
    m.reclaim();
    EXPECT_EQ(m.memory().retired_objects, 0u);
    EXPECT_EQ(tide_test::value_lifetimes.live(), 20) << "old values were not freed";
  }
  EXPECT_EQ(tide_test::value_lifetimes.live(), 0);
}

// A throwing hash, equality, constructor or allocator leaves the map valid with nothing lost.
TEST(ConcurrentMapExceptions, ThrowingHashEqualConstructorAllocator) {
  using namespace tide_test;
  disarm_all_on_exit disarm;
  value_lifetimes = {};
  {
    tide::concurrent_map<int, throwing_value, throwing_hash<int>, throwing_equal<int>,
                         throwing_allocator<std::pair<const int, throwing_value>>>
        m(4, {}, {}, {});
    std::unordered_map<int, int> ref;
    std::mt19937 rng(7);
    int faults = 0;
    for (int i = 0; i < 4000; ++i) {
      fault_point* points[] = {&hash_faults, &equal_faults, &construct_faults, &alloc_faults};
      points[rng() % 4]->arm(1 + rng() % 3);
      const int key = static_cast<int>(rng() % 300);
      try {
        switch (rng() % 4) {
          case 0:
            if (m.try_emplace(key, i)) ref.emplace(key, i);
            break;
          case 1:
            m.insert_or_assign(key, throwing_value(i));
            ref.insert_or_assign(key, i);
            break;
          case 2:
            if (m.erase(key) == 1) ref.erase(key);
            break;
          default:
            if (m.emplace(std::piecewise_construct, std::forward_as_tuple(key),
                          std::forward_as_tuple(i))) {
              ref.emplace(key, i);
            }
        }
      } catch (const injected_fault&) {
        ++faults;
      }
      for (fault_point* point : points) point->disarm();
      ASSERT_EQ(m.size(), ref.size()) << "after op " << i;
    }
    EXPECT_GT(faults, 100);
    m.check_invariants();
    for (const auto& entry : ref) {
      const int k = entry.first;
      const int v = entry.second;
      bool found = false;
      m.visit(k, [&](const throwing_value& got) {
        found = true;
        EXPECT_EQ(got.get(), v) << "find(" << k << ")";
      });
      EXPECT_TRUE(found) << "find(" << k << ") got nothing want " << v;
    }
  }
  EXPECT_EQ(value_lifetimes.live(), 0) << "a value leaked or was destroyed twice";
  EXPECT_EQ(throwing_allocator_live_bytes, 0) << "bytes leaked";
}

// The same for inline entries (int -> int): a rebuild there rehashes keys, so a throwing hash
// can fail it half way; the new table is dropped and the old one stays.
TEST(ConcurrentMapExceptions, ThrowingHashAndAllocatorInline) {
  using namespace tide_test;
  disarm_all_on_exit disarm;
  {
    tide::concurrent_map<int, int, throwing_hash<int>, std::equal_to<int>,
                         throwing_allocator<std::pair<const int, int>>>
        m(4, {}, {}, {});
    std::unordered_map<int, int> ref;
    std::mt19937 rng(11);
    int faults = 0;
    for (int i = 0; i < 4000; ++i) {
      fault_point* points[] = {&hash_faults, &alloc_faults};
      points[rng() % 2]->arm(1 + rng() % 40);
      const int key = static_cast<int>(rng() % 600);
      try {
        switch (rng() % 3) {
          case 0:
            if (m.try_emplace(key, i)) ref.emplace(key, i);
            break;
          case 1:
            m.insert_or_assign(key, i);
            ref.insert_or_assign(key, i);
            break;
          default:
            if (m.erase(key) == 1) ref.erase(key);
        }
      } catch (const injected_fault&) {
        ++faults;
      }
      for (fault_point* point : points) point->disarm();
      ASSERT_EQ(m.size(), ref.size()) << "after op " << i;
    }
    EXPECT_GT(faults, 50);
    m.check_invariants();
    for (const auto& entry : ref) {
      EXPECT_EQ(m.find(entry.first), std::optional<int>(entry.second))
          << "find(" << entry.first << ")";
    }
  }
  EXPECT_EQ(throwing_allocator_live_bytes, 0) << "bytes leaked";
}

// ---- erase_if(key, f): the per-key conditional erase ---------------------------------------

// Erases key's entry when f(value) says so; f is not called for an absent key; the whole-map
// erase_if(pred) (one argument) still resolves beside it.
template <class Map, class MakeKey, class MakeValue>
void check_erase_if_key(MakeKey key, MakeValue value) {
  Map m;
  for (int i = 0; i < 100; ++i) m.insert({key(i), value(i)});
  int calls = 0;
  auto equals = [&](int want) {
    return [&calls, want, value](const typename Map::mapped_type& v) {
      ++calls;
      return v == value(want);
    };
  };
  EXPECT_EQ(m.erase_if(key(5), equals(5)), 1u) << "erase_if(5, value == 5)";
  EXPECT_FALSE(m.contains(key(5)));
  EXPECT_EQ(m.erase_if(key(6), equals(7)), 0u) << "erase_if(6, value == 7)";
  EXPECT_TRUE(m.contains(key(6))) << "a false predicate erased";
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(m.erase_if(key(5), equals(5)), 0u) << "erase_if of an erased key";
  EXPECT_EQ(m.erase_if(key(1000), equals(1000)), 0u) << "erase_if of an absent key";
  EXPECT_EQ(calls, 2) << "f called for an absent key";
  EXPECT_EQ(m.size(), 99u);
  // The whole-map overload: one argument, two-argument predicate.
  EXPECT_EQ(m.erase_if([&](const typename Map::key_type& k, const typename Map::mapped_type&) {
    return k == key(6);
  }),
            1u);
  EXPECT_EQ(m.size(), 98u);
  // A throwing f erases nothing.
  EXPECT_THROW(m.erase_if(key(7), [](const typename Map::mapped_type&) -> bool { throw 1; }), int);
  EXPECT_TRUE(m.contains(key(7)));
  m.check_invariants();
}

TEST(ConcurrentMapEraseIfKey, Inline) {
  check_erase_if_key<u64_map>([](int i) { return std::uint64_t(i); },
                              [](int i) { return std::uint64_t(i) * 10; });
}
TEST(ConcurrentMapEraseIfKey, NodesStringKeys) {
  check_erase_if_key<tide::concurrent_map<std::string, std::string>>(
      [](int i) { return "key-" + std::to_string(i); },
      [](int i) { return std::string(40, 'v') + std::to_string(i); });
}

// A std::string_view finds the std::string key without building one.
TEST(ConcurrentMapEraseIfKey, HeterogeneousLookup) {
  tide::concurrent_map<std::string, int, tide::hash<std::string>, std::equal_to<>> m;
  m.try_emplace("alpha", 1);
  m.try_emplace("beta", 2);
  const std::string_view alpha = "alpha";
  EXPECT_EQ(m.erase_if(alpha, [](const int& v) { return v == 2; }), 0u);
  EXPECT_EQ(m.erase_if(alpha, [](const int& v) { return v == 1; }), 1u);
  EXPECT_FALSE(m.contains(alpha));
  EXPECT_EQ(m.erase_if(std::string_view("gamma"), [](const int&) { return true; }), 0u);
  EXPECT_EQ(m.size(), 1u);
}

// An erased node is retired like erase()'s, a refused erase retires nothing, and once every
// entry is gone (all by erase_if) the tables are freed: memory() agrees with the allocator.
template <class Value>
void check_erase_if_key_memory() {
  tide::allocation_counter counter;
  using alloc = counting_alloc<Value>;
  using map_type = counted_map<Value>;
  constexpr bool in_nodes = !std::is_same_v<Value, std::uint64_t>;
  map_type m(4, {}, {}, alloc(counter));
  const std::size_t empty_bytes = counter.bytes_in_use();
  const std::uint64_t n = 1000;
  for (std::uint64_t i = 0; i < n; ++i) m.insert({i, i});
  m.reclaim();
  const std::size_t retired_before = m.memory().retired_objects;
  EXPECT_EQ(retired_before, 0u);

  std::uint64_t erased = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    erased += m.erase_if(i, [](const Value& v) { return std::uint64_t(v) % 2 == 0; });
  }
  EXPECT_EQ(erased, n / 2);
  auto mem = m.memory();
  EXPECT_EQ(mem.size, n / 2);
  EXPECT_EQ(m.size(), n / 2);
  if (in_nodes) {
    EXPECT_GE(mem.retired_objects, 1u) << "erased nodes are retired, not freed at once";
  }
  EXPECT_EQ(mem.bytes, counter.bytes_in_use()) << "memory() agrees with the allocator";
  m.reclaim();
  mem = m.memory();
  EXPECT_EQ(mem.retired_objects, 0u);
  EXPECT_EQ(mem.retired_bytes, 0u);
  EXPECT_EQ(mem.bytes, counter.bytes_in_use());

  // A refused erase changes nothing.
  const std::size_t bytes_before = counter.bytes_in_use();
  for (std::uint64_t i = 1; i < n; i += 2) {
    EXPECT_EQ(m.erase_if(i, [](const Value&) { return false; }), 0u);
  }
  EXPECT_EQ(m.memory().retired_objects, 0u);
  EXPECT_EQ(counter.bytes_in_use(), bytes_before);

  for (std::uint64_t i = 1; i < n; i += 2) {
    EXPECT_EQ(m.erase_if(i, [i](const Value& v) { return std::uint64_t(v) == i; }), 1u);
  }
  expect_empty_after_reclaim(m, counter, empty_bytes);
  m.check_invariants();
}

TEST(ConcurrentMapEraseIfKey, MemoryInline) { check_erase_if_key_memory<std::uint64_t>(); }
TEST(ConcurrentMapEraseIfKey, MemoryNodes) { check_erase_if_key_memory<boxed_u64>(); }

}  // namespace
