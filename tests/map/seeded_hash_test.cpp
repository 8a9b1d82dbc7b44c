// tide::hash: seeded, fully mixed integer hashing (keys crafted to collide under an identity
// hash, such as multiples of a large power of two, must not degrade the map), and string
// hashing that agrees across std::string, std::string_view and const char*.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <gtest/gtest.h>
#include <tide/detail/test_peer.hpp>
#include <tide/hash.hpp>
#include <tide/map.hpp>

#include "support/random.hpp"
#include "support/scale.hpp"

namespace {

using tide::detail::test_peer;

std::size_t bytes_for(const std::vector<std::uint64_t>& keys) {
  tide::map<std::uint64_t, std::uint64_t> m;
  for (std::uint64_t k : keys) m.emplace(k, k);
  EXPECT_EQ(m.size(), keys.size());
  for (std::uint64_t k : keys) {
    if (!m.contains(k)) {
      ADD_FAILURE() << "find(" << k << ") got end()";
      break;
    }
  }
  test_peer::check_invariants(m);
  return m.memory().bytes;
}

std::vector<std::uint64_t> multiples(std::size_t n, int shift) {
  std::vector<std::uint64_t> v;
  for (std::uint64_t i = 1; i <= n; ++i) v.push_back(i << shift);
  return v;
}

TEST(SeededHash, KeysCollidingUnderIdentityHashKeepTheMapCompact) {
  const std::size_t n = tide_test::scaled(200000, 50000);
  const std::size_t random_bytes = bytes_for(tide_test::distinct_random_keys(n, 7));
  for (int shift : {12, 20, 32, 40}) {
    SCOPED_TRACE("keys are multiples of 2^" + std::to_string(shift));
    const std::size_t bytes = bytes_for(multiples(n, shift));
    EXPECT_LE(bytes, 2 * random_bytes)
        << n << " multiples of 2^" << shift << " take " << bytes << " bytes, " << n
        << " random keys take " << random_bytes;
  }
  // Sequential keys too.
  std::vector<std::uint64_t> seq(n);
  for (std::size_t i = 0; i < n; ++i) seq[i] = i;
  EXPECT_LE(bytes_for(seq), 2 * random_bytes);
}

TEST(SeededHash, IntegerHashIsNotTheIdentity) {
  tide::hash<std::uint64_t> h;
  int same = 0;
  for (std::uint64_t x = 0; x < 10000; ++x) same += h(x) == x;
  EXPECT_EQ(same, 0) << "tide::hash<uint64_t>(x) == x for " << same << " of 10000 small x";
  EXPECT_NE(h(0), 0u) << "an unseeded mixer maps 0 to 0";
  EXPECT_NE(tide::hash<int>{}(0), 0u);
}

TEST(SeededHash, LowBitsOfSequentialKeysAreNotSequential) {
  tide::hash<std::uint64_t> h;
  const std::uint64_t n = 100000;
  std::uint64_t sequential_steps = 0;
  for (std::uint64_t x = 0; x + 1 < n; ++x)
    sequential_steps += ((h(x) + 1) & 0xff) == (h(x + 1) & 0xff);
  // A random function steps by exactly +1 in the low byte with probability 1/256.
  EXPECT_LT(sequential_steps, n / 128) << "low byte of hash(x+1) == low byte of hash(x) + 1 for "
                                       << sequential_steps << " of " << n << " sequential keys";
}

// The bits a Swiss table uses: the top 7 bits (the control byte fragment) and the low bits.
TEST(SeededHash, MultiplesOf2To32SpreadOverAllFragmentsAndLowBits) {
  tide::hash<std::uint64_t> h;
  const std::size_t n = tide_test::scaled(200000, 50000);
  std::vector<std::size_t> top(128, 0), low(128, 0);
  for (std::uint64_t i = 1; i <= n; ++i) {
    const std::uint64_t x = h(i << 32);
    ++top[x >> 57];
    ++low[x & 127];
  }
  const auto distinct = [](const std::vector<std::size_t>& c) {
    return std::count_if(c.begin(), c.end(), [](std::size_t v) { return v > 0; });
  };
  EXPECT_GE(distinct(top), 126) << "distinct values of hash >> 57";
  EXPECT_GE(distinct(low), 126) << "distinct values of hash & 127";
  // And evenly: no value more than 1.25x the mean (the mean is ~1560 at 200K; sd ~40).
  const double mean = static_cast<double>(n) / 128.0;
  EXPECT_LE(static_cast<double>(*std::max_element(top.begin(), top.end())), 1.25 * mean);
  EXPECT_LE(static_cast<double>(*std::max_element(low.begin(), low.end())), 1.25 * mean);
  // The full 64-bit hashes do not collide.
  std::unordered_set<std::uint64_t> hashes;
  for (std::uint64_t i = 1; i <= n; ++i) hashes.insert(h(i << 32));
  EXPECT_EQ(hashes.size(), n);
}

TEST(SeededHash, FlippingOneInputBitFlipsAboutHalfTheOutputBits) {
  tide::hash<std::uint64_t> h;
  tide_test::rng r(3);
  double total = 0;
  int samples = 0;
  for (int i = 0; i < 2000; ++i) {
    const std::uint64_t x = (i % 2) ? r.next() : static_cast<std::uint64_t>(i) << 20;
    for (int bit = 0; bit < 64; ++bit) {
      total += std::popcount(static_cast<std::uint64_t>(h(x) ^ h(x ^ (std::uint64_t{1} << bit))));
      ++samples;
    }
  }
  const double average = total / samples;
  EXPECT_GT(average, 30.0) << "average output bits flipped per input bit";
  EXPECT_LT(average, 34.0) << "average output bits flipped per input bit";
}

TEST(SeededHash, PointersAlignedTo64BytesSpreadOverLowBits) {
  tide::hash<const int*> h;
  std::set<std::uint64_t> low;
  for (std::uintptr_t i = 1; i <= 10000; ++i)
    low.insert(h(reinterpret_cast<const int*>(i * 64)) & 127);
  EXPECT_GE(low.size(), 126u);
}

enum class color : std::uint32_t { red = 0, green = 1 << 16, blue = 2 << 16 };

TEST(SeededHash, EnumsHash) {
  tide::hash<color> h;
  EXPECT_NE(h(color::red), h(color::green));
  EXPECT_NE(h(color::green), h(color::blue));
  tide::map<color, int> m{{color::red, 1}, {color::green, 2}, {color::blue, 3}};
  EXPECT_EQ(m.at(color::green), 2);
}

TEST(StringHash, StringStringViewAndCharPointerAgree) {
  std::vector<std::string> texts = {"", "a", "ab", "hello", "hello world",
                                    std::string(15, 'x'), std::string(16, 'x'),
                                    std::string(17, 'x'), std::string(1000, 'y')};
  for (std::uint64_t i = 0; i < 1000; ++i) texts.push_back(tide_test::string_key(i));
  for (const std::string& s : texts) {
    const std::size_t a = tide::hash<std::string>{}(s);
    const std::size_t b = tide::hash<std::string_view>{}(std::string_view(s));
    const std::size_t c = tide::hash<const char*>{}(s.c_str());
    EXPECT_EQ(a, b) << "hash<string>(\"" << s << "\") vs hash<string_view>";
    EXPECT_EQ(a, c) << "hash<string>(\"" << s << "\") vs hash<const char*>";
    // The transparent string hash takes every form.
    EXPECT_EQ(tide::hash<std::string>{}(std::string_view(s)), a);
    EXPECT_EQ(tide::hash<std::string>{}(s.c_str()), a);
  }
  // The same text at a different address hashes the same (const char* hashes the text).
  const std::string copy = texts[4];
  EXPECT_EQ(tide::hash<const char*>{}(copy.c_str()), tide::hash<const char*>{}(texts[4].c_str()));
}

TEST(StringHash, DistinctStringsHashDistinctly) {
  std::unordered_set<std::size_t> hashes;
  const std::size_t n = 100000;
  for (std::uint64_t i = 0; i < n; ++i) hashes.insert(tide::hash<std::string>{}(std::to_string(i)));
  EXPECT_EQ(hashes.size(), n) << "64-bit hashes of " << n << " short strings collided";
  // Strings that differ only in their last byte, or only in length, differ.
  EXPECT_NE(tide::hash<std::string>{}(std::string(64, 'a')), tide::hash<std::string>{}(std::string(64, 'a') + 'b'));
  EXPECT_NE(tide::hash<std::string>{}(std::string(1, '\0')), tide::hash<std::string>{}(std::string(2, '\0')));
}

}  // namespace
