// Randomized differential test: millions of mixed operations applied to tide::map and to
// std::unordered_map, in phases that grow the map to ~100K entries, churn it, shrink it back
// to a handful, and regrow it. Every operation's result and the size are compared at once;
// the full contents and check_invariants() at the end of every phase.
//
// Fixed seeds; the operation count scales with TIDE_TEST_SCALE (smaller under sanitizers).
#include <cstdint>
#include <iterator>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <gtest/gtest.h>
#include <tide/detail/test_peer.hpp>
#include <tide/map.hpp>
#include <tide/set.hpp>

#include "support/map_check.hpp"
#include "support/random.hpp"
#include "support/scale.hpp"

namespace {

using tide::detail::test_peer;
using tide_test::describe;

// The reference: a std::unordered_map plus a vector of its keys, so a random present key can
// be picked in O(1).
template <class K>
class reference {
 public:
  std::unordered_map<K, std::uint64_t> map;

  bool insert(const K& k, std::uint64_t v) {
    if (!map.emplace(k, v).second) return false;
    pos_.emplace(k, keys_.size());
    keys_.push_back(k);
    return true;
  }
  bool erase(const K& k) {
    if (map.erase(k) == 0) return false;
    auto p = pos_.find(k);
    const std::size_t i = p->second;
    pos_.erase(p);
    if (i + 1 != keys_.size()) {
      keys_[i] = std::move(keys_.back());
      pos_[keys_[i]] = i;
    }
    keys_.pop_back();
    return true;
  }
  void clear() {
    map.clear();
    pos_.clear();
    keys_.clear();
  }
  const K& random_key(tide_test::rng& r) const { return keys_[r.below(keys_.size())]; }
  std::size_t size() const { return map.size(); }

 private:
  std::unordered_map<K, std::size_t> pos_;
  std::vector<K> keys_;
};

// How keys are made from indices.
struct sequential_u64 {
  static std::uint64_t key(std::uint64_t i) { return i; }
};
struct scattered_u64 {
  static std::uint64_t key(std::uint64_t i) { return i * 0x9e3779b97f4a7c15ull; }
};
struct high_bits_u64 {  // identical low 32 bits: collides under an identity hash
  static std::uint64_t key(std::uint64_t i) { return i << 32; }
};
struct strings {
  static std::string key(std::uint64_t i) { return tide_test::string_key(i); }
};

enum class op {
  insert, emplace, try_emplace, subscript, insert_or_assign, insert_hint,
  erase_key, erase_iterator, erase_const_iterator, erase_range,
  find, contains, at,
  kCount
};
constexpr const char* op_names[] = {
    "insert", "emplace", "try_emplace", "operator[]", "insert_or_assign", "insert(hint)",
    "erase(key)", "erase(iterator)", "erase(const_iterator)", "erase(first,last)",
    "find", "contains/count", "at"};

struct phase {
  const char* name;
  double share;              // of the run's operations
  std::uint64_t range_from;  // key indices are drawn from [0, range), range moving linearly
  std::uint64_t range_to;
  int add_weight;     // insert-like operations (spread over the 6 insert kinds)
  int remove_weight;  // erase operations (mostly of present keys)
  int lookup_weight;  // find/contains/at of random keys
};

template <class K, class Keys>
class differential {
 public:
  using M = tide::map<K, std::uint64_t>;

  differential(std::uint64_t seed, std::size_t total_ops) : rng_(seed), total_(total_ops) {}

  void run() {
    const phase phases[] = {
        {"grow to ~100K", 0.30, 1000, 200000, 75, 10, 15},
        {"churn at ~100K", 0.20, 200000, 200000, 63, 27, 10},
        {"shrink to a handful", 0.25, 200000, 200000, 8, 77, 15},
        {"small churn", 0.10, 64, 64, 45, 45, 10},
        {"regrow to ~30K", 0.10, 64, 50000, 70, 20, 10},
        {"erase everything", 0.05, 50000, 50000, 0, 100, 0},
    };
    for (const phase& p : phases) {
      run_phase(p);
      if (::testing::Test::HasFatalFailure()) return;
      ::testing::Test::RecordProperty(std::string("size_after_") + std::to_string(++phase_index_),
                                      static_cast<int>(m_.size()));
      ASSERT_TRUE(tide_test::same_contents(m_, ref_.map))
          << "after phase \"" << p.name << "\" (op " << ops_done_ << ")";
      test_peer::check_invariants(m_);
    }
    // Erase whatever the last phase left, by key.
    while (ref_.size() > 0) {
      const K k = ref_.random_key(rng_);
      ASSERT_EQ(m_.erase(k), 1u) << "erase(" << describe(k) << ") at the end";
      ref_.erase(k);
    }
    ASSERT_TRUE(m_.empty());
    ASSERT_TRUE(m_.begin() == m_.end());
    test_peer::check_invariants(m_);
  }

 private:
  void run_phase(const phase& p) {
    const auto n = static_cast<std::size_t>(p.share * static_cast<double>(total_));
    const int total_weight = p.add_weight + p.remove_weight + p.lookup_weight;
    for (std::size_t i = 0; i < n; ++i) {
      range_ = p.range_from +
               static_cast<std::uint64_t>(static_cast<double>(p.range_to - p.range_from) *
                                          static_cast<double>(i) / static_cast<double>(n));
      if (range_ == 0) range_ = 1;
      const auto w = static_cast<int>(rng_.below(static_cast<std::uint64_t>(total_weight)));
      op o;
      if (w < p.add_weight) {
        o = static_cast<op>(rng_.below(6));  // the six insert kinds
      } else if (w < p.add_weight + p.remove_weight) {
        o = static_cast<op>(static_cast<int>(op::erase_key) + static_cast<int>(rng_.below(4)));
        if (o == op::erase_range && !rng_.chance(1, 50)) o = op::erase_key;  // ranges: rarer
      } else {
        o = static_cast<op>(static_cast<int>(op::find) + static_cast<int>(rng_.below(3)));
      }
      apply(o);
      if (::testing::Test::HasFatalFailure()) return;
      ++ops_done_;
      if (m_.size() != ref_.size()) {
        FAIL() << "phase \"" << p.name << "\" op " << ops_done_ << " (" << op_names[int(o)]
               << "): size() got " << m_.size() << " want " << ref_.size();
      }
      maybe_rare_operation();
      if (::testing::Test::HasFatalFailure()) return;
    }
  }

  // Mostly random keys in the current range; for removals, mostly keys known to be present.
  K random_key() { return Keys::key(rng_.below(range_)); }
  K key_to_remove() {
    if (ref_.size() > 0 && rng_.chance(3, 4)) return ref_.random_key(rng_);
    return random_key();
  }

  void apply(op o) {
    switch (o) {
      case op::insert:
      case op::emplace:
      case op::try_emplace:
      case op::subscript:
      case op::insert_or_assign:
      case op::insert_hint: add(o); break;
      case op::erase_key: {
        const K k = key_to_remove();
        const std::size_t want = ref_.erase(k) ? 1 : 0;
        const std::size_t got = m_.erase(k);
        if (got != want) FAIL() << "erase(" << describe(k) << ") got " << got << " want " << want;
        break;
      }
      case op::erase_iterator:
      case op::erase_const_iterator: {
        const K k = key_to_remove();
        auto it = m_.find(k);
        const bool present = ref_.map.count(k) != 0;
        if ((it != m_.end()) != present)
          FAIL() << "find(" << describe(k) << ") before erase(iterator) got "
                 << (present ? "end()" : "an element") << " want "
                 << (present ? "the element" : "end()");
        if (!present) break;
        auto expected_next = std::next(it);
        typename M::iterator next;
        if (o == op::erase_iterator) {
          next = m_.erase(it);
        } else {
          next = m_.erase(typename M::const_iterator(it));
        }
        ref_.erase(k);
        if (next != expected_next)
          FAIL() << "erase(iterator to " << describe(k) << ") did not return the next iterator";
        if (next != m_.end() && ref_.map.count(next->first) == 0)
          FAIL() << "erase(iterator) returned an iterator to " << describe(next->first)
                 << " which is not in the map";
        break;
      }
      case op::erase_range: {
        // Up to 8 elements from an element found by key, in iteration order.
        if (ref_.size() == 0) break;
        auto first = m_.find(ref_.random_key(rng_));
        auto last = first;
        std::vector<K> doomed;
        for (std::uint64_t n = rng_.below(9); n > 0 && last != m_.end(); --n)
          doomed.push_back((last++)->first);
        const bool last_is_end = last == m_.end();
        const K last_key = last_is_end ? K{} : last->first;
        auto ret = m_.erase(typename M::const_iterator(first), typename M::const_iterator(last));
        for (const K& k : doomed) ref_.erase(k);
        if (last_is_end ? ret != m_.end() : (ret == m_.end() || ret->first != last_key))
          FAIL() << "erase(first, last) of " << doomed.size() << " elements did not return last";
        break;
      }
      case op::find: {
        const K k = random_key();
        auto it = m_.find(k);
        auto rit = ref_.map.find(k);
        if (rit == ref_.map.end()) {
          if (it != m_.end())
            FAIL() << "find(" << describe(k) << ") got " << describe(it->second)
                   << " want end()";
        } else if (it == m_.end()) {
          FAIL() << "find(" << describe(k) << ") got end() want " << rit->second;
        } else if (it->second != rit->second || it->first != k) {
          FAIL() << "find(" << describe(k) << ") got " << describe(*it) << " want "
                 << rit->second;
        }
        break;
      }
      case op::contains: {
        const K k = random_key();
        const bool want = ref_.map.count(k) != 0;
        if (m_.contains(k) != want || m_.count(k) != (want ? 1u : 0u))
          FAIL() << "contains/count(" << describe(k) << ") got " << m_.count(k) << " want "
                 << want;
        break;
      }
      case op::at: {
        const K k = random_key();
        auto rit = ref_.map.find(k);
        try {
          const std::uint64_t got = m_.at(k);
          if (rit == ref_.map.end()) FAIL() << "at(" << describe(k) << ") got " << got << " want out_of_range";
          if (got != rit->second) FAIL() << "at(" << describe(k) << ") got " << got << " want " << rit->second;
        } catch (const std::out_of_range&) {
          if (rit != ref_.map.end()) FAIL() << "at(" << describe(k) << ") threw want " << rit->second;
        }
        break;
      }
      case op::kCount: break;
    }
  }

  void add(op o) {
    const K k = random_key();
    const std::uint64_t v = rng_.next();
    auto rit = ref_.map.find(k);
    const bool existed = rit != ref_.map.end();
    const std::uint64_t old = existed ? rit->second : 0;
    // What the key must map to afterwards.
    std::uint64_t want = existed ? old : v;
    bool got_inserted = false;
    bool reports_insertion = true;
    typename M::iterator it;
    switch (o) {
      case op::insert: {
        auto r = m_.insert(std::pair<const K, std::uint64_t>(k, v));
        it = r.first, got_inserted = r.second;
        break;
      }
      case op::emplace: {
        auto r = m_.emplace(k, v);
        it = r.first, got_inserted = r.second;
        break;
      }
      case op::try_emplace: {
        auto r = m_.try_emplace(k, v);
        it = r.first, got_inserted = r.second;
        break;
      }
      case op::subscript: {
        auto& slot = m_[k];
        if (existed && slot != old)
          FAIL() << "operator[](" << describe(k) << ") got " << slot << " want " << old;
        if (!existed && slot != 0)
          FAIL() << "operator[](" << describe(k) << ") of a new key got " << slot << " want 0";
        slot = v;
        want = v;
        it = m_.find(k);
        reports_insertion = false;
        break;
      }
      case op::insert_or_assign: {
        auto r = m_.insert_or_assign(k, v);
        it = r.first, got_inserted = r.second;
        want = v;
        break;
      }
      case op::insert_hint: {
        const auto hint = rng_.chance(1, 2) ? m_.cbegin() : m_.cend();
        it = m_.emplace_hint(hint, k, v);
        reports_insertion = false;
        break;
      }
      default: break;
    }
    if (reports_insertion && got_inserted == existed)
      FAIL() << op_names[int(o)] << "(" << describe(k) << ") reported inserted=" << got_inserted
             << " want " << !existed;
    if (it == m_.end() || !(it->first == k))
      FAIL() << op_names[int(o)] << "(" << describe(k) << ") returned an iterator to another key";
    if (it->second != want)
      FAIL() << op_names[int(o)] << "(" << describe(k) << ") then value got " << it->second
             << " want " << want;
    if (existed) {
      rit->second = want;
    } else {
      ref_.insert(k, want);
    }
  }

  // clear, reserve, rehash, shrink_to_fit, erase_if: rarely, as they are O(size).
  void maybe_rare_operation() {
    const std::uint64_t r = rng_.below(400000);
    if (r == 0) {
      m_.clear();
      ref_.clear();
    } else if (r < 8) {
      m_.reserve(m_.size() * 2 + rng_.below(1000));
    } else if (r < 16) {
      m_.rehash(rng_.below(2) ? 0 : m_.size() + rng_.below(100000));
    } else if (r < 24) {
      m_.shrink_to_fit();
    } else if (r < 28) {
      const std::uint64_t modulus = 2 + rng_.below(20);
      std::vector<K> doomed;
      for (const auto& [k, v] : ref_.map)
        if (v % modulus == 0) doomed.push_back(k);
      const auto n = tide::erase_if(m_, [&](const auto& kv) { return kv.second % modulus == 0; });
      for (const K& k : doomed) ref_.erase(k);
      if (n != doomed.size()) FAIL() << "erase_if got " << n << " want " << doomed.size();
    } else {
      return;
    }
    if (m_.size() != ref_.size())
      FAIL() << "after a rare operation (" << r << "): size() got " << m_.size() << " want "
             << ref_.size();
    if (r < 28) {
      ASSERT_TRUE(tide_test::same_contents(m_, ref_.map)) << "after rare operation " << r;
      test_peer::check_invariants(m_);
    }
  }

  tide_test::rng rng_;
  std::size_t total_;
  std::size_t ops_done_ = 0;
  int phase_index_ = 0;
  std::uint64_t range_ = 1;
  M m_;
  reference<K> ref_;
};

constexpr std::uint64_t kSeeds[] = {1, 2, 0x5eed, 20240611};

TEST(MapDifferential, SequentialUint64Keys) {
  for (std::uint64_t seed : {kSeeds[0], kSeeds[1]}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    differential<std::uint64_t, sequential_u64>(seed, tide_test::scaled(1000000, 20000)).run();
    if (HasFatalFailure()) return;
  }
}

TEST(MapDifferential, ScatteredUint64Keys) {
  for (std::uint64_t seed : {kSeeds[2], kSeeds[3]}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    differential<std::uint64_t, scattered_u64>(seed, tide_test::scaled(1000000, 20000)).run();
    if (HasFatalFailure()) return;
  }
}

TEST(MapDifferential, HighBitUint64Keys) {
  differential<std::uint64_t, high_bits_u64>(kSeeds[0] + 100, tide_test::scaled(1000000, 20000))
      .run();
}

TEST(MapDifferential, StringKeys) {
  for (std::uint64_t seed : {kSeeds[0], kSeeds[2], kSeeds[3]}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    differential<std::string, strings>(seed, tide_test::scaled(350000, 20000)).run();
    if (HasFatalFailure()) return;
  }
}

// The comparison every test above relies on fails, and says why, for each kind of difference.
TEST(MapDifferential, TheComparisonReportsEachKindOfDifference) {
  const tide::map<int, int> m{{1, 10}, {2, 20}, {3, 30}};
  using ref_map = std::unordered_map<int, int>;
  EXPECT_TRUE(tide_test::same_contents(m, ref_map{{1, 10}, {2, 20}, {3, 30}}));
  const auto expect_reported = [&](const ref_map& ref, const std::string& what) {
    const ::testing::AssertionResult result = tide_test::same_contents(m, ref);
    EXPECT_FALSE(result);
    EXPECT_NE(std::string(result.message()).find(what), std::string::npos) << result.message();
  };
  expect_reported({{1, 10}, {2, 20}, {3, 31}}, "find(3) got 30 want 31");
  expect_reported({{1, 10}, {2, 20}, {3, 30}, {4, 40}}, "find(4) got end() want 40");
  expect_reported({{1, 10}, {2, 20}, {3, 30}, {4, 40}}, "size() got 3 want 4");
  expect_reported({{1, 10}, {2, 20}}, "iteration visited 3 which is not in the map");
  expect_reported({{1, 10}, {2, 20}}, "iteration visited 3 elements want 2");
  expect_reported({}, "empty() got false");

  using ref_set = std::unordered_set<int>;
  const tide::set<int> s{1, 2, 3};
  EXPECT_TRUE(tide_test::same_set_contents(s, ref_set{1, 2, 3}));
  const ::testing::AssertionResult missing = tide_test::same_set_contents(s, ref_set{1, 2, 3, 4});
  EXPECT_FALSE(missing);
  EXPECT_NE(std::string(missing.message()).find("find(4) got end() want it"), std::string::npos);
  const ::testing::AssertionResult extra = tide_test::same_set_contents(s, ref_set{1, 2});
  EXPECT_FALSE(extra);
  EXPECT_NE(std::string(extra.message()).find("iteration visited 3 not in the set"),
            std::string::npos);
}

}  // namespace
