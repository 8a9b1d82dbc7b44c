// One node of tide::persistent_map's trie: layout, allocation, reference count. See
// persistent_map.hpp for the overview and docs/persistent_map.md.
//
// A node is one allocation, sized exactly to what it holds:
//
//   +--------------------------------------------------------------+
//   | refs (u32) | datamap (u32) | nodemap (u32) | entry_count (u32) |  header, 24 bytes
//   | owner (u64)                                                  |
//   +--------------------------------------------------------------+
//   | entry 0 | entry 1 | ... | entry entry_count-1                 |  std::pair<const K, V>
//   +--------------------------------------------------------------+
//   | child 0 | child 1 | ... | child popcount(nodemap)-1           |  hamt_node*
//   +--------------------------------------------------------------+
//
// datamap bit i: slot i (hash fragment i at this depth) holds an entry inline.
// nodemap bit i: slot i holds a child node. A slot holds one or the other, never both.
// The k-th set bit of a bitmap is the k-th element of its array (popcount of the bits
// below it). entry_count is popcount(datamap) in a bitmap node; a collision node (at
// hamt_collision_depth, where the hash bits are used up) has datamap == nodemap == 0 and
// entry_count entries whose keys all have the same full hash.
//
// refs: the number of parents and map handles that point to the node, atomic so versions
// may be shared between threads; the last release destroys the entries, releases the
// children and frees the node. A node is never changed once another version may see it:
// owner names the transient (builder) that created it, 0 for a node made by a persistent
// operation. Only the transient with that owner id edits the node in place, and a
// transient takes a fresh id whenever it hands its root out (persistent()), so a node
// visible to any persistent_map is frozen for good. Owner ids come from a process-wide
// 64-bit counter and are never reused.
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>

namespace tide::detail {

// Five bits of the hash per level: 32-way nodes, so a bitmap is one u32 and a map of N
// random keys is about log32(N) levels deep (4 at 1M).
inline constexpr unsigned hamt_bits_per_level = 5;
inline constexpr unsigned hamt_fanout = 1u << hamt_bits_per_level;
inline constexpr unsigned hamt_hash_bits = 64;
// Levels 0..12 use the hash (level 12 its last 4 bits); level 13 holds collision nodes.
inline constexpr unsigned hamt_collision_depth =
    (hamt_hash_bits + hamt_bits_per_level - 1) / hamt_bits_per_level;
// Longest root-to-node path, in nodes: one per level plus the collision level.
inline constexpr unsigned hamt_max_path = hamt_collision_depth + 1;
static_assert(hamt_fanout == 32, "a bitmap is one std::uint32_t");
static_assert(sizeof(std::size_t) * 8 == hamt_hash_bits, "the trie consumes a 64-bit hash");

using hamt_hash = std::uint64_t;
using hamt_owner = std::uint64_t;
// The owner id of nodes no transient may edit.
inline constexpr hamt_owner hamt_frozen = 0;

inline hamt_owner hamt_new_owner() noexcept {
  static std::atomic<hamt_owner> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

// The slot of `hash` in a node at `depth` (< hamt_collision_depth), as a one-bit mask.
inline std::uint32_t hamt_bit(hamt_hash hash, unsigned depth) noexcept {
  return std::uint32_t{1} << ((hash >> (depth * hamt_bits_per_level)) & (hamt_fanout - 1));
}

// Bits set in a bitmap. Without -mpopcnt, std::popcount is a call to libgcc's
// __popcountdi2; lookups take one per level, so the 32-bit SWAR sum is inlined instead.
inline unsigned hamt_popcount(std::uint32_t bits) noexcept {
#if defined(__POPCNT__)
  return static_cast<unsigned>(std::popcount(bits));
#else
  bits = bits - ((bits >> 1) & 0x55555555u);
  bits = (bits & 0x33333333u) + ((bits >> 2) & 0x33333333u);
  bits = (bits + (bits >> 4)) & 0x0F0F0F0Fu;
  return (bits * 0x01010101u) >> 24;
#endif
}

// Position in the entry or child array of the slot `bit` of `bitmap`.
inline unsigned hamt_index(std::uint32_t bitmap, std::uint32_t bit) noexcept {
  return hamt_popcount(bitmap & (bit - 1));
}

struct hamt_node_header {
  std::atomic<std::uint32_t> refs;
  std::uint32_t datamap;
  std::uint32_t nodemap;
  std::uint32_t entry_count;
  hamt_owner owner;
};
static_assert(sizeof(hamt_node_header) == 24, "the header drawn above");

template <class Value>
struct hamt_node : hamt_node_header {
  static constexpr std::size_t round_up(std::size_t n, std::size_t align) noexcept {
    return (n + align - 1) / align * align;
  }
  static constexpr std::size_t entries_offset = round_up(sizeof(hamt_node_header), alignof(Value));
  static constexpr std::size_t children_offset(std::size_t entries) noexcept {
    return round_up(entries_offset + entries * sizeof(Value), alignof(hamt_node*));
  }
  // Bytes of a node with `entries` entries and `children` children (before rounding to the
  // allocation unit; see hamt_node_allocator).
  static constexpr std::size_t layout_bytes(std::size_t entries, std::size_t children) noexcept {
    return children_offset(entries) + children * sizeof(hamt_node*);
  }

  unsigned child_count() const noexcept { return hamt_popcount(nodemap); }
  // True when removing nothing else, the node holds one entry and no child: the parent of
  // such a node takes the entry inline (a non-root subtree always holds two entries or more).
  bool is_singleton() const noexcept { return entry_count == 1 && nodemap == 0; }

  Value* entries() noexcept {
    return std::launder(
        reinterpret_cast<Value*>(reinterpret_cast<unsigned char*>(this) + entries_offset));
  }
  const Value* entries() const noexcept { return const_cast<hamt_node*>(this)->entries(); }
  hamt_node** children() noexcept {
    return std::launder(reinterpret_cast<hamt_node**>(reinterpret_cast<unsigned char*>(this) +
                                                      children_offset(entry_count)));
  }
  const hamt_node* const* children() const noexcept {
    return const_cast<hamt_node*>(this)->children();
  }
  Value& entry_at(std::uint32_t bit) noexcept { return entries()[hamt_index(datamap, bit)]; }
  hamt_node*& child_at(std::uint32_t bit) noexcept { return children()[hamt_index(nodemap, bit)]; }
};

// Allocates and frees nodes through the user's allocator, rebound to an allocation unit as
// aligned as the header and the entries. A node of e entries and c children takes
// ceil(layout_bytes(e, c) / unit) units; node_bytes() is what the allocator was asked for.
template <class Value, class Allocator>
class hamt_node_allocator {
 public:
  using node = hamt_node<Value>;
  static constexpr std::size_t unit_align = std::max(alignof(Value), alignof(hamt_node_header));
  struct alignas(unit_align) unit {
    unsigned char bytes[unit_align];
  };
  using unit_allocator = typename std::allocator_traits<Allocator>::template rebind_alloc<unit>;
  using unit_traits = std::allocator_traits<unit_allocator>;

  static constexpr std::size_t units_for(std::size_t entries, std::size_t children) noexcept {
    return (node::layout_bytes(entries, children) + sizeof(unit) - 1) / sizeof(unit);
  }
  static constexpr std::size_t node_bytes(std::size_t entries, std::size_t children) noexcept {
    return units_for(entries, children) * sizeof(unit);
  }
  static std::size_t node_bytes(const node* n) noexcept {
    return node_bytes(n->entry_count, n->child_count());
  }

  // A node with refs == 1 and the given header; its entries and children are not yet
  // constructed. Throws what the allocator throws.
  static node* allocate(unit_allocator& alloc, std::uint32_t datamap, std::uint32_t nodemap,
                        std::uint32_t entry_count, hamt_owner owner) {
    unit* memory = std::to_address(
        unit_traits::allocate(alloc, units_for(entry_count, hamt_popcount(nodemap))));
    node* n = ::new (static_cast<void*>(memory)) node;
    n->refs.store(1, std::memory_order_relaxed);
    n->datamap = datamap;
    n->nodemap = nodemap;
    n->entry_count = entry_count;
    n->owner = owner;
    return n;
  }

  // Frees the memory of `n` (entries already destroyed, children already released).
  static void deallocate(unit_allocator& alloc, node* n) noexcept {
    const std::size_t units = units_for(n->entry_count, n->child_count());
    n->~node();
    unit_traits::deallocate(alloc, reinterpret_cast<unit*>(n), units);
  }
};

}  // namespace tide::detail
