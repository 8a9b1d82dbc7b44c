// Every public member of tide::map, for each map variant in support/map_variants.hpp
// (int keys, string keys, move-only values, counting allocator, a colliding hash, counted
// values), plus heterogeneous lookup and tide::set basics.
#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <memory>
#include <memory_resource>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tide/counting_allocator.hpp>
#include <tide/detail/test_peer.hpp>
#include <tide/hash.hpp>
#include <tide/map.hpp>
#include <tide/set.hpp>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "support/faults.hpp"
#include "support/map_check.hpp"
#include "support/map_variants.hpp"
#include "support/random.hpp"

namespace {

using tide::detail::test_peer;
using tide_test::describe;
using tide_test::same_value;

template <class V>
class MapApi : public ::testing::Test {
 protected:
  using M = typename V::map_type;
  using K = typename M::key_type;
  using T = typename M::mapped_type;
  static constexpr bool copyable = std::is_copy_constructible_v<T>;

  void SetUp() override {
    live_values_ = tide_test::value_lifetimes.live();
    global_bytes_ = tide::allocation_counter::global().bytes_in_use();
  }
  void TearDown() override {
    EXPECT_EQ(tide_test::value_lifetimes.live(), live_values_)
        << "counted values constructed minus destroyed changed: a value leaked or was "
           "destroyed twice";
    EXPECT_EQ(tide::allocation_counter::global().bytes_in_use(), global_bytes_)
        << "bytes allocated through counting_allocator were not all returned";
  }

  static K key(int i) { return V::key(i); }
  static T value(int i) { return V::value(i); }

  // A map with keys 0..n-1.
  static M make(int n) {
    M m;
    for (int i = 0; i < n; ++i) m.emplace(key(i), value(i));
    return m;
  }

  // m holds exactly keys [lo, hi) with their values.
  static ::testing::AssertionResult holds_range(const M& m, int lo, int hi) {
    std::unordered_map<K, decltype(V::expected(0))> ref;
    for (int i = lo; i < hi; ++i) ref.emplace(key(i), V::expected(i));
    return tide_test::same_contents(m, ref);
  }

  static ::testing::AssertionResult has(const M& m, int i) {
    auto it = m.find(key(i));
    if (it == m.end())
      return ::testing::AssertionFailure()
             << "find(" << describe(key(i)) << ") got end() want " << describe(V::expected(i));
    if (!same_value(it->second, V::expected(i)))
      return ::testing::AssertionFailure()
             << "find(" << describe(key(i)) << ") got " << describe(it->second) << " want "
             << describe(V::expected(i));
    return ::testing::AssertionSuccess();
  }

 private:
  std::int64_t live_values_ = 0;
  std::size_t global_bytes_ = 0;
};

TYPED_TEST_SUITE(MapApi, tide_test::all_map_variants);

// The tests that copy values (copy construction and assignment, range and initializer-list
// construction and insertion) run over the variants whose mapped_type is copyable: every one
// of all_map_variants but move_only_values, picked out here so a new copyable variant joins.
template <class V>
using copyable_only_tuple =
    std::conditional_t<std::is_copy_constructible_v<typename V::map_type::mapped_type>,
                       std::tuple<V>, std::tuple<>>;

template <class Tuple>
struct types_of_tuple;
template <class... Vs>
struct types_of_tuple<std::tuple<Vs...>> {
  using type = ::testing::Types<Vs...>;
};

template <class Variants>
struct copyable_variants_of;
template <class... Vs>
struct copyable_variants_of<::testing::Types<Vs...>> {
  using type = typename types_of_tuple<decltype(std::tuple_cat(
      std::declval<copyable_only_tuple<Vs>>()...))>::type;
};

using copyable_map_variants = copyable_variants_of<tide_test::all_map_variants>::type;
static_assert(!std::is_same_v<copyable_map_variants, ::testing::Types<>>);

template <class V>
class MapApiCopyable : public MapApi<V> {
  static_assert(MapApi<V>::copyable);
};

TYPED_TEST_SUITE(MapApiCopyable, copyable_map_variants);

TYPED_TEST(MapApi, MemberTypes) {
  using M = typename TestFixture::M;
  static_assert(std::is_same_v<typename M::value_type,
                               std::pair<const typename M::key_type, typename M::mapped_type>>);
  static_assert(std::is_same_v<typename M::size_type, std::size_t>);
  static_assert(std::forward_iterator<typename M::iterator>);
  static_assert(std::forward_iterator<typename M::const_iterator>);
  static_assert(std::is_convertible_v<typename M::iterator, typename M::const_iterator>);
  static_assert(std::is_same_v<typename std::iterator_traits<typename M::iterator>::reference,
                               typename M::value_type&>);
  static_assert(std::is_same_v<typename M::reference, typename M::value_type&>);
  static_assert(std::is_same_v<typename M::const_reference, const typename M::value_type&>);
  static_assert(std::is_same_v<typename M::allocator_type::value_type, typename M::value_type>);
}

TYPED_TEST(MapApi, DefaultConstructedIsEmpty) {
  using M = typename TestFixture::M;
  const M m;
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.size(), 0u);
  EXPECT_TRUE(m.begin() == m.end());
  EXPECT_TRUE(m.cbegin() == m.cend());
  EXPECT_TRUE(m.find(this->key(1)) == m.end());
  EXPECT_FALSE(m.contains(this->key(1)));
  EXPECT_EQ(m.count(this->key(1)), 0u);
  EXPECT_GT(m.max_size(), 1000000u);
  test_peer::check_invariants(m);
}

TYPED_TEST(MapApi, BucketCountConstructors) {
  using M = typename TestFixture::M;
  typename M::hasher h;
  typename M::key_equal eq;
  typename M::allocator_type a;
  M m1(100);
  M m2(100, h);
  M m3(100, h, eq);
  M m4(100, h, eq, a);
  M m5(100, a);
  M m6(100, h, a);
  static_assert(!std::is_convertible_v<std::size_t, M>, "bucket-count constructor is explicit");
  M m7(a);
  for (M* m : {&m1, &m2, &m3, &m4, &m5, &m6, &m7}) {
    EXPECT_TRUE(m->empty());
    for (int i = 0; i < 100; ++i) m->emplace(this->key(i), this->value(i));
    EXPECT_TRUE(this->holds_range(*m, 0, 100));
    test_peer::check_invariants(*m);
  }
}

TYPED_TEST(MapApiCopyable, RangeConstructorKeepsFirstOfDuplicates) {
  using M = typename TestFixture::M;
  std::vector<typename M::value_type> src;
  for (int i = 0; i < 300; ++i) src.emplace_back(this->key(i), this->value(i));
  for (int i = 0; i < 300; i += 3) src.emplace_back(this->key(i), this->value(i + 1000));
  const M m(src.begin(), src.end());
  EXPECT_TRUE(this->holds_range(m, 0, 300));
  test_peer::check_invariants(m);

  typename M::hasher h;
  typename M::key_equal eq;
  typename M::allocator_type a;
  const M m2(src.begin(), src.end(), 7);
  const M m3(src.begin(), src.end(), 7, h);
  const M m4(src.begin(), src.end(), 7, h, eq);
  const M m5(src.begin(), src.end(), 7, h, eq, a);
  const M m6(src.begin(), src.end(), 7, a);
  const M m7(src.begin(), src.end(), 7, h, a);
  for (const M* mp : {&m2, &m3, &m4, &m5, &m6, &m7}) EXPECT_TRUE(this->holds_range(*mp, 0, 300));
  const M empty(src.begin(), src.begin());
  EXPECT_TRUE(empty.empty());
}

TYPED_TEST(MapApiCopyable, InitializerListConstructorAndAssignment) {
  using M = typename TestFixture::M;
  M m{{this->key(1), this->value(1)},
      {this->key(2), this->value(2)},
      {this->key(1), this->value(77)},  // duplicate: the first one wins
      {this->key(3), this->value(3)}};
  EXPECT_TRUE(this->holds_range(m, 1, 4));
  typename M::hasher h;
  typename M::key_equal eq;
  typename M::allocator_type a;
  M m2({{this->key(5), this->value(5)}}, 4, h, eq, a);
  EXPECT_TRUE(this->holds_range(m2, 5, 6));
  M m3({{this->key(5), this->value(5)}}, 4, a);
  EXPECT_TRUE(this->holds_range(m3, 5, 6));
  M m4({{this->key(5), this->value(5)}}, 4, h, a);
  EXPECT_TRUE(this->holds_range(m4, 5, 6));

  m = {{this->key(10), this->value(10)}, {this->key(11), this->value(11)}};
  EXPECT_TRUE(this->holds_range(m, 10, 12));
  m = {};
  EXPECT_TRUE(m.empty());
  test_peer::check_invariants(m);
}

TYPED_TEST(MapApiCopyable, CopyConstructorIsDeepAndIndependent) {
  using M = typename TestFixture::M;
  for (int n : {0, 1, 8, 9, 100, 3000}) {
    SCOPED_TRACE("n=" + std::to_string(n));
    M src = this->make(n);
    M copy(src);
    EXPECT_TRUE(this->holds_range(copy, 0, n));
    test_peer::check_invariants(copy);
    copy.emplace(this->key(n), this->value(n));
    copy.erase(this->key(0));
    EXPECT_TRUE(this->holds_range(src, 0, n)) << "modifying the copy changed the source";
    M copy2(src, typename M::allocator_type{});
    EXPECT_TRUE(this->holds_range(copy2, 0, n));
    EXPECT_TRUE(copy2 == src);
  }
}

TYPED_TEST(MapApi, MoveConstructorLeavesSourceUsable) {
  using M = typename TestFixture::M;
  for (int n : {0, 1, 9, 2000}) {
    SCOPED_TRACE("n=" + std::to_string(n));
    M src = this->make(n);
    M dst(std::move(src));
    EXPECT_TRUE(this->holds_range(dst, 0, n));
    test_peer::check_invariants(dst);
    // A moved-from map is valid: it can be cleared and reused.
    src.clear();
    EXPECT_TRUE(src.empty());
    src.emplace(this->key(1), this->value(1));
    EXPECT_TRUE(this->holds_range(src, 1, 2));
    test_peer::check_invariants(src);

    M dst2(std::move(dst), typename M::allocator_type{});
    EXPECT_TRUE(this->holds_range(dst2, 0, n));
    test_peer::check_invariants(dst2);
  }
}

TEST(MapAllocator, AllocatorExtendedMoveWithUnequalAllocatorMovesElements) {
  using A = tide::counting_allocator<std::pair<const std::string, std::unique_ptr<int>>>;
  using M = tide::map<std::string, std::unique_ptr<int>, tide::hash<std::string>,
                      std::equal_to<std::string>, A>;
  tide::allocation_counter c1, c2;
  {
    M src{A(c1)};
    for (int i = 0; i < 1000; ++i)
      src.emplace(tide_test::string_key(static_cast<std::uint64_t>(i)), std::make_unique<int>(i));
    const std::size_t src_bytes = c1.bytes_in_use();
    ASSERT_GT(src_bytes, 0u);
    M dst(std::move(src), A(c2));
    EXPECT_TRUE(dst.get_allocator() == A(c2));
    EXPECT_EQ(dst.size(), 1000u);
    for (int i = 0; i < 1000; ++i) {
      auto it = dst.find(tide_test::string_key(static_cast<std::uint64_t>(i)));
      ASSERT_TRUE(it != dst.end()) << "find(" << i << ") got end() after allocator-extended move";
      ASSERT_TRUE(it->second != nullptr && *it->second == i);
    }
    EXPECT_GT(c2.bytes_in_use(), 0u) << "the destination must allocate from its own allocator";
    test_peer::check_invariants(dst);
    test_peer::check_invariants(src);
    src.clear();
    src.emplace("x", std::make_unique<int>(1));
    EXPECT_EQ(src.size(), 1u);
  }
  EXPECT_EQ(c1.bytes_in_use(), 0u);
  EXPECT_EQ(c2.bytes_in_use(), 0u);
}

TEST(MapAllocator, AllocatorsPropagateOnAssignmentAndSwap) {
  using A = tide::counting_allocator<std::pair<const int, int>>;
  using M = tide::map<int, int, tide::hash<int>, std::equal_to<int>, A>;
  tide::allocation_counter c1, c2;
  {
    M a{A(c1)};
    M b{A(c2)};
    for (int i = 0; i < 500; ++i) a.emplace(i, i);
    for (int i = 0; i < 50; ++i) b.emplace(-i, i);
    b = a;  // propagate_on_container_copy_assignment: b now allocates from c1
    EXPECT_TRUE(b.get_allocator() == A(c1));
    EXPECT_EQ(c2.bytes_in_use(), 0u) << "b's old memory must go back to c2";
    EXPECT_TRUE(a == b);
    M c{A(c2)};
    c.emplace(1, 1);
    c = std::move(a);
    EXPECT_TRUE(c.get_allocator() == A(c1));
    EXPECT_EQ(c.size(), 500u);
    EXPECT_EQ(c2.bytes_in_use(), 0u);
    M d{A(c2)};
    d.emplace(7, 7);
    swap(c, d);
    EXPECT_TRUE(c.get_allocator() == A(c2));
    EXPECT_TRUE(d.get_allocator() == A(c1));
    EXPECT_EQ(c.size(), 1u);
    EXPECT_EQ(d.size(), 500u);
  }
  EXPECT_EQ(c1.bytes_in_use(), 0u);
  EXPECT_EQ(c2.bytes_in_use(), 0u);
}

TYPED_TEST(MapApiCopyable, CopyAssignment) {
  using M = typename TestFixture::M;
  for (int n : {0, 5, 100, 2000}) {
    for (int old : {0, 3, 1500}) {
      SCOPED_TRACE("n=" + std::to_string(n) + " old=" + std::to_string(old));
      const M src = this->make(n);
      M dst;
      for (int i = 0; i < old; ++i) dst.emplace(this->key(100000 + i), this->value(i));
      dst = src;
      EXPECT_TRUE(this->holds_range(dst, 0, n));
      test_peer::check_invariants(dst);
      EXPECT_TRUE(this->holds_range(src, 0, n));
    }
  }
  M self = this->make(50);
  M& alias = self;
  self = alias;
  EXPECT_TRUE(this->holds_range(self, 0, 50)) << "self copy-assignment";
}

TYPED_TEST(MapApi, MoveAssignment) {
  using M = typename TestFixture::M;
  for (int n : {0, 5, 2000}) {
    for (int old : {0, 3, 1500}) {
      SCOPED_TRACE("n=" + std::to_string(n) + " old=" + std::to_string(old));
      M src = this->make(n);
      M dst;
      for (int i = 0; i < old; ++i) dst.emplace(this->key(100000 + i), this->value(i));
      dst = std::move(src);
      EXPECT_TRUE(this->holds_range(dst, 0, n));
      test_peer::check_invariants(dst);
      src.clear();
      src.emplace(this->key(3), this->value(3));
      EXPECT_TRUE(this->holds_range(src, 3, 4)) << "moved-from map is reusable";
    }
  }
}

TYPED_TEST(MapApi, InsertValueAndRvalue) {
  using M = typename TestFixture::M;
  using VT = typename M::value_type;
  M m;
  for (int i = 0; i < 500; ++i) {
    VT v(this->key(i), this->value(i));
    auto [it, inserted] = m.insert(std::move(v));
    ASSERT_TRUE(inserted) << "insert(" << describe(this->key(i)) << ") of a new key";
    ASSERT_TRUE(same_value(it->second, TypeParam::expected(i)));
    ASSERT_EQ(m.size(), static_cast<std::size_t>(i + 1));
  }
  // A duplicate is not inserted and does not change the value.
  auto [it, inserted] = m.insert(VT(this->key(7), this->value(8)));
  EXPECT_FALSE(inserted);
  EXPECT_TRUE(it->first == this->key(7));
  EXPECT_TRUE(same_value(it->second, TypeParam::expected(7)));
  if constexpr (TestFixture::copyable) {
    const VT cv(this->key(1000), this->value(1000));
    auto [cit, cins] = m.insert(cv);  // const value_type&
    EXPECT_TRUE(cins);
    EXPECT_TRUE(cit->first == this->key(1000));
    auto [dit, dins] = m.insert(cv);
    EXPECT_FALSE(dins);
    EXPECT_TRUE(dit == cit);
    m.erase(this->key(1000));
  }
  EXPECT_TRUE(this->holds_range(m, 0, 500));
  test_peer::check_invariants(m);
}

TYPED_TEST(MapApi, InsertConvertiblePair) {
  using M = typename TestFixture::M;
  M m;
  // std::pair<K, T> (non-const key) goes through the template insert(P&&).
  auto [it, inserted] = m.insert(std::make_pair(this->key(1), this->value(1)));
  EXPECT_TRUE(inserted);
  EXPECT_TRUE(same_value(it->second, TypeParam::expected(1)));
  auto [it2, inserted2] = m.insert(std::make_pair(this->key(1), this->value(2)));
  EXPECT_FALSE(inserted2);
  EXPECT_TRUE(it2 == it);
  auto hit = m.insert(m.end(), std::make_pair(this->key(2), this->value(2)));
  EXPECT_TRUE(hit->first == this->key(2));
  EXPECT_TRUE(this->holds_range(m, 1, 3));
  if constexpr (std::is_same_v<typename M::key_type, int> &&
                std::is_same_v<typename M::mapped_type, int>) {
    auto [it3, inserted3] = m.insert(std::pair<long, long>(3, TypeParam::expected(3)));
    EXPECT_TRUE(inserted3);
    EXPECT_EQ(it3->second, TypeParam::expected(3));
  }
}

TYPED_TEST(MapApi, InsertWithHint) {
  using M = typename TestFixture::M;
  using VT = typename M::value_type;
  M m;
  for (int i = 0; i < 300; ++i) {
    auto hint = (i % 3 == 0) ? m.begin() : (i % 3 == 1) ? m.end() : m.find(this->key(i - 1));
    auto it = m.insert(hint, VT(this->key(i), this->value(i)));
    ASSERT_TRUE(it != m.end());
    ASSERT_TRUE(it->first == this->key(i));
  }
  // Inserting an existing key with a hint returns the existing element, unchanged.
  auto it = m.insert(m.cbegin(), VT(this->key(5), this->value(6)));
  EXPECT_TRUE(it->first == this->key(5));
  EXPECT_TRUE(same_value(it->second, TypeParam::expected(5)));
  if constexpr (TestFixture::copyable) {
    const VT cv(this->key(300), this->value(300));
    auto cit = m.insert(m.cend(), cv);
    EXPECT_TRUE(cit->first == this->key(300));
  } else {
    m.emplace(this->key(300), this->value(300));
  }
  EXPECT_TRUE(this->holds_range(m, 0, 301));
  test_peer::check_invariants(m);
}

TYPED_TEST(MapApiCopyable, InsertRangeAndInitializerList) {
  using M = typename TestFixture::M;
  std::vector<typename M::value_type> src;
  for (int i = 0; i < 1000; ++i) src.emplace_back(this->key(i), this->value(i));
  M m;
  m.emplace(this->key(0), this->value(0));
  m.insert(src.begin(), src.end());
  EXPECT_TRUE(this->holds_range(m, 0, 1000));
  m.insert({{this->key(1000), this->value(1000)},
            {this->key(1001), this->value(1001)},
            {this->key(3), this->value(4)}});
  EXPECT_TRUE(this->holds_range(m, 0, 1002)) << "insert(initializer_list) must not overwrite";
  test_peer::check_invariants(m);
}

TYPED_TEST(MapApi, EmplaceAndEmplaceHint) {
  using M = typename TestFixture::M;
  M m;
  for (int i = 0; i < 400; ++i) {
    auto [it, inserted] = m.emplace(this->key(i), this->value(i));
    ASSERT_TRUE(inserted);
    ASSERT_TRUE(it->first == this->key(i));
  }
  auto [it, inserted] = m.emplace(this->key(10), this->value(11));
  EXPECT_FALSE(inserted);
  EXPECT_TRUE(same_value(it->second, TypeParam::expected(10)));

  auto [pit, pins] = m.emplace(std::piecewise_construct, std::forward_as_tuple(this->key(400)),
                               std::forward_as_tuple(this->value(400)));
  EXPECT_TRUE(pins);
  EXPECT_TRUE(pit->first == this->key(400));
  typename M::value_type whole(this->key(401), this->value(401));
  EXPECT_TRUE(m.emplace(std::move(whole)).second);

  for (int i = 402; i < 600; ++i) {
    auto hit = m.emplace_hint(i % 2 ? m.cbegin() : m.cend(), this->key(i), this->value(i));
    ASSERT_TRUE(hit->first == this->key(i));
  }
  auto dup = m.emplace_hint(m.cend(), this->key(450), this->value(1));
  EXPECT_TRUE(dup->first == this->key(450));
  EXPECT_TRUE(same_value(dup->second, TypeParam::expected(450)));
  EXPECT_TRUE(this->holds_range(m, 0, 600));
  test_peer::check_invariants(m);
}

TYPED_TEST(MapApi, TryEmplaceAllOverloads) {
  using M = typename TestFixture::M;
  using K = typename TestFixture::K;
  M m;
  for (int i = 0; i < 200; ++i) {
    const K k = this->key(i);
    switch (i % 4) {
      case 0: {
        auto [it, ins] = m.try_emplace(k, this->value(i));  // const key&
        ASSERT_TRUE(ins);
        ASSERT_TRUE(it->first == k);
        break;
      }
      case 1: {
        K kk = k;
        auto [it, ins] = m.try_emplace(std::move(kk), this->value(i));  // key&&
        ASSERT_TRUE(ins);
        ASSERT_TRUE(it->first == k);
        break;
      }
      case 2: {
        auto it = m.try_emplace(m.cbegin(), k, this->value(i));  // hint, const key&
        ASSERT_TRUE(it->first == k);
        break;
      }
      case 3: {
        K kk = k;
        auto it = m.try_emplace(m.cend(), std::move(kk), this->value(i));  // hint, key&&
        ASSERT_TRUE(it->first == k);
        break;
      }
    }
  }
  EXPECT_TRUE(this->holds_range(m, 0, 200));

  // The key exists: nothing happens, and neither the key nor the arguments are moved from.
  for (int i = 0; i < 4; ++i) {
    K k = this->key(i);
    typename M::mapped_type v = this->value(999);
    switch (i) {
      case 0: {
        auto [it, ins] = m.try_emplace(k, std::move(v));
        EXPECT_FALSE(ins);
        EXPECT_TRUE(same_value(it->second, TypeParam::expected(0)));
        break;
      }
      case 1: {
        auto [it, ins] = m.try_emplace(std::move(k), std::move(v));
        EXPECT_FALSE(ins);
        EXPECT_TRUE(same_value(it->second, TypeParam::expected(1)));
        break;
      }
      case 2:
        m.try_emplace(m.cbegin(), k, std::move(v));
        break;
      case 3:
        m.try_emplace(m.cbegin(), std::move(k), std::move(v));
        break;
    }
    EXPECT_TRUE(k == this->key(i)) << "try_emplace moved from the key of an existing element";
    EXPECT_TRUE(same_value(v, TypeParam::expected(999)))
        << "try_emplace on existing key " << describe(this->key(i))
        << " moved from its argument: got " << describe(v);
  }
  EXPECT_TRUE(this->holds_range(m, 0, 200));
  // try_emplace with no arguments value-initializes.
  auto [it, ins] = m.try_emplace(this->key(500));
  EXPECT_TRUE(ins);
  EXPECT_TRUE(it->second == typename M::mapped_type{});
  test_peer::check_invariants(m);
}

TYPED_TEST(MapApi, InsertOrAssignAllOverloads) {
  using M = typename TestFixture::M;
  using K = typename TestFixture::K;
  M m;
  for (int round = 0; round < 2; ++round) {
    const int offset = round == 0 ? 0 : 1000;  // first inserts, then assigns
    for (int i = 0; i < 200; ++i) {
      const K k = this->key(i);
      switch (i % 4) {
        case 0: {
          auto [it, ins] = m.insert_or_assign(k, this->value(i + offset));
          ASSERT_EQ(ins, round == 0);
          ASSERT_TRUE(same_value(it->second, TypeParam::expected(i + offset)));
          break;
        }
        case 1: {
          K kk = k;
          auto [it, ins] = m.insert_or_assign(std::move(kk), this->value(i + offset));
          ASSERT_EQ(ins, round == 0);
          ASSERT_TRUE(same_value(it->second, TypeParam::expected(i + offset)));
          break;
        }
        case 2: {
          auto it = m.insert_or_assign(m.cbegin(), k, this->value(i + offset));
          ASSERT_TRUE(same_value(it->second, TypeParam::expected(i + offset)));
          break;
        }
        case 3: {
          K kk = k;
          auto it = m.insert_or_assign(m.cend(), std::move(kk), this->value(i + offset));
          ASSERT_TRUE(same_value(it->second, TypeParam::expected(i + offset)));
          break;
        }
      }
    }
    ASSERT_EQ(m.size(), 200u);
  }
  for (int i = 0; i < 200; ++i) {
    auto it = m.find(this->key(i));
    ASSERT_TRUE(it != m.end());
    EXPECT_TRUE(same_value(it->second, TypeParam::expected(i + 1000)))
        << "find(" << describe(this->key(i)) << ") got " << describe(it->second) << " want "
        << describe(TypeParam::expected(i + 1000));
  }
  test_peer::check_invariants(m);
}

TYPED_TEST(MapApi, SubscriptOperator) {
  using M = typename TestFixture::M;
  using K = typename TestFixture::K;
  M m;
  for (int i = 0; i < 300; ++i) {
    if (i % 2) {
      m[this->key(i)] = this->value(i);  // const key&
    } else {
      K k = this->key(i);
      m[std::move(k)] = this->value(i);  // key&&
    }
  }
  EXPECT_TRUE(this->holds_range(m, 0, 300));
  // operator[] on a missing key value-initializes; on an existing key it returns the element.
  const auto& fresh = m[this->key(300)];
  EXPECT_TRUE(fresh == typename M::mapped_type{});
  EXPECT_EQ(m.size(), 301u);
  auto* addr = &m[this->key(5)];
  EXPECT_EQ(addr, &m.find(this->key(5))->second);
  EXPECT_EQ(m.size(), 301u);
  test_peer::check_invariants(m);
}

TYPED_TEST(MapApi, AtThrowsOutOfRangeForMissingKey) {
  using M = typename TestFixture::M;
  M m = this->make(100);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(same_value(m.at(this->key(i)), TypeParam::expected(i)));
  const M& cm = m;
  EXPECT_TRUE(same_value(cm.at(this->key(42)), TypeParam::expected(42)));
  EXPECT_THROW((void)m.at(this->key(100)), std::out_of_range);
  EXPECT_THROW((void)cm.at(this->key(-1)), std::out_of_range);
  m.at(this->key(3)) = this->value(4);
  EXPECT_TRUE(same_value(m.find(this->key(3))->second, TypeParam::expected(4)));
  EXPECT_EQ(m.size(), 100u);
}

TYPED_TEST(MapApi, FindContainsCountEqualRange) {
  using M = typename TestFixture::M;
  M m = this->make(1000);
  const M& cm = m;
  for (int i = -50; i < 1050; ++i) {
    const bool present = i >= 0 && i < 1000;
    const auto k = this->key(i);
    auto it = m.find(k);
    auto cit = cm.find(k);
    ASSERT_EQ(it != m.end(), present) << "find(" << describe(k) << ")";
    ASSERT_EQ(cit != cm.end(), present) << "const find(" << describe(k) << ")";
    ASSERT_EQ(m.contains(k), present) << "contains(" << describe(k) << ")";
    ASSERT_EQ(m.count(k), present ? 1u : 0u) << "count(" << describe(k) << ")";
    auto [first, last] = m.equal_range(k);
    auto [cfirst, clast] = cm.equal_range(k);
    if (present) {
      ASSERT_TRUE(first == it);
      ASSERT_TRUE(last == std::next(it));
      ASSERT_TRUE(cfirst == cit);
      ASSERT_TRUE(clast == std::next(cit));
      ASSERT_TRUE(same_value(it->second, TypeParam::expected(i)));
    } else {
      ASSERT_TRUE(first == m.end() && last == m.end());
      ASSERT_TRUE(cfirst == cm.end() && clast == cm.end());
    }
  }
}

TYPED_TEST(MapApi, EraseByKey) {
  using M = typename TestFixture::M;
  M m = this->make(2000);
  for (int i = 0; i < 2000; i += 2) ASSERT_EQ(m.erase(this->key(i)), 1u) << "erase(" << i << ")";
  for (int i = 0; i < 2000; i += 2)
    ASSERT_EQ(m.erase(this->key(i)), 0u) << "erase(" << i << ") again";
  EXPECT_EQ(m.erase(this->key(-5)), 0u);
  EXPECT_EQ(m.size(), 1000u);
  for (int i = 1; i < 2000; i += 2) ASSERT_TRUE(this->has(m, i));
  for (int i = 0; i < 2000; i += 2) ASSERT_FALSE(m.contains(this->key(i)));
  test_peer::check_invariants(m);
  for (int i = 1; i < 2000; i += 2) ASSERT_EQ(m.erase(this->key(i)), 1u);
  EXPECT_TRUE(m.empty());
  EXPECT_TRUE(m.begin() == m.end());
  test_peer::check_invariants(m);
}

TYPED_TEST(MapApi, EraseByIteratorReturnsNext) {
  using M = typename TestFixture::M;
  M m = this->make(1000);
  // Erase every element whose index is divisible by 3, through iterator and const_iterator.
  std::size_t erased = 0;
  bool use_const = false;
  for (auto it = m.begin(); it != m.end();) {
    const auto k = it->first;
    bool erase = false;
    for (int i = 0; i < 1000; i += 3) erase |= (k == this->key(i));
    if (erase) {
      auto expected_next = std::next(it);
      typename M::iterator next;
      if (use_const) {
        typename M::const_iterator cit = it;
        next = m.erase(cit);
      } else {
        next = m.erase(it);
      }
      use_const = !use_const;
      ASSERT_TRUE(next == expected_next) << "erase(it) must return the iterator after it";
      ++erased;
      it = next;
    } else {
      ++it;
    }
  }
  EXPECT_EQ(erased, 334u);
  for (int i = 0; i < 1000; ++i) {
    if (i % 3 == 0) {
      ASSERT_FALSE(m.contains(this->key(i))) << "erased key " << i << " still found";
    } else {
      ASSERT_TRUE(this->has(m, i));
    }
  }
  test_peer::check_invariants(m);
}

TYPED_TEST(MapApi, EraseIteratorRange) {
  using M = typename TestFixture::M;
  M m = this->make(500);
  // Empty range.
  auto r = m.erase(m.cbegin(), m.cbegin());
  EXPECT_TRUE(r == m.begin());
  EXPECT_EQ(m.size(), 500u);
  // A prefix of 100 elements, in iteration order.
  std::vector<typename M::key_type> prefix;
  auto last = m.cbegin();
  for (int i = 0; i < 100; ++i) prefix.push_back((last++)->first);
  const auto after = last->first;
  auto ret = m.erase(m.cbegin(), last);
  ASSERT_TRUE(ret != m.end());
  EXPECT_TRUE(ret->first == after) << "erase(first, last) must return last";
  EXPECT_EQ(m.size(), 400u);
  for (const auto& k : prefix) EXPECT_FALSE(m.contains(k));
  test_peer::check_invariants(m);
  // Everything.
  auto end = m.erase(m.cbegin(), m.cend());
  EXPECT_TRUE(end == m.end());
  EXPECT_TRUE(m.empty());
  test_peer::check_invariants(m);
}

TYPED_TEST(MapApi, EraseIfReturnsCountErased) {
  using M = typename TestFixture::M;
  M m = this->make(3000);
  std::unordered_set<typename M::key_type> odd;
  for (int i = 1; i < 3000; i += 2) odd.insert(this->key(i));
  const auto n =
      tide::erase_if(m, [&](const typename M::value_type& kv) { return odd.count(kv.first) != 0; });
  EXPECT_EQ(n, 1500u);
  EXPECT_EQ(m.size(), 1500u);
  for (int i = 0; i < 3000; ++i) {
    if (i % 2) {
      ASSERT_FALSE(m.contains(this->key(i)));
    } else {
      ASSERT_TRUE(this->has(m, i));
    }
  }
  EXPECT_EQ(tide::erase_if(m, [](const auto&) { return false; }), 0u);
  EXPECT_EQ(tide::erase_if(m, [](const auto&) { return true; }), 1500u);
  EXPECT_TRUE(m.empty());
  test_peer::check_invariants(m);
}

TYPED_TEST(MapApi, ClearThenReuse) {
  using M = typename TestFixture::M;
  M m = this->make(2000);
  m.clear();
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.size(), 0u);
  EXPECT_TRUE(m.begin() == m.end());
  EXPECT_FALSE(m.contains(this->key(5)));
  test_peer::check_invariants(m);
  for (int i = 0; i < 100; ++i) m.emplace(this->key(i), this->value(i));
  EXPECT_TRUE(this->holds_range(m, 0, 100));
  m.clear();
  m.clear();
  EXPECT_TRUE(m.empty());
}

TYPED_TEST(MapApi, SwapMemberAndStd) {
  using M = typename TestFixture::M;
  M a = this->make(1000);
  M b;
  for (int i = 5000; i < 5010; ++i) b.emplace(this->key(i), this->value(i));
  a.swap(b);
  EXPECT_TRUE(this->holds_range(a, 5000, 5010));
  EXPECT_TRUE(this->holds_range(b, 0, 1000));
  std::swap(a, b);
  EXPECT_TRUE(this->holds_range(a, 0, 1000));
  EXPECT_TRUE(this->holds_range(b, 5000, 5010));
  using std::swap;
  swap(a, b);  // ADL
  EXPECT_TRUE(this->holds_range(a, 5000, 5010));
  test_peer::check_invariants(a);
  test_peer::check_invariants(b);
  M empty;
  swap(a, empty);
  EXPECT_TRUE(a.empty());
  EXPECT_TRUE(this->holds_range(empty, 5000, 5010));
}

TYPED_TEST(MapApi, ReserveRehashShrinkToFitKeepContents) {
  using M = typename TestFixture::M;
  M m;
  m.reserve(1000);
  EXPECT_TRUE(m.empty());
  test_peer::check_invariants(m);
  for (int i = 0; i < 1000; ++i) m.emplace(this->key(i), this->value(i));
  EXPECT_TRUE(this->holds_range(m, 0, 1000));
  m.rehash(5000);
  EXPECT_TRUE(this->holds_range(m, 0, 1000));
  test_peer::check_invariants(m);
  m.rehash(0);
  EXPECT_TRUE(this->holds_range(m, 0, 1000));
  m.reserve(10);
  EXPECT_TRUE(this->holds_range(m, 0, 1000));
  for (int i = 100; i < 1000; ++i) m.erase(this->key(i));
  m.shrink_to_fit();
  EXPECT_TRUE(this->holds_range(m, 0, 100));
  test_peer::check_invariants(m);
  m.clear();
  m.shrink_to_fit();
  EXPECT_TRUE(m.empty());
  test_peer::check_invariants(m);
}

TYPED_TEST(MapApi, IteratorsAndSizes) {
  using M = typename TestFixture::M;
  for (int n : {0, 1, 7, 8, 9, 64, 1000, 5000}) {
    SCOPED_TRACE("n=" + std::to_string(n));
    M m = this->make(n);
    const M& cm = m;
    EXPECT_EQ(m.size(), static_cast<std::size_t>(n));
    EXPECT_EQ(m.empty(), n == 0);
    EXPECT_EQ(static_cast<std::size_t>(std::distance(m.begin(), m.end())), m.size());
    EXPECT_EQ(static_cast<std::size_t>(std::distance(cm.begin(), cm.end())), m.size());
    EXPECT_EQ(static_cast<std::size_t>(std::distance(m.cbegin(), m.cend())), m.size());
    EXPECT_GE(m.max_size(), m.size());
    typename M::const_iterator ci = m.begin();  // iterator → const_iterator
    EXPECT_TRUE(ci == m.cbegin());
    EXPECT_TRUE(m.begin() == m.cbegin());  // mixed comparison
    if (n > 0) {
      auto it = m.begin();
      auto old = it++;
      EXPECT_TRUE(old == m.begin());
      EXPECT_TRUE(it == std::next(m.begin()));
      EXPECT_TRUE(m.find(old->first) == old);
      // Mutable access through iterators.
      (*old).second = this->value(n + 1);
      EXPECT_TRUE(same_value(m.find(old->first)->second, TypeParam::expected(n + 1)));
    }
    std::size_t visited = 0;
    for (auto& kv : m) {
      static_assert(std::is_const_v<std::remove_reference_t<decltype(kv.first)>>);
      ++visited;
    }
    EXPECT_EQ(visited, m.size());
  }
}

TYPED_TEST(MapApi, EqualityComparison) {
  using M = typename TestFixture::M;
  M a = this->make(300);
  M empty1, empty2;
  EXPECT_TRUE(empty1 == empty2);
  EXPECT_FALSE(empty1 != empty2);
  EXPECT_TRUE(a == a);
  EXPECT_FALSE(a == empty1);
  EXPECT_TRUE(a != empty1);
  if constexpr (TestFixture::copyable) {
    // Same contents, built in the opposite order and with a different history.
    M b;
    for (int i = 1000; i >= 0; --i) b.emplace(this->key(i), this->value(i));
    for (int i = 300; i <= 1000; ++i) b.erase(this->key(i));
    EXPECT_TRUE(a == b);
    EXPECT_FALSE(a != b);
    b[this->key(7)] = this->value(8);  // same keys, one different value
    EXPECT_FALSE(a == b);
    EXPECT_TRUE(a != b);
    b[this->key(7)] = this->value(7);
    EXPECT_TRUE(a == b);
    b.erase(this->key(0));
    b.emplace(this->key(300), this->value(0));  // same size, one different key
    EXPECT_FALSE(a == b);
  }
}

TYPED_TEST(MapApi, Observers) {
  using M = typename TestFixture::M;
  M m = this->make(10);
  typename M::hasher h = m.hash_function();
  typename M::key_equal eq = m.key_eq();
  EXPECT_EQ(h(this->key(3)), typename M::hasher{}(this->key(3)));
  EXPECT_TRUE(eq(this->key(3), this->key(3)));
  EXPECT_FALSE(eq(this->key(3), this->key(4)));
  typename M::allocator_type a = m.get_allocator();
  EXPECT_TRUE(a == typename M::allocator_type{});
}

TEST(MapAllocator, GetAllocatorReturnsTheOneGiven) {
  using A = tide::counting_allocator<std::pair<const int, int>>;
  using M = tide::map<int, int, tide::hash<int>, std::equal_to<int>, A>;
  tide::allocation_counter c;
  M m{A(c)};
  EXPECT_TRUE(m.get_allocator() == A(c));
  EXPECT_EQ(&m.get_allocator().counter(), &c);
  m.emplace(1, 2);
  EXPECT_GT(c.bytes_in_use(), 0u);
  M copy(m);  // select_on_container_copy_construction: the same counter
  EXPECT_EQ(&copy.get_allocator().counter(), &c);
}

TYPED_TEST(MapApi, ManyElementsThroughGrowthAndShrink) {
  using M = typename TestFixture::M;
  // Colliding hashes make every operation linear; keep that variant smaller.
  const int n = std::is_same_v<TypeParam, tide_test::colliding_hash_map> ? 3000 : 50000;
  M m;
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(m.emplace(this->key(i), this->value(i)).second) << "emplace(" << i << ")";
    if ((i & (i + 1)) == 0) test_peer::check_invariants(m);
  }
  EXPECT_TRUE(this->holds_range(m, 0, n));
  test_peer::check_invariants(m);
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(m.erase(this->key(i)), 1u) << "erase(" << i << ")";
    if ((i & (i + 1)) == 0) test_peer::check_invariants(m);
  }
  EXPECT_TRUE(m.empty());
  test_peer::check_invariants(m);
}

// ---- Heterogeneous lookup ----------------------------------------------------------------------

TEST(MapHeterogeneous, StringViewAndCharPointerLookup) {
  using M = tide::map<std::string, int, tide::hash<std::string>, std::equal_to<>>;
  static_assert(
      requires { typename tide::hash<std::string>::is_transparent; },
      "tide::hash<std::string> is transparent");
  M m;
  for (int i = 0; i < 1000; ++i) m.emplace(tide_test::string_key(static_cast<std::uint64_t>(i)), i);
  for (int i = 0; i < 1000; ++i) {
    const std::string s = tide_test::string_key(static_cast<std::uint64_t>(i));
    const std::string_view sv = s;
    const char* cs = s.c_str();
    auto it = m.find(sv);
    ASSERT_TRUE(it != m.end()) << "find(string_view " << s << ") got end() want " << i;
    EXPECT_EQ(it->second, i);
    auto it2 = m.find(cs);
    ASSERT_TRUE(it2 != m.end()) << "find(const char* " << s << ") got end() want " << i;
    EXPECT_TRUE(it2 == it);
    EXPECT_TRUE(m.contains(sv));
    EXPECT_TRUE(m.contains(cs));
    EXPECT_EQ(m.count(sv), 1u);
    EXPECT_EQ(m.count(cs), 1u);
    auto [first, last] = m.equal_range(sv);
    EXPECT_TRUE(first == it);
    EXPECT_TRUE(last == std::next(it));
    const M& cm = m;
    EXPECT_TRUE(cm.find(sv) == cm.find(s));
  }
  EXPECT_TRUE(m.find(std::string_view("missing")) == m.end());
  EXPECT_FALSE(m.contains("missing"));
  EXPECT_EQ(m.count(std::string_view("")), 0u);
  auto [f, l] = m.equal_range(std::string_view("missing"));
  EXPECT_TRUE(f == m.end() && l == m.end());

  for (int i = 0; i < 1000; i += 2) {
    const std::string s = tide_test::string_key(static_cast<std::uint64_t>(i));
    if (i % 4 == 0) {
      ASSERT_EQ(m.erase(std::string_view(s)), 1u) << "erase(string_view " << s << ")";
    } else {
      ASSERT_EQ(m.erase(s.c_str()), 1u) << "erase(const char* " << s << ")";
    }
  }
  EXPECT_EQ(m.erase(std::string_view("missing")), 0u);
  EXPECT_EQ(m.size(), 500u);
  for (int i = 0; i < 1000; ++i)
    EXPECT_EQ(m.contains(tide_test::string_key(static_cast<std::uint64_t>(i))), i % 2 == 1);
  tide::detail::test_peer::check_invariants(m);
}

// ---- tide::set ---------------------------------------------------------------------------------

TEST(SetApi, IntBasics) {
  tide::set<int> s;
  EXPECT_TRUE(s.empty());
  for (int i = 0; i < 5000; ++i) {
    auto [it, inserted] = s.insert(i * 3);
    ASSERT_TRUE(inserted);
    ASSERT_EQ(*it, i * 3);
  }
  EXPECT_FALSE(s.insert(9).second);
  EXPECT_TRUE(s.emplace(-1).second);
  EXPECT_EQ(s.size(), 5001u);
  std::unordered_set<int> ref;
  for (int i = 0; i < 5000; ++i) ref.insert(i * 3);
  ref.insert(-1);
  EXPECT_TRUE(tide_test::same_set_contents(s, ref));
  for (int i = 0; i < 15000; ++i) {
    EXPECT_EQ(s.contains(i), ref.count(i) == 1) << "contains(" << i << ")";
    EXPECT_EQ(s.count(i), ref.count(i)) << "count(" << i << ")";
  }
  for (int i = 0; i < 5000; i += 2) {
    ASSERT_EQ(s.erase(i * 3), 1u);
    ref.erase(i * 3);
  }
  EXPECT_TRUE(tide_test::same_set_contents(s, ref));
  // The erase-while-iterating idiom.
  for (auto it = s.begin(); it != s.end();) {
    if (*it % 2 == 0) {
      ref.erase(*it);
      it = s.erase(it);
    } else {
      ++it;
    }
  }
  EXPECT_TRUE(tide_test::same_set_contents(s, ref));
  EXPECT_EQ(tide::erase_if(s, [](int x) { return x < 0; }), 1u);
  ref.erase(-1);
  EXPECT_TRUE(tide_test::same_set_contents(s, ref));
  tide::detail::test_peer::check_invariants(s);
  tide::set<int> copy(s);
  EXPECT_TRUE(copy == s);
  copy.insert(100001);
  EXPECT_TRUE(copy != s);
  tide::set<int> init{1, 2, 3, 2};
  EXPECT_EQ(init.size(), 3u);
  tide::set<int> init2{3, 2, 1};
  EXPECT_TRUE(init == init2);
  s.clear();
  EXPECT_TRUE(s.empty());
  EXPECT_TRUE(s.begin() == s.end());
}

TEST(SetApi, StringBasicsAndHeterogeneousLookup) {
  tide::set<std::string, tide::hash<std::string>, std::equal_to<>> s;
  std::unordered_set<std::string> ref;
  for (int i = 0; i < 2000; ++i) {
    const auto k = tide_test::string_key(static_cast<std::uint64_t>(i));
    s.insert(k);
    ref.insert(k);
  }
  EXPECT_TRUE(tide_test::same_set_contents(s, ref));
  const std::string k7 = tide_test::string_key(7);
  EXPECT_TRUE(s.contains(std::string_view(k7)));
  EXPECT_TRUE(s.find(k7.c_str()) != s.end());
  EXPECT_EQ(s.erase(std::string_view(k7)), 1u);
  EXPECT_FALSE(s.contains(k7));
  EXPECT_EQ(s.size(), 1999u);
  auto first = s.begin();
  const std::string v = *first;
  auto next = s.erase(first);
  EXPECT_FALSE(s.contains(v));
  EXPECT_EQ(s.size(), 1998u);
  (void)next;
  tide::detail::test_peer::check_invariants(s);
}

// A set's iterators are constant, so moving its entries one by one into a set with an unequal
// allocator did not compile (the allocator-extended move constructor and, with a
// non-propagating allocator such as std::pmr's, move assignment).
TEST(SetApi, MoveWithUnequalAllocatorsRegression) {
  using A = std::pmr::polymorphic_allocator<std::string>;
  using S = tide::set<std::string, tide::hash<std::string>, std::equal_to<std::string>, A>;
  std::pmr::unsynchronized_pool_resource r1, r2, r3;
  S src{A(&r1)};
  for (int i = 0; i < 1000; ++i) src.insert(tide_test::string_key(static_cast<std::uint64_t>(i)));
  S moved(std::move(src), A(&r2));
  EXPECT_TRUE(moved.get_allocator() == A(&r2));
  EXPECT_EQ(moved.size(), 1000u);
  S assigned{A(&r3)};
  assigned.insert("x");
  assigned = std::move(moved);
  EXPECT_TRUE(assigned.get_allocator() == A(&r3)) << "pmr allocators do not propagate";
  EXPECT_EQ(assigned.size(), 1000u);
  for (int i = 0; i < 1000; ++i) {
    const auto k = tide_test::string_key(static_cast<std::uint64_t>(i));
    ASSERT_TRUE(assigned.contains(k)) << "contains(" << k << ") got false after the moves";
  }
  EXPECT_FALSE(assigned.contains("x"));
  tide::detail::test_peer::check_invariants(assigned);
}

}  // namespace
