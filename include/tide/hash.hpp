// tide::hash<K> — the default hasher of tide's containers. See docs/map.md.
//
// Every result is seeded per process and fully mixed ("avalanching"): each bit of the
// key affects every bit of the hash, so the tables may take the directory index from
// the top bits, the probe position from the middle and the 7-bit h2 from the bottom.
// std::hash<integer> is the identity on libstdc++; keys such as multiples of 2^32 would
// all land in one group with it, so tide never lets an identity hash reach a table:
//   - tide::hash marks itself `is_avalanching`, and mixes integers with a 64x64->128 bit
//     multiply folded to 64 bits (as absl and boost do);
//   - any other Hash a user supplies is mixed once more by the table (see table.hpp).
// Strings hash with XXH3 (libxxhash). The string hasher is transparent: std::string,
// std::string_view and const char* with the same text hash alike, so a map keyed by
// std::string can be searched with a string_view without building a string.
//
// The seed is the address of a variable of this header: it differs between processes
// under ASLR and costs nothing to read (absl does the same). It is not a secret against
// an attacker who can read the process's memory.
#pragma once

#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace tide {
namespace detail {

inline constexpr unsigned char hash_seed_anchor = 0;

inline std::uint64_t hash_seed() noexcept {
  return reinterpret_cast<std::uintptr_t>(&hash_seed_anchor) * 0x9E3779B97F4A7C15ull;
}

// 64x64 -> 128-bit multiply, high and low halves folded together.
inline std::uint64_t mix(std::uint64_t a, std::uint64_t b) noexcept {
  __uint128_t r = static_cast<__uint128_t>(a) * b;
  return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
}

inline std::uint64_t hash_word_with_seed(std::uint64_t x, std::uint64_t seed) noexcept {
  return mix(x ^ seed, 0xBF58476D1CE4E5B9ull);
}

inline std::uint64_t hash_word(std::uint64_t x) noexcept {
  return hash_word_with_seed(x, hash_seed());
}

inline std::uint64_t hash_bytes(const void* data, std::size_t len) noexcept {
  return XXH3_64bits_withSeed(data, len, hash_seed());
}

template <class T>
concept has_std_hash = requires(const T& v) {
  { std::hash<T>{}(v) } -> std::convertible_to<std::size_t>;
};

}  // namespace detail

/// The default hasher of tide's containers: seeded per process and avalanching (every bit
/// of the key affects every bit of the result), marked by `is_avalanching`.
///
/// This generic case hashes keys that have a std::hash specialisation and mixes the result,
/// so an identity std::hash (libstdc++'s for integers) cannot leak through. Integers, enums,
/// pointers, floating-point numbers, strings and std::pair have their own specialisations.
/// The seed is the address of a variable: it differs between processes under ASLR, so
/// hashes (and a container's iteration order) can differ from one run to the next.
template <class K>
struct hash {
  /// Tells tide's containers that the result is fully mixed (they use it as it is).
  using is_avalanching = std::true_type;
  /// The seeded hash of the argument.
  std::size_t operator()(const K& key) const
      noexcept(noexcept(std::hash<K>{}(key)))
    requires detail::has_std_hash<K>
  {
    return detail::hash_word(static_cast<std::uint64_t>(std::hash<K>{}(key)));
  }
};

/// Integers and enums: a seeded 64x64->128-bit multiply folded to 64 bits.
template <class K>
  requires(std::is_integral_v<K> || std::is_enum_v<K>)
struct hash<K> {
  /// Tells tide's containers that the result is fully mixed (they use it as it is).
  using is_avalanching = std::true_type;
  /// The seeded hash of the argument.
  std::size_t operator()(K key) const noexcept {
    if constexpr (std::is_enum_v<K>) {
      return detail::hash_word(static_cast<std::uint64_t>(static_cast<std::underlying_type_t<K>>(key)));
    } else {
      return detail::hash_word(static_cast<std::uint64_t>(key));
    }
  }
};

/// Pointers: the address, mixed as an integer.
template <class T>
struct hash<T*> {
  /// Tells tide's containers that the result is fully mixed (they use it as it is).
  using is_avalanching = std::true_type;
  /// The seeded hash of the argument.
  std::size_t operator()(T* p) const noexcept {
    return detail::hash_word(reinterpret_cast<std::uintptr_t>(p));
  }
};

/// Floating-point numbers: the bits, with +0.0 and -0.0 hashed alike.
template <class F>
  requires std::is_floating_point_v<F>
struct hash<F> {
  /// Tells tide's containers that the result is fully mixed (they use it as it is).
  using is_avalanching = std::true_type;
  /// The seeded hash of the argument.
  std::size_t operator()(F v) const noexcept {
    if (v == F(0)) v = F(0);  // +0.0 == -0.0 must hash alike
    if constexpr (sizeof(F) <= sizeof(std::uint64_t)) {
      std::uint64_t bits = 0;
      std::memcpy(&bits, &v, sizeof(F));
      return detail::hash_word(bits);
    } else {
      return detail::hash_bytes(&v, sizeof(F));
    }
  }
};

/// Transparent string hashing with XXH3: std::string, std::string_view and C strings of the
/// same text hash alike, so a map keyed by std::string can be searched with a string_view
/// (with a transparent key comparison such as std::equal_to<>).
struct string_hash {
  /// Tells tide's containers that the result is fully mixed (they use it as it is).
  using is_avalanching = std::true_type;
  /// Enables heterogeneous lookup (with a transparent key comparison such as std::equal_to<>).
  using is_transparent = void;
  /// The seeded hash of the argument.
  std::size_t operator()(std::string_view s) const noexcept {
    return detail::hash_bytes(s.data(), s.size());
  }
  /// The seeded hash of the argument.
  std::size_t operator()(const std::string& s) const noexcept {
    return detail::hash_bytes(s.data(), s.size());
  }
  /// The seeded hash of the argument.
  std::size_t operator()(const char* s) const noexcept {
    return detail::hash_bytes(s, std::strlen(s));
  }
};

/// std::string: tide::string_hash.
template <>
struct hash<std::string> : string_hash {};
/// std::string_view: tide::string_hash.
template <>
struct hash<std::string_view> : string_hash {};
/// C strings: hashes the text, not the pointer; equal pointers have equal text, so this stays
/// consistent with std::equal_to<const char*>, and it agrees with hash<std::string>.
template <>
struct hash<const char*> : string_hash {};

/// std::pair: the two members' hashes, combined with a multiply.
template <class A, class B>
struct hash<std::pair<A, B>> {
  /// Tells tide's containers that the result is fully mixed (they use it as it is).
  using is_avalanching = std::true_type;
  /// The seeded hash of the argument.
  std::size_t operator()(const std::pair<A, B>& p) const
      noexcept(noexcept(hash<A>{}(p.first)) && noexcept(hash<B>{}(p.second))) {
    return detail::mix(hash<A>{}(p.first) ^ 0x2545F4914F6CDD1Dull,
                       hash<B>{}(p.second) | 1);
  }
};

}  // namespace tide
