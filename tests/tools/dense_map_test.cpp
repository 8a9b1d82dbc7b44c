// tide::dense_map: the API, a randomized differential test against std::map, exception
// safety with throwing constructors and allocators, memory that follows the highest key
// (with the directory's hysteresis at the boundary), and bad input.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <tide/counting_allocator.hpp>
#include <tide/dense_map.hpp>
#include <tide/detail/test_peer.hpp>
#include <tide/heap_allocator.hpp>
#include <utility>
#include <vector>

#include "support/faults.hpp"
#include "support/map_check.hpp"
#include "support/random.hpp"
#include "support/scale.hpp"

namespace {

using tide::detail::test_peer;
using tide_test::describe;

static_assert(std::forward_iterator<tide::dense_map<int>::iterator>);

template <class T>
using counted_map = tide::dense_map<T, tide::counting_allocator<T>>;

// The map in key order equals the std::map exactly (dense_map iterates in key order).
template <class M, class Ref>
::testing::AssertionResult same_in_order(const M& m, const Ref& ref) {
  if (m.size() != ref.size())
    return ::testing::AssertionFailure() << "size() got " << m.size() << " want " << ref.size();
  auto r = ref.begin();
  for (const auto& [k, v] : m) {
    if (r == ref.end()) return ::testing::AssertionFailure() << "extra key " << k;
    if (k != r->first || !tide_test::same_value(v, r->second))
      return ::testing::AssertionFailure()
             << "iteration got {" << k << ", " << describe(v) << "} want {" << r->first << ", "
             << describe(r->second) << "}";
    ++r;
  }
  return tide_test::same_contents(m, ref);
}

TEST(DenseMap, Api) {
  tide::dense_map<std::string> m;
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.memory().bytes, 0u) << "an empty map allocates nothing";
  EXPECT_EQ(m.begin(), m.end());

  EXPECT_TRUE(m.insert({3, "three"}).second);
  EXPECT_FALSE(m.insert({3, "again"}).second);
  EXPECT_TRUE(m.emplace(1, "one").second);
  EXPECT_TRUE(m.try_emplace(200, 3, 'x').second);
  EXPECT_FALSE(m.try_emplace(200, "unused").second);
  EXPECT_EQ(m.at(200), "xxx");
  auto [it, inserted] = m.insert_or_assign(1, "uno");
  EXPECT_FALSE(inserted);
  EXPECT_EQ(it->first, 1u);
  EXPECT_EQ(it->second, "uno");
  EXPECT_TRUE(m.insert_or_assign(64, "sixty-four").second);
  m[65] = "sixty-five";
  m[3] += "!";
  m[63] = "last slot of chunk 0";
  EXPECT_EQ(m.erase(63), 1u);
  m[127] = "last slot of chunk 1";
  EXPECT_EQ(std::next(m.find(65))->first, 127u);
  EXPECT_EQ(std::next(m.find(127))->first, 200u);
  EXPECT_EQ(m.erase(127), 1u);
  EXPECT_EQ(m.size(), 5u);
  EXPECT_EQ(m[3], "three!");
  EXPECT_TRUE(m.contains(65));
  EXPECT_EQ(m.count(66), 0u);
  EXPECT_EQ(m.find(66), m.end());
  EXPECT_THROW((void)m.at(66), std::out_of_range);

  std::vector<std::size_t> keys;
  for (auto&& [k, v] : m) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::size_t>{1, 3, 64, 65, 200}));

  const auto& cm = m;
  EXPECT_EQ(cm.find(64)->second, "sixty-four");
  EXPECT_EQ(std::distance(cm.begin(), cm.end()), 5);
  tide::dense_map<std::string>::const_iterator ci = m.begin();  // iterator -> const_iterator
  EXPECT_EQ(ci, cm.begin());

  // erase(iterator) returns the next key; the idiom holds.
  EXPECT_EQ(m.erase(m.find(3))->first, 64u);
  EXPECT_EQ(m.erase(3), 0u);
  EXPECT_EQ(m.erase(200), 1u);
  EXPECT_EQ(tide::erase_if(m, [](const auto& kv) { return kv.first >= 64; }), 2u);
  EXPECT_EQ(m.size(), 1u);

  tide::dense_map<std::string> copy = m;
  EXPECT_EQ(copy, m);
  copy[7] = "seven";
  EXPECT_FALSE(copy == m);
  tide::dense_map<std::string> moved = std::move(copy);
  EXPECT_EQ(moved.size(), 2u);
  swap(moved, m);
  EXPECT_EQ(m.size(), 2u);
  EXPECT_EQ(moved.size(), 1u);
  m = moved;
  EXPECT_EQ(m, moved);
  m = {{10, "ten"}, {0, "zero"}};
  EXPECT_EQ(m.begin()->second, "zero");
  m.erase(m.begin(), m.end());
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.memory().bytes, 0u);
  test_peer::check_invariants(m);
}

TEST(DenseMap, ReferencesAndIteratorsSurviveGrowth) {
  tide::dense_map<int> m;
  m[5] = 50;
  int& ref = m[5];
  auto it = m.find(5);
  for (std::size_t k = 6; k < 100'000; k += 7) m[k] = 1;  // the directory grows many times
  EXPECT_EQ(&ref, &m[5]);
  EXPECT_EQ(it->second, 50);
  EXPECT_EQ(std::next(it)->first, 6u);
}

// Random operations mirrored into std::map; keys from a range that itself moves up and down,
// so the directory grows and shrinks.
TEST(DenseMap, DifferentialAgainstStdMap) {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    tide_test::rng rng(seed);
    tide::allocation_counter counter;
    counted_map<std::uint64_t> m(100'000, tide::counting_allocator<std::uint64_t>(counter));
    std::map<std::size_t, std::uint64_t> ref;
    const std::size_t ops = tide_test::scaled(200'000, 5000);
    std::size_t range = 64;
    for (std::size_t i = 0; i < ops; ++i) {
      if (i % 2000 == 0) range = 1 + rng.below(rng.chance(1, 4) ? 100'001 : 5000);
      const std::size_t k = rng.below(range);
      const std::uint64_t v = rng.next();
      switch (rng.below(10)) {
        case 0: {
          const bool ins = m.insert({k, v}).second;
          ASSERT_EQ(ins, ref.insert({k, v}).second) << "insert(" << k << ")";
          break;
        }
        case 1:
          ASSERT_EQ(m.try_emplace(k, v).second, ref.try_emplace(k, v).second);
          break;
        case 2:
          ASSERT_EQ(m.insert_or_assign(k, v).second, ref.insert_or_assign(k, v).second);
          break;
        case 3:
          m[k] += v;
          ref[k] += v;
          break;
        case 4:
        case 5:
          ASSERT_EQ(m.erase(k), ref.erase(k)) << "erase(" << k << ")";
          break;
        case 6: {  // erase(iterator) at the first key >= k
          auto r = ref.lower_bound(k);
          auto it = m.begin();
          if (r != ref.end()) {
            it = m.find(r->first);
            ASSERT_NE(it, m.end()) << "find(" << r->first << ") got end()";
            auto next = m.erase(it);
            r = ref.erase(r);
            ASSERT_EQ(next == m.end(), r == ref.end());
            if (r != ref.end()) {
              ASSERT_EQ(next->first, r->first);
            }
          }
          break;
        }
        case 7: {  // erase a small range
          auto first = ref.lower_bound(k);
          auto last = ref.lower_bound(k + rng.below(200));
          const auto mf = first == ref.end() ? m.end() : m.find(first->first);
          const auto ml = last == ref.end() ? m.end() : m.find(last->first);
          m.erase(mf, ml);
          ref.erase(first, last);
          break;
        }
        case 8: {
          auto it = m.find(k);
          auto r = ref.find(k);
          ASSERT_EQ(it == m.end(), r == ref.end()) << "find(" << k << ")";
          if (r != ref.end()) {
            ASSERT_EQ(it->second, r->second);
          }
          break;
        }
        default:
          if (rng.chance(1, 500)) {
            m.clear();
            ref.clear();
          } else {
            ASSERT_EQ(m.contains(k), ref.contains(k));
          }
      }
      ASSERT_EQ(m.size(), ref.size());
      ASSERT_EQ(counter.bytes_in_use(), m.memory().bytes);
      if (i % 1000 == 0) {
        test_peer::check_invariants(m);
        ASSERT_TRUE(same_in_order(m, ref));
        // Memory follows the highest key: the directory is at most 4x the keys' span
        // (hysteresis), plus one chunk per occupied 64-key range.
        const auto mem = m.memory();
        const std::size_t span = ref.empty() ? 0 : ref.rbegin()->first / 64 + 1;
        ASSERT_LE(mem.directory_capacity, 4 * span) << "highest key " << describe(span * 64);
        ASSERT_LE(mem.chunks, span);
      }
    }
    test_peer::check_invariants(m);
    EXPECT_TRUE(same_in_order(m, ref));
    auto copy = m;
    EXPECT_EQ(copy, m);
  }
}

TEST(DenseMap, MemoryFollowsTheHighestKey) {
  tide::allocation_counter counter;
  {
    counted_map<std::uint64_t> m{tide::counting_allocator<std::uint64_t>(counter)};
    constexpr std::size_t n = 64 * 1024;
    for (std::size_t k = 0; k < n; ++k) m[k] = k;
    const std::size_t chunk_bytes = m.memory().chunk_bytes / m.memory().chunks;
    EXPECT_EQ(m.memory().chunks, n / 64);
    EXPECT_EQ(counter.bytes_in_use(), m.memory().bytes);
    // Dense keys: the payload plus 1/64 of a presence word and of a directory pointer each.
    EXPECT_LE(m.memory().bytes, n * (sizeof(std::uint64_t) + 1) + 8 * 1024);

    // Erase the top 7/8: memory falls with the highest key, without a call.
    for (std::size_t k = n; k-- > n / 8;) m.erase(k);
    EXPECT_EQ(m.memory().chunks, n / 8 / 64);
    EXPECT_LE(m.memory().directory_capacity, 2 * (n / 8 / 64));
    EXPECT_LE(counter.bytes_in_use(), (n / 8 / 64) * chunk_bytes + 2 * (n / 8 / 64) * 8);

    // Low keys erased: their chunks go, the directory stays (it follows the highest key).
    for (std::size_t k = 0; k < n / 16; ++k) m.erase(k);
    EXPECT_EQ(m.memory().chunks, n / 16 / 64);

    m.shrink_to_fit();
    EXPECT_EQ(m.memory().directory_capacity, n / 8 / 64);
    for (std::size_t k = 0; k < n; ++k) m.erase(k);
    EXPECT_EQ(counter.bytes_in_use(), 0u) << "bytes after erasing every entry";

    m.reserve(1000);
    EXPECT_EQ(m.memory().directory_capacity, 16u);
    EXPECT_EQ(m.memory().chunks, 0u);
  }
  EXPECT_EQ(counter.bytes_in_use(), 0u);
}

// Alternating insert/erase of the highest key must not reallocate the directory each time.
TEST(DenseMap, BoundaryHysteresis) {
  tide::allocation_counter counter;
  counted_map<int> m{tide::counting_allocator<int>(counter)};
  for (std::size_t k = 0; k < 4 * 64; ++k) m[k] = 1;  // chunks 0..3
  ASSERT_EQ(m.memory().directory_capacity, 4u);
  const auto before = counter.allocations();
  constexpr int rounds = 1000;
  for (int i = 0; i < rounds; ++i) {
    m[4 * 64] = 2;  // a new chunk, beyond the directory the first time
    m.erase(4 * 64);
    ASSERT_EQ(m.memory().directory_capacity, 8u) << "round " << i;
  }
  // One chunk per round and one directory growth in all.
  EXPECT_EQ(counter.allocations() - before, rounds + 1u);

  // Within a chunk that stays: nothing at all.
  const auto steady = counter.allocations();
  for (int i = 0; i < rounds; ++i) {
    m[4 * 64 - 1] = 3;
    m.erase(4 * 64 - 1);
    m[4 * 64 - 1] = 3;
  }
  EXPECT_EQ(counter.allocations(), steady);

  // The shrink point: top <= capacity / 4 halves the directory to 2 * top.
  for (std::size_t k = 2 * 64; k < 4 * 64; ++k) m.erase(k);
  EXPECT_EQ(m.memory().directory_capacity, 4u) << "top 2 of capacity 8 shrinks to 4";
  test_peer::check_invariants(m);
}

TEST(DenseMap, BadInput) {
  tide::allocation_counter counter;
  counted_map<int> m{tide::counting_allocator<int>(counter)};
  EXPECT_EQ(m.max_key(), (std::size_t{1} << 32) - 1);
  for (std::size_t key : {std::size_t{1} << 32, std::size_t{1} << 50, SIZE_MAX - 1, SIZE_MAX}) {
    try {
      m[key] = 1;
      ADD_FAILURE() << "operator[](" << key << ") did not throw";
    } catch (const std::out_of_range& e) {
      EXPECT_NE(std::string(e.what()).find("max_key"), std::string::npos) << e.what();
    }
    EXPECT_THROW(m.try_emplace(key, 1), std::out_of_range);
    EXPECT_THROW(m.insert({key, 1}), std::out_of_range);
    EXPECT_THROW(m.insert_or_assign(key, 1), std::out_of_range);
    EXPECT_FALSE(m.contains(key));
    EXPECT_EQ(m.find(key), m.end());
    EXPECT_EQ(m.erase(key), 0u);
    EXPECT_EQ(counter.bytes_in_use(), 0u) << "bad key " << key << " allocated";
  }
  EXPECT_THROW(m.reserve(std::size_t{1} << 40), std::length_error);
  EXPECT_EQ(counter.bytes_in_use(), 0u);

  counted_map<int> small(1000, tide::counting_allocator<int>(counter));
  small[1000] = 1;
  EXPECT_THROW(small[1001] = 1, std::out_of_range);
  EXPECT_EQ(small.size(), 1u);
  EXPECT_EQ(small.memory().directory_capacity, 16u) << "capped at max_key's chunk";
  EXPECT_THROW(tide::dense_map<int>(SIZE_MAX), std::length_error);
  test_peer::check_invariants(small);
}

// Exception safety: the value's constructor throws on the Nth construction; the map must be
// unchanged, valid, and every constructed value destroyed at the end.
TEST(DenseMap, ThrowingValueConstructors) {
  tide_test::disarm_all_on_exit disarm;
  using tide_test::construct_faults;
  using tide_test::throwing_value;
  const auto live_before = tide_test::value_lifetimes.live();
  const auto faults_before = construct_faults.faults();
  tide::allocation_counter counter;
  {
    counted_map<throwing_value> m{tide::counting_allocator<throwing_value>(counter)};
    std::map<std::size_t, int> ref;
    tide_test::rng rng(11);
    for (int round = 0; round < 3000; ++round) {
      // Mostly new keys, some beyond the directory and in new chunks.
      const std::size_t k = rng.below(round < 1500 ? 4096 : 64 * 1024);
      const int v = static_cast<int>(rng.below(1000));
      const auto bytes_before = counter.bytes_in_use();
      construct_faults.arm(static_cast<std::int64_t>(1 + rng.below(2)));
      bool threw = false;
      try {
        switch (round % 4) {
          case 0:
            m.try_emplace(k, v);
            break;
          case 1:
            m.insert({k, throwing_value(v)});
            break;
          case 2:
            m.emplace(k, v);
            break;
          default:
            m.insert_or_assign(k, throwing_value(v));
            break;
        }
      } catch (const tide_test::injected_fault&) {
        threw = true;
      }
      construct_faults.disarm();
      if (threw) {
        ASSERT_EQ(counter.bytes_in_use(), bytes_before) << "round " << round << " kept memory";
      } else if (!ref.contains(k)) {
        ref[k] = v;
      } else if (round % 4 == 3) {
        ref[k] = v;  // insert_or_assign of a present key
      }
      ASSERT_EQ(m.size(), ref.size()) << "round " << round;
      if (round % 100 == 0) {
        test_peer::check_invariants(m);
        ASSERT_TRUE(same_in_order(m, ref));
      }
    }
    EXPECT_GT(construct_faults.faults() - faults_before, 1000u) << "faults injected";
    // The copy constructor throwing halfway frees what it built.
    const auto bytes = counter.bytes_in_use();
    construct_faults.arm(static_cast<std::int64_t>(m.size() / 2));
    EXPECT_THROW({ auto copy = m; }, tide_test::injected_fault);
    construct_faults.disarm();
    EXPECT_EQ(counter.bytes_in_use(), bytes);
    EXPECT_EQ(tide_test::value_lifetimes.live() - live_before, static_cast<std::int64_t>(m.size()));
  }
  EXPECT_EQ(tide_test::value_lifetimes.live(), live_before) << "values leaked";
  EXPECT_EQ(counter.bytes_in_use(), 0u);
}

// The allocator throws on the Nth allocation (the directory or a chunk).
TEST(DenseMap, ThrowingAllocator) {
  tide_test::disarm_all_on_exit disarm;
  using tide_test::alloc_faults;
  using tide_test::counted_value;
  const auto live_before = tide_test::value_lifetimes.live();
  const auto bytes_before = tide_test::throwing_allocator_live_bytes;
  const auto faults_before = alloc_faults.faults();
  {
    tide::dense_map<counted_value, tide_test::throwing_allocator<counted_value>> m;
    std::map<std::size_t, int> ref;
    tide_test::rng rng(12);
    for (int round = 0; round < 2000; ++round) {
      const std::size_t k = rng.below(32 * 1024);
      const int v = static_cast<int>(rng.below(1000));
      alloc_faults.arm(static_cast<std::int64_t>(1 + rng.below(2)));
      try {
        if (m.try_emplace(k, v).second) ref[k] = v;
      } catch (const tide_test::injected_fault&) {
      }
      alloc_faults.disarm();
      if (rng.chance(1, 3)) {
        const std::size_t e = rng.below(32 * 1024);
        ASSERT_EQ(m.erase(e), ref.erase(e));
      }
      ASSERT_EQ(m.size(), ref.size()) << "round " << round;
    }
    test_peer::check_invariants(m);
    ASSERT_TRUE(same_in_order(m, ref));
    EXPECT_GT(alloc_faults.faults() - faults_before, 100u) << "faults injected";
  }
  EXPECT_EQ(tide_test::value_lifetimes.live(), live_before);
  EXPECT_EQ(tide_test::throwing_allocator_live_bytes, bytes_before) << "bytes leaked";
}

// Allocator-extended copy and move: with a different counter the values are copied or moved
// one by one into memory from the new allocator; with the same counter the move steals.
TEST(DenseMap, AllocatorExtendedCopyAndMove) {
  tide::allocation_counter a;
  tide::allocation_counter b;
  using alloc = tide::counting_allocator<std::string>;
  {
    counted_map<std::string> m{alloc(a)};
    for (std::size_t k = 0; k < 1000; k += 3) m[k] = tide_test::string_key(k);
    const auto bytes = a.bytes_in_use();
    counted_map<std::string> copy(m, alloc(b));
    EXPECT_EQ(copy, m);
    EXPECT_EQ(a.bytes_in_use(), bytes);
    EXPECT_EQ(b.bytes_in_use(), copy.memory().bytes);
    counted_map<std::string> moved(std::move(copy), alloc(a));  // different counter: moves values
    EXPECT_EQ(moved, m);
    EXPECT_TRUE(copy.empty());
    EXPECT_EQ(b.bytes_in_use(), 0u);
    const auto before = a.allocations();
    counted_map<std::string> stolen(std::move(moved), alloc(a));  // same counter: steals
    EXPECT_EQ(a.allocations(), before);
    EXPECT_EQ(stolen, m);
    test_peer::check_invariants(stolen);
  }
  EXPECT_EQ(a.bytes_in_use(), 0u);
  EXPECT_EQ(b.bytes_in_use(), 0u);
}

TEST(DenseMap, OnTideHeap) {
  tide::dense_map<std::string, tide::heap_allocator<std::string>> m;
  std::map<std::size_t, std::string> ref;
  tide_test::rng rng(5);
  for (int i = 0; i < 20'000; ++i) {
    const std::size_t k = rng.below(10'000);
    if (rng.chance(1, 3)) {
      ASSERT_EQ(m.erase(k), ref.erase(k));
    } else {
      m[k] = ref[k] = tide_test::string_key(k);
    }
  }
  test_peer::check_invariants(m);
  EXPECT_TRUE(same_in_order(m, ref));
}

}  // namespace
