// Deterministic random numbers and keys for tests: a fixed algorithm (splitmix64), so a
// seed gives the same sequence with every standard library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tide_test {

class rng {
 public:
  explicit rng(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) (n > 0), by Lemire's multiply-shift (bias < n / 2^64, irrelevant here).
  std::uint64_t below(std::uint64_t n) {
    __extension__ using u128 = unsigned __int128;
    return static_cast<std::uint64_t>((static_cast<u128>(next()) * n) >> 64);
  }
  // True with probability num/den.
  bool chance(std::uint64_t num, std::uint64_t den) { return below(den) < num; }

 private:
  std::uint64_t state_;
};

// A bijection of 64-bit integers that looks random (splitmix64's finalizer after an odd
// multiply and a seeded add): distinct i give distinct keys, with no set to check.
inline std::uint64_t scramble(std::uint64_t i, std::uint64_t seed) {
  std::uint64_t z = i * 0x9e3779b97f4a7c15ull + seed;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// n distinct random 64-bit keys, in a fixed order for a given seed.
inline std::vector<std::uint64_t> distinct_random_keys(std::size_t n, std::uint64_t seed) {
  std::vector<std::uint64_t> keys(n);
  for (std::size_t i = 0; i < n; ++i) keys[i] = scramble(i, seed);
  return keys;
}

// A string key for integer i: distinct for distinct i, lengths from 1 to ~40 characters, so
// short (SSO) and heap-allocated strings both occur.
inline std::string string_key(std::uint64_t i) {
  const std::size_t pad = (i * 2654435761u) % 37;  // 0..36 filler characters
  std::string s(pad, static_cast<char>('a' + i % 26));
  s += std::to_string(i);
  s += '#';
  return s;
}

}  // namespace tide_test
