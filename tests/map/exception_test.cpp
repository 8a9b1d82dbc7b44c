// Exception safety: a hash, a key equality, a value constructor or the allocator throws on
// the Nth call inside an operation, for N = 1, 2, 3, ... up to a whole table's worth.
//
// After every exception the map must be valid (check_invariants) and hold exactly what a
// reference std::unordered_map holds, where a single-element insert/emplace/try_emplace
// either happened completely or not at all (strong guarantee), erase(key) either erased or
// not, and rehash/reserve/shrink_to_fit/copy left the contents unchanged. At the end of
// each round every constructed value has been destroyed and every byte given back.
#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <tide/detail/test_peer.hpp>
#include <tide/map.hpp>

#include "support/faults.hpp"
#include "support/map_check.hpp"
#include "support/random.hpp"
#include "support/scale.hpp"

namespace {

using tide::detail::test_peer;
using tide_test::describe;
using tide_test::fault_point;
using tide_test::injected_fault;

struct hash_case {
  using map_type = tide::map<int, int, tide_test::throwing_hash<int>>;
  static fault_point& faults() { return tide_test::hash_faults; }
};
struct equal_case {
  using map_type = tide::map<int, int, tide::hash<int>, tide_test::throwing_equal<int>>;
  static fault_point& faults() { return tide_test::equal_faults; }
};
struct construct_case {
  using map_type = tide::map<int, tide_test::throwing_value>;
  static fault_point& faults() { return tide_test::construct_faults; }
};
struct alloc_case {
  using map_type =
      tide::map<int, tide_test::counted_value, tide::hash<int>, std::equal_to<int>,
                tide_test::throwing_allocator<std::pair<const int, tide_test::counted_value>>>;
  static fault_point& faults() { return tide_test::alloc_faults; }
};

enum class op {
  insert, emplace, try_emplace, emplace_hint, subscript, insert_or_assign, erase_key,
  rehash, reserve, shrink_to_fit, copy, insert_range
};
constexpr const char* op_names[] = {"insert", "emplace", "try_emplace", "emplace_hint",
                                    "operator[]", "insert_or_assign", "erase(key)", "rehash",
                                    "reserve", "shrink_to_fit", "copy constructor",
                                    "insert(first, last)"};

template <class Case>
class fault_round {
 public:
  using M = typename Case::map_type;
  using T = typename M::mapped_type;
  using value_type = typename M::value_type;

  fault_round(std::int64_t n, std::uint64_t seed) : n_(n), rng_(seed) {}

  // Runs `ops` operations with keys in [0, key_range): first mostly inserts, then mostly
  // erases. Returns the number of injected faults.
  std::uint64_t run(int ops, int key_range) {
    fault_point& fp = Case::faults();
    const std::uint64_t faults_before = fp.faults();
    {
      M m;
      for (int i = 0; i < ops; ++i) {
        const bool growing = i < ops * 6 / 10;
        const op o = pick(growing);
        const int k = static_cast<int>(rng_.below(static_cast<std::uint64_t>(key_range)));
        const int v = static_cast<int>(rng_.below(1000000));
        const bool arm = rng_.chance(1, 2);
        apply(m, o, k, v, arm);
        if (::testing::Test::HasFatalFailure()) return 0;
      }
      EXPECT_TRUE(tide_test::same_contents(m, ref_)) << "at the end of the round";
      test_peer::check_invariants(m);
    }
    return fp.faults() - faults_before;
  }

 private:
  op pick(bool growing) {
    const std::uint64_t r = rng_.below(100);
    if (r < 3) return op::rehash;
    if (r < 5) return op::reserve;
    if (r < 7) return op::shrink_to_fit;
    if (r < 9) return op::copy;
    if (r < 11) return op::insert_range;
    const bool add = growing ? r < 80 : r < 35;
    if (!add) return op::erase_key;
    op o = static_cast<op>(rng_.below(6));
    if constexpr (!std::is_default_constructible_v<T>) {
      if (o == op::subscript) o = op::emplace;
    }
    return o;
  }

  static T make(int v) { return T(v); }

  void apply(M& m, op o, int k, int v, bool arm) {
    fault_point& fp = Case::faults();
    tide_test::disarm_all_on_exit disarm;
    const bool existed = ref_.count(k) != 0;
    std::vector<std::pair<int, int>> batch;  // for insert_range
    if (o == op::insert_range) {
      for (int i = 0; i < 4; ++i)
        batch.emplace_back(static_cast<int>(rng_.below(2000)), static_cast<int>(rng_.below(1000)));
    }
    bool threw = false;
    std::size_t erased = 0;
    try {
      if (arm) fp.arm(n_);
      switch (o) {
        case op::insert: m.insert(value_type(k, make(v))); break;
        case op::emplace: m.emplace(k, v); break;
        case op::try_emplace: m.try_emplace(k, v); break;
        case op::emplace_hint: m.emplace_hint(m.cbegin(), k, v); break;
        case op::subscript:
          if constexpr (std::is_default_constructible_v<T>) m[k] = make(v);
          break;
        case op::insert_or_assign: m.insert_or_assign(k, make(v)); break;
        case op::erase_key: erased = m.erase(k); break;
        case op::rehash: m.rehash(rng_.below(2) ? 0 : m.size() * 2); break;
        case op::reserve: m.reserve(m.size() + rng_.below(600)); break;
        case op::shrink_to_fit: m.shrink_to_fit(); break;
        case op::copy: {
          M copy(m);
          fp.disarm();
          ASSERT_TRUE(tide_test::same_contents(copy, ref_)) << "a copy of the map";
          test_peer::check_invariants(copy);
          break;
        }
        case op::insert_range: {
          std::vector<value_type> src;
          fp.disarm();
          for (auto& [bk, bv] : batch) src.emplace_back(bk, make(bv));
          if (arm) fp.arm(n_);
          m.insert(src.begin(), src.end());
          break;
        }
      }
    } catch (const injected_fault&) {
      threw = true;
    }
    fp.disarm();
    if (::testing::Test::HasFatalFailure()) return;
    const std::string what = std::string(op_names[static_cast<int>(o)]) + "(" + std::to_string(k) +
                             ") with fault at call " + std::to_string(n_) +
                             (threw ? " (threw)" : " (did not throw)");
    if (!threw) {
      update_reference(o, k, v, existed, erased, batch);
      if (m.size() != ref_.size())
        FAIL() << what << ": size() got " << m.size() << " want " << ref_.size();
      return;
    }
    // The operation threw: the map is valid and holds the reference's contents, or (for a
    // single-element insert of a new key) the reference's plus exactly that element.
    test_peer::check_invariants(m);
    switch (o) {
      case op::insert:
      case op::emplace:
      case op::try_emplace:
      case op::emplace_hint:
      case op::subscript:
      case op::insert_or_assign: {
        auto it = m.find(k);
        if (!existed && it != m.end()) {
          // Inserted completely: with its value (operator[] may have stopped before the
          // assignment, leaving the default value).
          const bool default_ok = o == op::subscript && tide_test::same_value(it->second, 0);
          ASSERT_TRUE(tide_test::same_value(it->second, v) || default_ok)
              << what << ": the new element holds " << describe(it->second) << " want " << v;
          ref_.emplace(k, default_ok && !tide_test::same_value(it->second, v) ? 0 : v);
        } else if (existed && o == op::insert_or_assign && it != m.end() &&
                   tide_test::same_value(it->second, v)) {
          ref_[k] = v;  // the assignment happened before the fault
        }
        break;
      }
      case op::erase_key:
        if (existed && !m.contains(k)) ref_.erase(k);  // erased before the fault
        break;
      case op::insert_range:
        // Basic guarantee: each element of the batch is either inserted or not.
        for (const auto& entry : batch) {
          // Named references, not structured bindings: clang < 16 cannot capture those.
          const auto& bk = entry.first;
          const auto& bv = entry.second;
          if (ref_.count(bk) != 0) continue;
          auto it = m.find(bk);
          if (it != m.end()) {
            ASSERT_TRUE(tide_test::same_value(it->second, bv) ||
                        // an earlier duplicate of the same key in the batch won
                        std::any_of(batch.begin(), batch.end(), [&](const auto& e) {
                          return e.first == bk && tide_test::same_value(it->second, e.second);
                        }))
                << what;
            ref_.emplace(bk, 0).first->second = [&] {
              for (auto& [ek, ev] : batch)
                if (ek == bk) return ev;  // the first occurrence wins
              return bv;
            }();
          }
        }
        break;
      default: break;  // rehash, reserve, shrink_to_fit, copy: nothing may change
    }
    ASSERT_TRUE(tide_test::same_contents(m, ref_)) << "after " << what;
  }

  void update_reference(op o, int k, int v, bool existed, std::size_t erased,
                        const std::vector<std::pair<int, int>>& batch) {
    switch (o) {
      case op::insert:
      case op::emplace:
      case op::try_emplace:
      case op::emplace_hint: ref_.emplace(k, v); break;
      case op::subscript:
      case op::insert_or_assign: ref_[k] = v; break;
      case op::erase_key:
        if (erased != (existed ? 1u : 0u))
          ADD_FAILURE() << "erase(" << k << ") got " << erased << " want " << existed;
        ref_.erase(k);
        break;
      case op::insert_range:
        for (auto& [bk, bv] : batch) ref_.emplace(bk, bv);
        break;
      default: break;
    }
  }

  std::int64_t n_;
  tide_test::rng rng_;
  std::unordered_map<int, int> ref_;
};

template <class Case>
class MapExceptions : public ::testing::Test {};

using fault_cases = ::testing::Types<hash_case, equal_case, construct_case, alloc_case>;
TYPED_TEST_SUITE(MapExceptions, fault_cases);

TYPED_TEST(MapExceptions, MapStaysValidWithNothingLostOrLeaked) {
  const std::int64_t schedule[] = {1,  2,  3,   4,   5,   6,   7,   8,   10,  12,   16,  24,
                                   32, 48, 64,  100, 128, 200, 256, 400, 512, 700, 1000, 1500};
  const int ops = static_cast<int>(tide_test::scaled(2500, 500));
  std::uint64_t faults = 0;
  for (std::int64_t n : schedule) {
    SCOPED_TRACE("fault at call " + std::to_string(n) + " of an operation");
    const std::int64_t live_before = tide_test::value_lifetimes.live();
    const std::int64_t bytes_before = tide_test::throwing_allocator_live_bytes;
    faults += fault_round<TypeParam>(n, static_cast<std::uint64_t>(n) * 7919 + 1).run(ops, 1500);
    if (this->HasFatalFailure()) return;
    EXPECT_EQ(tide_test::value_lifetimes.live(), live_before)
        << "values constructed minus destroyed after the round: a value leaked or was "
           "destroyed twice";
    EXPECT_EQ(tide_test::throwing_allocator_live_bytes, bytes_before)
        << "bytes allocated and not given back after the round";
  }
  // The test is only meaningful if faults really happened.
  // (Equality faults are the rarest: keys are compared only on a fingerprint match.)
  EXPECT_GE(faults, 10u) << "too few injected faults: the fault points are not reached";
  this->RecordProperty("injected_faults", static_cast<int>(faults));
}

// An insert that throws while the table is being rebuilt for growth (the first insert past
// the growth threshold) must leave every earlier entry in place.
TYPED_TEST(MapExceptions, FaultDuringGrowthLosesNothing) {
  using M = typename TypeParam::map_type;
  fault_point& fp = TypeParam::faults();
  tide_test::disarm_all_on_exit disarm;
  for (std::int64_t n = 1; n <= 40; ++n) {
    SCOPED_TRACE("fault at call " + std::to_string(n));
    const std::int64_t live_before = tide_test::value_lifetimes.live();
    {
      M m;
      std::unordered_map<int, int> ref;
      for (int k = 0; k < 3000; ++k) {
        fp.arm(n);
        bool threw = false;
        try {
          m.emplace(k, k + 1);
        } catch (const injected_fault&) {
          threw = true;
        }
        fp.disarm();
        if (threw) {
          test_peer::check_invariants(m);
          if (m.contains(k)) ref.emplace(k, k + 1);
          ASSERT_TRUE(tide_test::same_contents(m, ref)) << "after emplace(" << k << ") threw";
        } else {
          ref.emplace(k, k + 1);
        }
      }
      ASSERT_TRUE(tide_test::same_contents(m, ref));
    }
    EXPECT_EQ(tide_test::value_lifetimes.live(), live_before);
  }
}

}  // namespace
