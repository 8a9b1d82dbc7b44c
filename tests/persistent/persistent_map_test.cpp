// tide::persistent_map: the API, a differential test against std::unordered_map that keeps
// every version and checks each one is unchanged at the end, colliding hashes, the transient
// builder against persistent edits, and exception safety with throwing hash, copy and
// allocator. Fixed seeds; sizes scale with TIDE_TEST_SCALE.
#include <gtest/gtest.h>

#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <tide/heap_allocator.hpp>
#include <tide/persistent_map.hpp>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "support/faults.hpp"
#include "support/hashes.hpp"
#include "support/random.hpp"
#include "support/scale.hpp"

namespace {

using tide_test::rng;

// Every key shares the first 12 levels' hash bits (all zero): keys go down a chain of
// single-child nodes to level 12, which separates key % 3, and equal hashes end in
// collision nodes at level 13. Marked avalanching so the map does not remix it.
struct deep_colliding_hash {
  using is_avalanching = std::true_type;
  std::size_t operator()(std::uint64_t k) const noexcept {
    return static_cast<std::size_t>(k % 3) << 61;
  }
};

using plain_map = tide::persistent_map<std::uint64_t, std::uint64_t>;
using colliding_map =
    tide::persistent_map<std::uint64_t, std::uint64_t, tide_test::colliding_hash<std::uint64_t, 4>>;
using deep_map = tide::persistent_map<std::uint64_t, std::uint64_t, deep_colliding_hash>;
// Nodes from tide::heap (size classes instead of malloc).
using heap_map =
    tide::persistent_map<std::uint64_t, std::uint64_t, tide::hash<std::uint64_t>,
                         std::equal_to<std::uint64_t>,
                         tide::heap_allocator<std::pair<const std::uint64_t, std::uint64_t>>>;

template <class Map>
using reference = std::unordered_map<typename Map::key_type, typename Map::mapped_type>;

// Full comparison: size, every reference key found with its value, iteration visits each
// entry once and nothing else. Returns a message on the first difference, "" when equal.
template <class Map>
std::string compare(const Map& map, const reference<Map>& want) {
  if (map.size() != want.size()) {
    return "size() got " + std::to_string(map.size()) + " want " + std::to_string(want.size());
  }
  for (const auto& [key, value] : want) {
    const auto* got = map.find(key);
    if (got == nullptr) return "find(" + std::to_string(key) + ") got nullptr";
    if (*got != value) {
      return "find(" + std::to_string(key) + ") got " + std::to_string(*got) + " want " +
             std::to_string(value);
    }
  }
  std::size_t visited = 0;
  for (const auto& [key, value] : map) {
    ++visited;
    const auto it = want.find(key);
    if (it == want.end() || it->second != value) {
      return "iteration yields " + std::to_string(key) + " which is not in the reference";
    }
  }
  if (visited != want.size()) return "iteration visits " + std::to_string(visited) + " entries";
  return "";
}

TEST(PersistentMap, EmptyMapHoldsNothing) {
  const plain_map m;
  EXPECT_EQ(m.size(), 0u);
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.find(1), nullptr);
  EXPECT_EQ(m.begin(), m.end());
  EXPECT_EQ(m.memory().bytes, 0u);
  EXPECT_EQ(m.erase(1).size(), 0u);
}

TEST(PersistentMap, SetEraseUpdateLeaveTheOldVersion) {
  const plain_map empty;
  const plain_map one = empty.set(1, 10);
  const plain_map two = one.set(2, 20);
  const plain_map replaced = two.set(1, 11);
  const plain_map erased = replaced.erase(2);
  const plain_map updated = erased.update(1, [](const std::uint64_t* v) { return *v + 1; });
  const plain_map added = updated.update(
      3, [](const std::uint64_t* v) { return v == nullptr ? std::uint64_t{30} : *v; });
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_EQ(*one.find(1), 10u);
  EXPECT_EQ(one.find(2), nullptr);
  EXPECT_EQ(*two.find(1), 10u);
  EXPECT_EQ(*two.find(2), 20u);
  EXPECT_EQ(*replaced.find(1), 11u);
  EXPECT_EQ(replaced.size(), 2u);
  EXPECT_FALSE(erased.contains(2));
  EXPECT_EQ(*updated.find(1), 12u);
  EXPECT_EQ(*added.find(3), 30u);
  EXPECT_EQ(added.size(), 2u);
}

TEST(PersistentMap, EraseOfAnAbsentKeySharesTheRoot) {
  const plain_map m = plain_map().set(1, 1).set(2, 2);
  const plain_map same = m.erase(99);
  EXPECT_EQ(same.shared_with(m), m.memory());
}

TEST(PersistentMap, SettingAnEqualValueSharesEverything) {
  plain_map m;
  for (std::uint64_t i = 0; i < 3000; ++i) m = m.set(i, i);
  const plain_map same = m.set(42, 42);
  EXPECT_EQ(same.shared_with(m), m.memory());
  auto builder = m.transient();
  builder.set(42, 42);
  EXPECT_EQ(builder.persistent().shared_with(m), m.memory());
  deep_map collisions = deep_map().set(0, 0).set(3, 3);
  EXPECT_EQ(collisions.set(3, 3).shared_with(collisions), collisions.memory());
}

static_assert(std::forward_iterator<plain_map::const_iterator>);

TEST(PersistentMap, EqualityIsByContentsAndFastWhenShared) {
  plain_map a;
  plain_map b;
  for (std::uint64_t i = 0; i < 1000; ++i) a = a.set(i, i * 2);
  for (std::uint64_t i = 1000; i-- > 0;) b = b.set(i, i * 2);
  EXPECT_TRUE(a == b) << "same entries inserted in another order";
  const plain_map copy = a;
  EXPECT_TRUE(copy == a);
  EXPECT_FALSE(a.set(5, 0) == a);
  EXPECT_FALSE(a.erase(5) == a);
  EXPECT_TRUE(a.erase(5).set(5, 10) == a) << "erase then re-insert gives the same shape";
}

TEST(PersistentMap, StringKeysAndValues) {
  tide::persistent_map<std::string, std::string> m;
  for (std::uint64_t i = 0; i < 500; ++i) {
    m = m.set(tide_test::string_key(i), std::to_string(i));
  }
  for (std::uint64_t i = 0; i < 500; i += 2) m = m.erase(tide_test::string_key(i));
  m.check_invariants();
  EXPECT_EQ(m.size(), 250u);
  for (std::uint64_t i = 0; i < 500; ++i) {
    const std::string* v = m.find(tide_test::string_key(i));
    if (i % 2 == 0) {
      EXPECT_EQ(v, nullptr) << "find(" << tide_test::string_key(i) << ") want nullptr";
    } else {
      ASSERT_NE(v, nullptr) << "find(" << tide_test::string_key(i) << ") got nullptr";
      EXPECT_EQ(*v, std::to_string(i));
    }
  }
}

TEST(PersistentMap, HeterogeneousLookupWithTransparentHashAndEqual) {
  using string_map =
      tide::persistent_map<std::string, int, tide::hash<std::string>, std::equal_to<>>;
  const string_map m = string_map().set("timeout_ms", 250).set("retries", 3);
  const std::string_view key = "timeout_ms";
  ASSERT_NE(m.find(key), nullptr);
  EXPECT_EQ(*m.find(key), 250);
  EXPECT_TRUE(m.contains("retries"));
  EXPECT_FALSE(m.contains(std::string_view("missing")));
}

// ---- differential, every version kept -------------------------------------------------------

struct edit {
  enum kind_t { set, erase, update } kind;
  std::uint64_t key;
  std::uint64_t value;
};

template <class Map>
void apply_edit(reference<Map>& ref, const edit& e) {
  switch (e.kind) {
    case edit::set:
      ref[e.key] = e.value;
      break;
    case edit::erase:
      ref.erase(e.key);
      break;
    case edit::update:
      ref[e.key] = ref.count(e.key) != 0 ? ref[e.key] + e.value : e.value;
      break;
  }
}

template <class Map>
Map edited(const Map& map, const edit& e) {
  switch (e.kind) {
    case edit::set:
      return map.set(e.key, e.value);
    case edit::erase:
      return map.erase(e.key);
    case edit::update:
      return map.update(
          e.key, [&](const std::uint64_t* v) { return v != nullptr ? *v + e.value : e.value; });
  }
  return map;
}

// Random edits over `key_space` keys; every version is kept; each is compared with the
// reference as it is made, and again, all of them, after the last edit.
template <class Map>
void differential(std::uint64_t seed, std::size_t edits, std::uint64_t key_space) {
  rng random(seed);
  std::vector<edit> log;
  std::vector<Map> versions{Map()};
  reference<Map> ref;
  for (std::size_t i = 0; i < edits; ++i) {
    // Phases: mostly inserts, then mostly erases, so the trie grows deep and collapses.
    const bool growing = (i / (edits / 4 + 1)) % 2 == 0;
    const std::uint64_t roll = random.below(10);
    const edit e{roll < (growing ? 6u : 2u)   ? edit::set
                 : roll < (growing ? 8u : 9u) ? edit::erase
                                              : edit::update,
                 random.below(key_space), random.next()};
    log.push_back(e);
    apply_edit<Map>(ref, e);
    versions.push_back(edited(versions.back(), e));
    const std::string diff = compare(versions.back(), ref);
    ASSERT_EQ(diff, "") << "after edit " << i;
  }
  versions.back().check_invariants();
  // Replay the log: version i must still be what it was after edit i.
  reference<Map> replay;
  for (std::size_t i = 0; i < versions.size(); ++i) {
    if (i > 0) apply_edit<Map>(replay, log[i - 1]);
    versions[i].check_invariants();
    const std::string diff = compare(versions[i], replay);
    ASSERT_EQ(diff, "") << "version " << i << " changed after later edits";
  }
}

TEST(PersistentMapDifferential, EveryVersionUnchanged) {
  differential<plain_map>(1, tide_test::scaled(20000, 400), 3000);
}

TEST(PersistentMapDifferential, OnTideHeap) {
  differential<heap_map>(12, tide_test::scaled(5000, 200), 1000);
}

TEST(PersistentMapDifferential, SmallKeySpaceChurn) {
  differential<plain_map>(2, tide_test::scaled(20000, 400), 40);
}

TEST(PersistentMapDifferential, FourDistinctHashes) {
  differential<colliding_map>(3, tide_test::scaled(3000, 200), 300);
}

TEST(PersistentMapDifferential, ChainsToCollisionNodes) {
  differential<deep_map>(4, tide_test::scaled(3000, 200), 60);
}

TEST(PersistentMapCollisions, LastButOneEraseMovesTheEntryToTheRoot) {
  deep_map m = deep_map().set(0, 0).set(3, 3);  // equal hashes: a collision node at level 13
  EXPECT_GE(m.memory().nodes, 14u);
  m = m.erase(0);
  m.check_invariants();
  EXPECT_EQ(m.memory().nodes, 1u) << "the lone entry is taken inline up to the root";
  EXPECT_EQ(*m.find(3), 3u);
}

// ---- transient builder ----------------------------------------------------------------------

template <class Map>
void transient_matches_persistent(std::uint64_t seed, std::size_t edits, std::uint64_t key_space) {
  rng random(seed);
  Map persistent;
  auto builder = Map().transient();
  std::vector<std::pair<Map, Map>> frozen;  // (builder's freeze, persistent at that time)
  for (std::size_t i = 0; i < edits; ++i) {
    const std::uint64_t key = random.below(key_space);
    const std::uint64_t value = random.next();
    if (random.chance(1, 3)) {
      EXPECT_EQ(builder.erase(key), persistent.contains(key));
      persistent = persistent.erase(key);
    } else {
      EXPECT_EQ(builder.set(key, value), !persistent.contains(key));
      persistent = persistent.set(key, value);
    }
    ASSERT_EQ(builder.size(), persistent.size());
    if (i % 97 == 0) frozen.emplace_back(builder.persistent(), persistent);
  }
  const Map built = builder.persistent();
  built.check_invariants();
  EXPECT_TRUE(built == persistent);
  for (std::size_t i = 0; i < frozen.size(); ++i) {
    frozen[i].first.check_invariants();
    EXPECT_TRUE(frozen[i].first == frozen[i].second)
        << "freeze " << i << " was changed by the builder's later edits";
  }
}

TEST(PersistentMapTransient, MatchesPersistentEdits) {
  transient_matches_persistent<plain_map>(5, tide_test::scaled(30000, 500), 5000);
}

TEST(PersistentMapTransient, MatchesPersistentEditsWithCollisions) {
  transient_matches_persistent<deep_map>(6, tide_test::scaled(3000, 300), 50);
}

// String keys and values move out of nodes the builder owns; a moved-from entry read later
// would show up as an empty string here.
TEST(PersistentMapTransient, StringEntriesMovedOutOfOwnedNodes) {
  using string_map = tide::persistent_map<std::string, std::string>;
  rng random(13);
  std::unordered_map<std::string, std::string> want;
  string_map persistent;
  auto builder = string_map().transient();
  std::vector<std::pair<string_map, std::unordered_map<std::string, std::string>>> frozen;
  for (int i = 0; i < 20000; ++i) {
    const std::string key = tide_test::string_key(random.below(3000));
    if (random.chance(1, 4)) {
      builder.erase(key);
      persistent = persistent.erase(key);
      want.erase(key);
    } else {
      const std::string value = tide_test::string_key(random.next() % 100000);
      builder.set(key, value);
      persistent = persistent.set(key, value);
      want[key] = value;
    }
    if (i % 1000 == 0) frozen.emplace_back(builder.persistent(), want);
  }
  const string_map built = builder.persistent();
  built.check_invariants();
  EXPECT_TRUE(built == persistent);
  ASSERT_EQ(built.size(), want.size());
  for (const auto& [key, value] : want) {
    const std::string* got = built.find(key);
    ASSERT_NE(got, nullptr) << "find(" << key << ") got nullptr";
    EXPECT_EQ(*got, value) << "find(" << key << ")";
  }
  for (const auto& [version, contents] : frozen) {
    version.check_invariants();
    ASSERT_EQ(version.size(), contents.size());
    for (const auto& [key, value] : contents) {
      const std::string* got = version.find(key);
      ASSERT_NE(got, nullptr) << "a freeze lost " << key;
      EXPECT_EQ(*got, value) << "a freeze changed " << key;
    }
  }
}

TEST(PersistentMapTransient, LeavesItsSourceUnchanged) {
  plain_map source;
  for (std::uint64_t i = 0; i < 2000; ++i) source = source.set(i, i);
  const plain_map before = source;
  auto builder = source.transient();
  for (std::uint64_t i = 0; i < 2000; i += 3) builder.set(i, 0);
  for (std::uint64_t i = 1; i < 2000; i += 3) builder.erase(i);
  EXPECT_TRUE(source == before);
  EXPECT_EQ(*source.find(3), 3u);
  const plain_map built = builder.persistent();
  EXPECT_EQ(*built.find(3), 0u);
  EXPECT_FALSE(built.contains(4));
}

TEST(PersistentMapTransient, EditsItsOwnNodesInPlace) {
  plain_map source;
  for (std::uint64_t i = 0; i < 5000; ++i) source = source.set(i, i);
  auto builder = source.transient();
  builder.set(7, 70);
  const plain_map once = builder.persistent();
  builder.set(7, 71);  // the nodes were handed out: copied again
  builder.set(7, 72);  // now its own: edited in place
  const plain_map twice = builder.persistent();
  EXPECT_EQ(*once.find(7), 70u);
  EXPECT_EQ(*twice.find(7), 72u);
  // `twice` and `once` differ exactly on the path to 7; everything else is shared.
  const auto total = twice.memory();
  const auto shared = twice.shared_with(once);
  EXPECT_EQ(total.nodes - shared.nodes, once.memory().nodes - once.shared_with(source).nodes);
}

// ---- exception safety -----------------------------------------------------------------------

using tide_test::throwing_value;
using throwing_map = tide::persistent_map<
    std::uint64_t, throwing_value, tide_test::throwing_hash<std::uint64_t>,
    std::equal_to<std::uint64_t>,
    tide_test::throwing_allocator<std::pair<const std::uint64_t, throwing_value>>>;

// Arms each fault point at the nth hit for n = 1, 2, ... until an edit goes through without
// a fault; every failed edit must leave the map unchanged and valid.
template <class Edit>
void every_fault_leaves_the_map(const throwing_map& map, Edit&& edit_fn) {
  tide_test::disarm_all_on_exit disarm;
  const std::unordered_map<std::uint64_t, int> before = [&] {
    std::unordered_map<std::uint64_t, int> contents;
    for (const auto& [k, v] : map) contents.emplace(k, v.get());
    return contents;
  }();
  for (tide_test::fault_point* point :
       {&tide_test::hash_faults, &tide_test::construct_faults, &tide_test::alloc_faults}) {
    for (std::int64_t n = 1;; ++n) {
      point->arm(n);
      bool threw = false;
      try {
        const throwing_map result = edit_fn(map);
        result.check_invariants();
      } catch (const tide_test::injected_fault&) {
        threw = true;
      }
      point->disarm();
      ASSERT_EQ(map.size(), before.size());
      for (const auto& [k, v] : before) {
        ASSERT_NE(map.find(k), nullptr) << "find(" << k << ") got nullptr after a fault";
        ASSERT_EQ(map.find(k)->get(), v);
      }
      map.check_invariants();
      if (!threw) break;
    }
  }
}

TEST(PersistentMapExceptions, FaultsLeaveTheOldVersionAndLeakNothing) {
  const std::int64_t live_before = tide_test::value_lifetimes.live();
  {
    throwing_map map;
    for (std::uint64_t i = 0; i < 300; ++i) map = map.set(i, throwing_value(static_cast<int>(i)));
    for (std::uint64_t key : {5u, 150u, 299u, 1000u, 1001u}) {
      every_fault_leaves_the_map(
          map, [&](const throwing_map& m) { return m.set(key, throwing_value(7)); });
      every_fault_leaves_the_map(map, [&](const throwing_map& m) { return m.erase(key); });
    }
    every_fault_leaves_the_map(map, [&](const throwing_map& m) {
      auto builder = m.transient();
      for (std::uint64_t i = 0; i < 40; ++i) builder.set(i * 7, throwing_value(1));
      for (std::uint64_t i = 0; i < 40; ++i) builder.erase(i * 5);
      return builder.persistent();
    });
  }
  EXPECT_EQ(tide_test::value_lifetimes.live(), live_before) << "values leaked";
  EXPECT_EQ(tide_test::throwing_allocator_live_bytes, 0) << "nodes leaked";
}

TEST(PersistentMapExceptions, ThrowingUpdateFunctionChangesNothing) {
  const plain_map m = plain_map().set(1, 1);
  EXPECT_THROW((void)m.update(1, [](const std::uint64_t*) -> std::uint64_t { throw 1; }), int);
  EXPECT_EQ(*m.find(1), 1u);
}

}  // namespace
