// tide::map — a drop-in for std::unordered_map that grows without pauses and gives
// memory back. See docs/map.md for the design and docs/PERFORMANCE.md for the figures.
//
// The structure is an extendible-hashing Swiss table (detail/directory.hpp): a directory
// of small tables, each rebuilt, split or merged on its own, so that no operation moves
// more than one small table's entries, and erased entries' memory returns to the
// allocator without an explicit call.
//
// What each operation invalidates (iterators, and pointers and references to entries):
//
//   find, contains, count, equal_range, at,      nothing
//   iteration, memory(), stats()
//   erase(iterator), erase(const_iterator),      only the erased entries; the iterator
//   erase(first, last)                           returned (and end()) stays valid, so
//                                                `it = pred(*it) ? m.erase(it) : std::next(it)`
//                                                works as with std::unordered_map
//   insert, emplace, emplace_hint, try_emplace,  everything, whether or not an entry was
//   insert_or_assign, operator[], erase(key),    added or removed (a table may be rebuilt;
//   erase_if, reserve, rehash, shrink_to_fit,    entries move, unlike std::unordered_map,
//   clear, swap, assignment                      whose nodes never move)
//
// Differences from std::unordered_map a user should know:
//   - entries move when tables are rebuilt: do not keep pointers or references to them
//     across the operations in the last group above (as with absl::flat_hash_map);
//   - erase(key) may shrink its table at once; erase(iterator) never moves entries and
//     leaves its table to be compacted by a later insert or erase(key);
//   - there is no bucket interface (bucket_count() reports slots); max_load_factor() is
//     fixed at 7/8 and setting it has no effect.
//
// Exceptions: insert, emplace, try_emplace, operator[] and insert_or_assign (of a new
// key) give the strong guarantee: if the hash, the key comparison, a constructor or the
// allocator throws, the map holds what it held before. Rebuilding a table never loses an
// entry: entries are moved only when moving cannot throw, and copied otherwise.
#pragma once

#include <cstddef>
#include <functional>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>

#include "tide/detail/directory.hpp"
#include "tide/detail/policy.hpp"
#include "tide/hash.hpp"
#include "tide/map_memory.hpp"

namespace tide {

/// A hash map with the `std::unordered_map` interface that grows without pauses and gives
/// memory back.
///
/// An extendible-hashing Swiss table: a directory, indexed by the top bits of the hash, of
/// small open-addressing tables, each grown, split, shrunk or merged on its own, so no
/// operation moves more than one small table's entries and erased entries' memory returns to
/// the allocator without a call to shrink_to_fit(). Entries live in the tables' slots, not in
/// nodes: they move when a table is rebuilt.
///
/// What each operation invalidates (iterators, and pointers and references to entries):
///
/// | operation | invalidates |
/// |---|---|
/// | `find`, `contains`, `count`, `equal_range`, `at`, iteration, `memory()`, `stats()` | nothing |
/// | `erase(iterator)`, `erase(const_iterator)`, `erase(first, last)` | only the erased entries; the iterator returned (and `end()`) stays valid |
/// | `insert`, `emplace`, `emplace_hint`, `try_emplace`, `insert_or_assign`, `operator[]`, `erase(key)`, `erase_if`, `reserve`, `rehash`, `shrink_to_fit`, `compact`, `clear`, `swap`, assignment | everything, whether or not an entry was added or removed |
///
/// Exceptions: `insert`, `emplace`, `try_emplace`, `operator[]` and `insert_or_assign` (of a
/// new key) give the strong guarantee: if the hash, the key comparison, a constructor or the
/// allocator throws, the map holds what it held before.
///
/// There is no bucket interface: `bucket_count()` reports slots, and `max_load_factor()` is
/// fixed at 7/8. docs/migration.md compares all of this with `std::unordered_map` and
/// `absl::flat_hash_map`.
///
/// \tparam Key       the key type
/// \tparam T         the mapped type
/// \tparam Hash      the hasher; tide::hash by default. A hasher without an `is_avalanching`
///                   member type is mixed once more by the map.
/// \tparam KeyEqual  the key comparison. With transparent `Hash` and `KeyEqual` (both have
///                   `is_transparent`), lookups accept any key-like type.
/// \tparam Allocator allocates the tables and the directory (rebound from `value_type`);
///                   tide::heap_allocator puts the map on tide::heap (see tide::heap_map).
template <class Key, class T, class Hash = tide::hash<Key>, class KeyEqual = std::equal_to<Key>,
          class Allocator = std::allocator<std::pair<const Key, T>>>
class map : public detail::raw_hash<detail::map_policy<Key, T>, Hash, KeyEqual, Allocator> {
  using base = detail::raw_hash<detail::map_policy<Key, T>, Hash, KeyEqual, Allocator>;

  template <class K>
  using key_arg = typename detail::key_arg_impl<
      detail::transparent_lookup<Hash, KeyEqual>>::template type<K, Key>;

 public:
  ///@{
  /// Member types, as std::unordered_map's (iterators are forward iterators).
  using key_type = Key;
  using mapped_type = T;
  using typename base::allocator_type;
  using typename base::const_iterator;
  using typename base::hasher;
  using typename base::iterator;
  using typename base::key_equal;
  using typename base::size_type;
  using typename base::value_type;
  ///@}

  // ---- construction ------------------------------------------------------------------

  /// An empty map; allocates nothing.
  map() = default;
  ///@{
  /// An empty map with room for `bucket_count` entries (as reserve(bucket_count): entries, not
  /// buckets).
  explicit map(size_type bucket_count, const Hash& hash = Hash(),
               const KeyEqual& equal = KeyEqual(), const Allocator& alloc = Allocator())
      : base(bucket_count, hash, equal, alloc) {}
  map(size_type bucket_count, const Allocator& alloc)
      : map(bucket_count, Hash(), KeyEqual(), alloc) {}
  map(size_type bucket_count, const Hash& hash, const Allocator& alloc)
      : map(bucket_count, hash, KeyEqual(), alloc) {}
  ///@}
  /// An empty map on `alloc`.
  explicit map(const Allocator& alloc) : map(0, Hash(), KeyEqual(), alloc) {}

  ///@{
  /// A map of the entries in [first, last); of entries with equal keys, the first is kept.
  template <class InputIt>
  map(InputIt first, InputIt last, size_type bucket_count = 0, const Hash& hash = Hash(),
      const KeyEqual& equal = KeyEqual(), const Allocator& alloc = Allocator())
      : map(bucket_count, hash, equal, alloc) {
    insert(first, last);
  }
  template <class InputIt>
  map(InputIt first, InputIt last, size_type bucket_count, const Allocator& alloc)
      : map(first, last, bucket_count, Hash(), KeyEqual(), alloc) {}
  template <class InputIt>
  map(InputIt first, InputIt last, size_type bucket_count, const Hash& hash,
      const Allocator& alloc)
      : map(first, last, bucket_count, hash, KeyEqual(), alloc) {}
  ///@}

  ///@{
  /// A map of the entries of `init`; of entries with equal keys, the first is kept.
  map(std::initializer_list<value_type> init, size_type bucket_count = 0,
      const Hash& hash = Hash(), const KeyEqual& equal = KeyEqual(),
      const Allocator& alloc = Allocator())
      : map(init.begin(), init.end(), bucket_count, hash, equal, alloc) {}
  map(std::initializer_list<value_type> init, size_type bucket_count, const Allocator& alloc)
      : map(init, bucket_count, Hash(), KeyEqual(), alloc) {}
  map(std::initializer_list<value_type> init, size_type bucket_count, const Hash& hash,
      const Allocator& alloc)
      : map(init, bucket_count, hash, KeyEqual(), alloc) {}
  ///@}

  ///@{
  /// Copy and move: a copy allocates its own tables; a move takes the other's.
  map(const map&) = default;
  map(map&&) = default;
  ///@}
  /// A copy of `other` on `alloc`.
  map(const map& other, const Allocator& alloc) : base(other, alloc) {}
  /// Moves `other`'s tables if `alloc` equals its allocator, else moves its entries one by one.
  map(map&& other, const Allocator& alloc) : base(std::move(other), alloc) {}

  ///@{
  /// Copy and move assignment.
  map& operator=(const map&) = default;
  map& operator=(map&&) = default;
  ///@}
  /// Replaces the contents with the entries of `init`.
  map& operator=(std::initializer_list<value_type> init) {
    this->clear();
    insert(init);
    return *this;
  }

  // ---- insertion ---------------------------------------------------------------------

  using base::emplace;

  ///@{
  /// Inserts `v` unless an entry with an equal key exists. Returns the entry with that key and
  /// whether it was inserted. Strong guarantee.
  TIDE_ALWAYS_INLINE std::pair<iterator, bool> insert(const value_type& v) { return emplace(v); }
  TIDE_ALWAYS_INLINE std::pair<iterator, bool> insert(value_type&& v) {
    return emplace(std::move(v));
  }
  template <class P, class = std::enable_if_t<std::is_constructible_v<value_type, P&&>>>
  TIDE_ALWAYS_INLINE std::pair<iterator, bool> insert(P&& v) {
    return emplace(std::forward<P>(v));
  }
  iterator insert(const_iterator, const value_type& v) { return insert(v).first; }
  iterator insert(const_iterator, value_type&& v) { return insert(std::move(v)).first; }
  template <class P, class = std::enable_if_t<std::is_constructible_v<value_type, P&&>>>
  iterator insert(const_iterator, P&& v) {
    return insert(std::forward<P>(v)).first;
  }
  ///@}
  ///@{
  /// Inserts each entry of [first, last) whose key is not yet present.
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

  ///@{
  /// Inserts an entry with `key` and a `mapped_type` constructed from `args` if `key` is
  /// absent; `key` and `args` are untouched otherwise. Returns the entry with that key and
  /// whether it was inserted. Strong guarantee.
  template <class... Args>
  TIDE_ALWAYS_INLINE std::pair<iterator, bool> try_emplace(const key_type& key, Args&&... args) {
    return this->emplace_with_key(key, std::piecewise_construct, std::forward_as_tuple(key),
                                  std::forward_as_tuple(std::forward<Args>(args)...));
  }
  template <class... Args>
  TIDE_ALWAYS_INLINE std::pair<iterator, bool> try_emplace(key_type&& key, Args&&... args) {
    return this->emplace_with_key(key, std::piecewise_construct,
                                  std::forward_as_tuple(std::move(key)),
                                  std::forward_as_tuple(std::forward<Args>(args)...));
  }
  template <class... Args>
  iterator try_emplace(const_iterator, const key_type& key, Args&&... args) {
    return try_emplace(key, std::forward<Args>(args)...).first;
  }
  template <class... Args>
  iterator try_emplace(const_iterator, key_type&& key, Args&&... args) {
    return try_emplace(std::move(key), std::forward<Args>(args)...).first;
  }
  ///@}

  ///@{
  /// Inserts `(key, obj)` if `key` is absent, else assigns `obj` to the entry's mapped value.
  /// Returns the entry and whether it was inserted.
  template <class M>
  std::pair<iterator, bool> insert_or_assign(const key_type& key, M&& obj) {
    auto [it, inserted] = try_emplace(key, std::forward<M>(obj));
    if (!inserted) it->second = std::forward<M>(obj);
    return {it, inserted};
  }
  template <class M>
  std::pair<iterator, bool> insert_or_assign(key_type&& key, M&& obj) {
    auto [it, inserted] = try_emplace(std::move(key), std::forward<M>(obj));
    if (!inserted) it->second = std::forward<M>(obj);
    return {it, inserted};
  }
  template <class M>
  iterator insert_or_assign(const_iterator, const key_type& key, M&& obj) {
    return insert_or_assign(key, std::forward<M>(obj)).first;
  }
  template <class M>
  iterator insert_or_assign(const_iterator, key_type&& key, M&& obj) {
    return insert_or_assign(std::move(key), std::forward<M>(obj)).first;
  }
  ///@}

  // ---- element access ----------------------------------------------------------------

  ///@{
  /// The mapped value of `key`, inserting a value-initialised one first if `key` is absent.
  TIDE_ALWAYS_INLINE T& operator[](const key_type& key) { return try_emplace(key).first->second; }
  TIDE_ALWAYS_INLINE T& operator[](key_type&& key) {
    return try_emplace(std::move(key)).first->second;
  }
  ///@}

  ///@{
  /// The mapped value of `key`. Throws std::out_of_range if `key` is absent.
  template <class K = key_type>
  T& at(const key_arg<K>& key) {
    const iterator it = this->find(key);
    if (it == this->end()) throw std::out_of_range("tide::map::at: key not found");
    return it->second;
  }
  template <class K = key_type>
  const T& at(const key_arg<K>& key) const {
    const const_iterator it = this->find(key);
    if (it == this->end()) throw std::out_of_range("tide::map::at: key not found");
    return it->second;
  }
  ///@}

  /// True if both hold the same keys with equal mapped values (in any order).
  friend bool operator==(const map& a, const map& b) {
    if (a.size() != b.size()) return false;
    for (const value_type& v : a) {
      const const_iterator it = b.find(v.first);
      if (it == b.end() || !(it->second == v.second)) return false;
    }
    return true;
  }

  /// a.swap(b).
  friend void swap(map& a, map& b) noexcept(noexcept(a.swap(b))) { a.swap(b); }
};

/// Erases every entry of `m` for which `pred(entry)` is true, compacting the tables it
/// left below their shrink point before it returns; returns how many were erased.
/// Invalidates every iterator.
template <class K, class T, class H, class E, class A, class Pred>
typename map<K, T, H, E, A>::size_type erase_if(map<K, T, H, E, A>& m, Pred pred) {
  return detail::erase_entries_if(m, pred);
}

}  // namespace tide
