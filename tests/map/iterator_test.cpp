// Iteration and erase-while-iterating: each element is visited exactly once; the idiom
//   for (auto it = m.begin(); it != m.end();) it = pred(*it) ? m.erase(it) : std::next(it);
// removes exactly the matching elements for sizes 0..100K; erase(iterator) invalidates only
// the erased element (other iterators, pointers, references and end() stay valid);
// erase(first, last) removes exactly [first, last).
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <iterator>
#include <string>
#include <tide/counting_allocator.hpp>
#include <tide/detail/test_peer.hpp>
#include <tide/map.hpp>
#include <tide/set.hpp>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "support/map_check.hpp"
#include "support/random.hpp"
#include "support/scale.hpp"

namespace {

using tide::detail::test_peer;
using M = tide::map<std::uint64_t, std::uint64_t>;

const std::vector<std::size_t>& sizes() {
  static const std::vector<std::size_t> s = [] {
    std::vector<std::size_t> v = {0,  1,  2,   7,   8,    9,    15,   16,   17,   63,
                                  64, 65, 100, 897, 1000, 1023, 1024, 1025, 4096, 10000};
    v.push_back(tide_test::scaled(100000, 20000));
    return v;
  }();
  return s;
}

// A map with n random keys, each mapping to key * 3 + 1, and the same in a reference.
std::pair<M, std::unordered_map<std::uint64_t, std::uint64_t>> make(std::size_t n,
                                                                    std::uint64_t seed) {
  M m;
  std::unordered_map<std::uint64_t, std::uint64_t> ref;
  for (std::uint64_t k : tide_test::distinct_random_keys(n, seed)) {
    m.emplace(k, k * 3 + 1);
    ref.emplace(k, k * 3 + 1);
  }
  return {std::move(m), std::move(ref)};
}

TEST(MapIteration, VisitsEveryElementExactlyOnce) {
  for (std::size_t n : sizes()) {
    SCOPED_TRACE("n=" + std::to_string(n));
    auto [m, ref] = make(n, n + 1);
    std::unordered_set<std::uint64_t> seen;
    std::size_t visits = 0;
    for (auto it = m.begin(); it != m.end(); ++it) {
      ++visits;
      ASSERT_TRUE(seen.insert(it->first).second) << "iteration visited " << it->first << " twice";
      auto rit = ref.find(it->first);
      ASSERT_TRUE(rit != ref.end()) << "iteration visited " << it->first << " not in the map";
      ASSERT_EQ(it->second, rit->second) << "value of " << it->first;
    }
    EXPECT_EQ(visits, n);
    // const iteration and range-for agree with the mutable one.
    const M& cm = m;
    std::size_t const_visits = 0;
    for (auto it = cm.cbegin(); it != cm.cend(); ++it) ++const_visits;
    EXPECT_EQ(const_visits, n);
    std::size_t range_visits = 0;
    for (const auto& kv : m) range_visits += seen.count(kv.first);
    EXPECT_EQ(range_visits, n);
  }
}

TEST(MapIteration, IterationAfterErasingByKeyStillVisitsEachOnce) {
  // After tables shrink and merge, iteration must still see each survivor once.
  const std::size_t n = tide_test::scaled(100000, 20000);
  auto [m, ref] = make(n, 77);
  tide_test::rng r(5);
  for (auto it = ref.begin(); it != ref.end();) {
    if (r.chance(9, 10)) {
      ASSERT_EQ(m.erase(it->first), 1u);
      it = ref.erase(it);
    } else {
      ++it;
    }
  }
  EXPECT_TRUE(tide_test::same_contents(m, ref));
  test_peer::check_invariants(m);
}

using predicate = std::function<bool(std::uint64_t key, tide_test::rng&)>;

struct named_predicate {
  const char* name;
  predicate pred;
};

const named_predicate predicates[] = {
    {"everything", [](std::uint64_t, tide_test::rng&) { return true; }},
    {"nothing", [](std::uint64_t, tide_test::rng&) { return false; }},
    {"odd keys", [](std::uint64_t k, tide_test::rng&) { return k % 2 == 1; }},
    {"random 90%", [](std::uint64_t, tide_test::rng& r) { return r.chance(9, 10); }},
    {"random 10%", [](std::uint64_t, tide_test::rng& r) { return r.chance(1, 10); }},
};

TEST(MapEraseIdiom, RemovesExactlyTheMatchingElements) {
  for (const auto& [name, pred] : predicates) {
    for (std::size_t n : sizes()) {
      SCOPED_TRACE(std::string("erase ") + name + ", n=" + std::to_string(n));
      auto [m, ref] = make(n, n * 31 + 7);
      tide_test::rng r(n);
      std::unordered_set<std::uint64_t> erased;
      std::size_t steps = 0;
      for (auto it = m.begin(); it != m.end();) {
        ASSERT_LE(++steps, n) << "the idiom took more steps than there were elements";
        if (pred(it->first, r)) {
          erased.insert(it->first);
          it = m.erase(it);
        } else {
          it = std::next(it);
        }
      }
      for (std::uint64_t k : erased) ref.erase(k);
      ASSERT_TRUE(tide_test::same_contents(m, ref));
      test_peer::check_invariants(m);
      // The map is still fully usable afterwards.
      m.emplace(1, 2);
      ref.emplace(1, 2);
      m.erase(1);
      ref.erase(1);
      ASSERT_TRUE(tide_test::same_contents(m, ref));
      test_peer::check_invariants(m);
    }
  }
}

TEST(MapEraseIdiom, WorksWithConstIteratorsAndPostIncrement) {
  auto [m, ref] = make(5000, 3);
  for (auto it = m.cbegin(); it != m.cend();) {
    if (it->first % 3 == 0) {
      ref.erase(it->first);
      it = m.erase(it);
    } else {
      it++;
    }
  }
  EXPECT_TRUE(tide_test::same_contents(m, ref));
  test_peer::check_invariants(m);
}

TEST(MapEraseIdiom, SetToo) {
  tide::set<std::uint64_t> s;
  std::unordered_set<std::uint64_t> ref;
  for (std::uint64_t k : tide_test::distinct_random_keys(20000, 9)) s.insert(k), ref.insert(k);
  for (auto it = s.begin(); it != s.end();) {
    if (*it % 4 != 0) {
      ref.erase(*it);
      it = s.erase(it);
    } else {
      ++it;
    }
  }
  EXPECT_TRUE(tide_test::same_set_contents(s, ref));
  test_peer::check_invariants(s);
}

TEST(MapEraseIterator, OtherIteratorsPointersAndEndStayValid) {
  for (std::size_t n : {std::size_t{10}, std::size_t{1000}, tide_test::scaled(50000, 10000)}) {
    SCOPED_TRACE("n=" + std::to_string(n));
    auto [m, ref] = make(n, n ^ 0xabc);
    tide_test::rng r(n);
    // Hold an iterator, a pointer and a reference to every 3rd element (in iteration order);
    // erase the others (and some held ones) one by one through erase(iterator).
    struct held {
      std::uint64_t key;
      M::iterator it;
      const std::uint64_t* value_ptr;
    };
    std::vector<held> holds;
    std::vector<M::iterator> victims;
    std::size_t index = 0;
    for (auto it = m.begin(); it != m.end(); ++it, ++index) {
      if (index % 3 == 0) {
        holds.push_back({it->first, it, &it->second});
      } else {
        victims.push_back(it);
      }
    }
    const M::iterator end = m.end();
    for (std::size_t i = 0; i < victims.size(); ++i) {
      const std::uint64_t k = victims[i]->first;
      m.erase(victims[i]);
      ref.erase(k);
      ASSERT_TRUE(end == m.end()) << "end() changed after erase(iterator)";
      if (i % 64 == 0 || i + 1 == victims.size()) {
        for (const held& h : holds) {
          ASSERT_EQ(h.it->first, h.key)
              << "a held iterator moved after erase(iterator to " << k << ")";
          ASSERT_EQ(h.it->second, h.key * 3 + 1);
          ASSERT_EQ(&h.it->second, h.value_ptr) << "the element of key " << h.key << " moved";
          ASSERT_EQ(*h.value_ptr, h.key * 3 + 1);
        }
      }
    }
    // Now erase half of the held ones through their own iterators; the rest stay valid.
    std::vector<held> kept;
    for (std::size_t i = 0; i < holds.size(); ++i) {
      if (i % 2 == 0) {
        m.erase(holds[i].it);
        ref.erase(holds[i].key);
      } else {
        kept.push_back(holds[i]);
      }
    }
    for (const held& h : kept) {
      ASSERT_EQ(h.it->first, h.key);
      ASSERT_EQ(&h.it->second, h.value_ptr);
      ASSERT_TRUE(m.find(h.key) == h.it) << "find(" << h.key << ") no longer equals its iterator";
    }
    EXPECT_TRUE(tide_test::same_contents(m, ref));
    test_peer::check_invariants(m);
  }
}

// A held iterator remembers which later slots of its group were full when it last stepped;
// entries erased since, through other iterators, must be skipped, not visited.
TEST(MapEraseIterator, HeldIteratorsStepPastEntriesErasedThroughOthers) {
  for (std::size_t n : {std::size_t{12}, std::size_t{1000}, tide_test::scaled(50000, 10000)}) {
    SCOPED_TRACE("n=" + std::to_string(n));
    auto [m, ref] = make(n, n ^ 0x5eed);
    std::vector<std::uint64_t> order;
    for (const auto& kv : m) order.push_back(kv.first);
    // Every 4th element is held by an iterator that has already stepped once (so it carries
    // what it saw of its group); the next two in iteration order are erased through other
    // iterators; stepping the held one must land on the element after them.
    std::vector<std::pair<M::iterator, std::size_t>> held;  // iterator at order[i], i
    std::size_t i = 0;
    for (auto it = m.begin(); it != m.end(); ++it, ++i) {
      if (i % 4 == 0) held.emplace_back(it, i);
    }
    for (const auto& [it, at] : held) {
      for (std::size_t e = at + 1; e <= at + 2 && e < order.size(); ++e) {
        m.erase(m.find(order[e]));
        ref.erase(order[e]);
      }
    }
    for (auto [it, at] : held) {
      ASSERT_EQ(it->first, order[at]);
      ++it;
      if (at + 3 < order.size()) {
        ASSERT_TRUE(it != m.end()) << "stepped to end() from position " << at;
        ASSERT_EQ(it->first, order[at + 3]) << "from position " << at;
      } else {
        ASSERT_TRUE(it == m.end()) << "from position " << at;
      }
    }
    EXPECT_TRUE(tide_test::same_contents(m, ref));
    test_peer::check_invariants(m);
  }
}

TEST(MapEraseIterator, ReturnsTheNextIteratorInIterationOrder) {
  auto [m, ref] = make(3000, 11);
  std::vector<std::uint64_t> order;
  for (const auto& kv : m) order.push_back(kv.first);
  // Erase every other element; each erase returns an iterator to the following one.
  auto it = m.begin();
  for (std::size_t i = 0; i < order.size(); ++i) {
    ASSERT_TRUE(it != m.end());
    ASSERT_EQ(it->first, order[i]) << "iteration order changed at position " << i;
    if (i % 2 == 0) {
      it = m.erase(it);
    } else {
      ++it;
    }
  }
  EXPECT_TRUE(it == m.end());
  EXPECT_EQ(m.size(), order.size() / 2);
  test_peer::check_invariants(m);
}

TEST(MapEraseRange, RemovesExactlyTheRange) {
  for (std::size_t n :
       {std::size_t{0}, std::size_t{1}, std::size_t{9}, std::size_t{1000}, std::size_t{20000}}) {
    for (std::size_t from : {std::size_t{0}, n / 3}) {
      for (std::size_t to : {from, from + 1, (n + from) / 2, n}) {
        if (to > n || from > to) continue;
        SCOPED_TRACE("n=" + std::to_string(n) + " erase [" + std::to_string(from) + ", " +
                     std::to_string(to) + ")");
        auto [m, ref] = make(n, n + from * 7 + to);
        auto first = m.cbegin();
        std::advance(first, static_cast<std::ptrdiff_t>(from));
        auto last = first;
        std::vector<std::uint64_t> doomed;
        for (std::size_t i = from; i < to; ++i) doomed.push_back((last++)->first);
        const bool last_is_end = last == m.cend();
        const std::uint64_t last_key = last_is_end ? 0 : last->first;
        auto ret = m.erase(first, last);
        if (last_is_end) {
          EXPECT_TRUE(ret == m.end());
        } else {
          ASSERT_TRUE(ret != m.end());
          EXPECT_EQ(ret->first, last_key) << "erase(first, last) must return last";
        }
        for (std::uint64_t k : doomed) ref.erase(k);
        ASSERT_TRUE(tide_test::same_contents(m, ref));
        test_peer::check_invariants(m);
      }
    }
  }
}

TEST(MapEraseRange, EraseEverythingWithBeginEnd) {
  auto [m, ref] = make(tide_test::scaled(100000, 20000), 1234);
  auto ret = m.erase(m.begin(), m.end());
  EXPECT_TRUE(ret == m.end());
  EXPECT_TRUE(m.empty());
  EXPECT_TRUE(m.begin() == m.end());
  test_peer::check_invariants(m);
}

TEST(MapEraseIdiom, MemoryOfEntriesErasedByIteratorIsReclaimedByLaterMutations) {
  // erase(iterator) never rebuilds; the memory comes back at the latest with a later
  // mutation. Emptying the map through the idiom, then one insert and one erase(key), must
  // leave no more than one group, as erasing everything by key does.
  using A = tide::counting_allocator<std::pair<const std::uint64_t, std::uint64_t>>;
  using CM = tide::map<std::uint64_t, std::uint64_t, tide::hash<std::uint64_t>,
                       std::equal_to<std::uint64_t>, A>;
  tide::allocation_counter counter;
  CM m{A(counter)};
  for (std::uint64_t k : tide_test::distinct_random_keys(tide_test::scaled(100000, 20000), 8))
    m.emplace(k, k);
  for (auto it = m.begin(); it != m.end();) it = m.erase(it);
  EXPECT_TRUE(m.empty());
  m.emplace(42, 7);
  EXPECT_EQ(m.erase(42), 1u);
  EXPECT_LE(counter.bytes_in_use(), test_peer::one_group_bytes<CM>())
      << "bytes held after emptying the map by erase(iterator), then insert(42) and erase(42)";
  test_peer::check_invariants(m);
}

}  // namespace
