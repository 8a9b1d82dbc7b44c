// Hash functions for tests: deliberately bad ones (the map must stay correct, if slower, with
// them), and tide's integer hash with a seed the test chooses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include <tide/hash.hpp>

namespace tide_test {

// tide::hash's integer mixing with a fixed seed instead of the per-process (ASLR) one: a test
// whose figures depend on where keys land gives the same result in every run.
struct fixed_seed_hash {
  using is_avalanching = std::true_type;
  std::uint64_t seed = 0;
  std::size_t operator()(std::uint64_t k) const noexcept {
    return tide::detail::hash_word_with_seed(k, seed);
  }
};

// Only `Distinct` different hash values: key % Distinct. Every lookup probes long chains and
// no directory split can separate keys with equal hashes.
template <class K, std::size_t Distinct = 4>
struct colliding_hash {
  std::size_t operator()(const K& k) const noexcept {
    return static_cast<std::size_t>(static_cast<std::uint64_t>(k) % Distinct);
  }
};

template <std::size_t Distinct>
struct colliding_hash<std::string, Distinct> {
  std::size_t operator()(const std::string& s) const noexcept {
    return std::hash<std::string_view>{}(s) % Distinct;
  }
};

// The identity: what std::hash<uint64_t> is in libstdc++. Keys that share low bits collide.
struct identity_hash {
  std::size_t operator()(std::uint64_t k) const noexcept { return static_cast<std::size_t>(k); }
};

}  // namespace tide_test
