// The lab's keys, computed from their index so no key list takes memory. See docs/lab.md.
//
//   u64     splitmix64(i): a bijection, so distinct indices give distinct keys.
//   string  16 to 32 characters of [0-9A-Za-z]: the 11 base-62 digits of splitmix64(i)
//           (distinct for distinct i), then 5 to 21 more characters drawn from i. Longer than
//           libstdc++'s 15-character small-string buffer, so every key lives on the heap, as
//           most string keys in real maps do.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tide_lab {

enum class key_kind { u64, string };

inline std::string_view key_kind_name(key_kind k) { return k == key_kind::u64 ? "u64" : "string"; }

inline std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

template <class K>
K key_at(std::uint64_t i);

template <>
inline std::uint64_t key_at<std::uint64_t>(std::uint64_t i) {
  return splitmix64(i);
}

template <>
inline std::string key_at<std::string>(std::uint64_t i) {
  static constexpr char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  constexpr std::uint64_t base = sizeof(digits) - 1;
  std::uint64_t unique = splitmix64(i);
  std::uint64_t filler = splitmix64(~i);
  const std::size_t extra = 5 + filler % 17;
  filler /= 17;
  std::string s;
  s.reserve(11 + extra);
  for (int d = 0; d < 11; ++d, unique /= base) s.push_back(digits[unique % base]);
  for (std::size_t j = 0; j < extra; ++j) {
    if (filler < base) filler = splitmix64(filler + j + i);
    s.push_back(digits[filler % base]);
    filler /= base;
  }
  return s;
}

// The index-th of a deterministic pseudo-random stream: "is entry i in the erased 90%?" etc.
inline std::uint64_t random_at(std::uint64_t seed, std::uint64_t index) {
  return splitmix64(seed ^ splitmix64(index));
}

}  // namespace tide_lab
