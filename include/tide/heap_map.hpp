// tide::map and tide::set on tide::heap, and on any std::pmr::memory_resource. See
// docs/heap.md ("Containers on the heap").
//
//   tide::heap_map<std::string, int> sessions;                 // tide::heap_allocator
//   tide::pmr::map<int, int> m(tide::heap_resource::get());    // a polymorphic_allocator
#pragma once

#include <functional>
#include <memory_resource>
#include <utility>

#include "tide/hash.hpp"
#include "tide/heap_allocator.hpp"
#include "tide/map.hpp"
#include "tide/set.hpp"

namespace tide {

/// tide::map on tide::heap (tide::heap_allocator).
template <class Key, class T, class Hash = tide::hash<Key>, class KeyEqual = std::equal_to<Key>>
using heap_map = map<Key, T, Hash, KeyEqual, heap_allocator<std::pair<const Key, T>>>;

/// tide::set on tide::heap (tide::heap_allocator).
template <class Key, class Hash = tide::hash<Key>, class KeyEqual = std::equal_to<Key>>
using heap_set = set<Key, Hash, KeyEqual, heap_allocator<Key>>;

/// tide's containers on std::pmr::polymorphic_allocator (any std::pmr::memory_resource,
/// tide::heap_resource among them).
namespace pmr {

/// tide::map on a std::pmr::polymorphic_allocator.
template <class Key, class T, class Hash = tide::hash<Key>, class KeyEqual = std::equal_to<Key>>
using map = tide::map<Key, T, Hash, KeyEqual,
                      std::pmr::polymorphic_allocator<std::pair<const Key, T>>>;

/// tide::set on a std::pmr::polymorphic_allocator.
template <class Key, class Hash = tide::hash<Key>, class KeyEqual = std::equal_to<Key>>
using set = tide::set<Key, Hash, KeyEqual, std::pmr::polymorphic_allocator<Key>>;

}  // namespace pmr
}  // namespace tide
