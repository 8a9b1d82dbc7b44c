// tide::bloom: the measured false-positive rate against the sizing model, no false negatives,
// merge, counts, copies and the allocator, and bad arguments.
//
// The rate test uses a fixed, unseeded hash (tide_test::scramble) so every run inserts and
// queries the same bits; tide::hash is seeded per process and is used where only the absence
// of false negatives is checked.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tide/bloom.hpp>
#include <tide/counting_allocator.hpp>
#include <tide/heap_allocator.hpp>
#include <type_traits>
#include <utility>

#include "support/random.hpp"
#include "support/scale.hpp"

namespace {

// splitmix64's finalizer with a fixed seed: avalanching, and the same in every process.
struct fixed_hash {
  using is_avalanching = std::true_type;
  std::size_t operator()(std::uint64_t k) const { return tide_test::scramble(k, 0x5eed); }
};

// The same keys through the identity hash: the filter must mix it itself.
struct identity_hash {
  std::size_t operator()(std::uint64_t k) const { return k; }
};

using fixed_bloom = tide::bloom<std::uint64_t, fixed_hash>;

// Messages must name the argument that was wrong.
template <class F>
void expect_invalid_argument(F f, const std::string& names) {
  try {
    f();
    ADD_FAILURE() << "no exception; want std::invalid_argument naming " << names;
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(names), std::string::npos)
        << "message \"" << e.what() << "\" does not name " << names;
  }
}

class FalsePositiveRate : public ::testing::TestWithParam<double> {};

// expected_items keys inserted, then keys never inserted queried until about 2500 false
// positives are expected (fewer under sanitizers or TIDE_TEST_SCALE < 1). The measured rate
// must be within 10% of expected_fpr(), or within 4 standard deviations of the binomial
// count when the scale leaves too few queries for 10% to be 4 of them.
TEST_P(FalsePositiveRate, WithinTenPercentOfTheModel) {
  const double target = GetParam();
  constexpr std::size_t items = 100'000;
  fixed_bloom f(items, target);
  ASSERT_LE(f.expected_fpr(), target);
  for (std::uint64_t i = 0; i < items; ++i) f.insert(i);

  const double expected_positives = 2500 * tide_test::test_scale();
  const auto queries = static_cast<std::uint64_t>(expected_positives / f.expected_fpr());
  std::uint64_t positives = 0;
  for (std::uint64_t q = 0; q < queries; ++q) positives += f.contains(items + q);

  const double measured = static_cast<double>(positives) / static_cast<double>(queries);
  const double tolerance = std::max(0.10, 4 / std::sqrt(expected_positives));
  std::printf(
      "target %g: blocks %zu, hashes %u, %.2f bits/key, model %.4g, measured %.4g "
      "(%llu of %llu), ratio %.3f\n",
      target, f.blocks(), f.hashes(), static_cast<double>(f.size_in_bytes() * 8) / items,
      f.expected_fpr(), measured, static_cast<unsigned long long>(positives),
      static_cast<unsigned long long>(queries), measured / f.expected_fpr());
  EXPECT_NEAR(measured / f.expected_fpr(), 1.0, tolerance)
      << "measured " << measured << " model " << f.expected_fpr() << " target " << target;
}

INSTANTIATE_TEST_SUITE_P(Bloom, FalsePositiveRate, ::testing::Values(1e-2, 1e-3, 1e-4),
                         [](const auto& info) {
                           return "rate_1e_minus_" + std::to_string(-static_cast<int>(
                                                         std::lround(std::log10(info.param))));
                         });

// The classic formula (1 - e^(-kn/m))^k would promise less than the blocked filter
// delivers; the model must not.
TEST(Bloom, ModelIsAboveTheClassicFormula) {
  for (double target : {1e-2, 1e-3, 1e-4}) {
    fixed_bloom f(100'000, target);
    const double k = f.hashes();
    const double m = static_cast<double>(f.size_in_bytes() * 8);
    const double classic = std::pow(1 - std::exp(-k * 100'000 / m), k);
    EXPECT_GT(f.expected_fpr(), classic) << "target " << target;
  }
}

TEST(Bloom, NoFalseNegatives) {
  const std::size_t n = tide_test::scaled(50'000, 1000);
  for (double rate : {0.5, 1e-2, 1e-5}) {
    tide::bloom<std::uint64_t> f(n, rate);
    const auto keys = tide_test::distinct_random_keys(3 * n, 7);  // overfilled 3x
    for (std::uint64_t k : keys) f.insert(k);
    for (std::uint64_t k : keys) ASSERT_TRUE(f.contains(k)) << "contains(" << k << ") got false";
  }
  tide::bloom<std::string> s(1000, 1e-3);
  for (std::uint64_t i = 0; i < 2000; ++i) s.insert(tide_test::string_key(i));
  for (std::uint64_t i = 0; i < 2000; ++i) ASSERT_TRUE(s.may_contain(tide_test::string_key(i)));
  // tide::hash<std::string> is transparent: string_view and C strings without a std::string.
  const std::string k = tide_test::string_key(5);
  EXPECT_TRUE(s.contains(std::string_view(k)));
  EXPECT_TRUE(s.contains(k.c_str()));
  s.insert(std::string_view("view"));
  EXPECT_TRUE(s.contains(std::string("view")));
}

TEST(Bloom, NonAvalanchingHashIsMixed) {
  // Sequential keys through the identity hash would share a block without the extra mix.
  constexpr std::size_t n = 20'000;
  tide::bloom<std::uint64_t, identity_hash> f(n, 1e-2);
  for (std::uint64_t i = 0; i < n; ++i) f.insert(i);
  std::uint64_t positives = 0;
  constexpr std::uint64_t queries = 200'000;
  for (std::uint64_t q = 0; q < queries; ++q) positives += f.contains(n + q);
  EXPECT_LT(static_cast<double>(positives) / queries, 1.5 * f.expected_fpr());
}

TEST(Bloom, InsertReportsNewKeysAndCounts) {
  constexpr std::size_t n = 10'000;
  fixed_bloom f(n, 1e-3);
  std::size_t fresh = 0;
  for (std::uint64_t i = 0; i < n; ++i) fresh += f.insert(i);
  EXPECT_EQ(f.approximate_count(), fresh);
  // Only false positives at insert time go uncounted: about n * fpr / 2 of them.
  EXPECT_GE(fresh, n - 20);
  for (std::uint64_t i = 0; i < n; ++i) EXPECT_FALSE(f.insert(i)) << "insert(" << i << ") again";
  EXPECT_EQ(f.approximate_count(), fresh);
  EXPECT_NEAR(static_cast<double>(f.estimate_count()), n, 0.03 * n);

  f.clear();
  EXPECT_EQ(f.approximate_count(), 0u);
  EXPECT_EQ(f.estimate_count(), 0u);
  for (std::uint64_t i = 0; i < n; ++i) ASSERT_FALSE(f.contains(i)) << "after clear";
}

TEST(Bloom, Merge) {
  constexpr std::size_t n = 20'000;
  fixed_bloom a(n, 1e-3);
  fixed_bloom b(n, 1e-3);
  for (std::uint64_t i = 0; i < n / 2; ++i) a.insert(i);
  for (std::uint64_t i = n / 2; i < n; ++i) b.insert(i);
  a.merge(b);
  for (std::uint64_t i = 0; i < n; ++i) ASSERT_TRUE(a.contains(i)) << "merged lost " << i;
  EXPECT_NEAR(static_cast<double>(a.approximate_count()), n, 0.03 * n);
  // The merged filter is as good as one built from all the keys.
  std::uint64_t positives = 0;
  constexpr std::uint64_t queries = 500'000;
  for (std::uint64_t q = 0; q < queries; ++q) positives += a.contains(n + q);
  EXPECT_LT(static_cast<double>(positives) / queries, 1.5 * a.expected_fpr());

  fixed_bloom other_size(2 * n, 1e-3);
  fixed_bloom other_rate(n, 1e-2);
  expect_invalid_argument([&] { a.merge(other_size); }, "different shape");
  expect_invalid_argument([&] { a.merge(other_rate); }, "different shape");
}

TEST(Bloom, BadArguments) {
  using bloom = tide::bloom<std::uint64_t>;
  expect_invalid_argument([] { bloom(0, 0.01); }, "expected_items");
  for (double rate : {0.0, 1.0, -0.5, 1.5, std::numeric_limits<double>::quiet_NaN(),
                      std::numeric_limits<double>::infinity()})
    expect_invalid_argument([rate] { bloom(100, rate); }, "false_positive_rate");
  // More than 2^32 blocks (256 GiB): refused before allocating.
  expect_invalid_argument([] { bloom(std::numeric_limits<std::size_t>::max(), 0.01); },
                          "expected_items");
  expect_invalid_argument([] { bloom(std::size_t{1} << 40, 1e-12); }, "false_positive_rate");
}

TEST(Bloom, SmallestFilters) {
  fixed_bloom one(1, 0.5);
  EXPECT_EQ(one.blocks(), 1u);
  EXPECT_FALSE(one.contains(1));
  one.insert(1);
  EXPECT_TRUE(one.contains(1));
  fixed_bloom tiny(1, 1e-9);  // one key, very low rate: many hashes, still one block
  tiny.insert(1);
  EXPECT_TRUE(tiny.contains(1));
  EXPECT_LE(tiny.expected_fpr(), 1e-9);
}

TEST(Bloom, CopyMoveSwapAndAllocator) {
  tide::allocation_counter counter;
  using alloc = tide::counting_allocator<std::uint64_t>;
  using bloom = tide::bloom<std::uint64_t, fixed_hash, alloc>;
  {
    bloom a(5000, 1e-2, alloc(counter));
    EXPECT_EQ(counter.bytes_in_use(), a.size_in_bytes());
    for (std::uint64_t i = 0; i < 5000; ++i) a.insert(i);
    bloom b = a;
    EXPECT_EQ(counter.bytes_in_use(), 2 * a.size_in_bytes());
    for (std::uint64_t i = 0; i < 5000; ++i) ASSERT_TRUE(b.contains(i));
    bloom c = std::move(a);
    EXPECT_EQ(counter.bytes_in_use(), 2 * c.size_in_bytes());
    bloom d(10, 0.5, alloc(counter));
    d.insert(99999);
    swap(c, d);
    EXPECT_TRUE(d.contains(4999));
    EXPECT_TRUE(c.contains(99999));
    c = b;
    EXPECT_TRUE(c.contains(4999));
    EXPECT_EQ(c.approximate_count(), b.approximate_count());
  }
  EXPECT_EQ(counter.bytes_in_use(), 0u);
  EXPECT_EQ(counter.allocations(), counter.deallocations());
}

// On tide's own allocator (which honours the blocks' 64-byte alignment).
TEST(Bloom, OnTideHeap) {
  tide::bloom<std::uint64_t, tide::hash<std::uint64_t>, tide::heap_allocator<std::uint64_t>> f(
      10'000, 1e-3);
  for (std::uint64_t i = 0; i < 10'000; ++i) f.insert(i);
  for (std::uint64_t i = 0; i < 10'000; ++i) ASSERT_TRUE(f.contains(i));
  auto copy = f;
  EXPECT_TRUE(copy.contains(42));
}

}  // namespace
