// Deliberately bad hash functions: the map must stay correct (if slower) with them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tide_test {

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
