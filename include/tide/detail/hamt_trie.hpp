// The algorithms of tide::persistent_map's trie: lookup, path-copying insert and erase,
// release, equality, memory accounting and check_invariants(). See persistent_map.hpp for
// the overview and hamt_node.hpp for the node layout.
//
// Every mutating function takes the `owner` id of the caller: hamt_frozen for a persistent
// operation (every node on the path is copied), a transient's id for a builder (nodes with
// that owner are edited in place, others are copied and the copies get the owner). A
// function returns the node that takes the place of the one it was given: the same node
// (edited in place, or nothing to do) or a new node whose single reference the caller now
// holds. On an exception nothing reachable from the given node has changed and every node
// made on the way has been freed.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <new>
#include <tide/detail/config.hpp>
#include <tide/detail/hamt_node.hpp>
#include <tide/hash.hpp>
#include <type_traits>
#include <utility>

namespace tide::detail {

// Bytes and nodes of a version, or of the part two versions share.
struct persistent_map_memory {
  std::size_t bytes = 0;
  std::size_t nodes = 0;
  friend bool operator==(const persistent_map_memory&, const persistent_map_memory&) = default;
};

template <class K, class V, class Hash, class KeyEqual, class Allocator>
class hamt_trie {
 public:
  using value_type = std::pair<const K, V>;
  using node = hamt_node<value_type>;
  using node_allocator = hamt_node_allocator<value_type, Allocator>;
  using unit_allocator = typename node_allocator::unit_allocator;

  hamt_trie(const Hash& hash, const KeyEqual& equal, const Allocator& alloc)
      : hash_(hash), equal_(equal), alloc_(alloc) {}

  const Hash& hash_function() const noexcept { return hash_; }
  const KeyEqual& key_eq() const noexcept { return equal_; }
  Allocator get_allocator() const { return Allocator(alloc_); }

  // A hash the trie may slice five bits at a time: tide::hash avalanches already; any other
  // hasher (std::hash<integer> is the identity) is mixed once more.
  template <class Key>
  hamt_hash hash_of(const Key& key) const {
    hamt_hash h = static_cast<hamt_hash>(hash_(key));
    if constexpr (!requires { typename Hash::is_avalanching; }) h = mix(h, 0x9E3779B97F4A7C15ull);
    return h;
  }

  static void retain(node* n) noexcept { n->refs.fetch_add(1, std::memory_order_relaxed); }

  // Drops one reference; the last one destroys the entries, releases the children and frees.
  void release(node* n) noexcept {
    if (n->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    std::destroy_n(n->entries(), n->entry_count);
    node** children = n->children();
    for (unsigned i = 0, count = n->child_count(); i < count; ++i) release(children[i]);
    node_allocator::deallocate(alloc_, n);
  }

  // Holds one reference and releases it unless let go (exception safety while building).
  class node_ref {
   public:
    node_ref(hamt_trie& trie, node* n) noexcept : trie_(trie), node_(n) {}
    node_ref(const node_ref&) = delete;
    node_ref& operator=(const node_ref&) = delete;
    ~node_ref() {
      if (node_ != nullptr) trie_.release(node_);
    }
    node* get() const noexcept { return node_; }
    node* let_go() noexcept { return std::exchange(node_, nullptr); }

   private:
    hamt_trie& trie_;
    node* node_;
  };

  // ---- lookup ---------------------------------------------------------------------------------

  // `Key` is K, or any type the hasher and the comparison accept (heterogeneous lookup).
  template <class Key>
  const value_type* find(const node* n, const Key& key) const {
    if (n == nullptr) return nullptr;
    const hamt_hash hash = hash_of(key);
    for (unsigned depth = 0; depth < hamt_collision_depth; ++depth) {
      const std::uint32_t bit = hamt_bit(hash, depth);
      if (n->datamap & bit) {
        const value_type& e = n->entries()[hamt_index(n->datamap, bit)];
        return equal_(e.first, key) ? &e : nullptr;
      }
      if (!(n->nodemap & bit)) return nullptr;
      n = n->children()[hamt_index(n->nodemap, bit)];
    }
    const value_type* entries = n->entries();
    for (std::uint32_t i = 0; i < n->entry_count; ++i) {
      if (equal_(entries[i].first, key)) return &entries[i];
    }
    return nullptr;
  }

  // ---- insert or assign -----------------------------------------------------------------------

  // The entry being inserted: constructed once into the node that will hold it, or assigned
  // into an entry of a node the caller owns.
  struct pending_entry {
    K& key;
    V& value;
  };

  // Sets key -> value in the subtree `n` (non-null) at `depth`. `inserted` tells whether the
  // key was new. Setting a key to a value equal to its own (when V has ==) changes nothing
  // and returns `n`, so the caller shares the whole version.
  node* insert(node* n, unsigned depth, hamt_hash hash, pending_entry entry, hamt_owner owner,
               bool& inserted) {
    if (depth == hamt_collision_depth) return insert_collision(n, entry, owner, inserted);
    const std::uint32_t bit = hamt_bit(hash, depth);
    if (n->datamap & bit) {
      value_type& existing = n->entry_at(bit);
      if (equal_(existing.first, entry.key)) {
        inserted = false;
        if (holds(existing, entry.value)) return n;
        if (editable(n, owner)) {
          existing.second = std::move(entry.value);
          return n;
        }
        return rebuild(n, n->datamap, n->nodemap, bit, construct_pending(entry), 0, nullptr, owner);
      }
      inserted = true;
      const hamt_hash existing_hash = hash_of(existing.first);
      node_ref pair(*this, make_pair_node(depth + 1, existing_hash, construct_copy(existing), hash,
                                          construct_pending(entry), owner));
      return rebuild(n, n->datamap ^ bit, n->nodemap | bit, 0, construct_nothing, bit, &pair,
                     owner);
    }
    if (n->nodemap & bit) {
      node* child = n->child_at(bit);
      node* result = insert(child, depth + 1, hash, entry, owner, inserted);
      if (result == child) return n;
      return replace_child(n, bit, result, owner);
    }
    inserted = true;
    return rebuild(n, n->datamap | bit, n->nodemap, bit, construct_pending(entry), 0, nullptr,
                   owner);
  }

  // A root holding the one entry (the map was empty).
  node* make_root(hamt_hash hash, pending_entry entry, hamt_owner owner) {
    return make_leaf(hamt_bit(hash, 0), construct_pending(entry), owner);
  }

  // ---- erase ----------------------------------------------------------------------------------

  // Erases `key` from the subtree `n` (non-null) at `depth`. Returns nullptr when the subtree
  // is left empty (only a root can be), a singleton node (one entry, no child) when one entry
  // is left below a non-root, which the caller takes inline.
  node* erase(node* n, unsigned depth, hamt_hash hash, const K& key, hamt_owner owner,
              bool& erased) {
    if (depth == hamt_collision_depth) return erase_collision(n, key, owner, erased);
    const std::uint32_t bit = hamt_bit(hash, depth);
    if (n->datamap & bit) {
      if (!equal_(n->entry_at(bit).first, key)) return n;
      erased = true;
      if (n->is_singleton()) return nullptr;
      return rebuild(n, n->datamap ^ bit, n->nodemap, 0, construct_nothing, 0, nullptr, owner);
    }
    if (!(n->nodemap & bit)) return n;
    node* child = n->child_at(bit);
    node* result = erase(child, depth + 1, hash, key, owner, erased);
    if (result == child) return n;
    TIDE_ASSERT(result != nullptr, "a non-root subtree held fewer than two entries");
    node_ref result_ref(*this, result);
    if (!result->is_singleton()) return replace_child(n, bit, result_ref.let_go(), owner);
    // The child's subtree is down to one entry: it moves up into this node, or further up
    // when this node would hold nothing else.
    if (depth > 0 && n->entry_count == 0 && n->child_count() == 1) return result_ref.let_go();
    return rebuild(n, n->datamap | bit, n->nodemap ^ bit, bit, construct_copy(result->entries()[0]),
                   0, nullptr, owner);
  }

  // ---- whole-trie operations ------------------------------------------------------------------

  // Same keys and values; subtrees reached by the same pointer are equal without a look.
  // The trie's shape depends only on the keys (see persistent_map.hpp, "canonical"), so the
  // walk compares node by node; only collision nodes compare as unordered lists.
  bool equal(const node* a, const node* b, unsigned depth) const {
    if (a == b) return true;
    if (a == nullptr || b == nullptr) return false;
    if (a->datamap != b->datamap || a->nodemap != b->nodemap || a->entry_count != b->entry_count) {
      return false;
    }
    const value_type* ea = a->entries();
    const value_type* eb = b->entries();
    if (depth == hamt_collision_depth) {
      return std::is_permutation(ea, ea + a->entry_count, eb, [this](const auto& x, const auto& y) {
        return equal_(x.first, y.first) && x.second == y.second;
      });
    }
    for (std::uint32_t i = 0; i < a->entry_count; ++i) {
      if (!equal_(ea[i].first, eb[i].first) || !(ea[i].second == eb[i].second)) return false;
    }
    for (unsigned i = 0, count = a->child_count(); i < count; ++i) {
      if (!equal(a->children()[i], b->children()[i], depth + 1)) return false;
    }
    return true;
  }

  static persistent_map_memory memory(const node* n) noexcept {
    persistent_map_memory m;
    if (n == nullptr) return m;
    m.bytes = node_allocator::node_bytes(n);
    m.nodes = 1;
    for (unsigned i = 0, count = n->child_count(); i < count; ++i) {
      const persistent_map_memory below = memory(n->children()[i]);
      m.bytes += below.bytes;
      m.nodes += below.nodes;
    }
    return m;
  }

  // The nodes reachable from both roots. A node sits at one position of the trie (its hash
  // prefix), so only positions both tries have are visited: the cost is the number of nodes
  // that differ plus those shared, not a set of every node.
  static persistent_map_memory shared(const node* a, const node* b, unsigned depth) noexcept {
    if (a == nullptr || b == nullptr) return {};
    if (a == b) return memory(a);
    persistent_map_memory m;
    if (depth == hamt_collision_depth) return m;
    for (std::uint32_t both = a->nodemap & b->nodemap; both != 0; both &= both - 1) {
      const std::uint32_t bit = both & (~both + 1);
      const persistent_map_memory below =
          shared(a->children()[hamt_index(a->nodemap, bit)],
                 b->children()[hamt_index(b->nodemap, bit)], depth + 1);
      m.bytes += below.bytes;
      m.nodes += below.nodes;
    }
    return m;
  }

  // Recomputes every structural fact from scratch; on a violation prints it and aborts.
  // Returns the number of entries under `n`.
  std::size_t check_invariants(const node* n, unsigned depth, hamt_hash prefix) const {
    if (n == nullptr) return 0;
    const auto fail = [&](const char* what) {
      std::fprintf(stderr, "tide::persistent_map: invariant broken at depth %u: %s\n", depth, what);
      std::abort();
    };
    if (n->refs.load(std::memory_order_relaxed) == 0) fail("a reachable node has refs == 0");
    // The hash bits that the path to this node fixed (all of them at the collision depth).
    const unsigned fixed_bits = depth * hamt_bits_per_level;
    const hamt_hash prefix_mask =
        fixed_bits >= hamt_hash_bits ? ~hamt_hash{0} : (hamt_hash{1} << fixed_bits) - 1;
    const value_type* entries = n->entries();
    if (depth == hamt_collision_depth) {
      if (n->datamap != 0 || n->nodemap != 0) fail("a collision node has bitmap bits");
      if (n->entry_count < 2) fail("a collision node holds fewer than two entries");
      const hamt_hash first = hash_of(entries[0].first);
      for (std::uint32_t i = 0; i < n->entry_count; ++i) {
        if (hash_of(entries[i].first) != first) fail("collision node keys differ in hash");
        if ((first & prefix_mask) != prefix) fail("collision node under the wrong prefix");
        for (std::uint32_t j = 0; j < i; ++j) {
          if (equal_(entries[i].first, entries[j].first)) fail("a key is held twice");
        }
      }
      return n->entry_count;
    }
    if (n->datamap & n->nodemap) fail("a slot holds both an entry and a child");
    if (n->entry_count != hamt_popcount(n->datamap)) {
      fail("entry_count != popcount(datamap)");
    }
    for (std::uint32_t bits = n->datamap; bits != 0; bits &= bits - 1) {
      const std::uint32_t bit = bits & (~bits + 1);
      const hamt_hash h = hash_of(entries[hamt_index(n->datamap, bit)].first);
      if ((h & prefix_mask) != prefix) fail("an entry is under the wrong hash prefix");
      if (hamt_bit(h, depth) != bit) fail("an entry is in the wrong slot");
    }
    std::size_t count = n->entry_count;
    for (std::uint32_t bits = n->nodemap; bits != 0; bits &= bits - 1) {
      const std::uint32_t bit = bits & (~bits + 1);
      const hamt_hash slot = static_cast<hamt_hash>(std::countr_zero(bit));
      const node* child = n->children()[hamt_index(n->nodemap, bit)];
      const std::size_t below =
          check_invariants(child, depth + 1, prefix | (slot << (depth * hamt_bits_per_level)));
      if (below < 2) fail("a non-root subtree holds fewer than two entries");
      count += below;
    }
    if (depth > 0 && count < 2) fail("a non-root node holds fewer than two entries");
    return count;
  }

 private:
  // True when `entry` already holds `value` (never for a V without ==).
  static bool holds(const value_type& entry, const V& value) {
    if constexpr (std::equality_comparable<V>) {
      return entry.second == value;
    } else {
      return false;
    }
  }

  static bool editable(const node* n, hamt_owner owner) noexcept {
    return owner != hamt_frozen && n->owner == owner;
  }

  // Entry constructors for rebuild(): each constructs one value_type at `where`.
  auto construct_pending(pending_entry entry) {
    return [entry](void* where) {
      ::new (where)
          value_type(std::piecewise_construct, std::forward_as_tuple(std::move(entry.key)),
                     std::forward_as_tuple(std::move(entry.value)));
    };
  }
  static auto construct_copy(const value_type& source) {
    return [&source](void* where) { ::new (where) value_type(source); };
  }
  static constexpr auto construct_nothing = [](void*) {};

  // Entries of a node a transient owns may be moved out of it (see rebuild()). The key is
  // const in value_type; the node is freed right after and nobody sees the moved-from key, so
  // the const_cast is the liberty detail/policy.hpp's transfer takes.
  static constexpr bool entries_move_without_throwing =
      std::is_nothrow_move_constructible_v<K> && std::is_nothrow_move_constructible_v<V>;

  // A new node (owned by `owner`) with the given bitmaps, whose entries and children are
  // those of `from` at the same slots, except: slot `new_entry_bit` (if any) gets the entry
  // `construct` builds, and slot `new_child_bit` (if any) gets new_child's node, whose
  // reference the new node takes over. The caller replaces `from` by the result and
  // releases it. Strong guarantee: on a throw from a constructor or the allocator, everything
  // built is undone, `from` is as it was and new_child keeps its reference.
  //
  // When `owner` owns `from` (so the release frees it) and entries move without throwing,
  // they are moved, not copied: the one entry that may throw (`construct`) is built first,
  // and nothing can throw after the first move.
  template <class Construct>
  node* rebuild(node* from, std::uint32_t datamap, std::uint32_t nodemap,
                std::uint32_t new_entry_bit, Construct&& construct, std::uint32_t new_child_bit,
                node_ref* new_child, hamt_owner owner) {
    const auto entry_count = hamt_popcount(datamap);
    node* n = node_allocator::allocate(alloc_, datamap, nodemap, entry_count, owner);
    value_type* entries = n->entries();
    if (entries_move_without_throwing && from != nullptr && editable(from, owner)) {
      TIDE_ASSERT(from->refs.load(std::memory_order_relaxed) == 1, "an owned node is shared");
      if (datamap & new_entry_bit) {
        try {
          construct(static_cast<void*>(entries + hamt_index(datamap, new_entry_bit)));
        } catch (...) {
          node_allocator::deallocate(alloc_, n);
          throw;
        }
      }
      value_type* target = entries;
      for (std::uint32_t bits = datamap; bits != 0; bits &= bits - 1, ++target) {
        const std::uint32_t bit = bits & (~bits + 1);
        if (bit == new_entry_bit) continue;
        value_type& source = from->entries()[hamt_index(from->datamap, bit)];
        ::new (static_cast<void*>(target))
            value_type(std::move(const_cast<K&>(source.first)), std::move(source.second));
      }
    } else {
      std::uint32_t built = 0;
      try {
        for (std::uint32_t bits = datamap; bits != 0; bits &= bits - 1, ++built) {
          const std::uint32_t bit = bits & (~bits + 1);
          if (bit == new_entry_bit) {
            construct(static_cast<void*>(entries + built));
          } else {
            ::new (static_cast<void*>(entries + built))
                value_type(from->entries()[hamt_index(from->datamap, bit)]);
          }
        }
      } catch (...) {
        std::destroy_n(entries, built);
        node_allocator::deallocate(alloc_, n);
        throw;
      }
    }
    node** children = n->children();
    for (std::uint32_t bits = nodemap; bits != 0; bits &= bits - 1) {
      const std::uint32_t bit = bits & (~bits + 1);
      if (bit == new_child_bit) {
        *children++ = new_child->let_go();
      } else {
        node* shared_child = from->children()[hamt_index(from->nodemap, bit)];
        retain(shared_child);
        *children++ = shared_child;
      }
    }
    TIDE_ASSERT(new_child == nullptr || new_child->get() == nullptr, "new child placed");
    return n;
  }

  template <class Construct>
  node* make_leaf(std::uint32_t bit, Construct&& construct, hamt_owner owner) {
    return rebuild(nullptr, bit, 0, bit, construct, 0, nullptr, owner);
  }

  // Puts `replacement` (a reference the callee takes over) in the child slot `bit` of `n`:
  // in place when `owner` may edit `n`, else in a copy of `n`.
  node* replace_child(node* n, std::uint32_t bit, node* replacement, hamt_owner owner) {
    node_ref replacement_ref(*this, replacement);
    if (editable(n, owner)) {
      node*& slot = n->child_at(bit);
      release(slot);
      slot = replacement_ref.let_go();
      return n;
    }
    return rebuild(n, n->datamap, n->nodemap, 0, construct_nothing, bit, &replacement_ref, owner);
  }

  // The smallest subtree at `depth` holding two entries with different keys: one node with
  // both inline where their hash fragments differ, a chain of single-child nodes down to
  // there, or a collision node when the full hashes are equal.
  template <class ConstructA, class ConstructB>
  node* make_pair_node(unsigned depth, hamt_hash hash_a, ConstructA&& construct_a, hamt_hash hash_b,
                       ConstructB&& construct_b, hamt_owner owner) {
    if (depth == hamt_collision_depth) {
      node* n = node_allocator::allocate(alloc_, 0, 0, 2, owner);
      value_type* entries = n->entries();
      try {
        construct_a(static_cast<void*>(entries));
        try {
          construct_b(static_cast<void*>(entries + 1));
        } catch (...) {
          std::destroy_at(entries);
          throw;
        }
      } catch (...) {
        node_allocator::deallocate(alloc_, n);
        throw;
      }
      return n;
    }
    const std::uint32_t bit_a = hamt_bit(hash_a, depth);
    const std::uint32_t bit_b = hamt_bit(hash_b, depth);
    if (bit_a == bit_b) {
      node_ref below(*this,
                     make_pair_node(depth + 1, hash_a, construct_a, hash_b, construct_b, owner));
      return rebuild(nullptr, 0, bit_a, 0, construct_nothing, bit_a, &below, owner);
    }
    const std::uint32_t datamap = bit_a | bit_b;
    node* n = node_allocator::allocate(alloc_, datamap, 0, 2, owner);
    value_type* entries = n->entries();
    const bool a_first = bit_a < bit_b;
    try {
      if (a_first) {
        construct_a(static_cast<void*>(entries));
      } else {
        construct_b(static_cast<void*>(entries));
      }
    } catch (...) {
      node_allocator::deallocate(alloc_, n);
      throw;
    }
    try {
      if (a_first) {
        construct_b(static_cast<void*>(entries + 1));
      } else {
        construct_a(static_cast<void*>(entries + 1));
      }
    } catch (...) {
      std::destroy_at(entries);
      node_allocator::deallocate(alloc_, n);
      throw;
    }
    return n;
  }

  // A collision node like `from` with entry `index` built by `construct` (index ==
  // entry_count appends) or, with construct_nothing and erase == true, left out.
  template <class Construct>
  node* rebuild_collision(const node* from, std::uint32_t index, Construct&& construct, bool erase,
                          hamt_owner owner) {
    const std::uint32_t old_count = from->entry_count;
    const std::uint32_t count = erase ? old_count - 1 : std::max(old_count, index + 1);
    node* n = node_allocator::allocate(alloc_, 0, 0, count, owner);
    value_type* entries = n->entries();
    std::uint32_t built = 0;
    try {
      for (std::uint32_t i = 0; i < old_count || i == index; ++i) {
        if (i == index) {
          if (erase) continue;
          construct(static_cast<void*>(entries + built));
        } else {
          ::new (static_cast<void*>(entries + built)) value_type(from->entries()[i]);
        }
        ++built;
      }
    } catch (...) {
      std::destroy_n(entries, built);
      node_allocator::deallocate(alloc_, n);
      throw;
    }
    return n;
  }

  node* insert_collision(node* n, pending_entry entry, hamt_owner owner, bool& inserted) {
    value_type* entries = n->entries();
    std::uint32_t index = 0;
    while (index < n->entry_count && !equal_(entries[index].first, entry.key)) ++index;
    inserted = index == n->entry_count;
    if (!inserted && holds(entries[index], entry.value)) return n;
    if (!inserted && editable(n, owner)) {
      entries[index].second = std::move(entry.value);
      return n;
    }
    return rebuild_collision(n, index, construct_pending(entry), false, owner);
  }

  node* erase_collision(node* n, const K& key, hamt_owner owner, bool& erased) {
    const value_type* entries = n->entries();
    std::uint32_t index = 0;
    while (index < n->entry_count && !equal_(entries[index].first, key)) ++index;
    if (index == n->entry_count) return n;
    erased = true;
    return rebuild_collision(n, index, construct_nothing, true, owner);
  }

  [[no_unique_address]] Hash hash_;
  [[no_unique_address]] KeyEqual equal_;
  [[no_unique_address]] unit_allocator alloc_;
};

}  // namespace tide::detail
