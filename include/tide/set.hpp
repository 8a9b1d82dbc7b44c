// tide::set — a drop-in for std::unordered_set on the same core as tide::map: grows
// without pauses and gives memory back. See map.hpp for what each operation invalidates
// and the exception guarantees (the same here), and docs/map.md for the design.
#pragma once

#include <cstddef>
#include <functional>
#include <initializer_list>
#include <memory>
#include <utility>

#include "tide/detail/directory.hpp"
#include "tide/detail/policy.hpp"
#include "tide/hash.hpp"
#include "tide/map_memory.hpp"

namespace tide {

/// A hash set with the `std::unordered_set` interface, on the same core as tide::map: it
/// grows without pauses and gives memory back. What each operation invalidates, and the
/// exception guarantees, are tide::map's. Iterators give const access only.
template <class Key, class Hash = tide::hash<Key>, class KeyEqual = std::equal_to<Key>,
          class Allocator = std::allocator<Key>>
class set : public detail::raw_hash<detail::set_policy<Key>, Hash, KeyEqual, Allocator> {
  using base = detail::raw_hash<detail::set_policy<Key>, Hash, KeyEqual, Allocator>;

 public:
  ///@{
  /// Member types, as std::unordered_set's (iterators are constant forward iterators).
  using key_type = Key;
  using typename base::allocator_type;
  using typename base::const_iterator;
  using typename base::iterator;
  using typename base::size_type;
  using typename base::value_type;
  ///@}

  /// An empty set; allocates nothing.
  set() = default;
  ///@{
  /// An empty set with room for `bucket_count` keys (as reserve(bucket_count)).
  explicit set(size_type bucket_count, const Hash& hash = Hash(),
               const KeyEqual& equal = KeyEqual(), const Allocator& alloc = Allocator())
      : base(bucket_count, hash, equal, alloc) {}
  set(size_type bucket_count, const Allocator& alloc)
      : set(bucket_count, Hash(), KeyEqual(), alloc) {}
  set(size_type bucket_count, const Hash& hash, const Allocator& alloc)
      : set(bucket_count, hash, KeyEqual(), alloc) {}
  ///@}
  /// An empty set on `alloc`.
  explicit set(const Allocator& alloc) : set(0, Hash(), KeyEqual(), alloc) {}
  /// A set of the keys in [first, last).
  template <class InputIt>
  set(InputIt first, InputIt last, size_type bucket_count = 0, const Hash& hash = Hash(),
      const KeyEqual& equal = KeyEqual(), const Allocator& alloc = Allocator())
      : set(bucket_count, hash, equal, alloc) {
    insert(first, last);
  }
  /// A set of the keys of `init`.
  set(std::initializer_list<value_type> init, size_type bucket_count = 0,
      const Hash& hash = Hash(), const KeyEqual& equal = KeyEqual(),
      const Allocator& alloc = Allocator())
      : set(init.begin(), init.end(), bucket_count, hash, equal, alloc) {}
  ///@{
  /// Copy and move: a copy allocates its own tables; a move takes the other's.
  set(const set&) = default;
  set(set&&) = default;
  ///@}
  ///@{
  /// Copy or move onto another allocator (a move takes the other's tables if the allocators are equal).
  set(const set& other, const Allocator& alloc) : base(other, alloc) {}
  set(set&& other, const Allocator& alloc) : base(std::move(other), alloc) {}
  ///@}
  ///@{
  /// Copy and move assignment.
  set& operator=(const set&) = default;
  set& operator=(set&&) = default;
  ///@}
  /// Replaces the contents with the keys of `init`.
  set& operator=(std::initializer_list<value_type> init) {
    this->clear();
    insert(init);
    return *this;
  }

  using base::emplace;
  ///@{
  /// Inserts `v` unless an equal key is present. Returns the entry and whether it was
  /// inserted. Strong guarantee.
  TIDE_ALWAYS_INLINE std::pair<iterator, bool> insert(const value_type& v) { return emplace(v); }
  TIDE_ALWAYS_INLINE std::pair<iterator, bool> insert(value_type&& v) {
    return emplace(std::move(v));
  }
  iterator insert(const_iterator, const value_type& v) { return insert(v).first; }
  iterator insert(const_iterator, value_type&& v) { return insert(std::move(v)).first; }
  ///@}
  ///@{
  /// Inserts each key of [first, last) not yet present.
  template <class InputIt>
  void insert(InputIt first, InputIt last) {
    for (; first != last; ++first) emplace(*first);
  }
  void insert(std::initializer_list<value_type> init) { insert(init.begin(), init.end()); }
  ///@}
  /// emplace(args...); the hint is ignored.
  template <class... Args>
  iterator emplace_hint(const_iterator, Args&&... args) {
    return emplace(std::forward<Args>(args)...).first;
  }

  /// True if both hold the same keys.
  friend bool operator==(const set& a, const set& b) {
    if (a.size() != b.size()) return false;
    for (const value_type& v : a) {
      if (!b.contains(v)) return false;
    }
    return true;
  }
  /// a.swap(b).
  friend void swap(set& a, set& b) noexcept(noexcept(a.swap(b))) { a.swap(b); }
};

/// Erases every key of `s` for which `pred(key)` is true; returns how many were erased.
/// Invalidates every iterator.
template <class K, class H, class E, class A, class Pred>
typename set<K, H, E, A>::size_type erase_if(set<K, H, E, A>& s, Pred pred) {
  return detail::erase_entries_if(s, pred);
}

}  // namespace tide
