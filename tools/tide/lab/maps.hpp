// The maps the lab compares, each on a tide::counting_allocator so the lab knows the bytes it
// holds. See docs/lab.md ("Maps").
//
// A "kind" names one map: `id` is what --maps takes, `name` what the table and report show,
// `on_tide_heap` whether its memory comes from tide::heap (true only for tide::heap_map) or from
// the C library's malloc. `map<K>` is the map of K -> uint64_t with the library's own hasher
// (tide::hash, std::hash, absl::Hash, boost::hash), so each runs as its users run it.
#pragma once

#include <absl/container/flat_hash_map.h>
#include <absl/hash/hash.h>

#include <boost/unordered/unordered_flat_map.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <tide/counting_allocator.hpp>
#include <tide/hash.hpp>
#include <tide/heap_allocator.hpp>
#include <tide/map.hpp>
#include <unordered_map>
#include <utility>

#include "common/explicit_shrink.hpp"

namespace tide_lab {

using value_t = std::uint64_t;

template <class K>
using entry_t = std::pair<const K, value_t>;

template <class K>
using counted_std_alloc = tide::counting_allocator<entry_t<K>>;

template <class K>
using counted_heap_alloc = tide::counting_allocator<entry_t<K>, tide::heap_allocator<entry_t<K>>>;

struct tide_kind {
  static constexpr std::string_view id = "tide";
  static constexpr std::string_view name = "tide::map";
  static constexpr bool on_tide_heap = false;
  template <class K>
  using map = tide::map<K, value_t, tide::hash<K>, std::equal_to<K>, counted_std_alloc<K>>;
};

struct tide_heap_kind {
  static constexpr std::string_view id = "tide-heap";
  static constexpr std::string_view name = "tide::heap_map";
  static constexpr bool on_tide_heap = true;
  template <class K>
  using map = tide::map<K, value_t, tide::hash<K>, std::equal_to<K>, counted_heap_alloc<K>>;
};

struct std_kind {
  static constexpr std::string_view id = "std";
  static constexpr std::string_view name = "std::unordered_map";
  static constexpr bool on_tide_heap = false;
  template <class K>
  using map = std::unordered_map<K, value_t, std::hash<K>, std::equal_to<K>, counted_std_alloc<K>>;
};

struct absl_kind {
  static constexpr std::string_view id = "absl";
  static constexpr std::string_view name = "absl::flat_hash_map";
  static constexpr bool on_tide_heap = false;
  template <class K>
  using map =
      absl::flat_hash_map<K, value_t, absl::Hash<K>, std::equal_to<K>, counted_std_alloc<K>>;
};

struct boost_kind {
  static constexpr std::string_view id = "boost";
  static constexpr std::string_view name = "boost::unordered_flat_map";
  static constexpr bool on_tide_heap = false;
  template <class K>
  using map = boost::unordered_flat_map<K, value_t, boost::hash<K>, std::equal_to<K>,
                                        counted_std_alloc<K>>;
};

// Calls f.template operator()<Kind>() for every kind, in the order the lab shows them.
template <class F>
void for_each_kind(F&& f) {
  f.template operator()<tide_kind>();
  f.template operator()<tide_heap_kind>();
  f.template operator()<std_kind>();
  f.template operator()<absl_kind>();
  f.template operator()<boost_kind>();
}

// A map of Kind whose allocator records into `counter`.
template <class Kind, class K>
typename Kind::template map<K> make_map(tide::allocation_counter& counter) {
  using map_type = typename Kind::template map<K>;
  return map_type(typename map_type::allocator_type(counter));
}

using tide_tools::explicit_shrink;

}  // namespace tide_lab
