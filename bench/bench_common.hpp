// Shared by tide's bench programs: the competitors and the keys. See docs/PERFORMANCE.md.
//
// Every map is named by a "kind" with a `map<K, V, Alloc>` alias that puts each library's own
// default hasher in place (tide::hash, absl::Hash, boost::hash, std::hash), so each competitor
// runs as its users run it. Keys come from a fixed-seed std::mt19937_64: every run of every
// program sees the same keys in the same order.
#pragma once

#include <absl/container/flat_hash_map.h>
#include <absl/hash/hash.h>

#include <algorithm>
#include <boost/unordered/unordered_flat_map.hpp>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <time.h>
#include <tide/counting_allocator.hpp>
#include <tide/hash.hpp>
#include <tide/map.hpp>
#include <unordered_map>
#include <utility>
#include <vector>

namespace tide_bench {

template <class K, class V>
using default_alloc = std::allocator<std::pair<const K, V>>;

// ---- The competitors
// -----------------------------------------------------------------------------

struct tide_kind {
  static constexpr std::string_view name = "tide";
  template <class K, class V, class A = default_alloc<K, V>>
  using map = tide::map<K, V, tide::hash<K>, std::equal_to<K>, A>;
};

struct absl_kind {
  static constexpr std::string_view name = "absl";
  template <class K, class V, class A = default_alloc<K, V>>
  using map = absl::flat_hash_map<K, V, absl::Hash<K>, std::equal_to<K>, A>;
};

struct boost_kind {
  static constexpr std::string_view name = "boost";
  template <class K, class V, class A = default_alloc<K, V>>
  using map = boost::unordered_flat_map<K, V, boost::hash<K>, std::equal_to<K>, A>;
};

struct std_kind {
  static constexpr std::string_view name = "std";
  template <class K, class V, class A = default_alloc<K, V>>
  using map = std::unordered_map<K, V, std::hash<K>, std::equal_to<K>, A>;
};

// Calls f.template operator()<Kind>() for every competitor, tide first.
template <class F>
void for_each_kind(F&& f) {
  f.template operator()<tide_kind>();
  f.template operator()<absl_kind>();
  f.template operator()<boost_kind>();
  f.template operator()<std_kind>();
}

// A map of Kind on a counting allocator that records into `counter`.
template <class Kind, class K, class V>
using counted_map =
    typename Kind::template map<K, V, tide::counting_allocator<std::pair<const K, V>>>;

template <class Map>
Map make_counted(tide::allocation_counter& counter) {
  return Map(typename Map::allocator_type(counter));
}

// ---- Keys
// ------------------------------------------------------------------------------------------

inline constexpr std::uint64_t default_seed = 0x7469646562656e63ull;  // "tidebenc"

// Random key generation, one function per key type.
inline std::uint64_t random_key(std::mt19937_64& rng, std::uint64_t*) { return rng(); }

// 16 to 32 characters from [0-9A-Za-z]: longer than libstdc++'s 15-byte small-string buffer,
// so every key lives on the heap, as most string keys in real maps do.
inline std::string random_key(std::mt19937_64& rng, std::string*) {
  static constexpr char alphabet[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::uniform_int_distribution<std::size_t> length(16, 32);
  std::uniform_int_distribution<std::size_t> letter(0, sizeof(alphabet) - 2);
  std::string s(length(rng), '\0');
  for (char& c : s) c = alphabet[letter(rng)];
  return s;
}

// `present` are n distinct keys (insertion order); `absent` are n more keys, distinct from each
// other and from every present key; `shuffled` is `present` in a random order, for lookups and
// erases that do not follow insertion order.
template <class K>
struct key_set {
  std::vector<K> present;
  std::vector<K> absent;
  std::vector<K> shuffled;
};

template <class K>
key_set<K> make_key_set(std::size_t n, std::uint64_t seed = default_seed) {
  for (;; ++seed) {
    std::mt19937_64 rng(seed);
    std::vector<K> all;
    all.reserve(2 * n);
    for (std::size_t i = 0; i < 2 * n; ++i)
      all.push_back(random_key(rng, static_cast<K*>(nullptr)));
    std::vector<const K*> sorted;
    sorted.reserve(all.size());
    for (const K& k : all) sorted.push_back(&k);
    std::sort(sorted.begin(), sorted.end(), [](const K* a, const K* b) { return *a < *b; });
    const bool distinct =
        std::adjacent_find(sorted.begin(), sorted.end(),
                           [](const K* a, const K* b) { return *a == *b; }) == sorted.end();
    if (!distinct) continue;  // astronomically rare for 64-bit keys; retry with the next seed
    key_set<K> ks;
    ks.present.assign(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n));
    ks.absent.assign(all.begin() + static_cast<std::ptrdiff_t>(n), all.end());
    std::vector<K> order = ks.present;
    std::shuffle(order.begin(), order.end(), rng);
    // Copy once more so heap-allocated keys (strings) sit in memory in lookup order: a lookup
    // then pays for the map's memory accesses, not for a cache miss on its own argument.
    ks.shuffled.assign(order.begin(), order.end());
    return ks;
  }
}

// The key set for (K, n), built once per process and kept: several benchmarks share it.
template <class K>
const key_set<K>& cached_key_set(std::size_t n) {
  static std::map<std::size_t, std::unique_ptr<key_set<K>>> cache;
  auto& slot = cache[n];
  if (!slot) slot = std::make_unique<key_set<K>>(make_key_set<K>(n));
  return *slot;
}

// A bijection of 64-bit integers that looks random (splitmix64): splitmix64(i) for distinct i
// are distinct keys without a check, and splitmix64(seed + i) is a stream of random bits that
// costs a few instructions per draw.
inline std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// The mapped value stored for the i-th key.
inline std::uint64_t value_for(std::size_t i) { return static_cast<std::uint64_t>(i) * 3 + 1; }

template <class Map, class K>
void fill(Map& m, const std::vector<K>& keys) {
  for (std::size_t i = 0; i < keys.size(); ++i) m.emplace(keys[i], value_for(i));
}

using bench_clock = std::chrono::steady_clock;

inline double seconds_between(bench_clock::time_point a, bench_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// This thread's CPU time: on a shared machine wall time also counts the time other processes
// held the core, so the benchmarks that need it report both.
inline double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// x rounded to `digits` decimals, for figures in JSON: nlohmann-json prints a double with as
// many digits as it takes to read back the same value, up to 17.
inline double rounded(double x, int digits) {
  const double scale = std::pow(10.0, digits);
  return std::round(x * scale) / scale;
}

// Wall and thread CPU time summed over the timed passes of a Google Benchmark run with manual
// time: time(state, body) runs one pass and gives its wall time to the iteration;
// report(state, ops) sets the counters ns_per_op and cpu_ns_per_op for `ops` operations a pass.
struct pass_times {
  double wall = 0;
  double cpu = 0;

  template <class State, class Body>
  void time(State& state, Body&& body) {
    const double c0 = thread_cpu_seconds();
    const auto t0 = bench_clock::now();
    body();
    const auto t1 = bench_clock::now();
    cpu += thread_cpu_seconds() - c0;
    state.SetIterationTime(seconds_between(t0, t1));
    wall += seconds_between(t0, t1);
  }
  template <class State>
  void report(State& state, std::size_t ops_per_pass) const {
    const double ops = static_cast<double>(state.iterations()) * static_cast<double>(ops_per_pass);
    state.counters["ns_per_op"] = ops > 0 ? wall * 1e9 / ops : 0.0;
    state.counters["cpu_ns_per_op"] = ops > 0 ? cpu * 1e9 / ops : 0.0;
  }
};

}  // namespace tide_bench
