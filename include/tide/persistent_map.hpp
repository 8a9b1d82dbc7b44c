// tide::persistent_map — an immutable hash map whose versions share structure.
// See docs/persistent_map.md.
//
// Design
// ------
// A hash array mapped trie (HAMT) in the CHAMP layout: 32-way nodes indexed by five bits of
// the hash per level (lowest bits at the root), each with two popcount bitmaps — datamap for
// entries stored inline, nodemap for child nodes — and arrays sized exactly to the bits set
// (layout in detail/hamt_node.hpp). Below the last hash bits (level 13) sit collision nodes:
// unordered lists of entries whose keys have the same 64-bit hash.
//
//   root (depth 0)        datamap 0b..0100  nodemap 0b..1001
//     |-- entry  (slot 2)
//     |-- child  (slot 0) --> node (depth 1) ... --> collision node (depth 13)
//     `-- child  (slot 3) --> node (depth 1)
//
// Vocabulary: *version* — one persistent_map value; *node*; *slot* — one of the 32 positions of
// a node; *path copy* — the nodes from the root to the changed slot, copied; *transient* — a
// builder that edits nodes it owns in place; *owner* — the id of the transient that made a node.
//
// set/erase/update copy the path to the changed slot (at most 14 nodes, about log32(N) for
// random hashes) and share every other node with the old version: each copy of a node takes a
// reference to the children it did not change. Nodes are reference counted (atomic counts), so
// a version may be read by many threads and freed by whichever lets go last.
//
// Invariants (check_invariants() recomputes them; the invariant-check build runs it after
// every persistent() and at the end of tests):
//   * an entry at depth d sits in the slot of its hash's d-th fragment, under the node whose
//     slots match its hash's first d fragments; a slot holds an entry or a child, not both;
//   * entry_count == popcount(datamap) in bitmap nodes; collision nodes hold >= 2 entries
//     with one full hash;
//   * every non-root subtree holds at least two entries: erase moves a lone remaining entry
//     up into the parent (the same rule as insert, which pushes an entry down only when a
//     second key needs its slot). So the shape of the trie depends only on the set of keys
//     ("canonical"): equal maps have equal bitmaps node by node, which operator== uses, and
//     stops at subtrees reached by the same pointer;
//   * a node reachable from a persistent_map is never modified (owner is frozen or belongs to
//     a transient that has since taken a new owner id); refs counts the parents and handles
//     that point to it;
//   * size() is the number of entries reachable from the root.
//
// API notes: find() returns `const V*` (nullptr when absent) rather than an optional, so no V
// is copied; the pointer is valid while the version lives. set() of a key to an equal value
// returns the same version. update(key, fn) passes fn a `const V*` (nullptr when absent).
// memory() is O(nodes); shared_with() visits only trie positions both versions have.
//
// Exception safety: every operation on a persistent_map is const and leaves the version it
// was called on untouched; if a hash, key comparison, copy constructor or the allocator throws,
// the nodes built so far are freed and the exception propagates (nothing leaks). A transient
// has the same guarantee for set/erase (its contents are unchanged after a throw), except for
// an in-place value assignment, which gives V's copy/move-assignment guarantee.
//
// Thread safety: a persistent_map is a value like std::shared_ptr: concurrent const use of one
// object, and any use of distinct objects that share nodes, is safe. A transient is not
// thread-safe. To publish versions to reader threads, see tide::snapshot (snapshot.hpp).
#pragma once

#include <cstddef>
#include <functional>
#include <iterator>
#include <memory>
#include <tide/detail/config.hpp>
#include <tide/detail/hamt_node.hpp>
#include <tide/detail/hamt_test_peer.hpp>
#include <tide/detail/hamt_trie.hpp>
#include <tide/hash.hpp>
#include <type_traits>
#include <utility>

namespace tide {

using persistent_map_memory = detail::persistent_map_memory;

template <class K, class V, class Hash = tide::hash<K>, class KeyEqual = std::equal_to<K>,
          class Allocator = std::allocator<std::pair<const K, V>>>
class persistent_map {
  using trie = detail::hamt_trie<K, V, Hash, KeyEqual, Allocator>;
  using node = typename trie::node;

 public:
  using key_type = K;
  using mapped_type = V;
  using value_type = std::pair<const K, V>;
  using size_type = std::size_t;
  using hasher = Hash;
  using key_equal = KeyEqual;
  using allocator_type = Allocator;
  class const_iterator;
  using iterator = const_iterator;
  class transient_map;

 private:
  static constexpr bool transparent_lookup = requires {
    typename Hash::is_transparent;
    typename KeyEqual::is_transparent;
  };

 public:
  persistent_map() : persistent_map(Hash(), KeyEqual(), Allocator()) {}
  explicit persistent_map(const Hash& hash, const KeyEqual& equal = KeyEqual(),
                          const Allocator& alloc = Allocator())
      : trie_(hash, equal, alloc) {}
  explicit persistent_map(const Allocator& alloc) : persistent_map(Hash(), KeyEqual(), alloc) {}

  // O(1): the copy shares the root.
  persistent_map(const persistent_map& other)
      : trie_(other.trie_), root_(other.root_), size_(other.size_) {
    if (root_ != nullptr) trie::retain(root_);
  }
  persistent_map(persistent_map&& other) noexcept
      : trie_(other.trie_),
        root_(std::exchange(other.root_, nullptr)),
        size_(std::exchange(other.size_, 0)) {}
  // The nodes travel with the allocator that made them: assignment takes other's allocator.
  persistent_map& operator=(const persistent_map& other) {
    persistent_map copy(other);
    swap(copy);
    return *this;
  }
  persistent_map& operator=(persistent_map&& other) noexcept {
    persistent_map moved(std::move(other));
    swap(moved);
    return *this;
  }
  ~persistent_map() {
    if (root_ != nullptr) trie_.release(root_);
  }
  void swap(persistent_map& other) noexcept {
    using std::swap;
    swap(trie_, other.trie_);
    swap(root_, other.root_);
    swap(size_, other.size_);
  }

  size_type size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

  // The value of `key`, or nullptr. The pointer stays valid while this version (or any other
  // holding the same node) lives.
  const V* find(const K& key) const {
    const value_type* e = trie_.find(root_, key);
    return e != nullptr ? &e->second : nullptr;
  }
  bool contains(const K& key) const { return trie_.find(root_, key) != nullptr; }
  // Heterogeneous lookup, when Hash and KeyEqual are transparent (tide::hash<std::string> with
  // std::equal_to<> finds a std::string_view or a const char* without building a string).
  template <class Key>
  requires transparent_lookup const V* find(const Key& key) const {
    const value_type* e = trie_.find(root_, key);
    return e != nullptr ? &e->second : nullptr;
  }
  template <class Key>
  requires transparent_lookup bool contains(const Key& key) const {
    return trie_.find(root_, key) != nullptr;
  }

  // A new version with key -> value (inserted or replaced). When the key already maps to an
  // equal value (V with ==), the new version is this one: every node shared.
  [[nodiscard]] persistent_map set(K key, V value) const {
    const detail::hamt_hash hash = trie_.hash_of(key);
    typename trie::pending_entry entry{key, value};
    trie builder(trie_);
    if (root_ == nullptr) return persistent_map(trie_, builder.make_root(hash, entry, frozen), 1);
    bool inserted = false;
    node* root = builder.insert(root_, 0, hash, entry, frozen, inserted);
    if (root == root_) return *this;
    return persistent_map(trie_, root, size_ + (inserted ? 1 : 0));
  }

  // A new version without `key` (this version, shared, when the key is absent).
  [[nodiscard]] persistent_map erase(const K& key) const {
    if (root_ == nullptr) return *this;
    bool erased = false;
    trie builder(trie_);
    node* root = builder.erase(root_, 0, trie_.hash_of(key), key, frozen, erased);
    if (!erased) return *this;
    return persistent_map(trie_, root, size_ - 1);
  }

  // A new version with key -> fn(current), where current is a `const V*` to the present
  // value or nullptr when the key is absent; fn returns the new V. fn runs before anything
  // is built, so if it throws nothing has happened.
  template <class Fn>
  [[nodiscard]] persistent_map update(K key, Fn&& fn) const {
    V value = std::invoke(std::forward<Fn>(fn), find(key));
    return set(std::move(key), std::move(value));
  }

  // A builder starting from this version; see transient_map.
  transient_map transient() const { return transient_map(*this); }

  const_iterator begin() const noexcept { return const_iterator(root_); }
  const_iterator end() const noexcept { return const_iterator(); }
  const_iterator cbegin() const noexcept { return begin(); }
  const_iterator cend() const noexcept { return end(); }

  // Same keys mapped to equal values. O(1) when both share their root; otherwise a walk that
  // skips every subtree the two versions share. Like std::unordered_map, both maps must hash
  // and compare keys alike.
  friend bool operator==(const persistent_map& a, const persistent_map& b) {
    return a.size_ == b.size_ && a.trie_.equal(a.root_, b.root_, 0);
  }

  // Bytes asked of the allocator by the nodes of this version, and their number: a walk of
  // every node, O(nodes).
  persistent_map_memory memory() const noexcept { return trie::memory(root_); }
  // The part of memory() that `other` holds too (the same nodes, not equal copies). Visits
  // only trie positions both versions have, stopping at each shared subtree: about
  // O(nodes that differ) plus the walk of the shared subtrees to count their bytes.
  persistent_map_memory shared_with(const persistent_map& other) const noexcept {
    return trie::shared(root_, other.root_, 0);
  }

  // Aborts with a message when an invariant (see the top of this file) does not hold.
  void check_invariants() const {
    const std::size_t counted = trie_.check_invariants(root_, 0, 0);
    TIDE_CHECK(counted == size_, "persistent_map: size() differs from the entries in the trie");
  }

  hasher hash_function() const { return trie_.hash_function(); }
  key_equal key_eq() const { return trie_.key_eq(); }
  allocator_type get_allocator() const { return trie_.get_allocator(); }

  // A forward iterator over the entries of one version: the entries of a node, then the
  // subtrees of its children in slot order, depth first. It holds the path from the root
  // (14 levels at most) and stays valid while the version lives.
  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = persistent_map::value_type;
    using difference_type = std::ptrdiff_t;
    using pointer = const value_type*;
    using reference = const value_type&;

    const_iterator() noexcept = default;
    reference operator*() const noexcept { return *entry_; }
    pointer operator->() const noexcept { return entry_; }
    const_iterator& operator++() noexcept {
      ++entry_;
      settle();
      return *this;
    }
    const_iterator operator++(int) noexcept {
      const_iterator old = *this;
      ++*this;
      return old;
    }
    friend bool operator==(const const_iterator& a, const const_iterator& b) noexcept {
      return a.entry_ == b.entry_;
    }

   private:
    friend class persistent_map;
    explicit const_iterator(const node* root) noexcept {
      if (root == nullptr) return;
      enter(root);
      settle();
    }
    void enter(const node* n) noexcept {
      ++depth_;
      path_[depth_] = n;
      next_child_[depth_] = 0;
      entry_ = n->entries();
      entries_end_ = entry_ + n->entry_count;
    }
    // Moves to the next entry when the current node's entries are used up; end() at the end.
    void settle() noexcept {
      while (entry_ == entries_end_) {
        if (depth_ < 0) {
          entry_ = nullptr;
          return;
        }
        const node* n = path_[depth_];
        if (next_child_[depth_] < n->child_count()) {
          enter(n->children()[next_child_[depth_]++]);
        } else {
          --depth_;
        }
      }
    }

    const node* path_[detail::hamt_max_path] = {};
    unsigned char next_child_[detail::hamt_max_path] = {};
    int depth_ = -1;
    const value_type* entry_ = nullptr;
    const value_type* entries_end_ = nullptr;
  };

  // A builder: the same operations as persistent_map, in place. It edits the nodes it made
  // itself (its owner id) without copying them again; nodes it shares with persistent versions
  // are copied once, on the first edit below them. persistent() freezes what it built into a
  // persistent_map in O(1) and the builder stays usable: it takes a new owner id, so its later
  // edits copy again rather than change what it handed out. Not thread-safe; not copyable.
  class transient_map {
   public:
    explicit transient_map(const persistent_map& from)
        : trie_(from.trie_),
          root_(from.root_),
          size_(from.size_),
          owner_(detail::hamt_new_owner()) {
      if (root_ != nullptr) trie::retain(root_);
    }
    transient_map(const transient_map&) = delete;
    transient_map& operator=(const transient_map&) = delete;
    transient_map(transient_map&& other) noexcept
        : trie_(other.trie_),
          root_(std::exchange(other.root_, nullptr)),
          size_(std::exchange(other.size_, 0)),
          owner_(detail::hamt_new_owner()) {
      // This builder owns the nodes now; the moved-from one keeps editing nothing of them.
      std::swap(owner_, other.owner_);
    }
    transient_map& operator=(transient_map&&) = delete;
    ~transient_map() {
      if (root_ != nullptr) trie_.release(root_);
    }

    size_type size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    const V* find(const K& key) const {
      const value_type* e = trie_.find(root_, key);
      return e != nullptr ? &e->second : nullptr;
    }
    bool contains(const K& key) const { return trie_.find(root_, key) != nullptr; }

    // Inserts or assigns; returns true when the key was new.
    bool set(K key, V value) {
      const detail::hamt_hash hash = trie_.hash_of(key);
      typename trie::pending_entry entry{key, value};
      if (root_ == nullptr) {
        root_ = trie_.make_root(hash, entry, owner_);
        size_ = 1;
        return true;
      }
      bool inserted = false;
      replace_root(trie_.insert(root_, 0, hash, entry, owner_, inserted));
      size_ += inserted ? 1 : 0;
      return inserted;
    }
    // Returns true when the key was there.
    bool erase(const K& key) {
      if (root_ == nullptr) return false;
      bool erased = false;
      replace_root(trie_.erase(root_, 0, trie_.hash_of(key), key, owner_, erased));
      size_ -= erased ? 1 : 0;
      return erased;
    }
    // key -> fn(current), as persistent_map::update.
    template <class Fn>
    void update(K key, Fn&& fn) {
      V value = std::invoke(std::forward<Fn>(fn), find(key));
      set(std::move(key), std::move(value));
    }

    // The contents as a persistent_map (sharing every node). See the class comment.
    persistent_map persistent() {
      owner_ = detail::hamt_new_owner();
      if (root_ != nullptr) trie::retain(root_);
      persistent_map frozen_map(trie_, root_, size_);
      if constexpr (detail::invariant_checks) frozen_map.check_invariants();
      return frozen_map;
    }

   private:
    void replace_root(node* root) noexcept {
      if (root != root_) {
        if (root_ != nullptr) trie_.release(root_);
        root_ = root;
      }
    }

    trie trie_;
    node* root_;
    size_type size_;
    detail::hamt_owner owner_;
  };

 private:
  template <class Map>
  friend struct detail::persistent_map_test_peer;

  static constexpr detail::hamt_owner frozen = detail::hamt_frozen;
  // Const operations build with a copy of the trie's hasher, comparison and allocator
  // ("builder"), so concurrent const use of one map never shares a mutable allocator.

  // Takes over the reference to `root`.
  persistent_map(const trie& t, node* root, size_type size) : trie_(t), root_(root), size_(size) {}

  trie trie_;
  node* root_ = nullptr;
  size_type size_ = 0;
};

template <class K, class V, class H, class E, class A>
void swap(persistent_map<K, V, H, E, A>& a, persistent_map<K, V, H, E, A>& b) noexcept {
  a.swap(b);
}

}  // namespace tide
