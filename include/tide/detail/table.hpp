// One table: a small open-addressing hash table of groups of 15 slots. See docs/map.md.
//
// Vocabulary (used in code, tests, docs and lab output alike):
//   slot        storage for one entry (value_type)
//   group       15 slots, their 15 ctrl bytes and an overflow byte (group.hpp)
//   position    index of a ctrl byte, 16 per group; position p names slot p - p/16
//   table       `groups` groups, at most max_groups; one allocation
//   tag, h1     the low 8 bits of the hash (stored in the ctrl byte, group.hpp) and the
//               low 32 bits (scaled to the probe's start group); the directory uses the
//               top bits
//   growth_left empty slots that may still be filled before the table must be rebuilt
//   tombstones  erased slots whose group had overflowed for their tag: the slot is empty
//               again, but the overflow bit it may have caused stays until a rebuild,
//               so the slot is not given back to growth_left (boost's "anti-drift")
//
// Layout of one table allocation (slot alignment A; header padded so slots are aligned):
//
//   +--------------+--------------------------------+-----+-----------------------------+
//   | table_header | ctrl[0] ... ctrl[16*groups-1]   | pad | slot[0] ... slot[15*groups-1]|
//   +--------------+--------------------------------+-----+-----------------------------+
//                  ^ table_ref::ctrl points here
//
// The number of groups is any integer 1..max_groups, not only a power of two, so a
// table is rebuilt to exactly the size its entries need (see the load constants below).
// The probe starts at group h1 * groups >> 32 (a multiply instead of a mask) and walks
// groups linearly, wrapping at the end. A lookup stops at the first group whose overflow
// bit for its tag is clear; an insert takes the first empty slot and sets the overflow
// bit of every full group it passes. A table of one group may fill completely.
//
// Invariants (check_invariants recomputes them):
//   used == full ctrl bytes; used + tombstones + growth_left <= max_load(capacity)
//   every entry is reachable: every group from its start group up to (not including)
//     its own has the overflow bit for its tag set
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "tide/detail/config.hpp"
#include "tide/detail/group.hpp"

namespace tide::detail {

// Per-table bookkeeping, stored just before the ctrl bytes. Counts are 32-bit: a table is
// normally at most max_slots_limit slots, but one whose keys cannot be split apart (equal
// hashes) grows past that (directory.hpp, make_room).
struct table_header {
  std::uint32_t used;             // full slots
  std::uint32_t growth_left;      // empty slots that may still be filled
  std::uint32_t tombstones;       // erased slots not given back to growth (see above)
  std::uint8_t local_depth;       // top hash bits shared by every key of this table
  std::uint8_t needs_compaction;  // an erase(iterator) left it below the shrink point
  std::uint16_t shrink_below;     // shrink_point(groups): a table never changes its groups
};
static_assert(sizeof(table_header) == 16, "the header is 16 bytes in front of the ctrl bytes");

inline constexpr std::size_t max_slots_limit = 4096;

// Load bounds, in eighths/sixteenths of capacity. Chosen so that
//  - a table is rebuilt when an insert finds no empty slot to take (max_load 7/8, as absl,
//    boost and Go; a single group may fill completely, see above);
//  - while the map is growing (the insert sets a new record size; the record restarts
//    when the map falls below half of it) a table doubles, and a
//    largest table splits into two largest tables, as absl's and Go's tables do: each
//    entry is moved about once per doubling of the map (a gentler step, landing at 9/16,
//    moved entries 2.6 times per doubling and made inserts 2x slower than absl's);
//  - otherwise a grown or split table lands at 12/16: under churn at constant size each
//    table's count wanders up and down, and a table that crosses its grow point should
//    not take a 2x step that it will never shrink back from (that is how a map drifts);
//  - a table whose tombstones are at least 1/16 of its slots is cleaned at the same size
//    rather than grown, as long as its entries fit: stale overflow bits and lost growth
//    do not pile up under churn (Go issue 70886, hashbrown issue 85);
//  - a shrunk or merged table lands at 13/16 (higher landings shrink less often: erasing
//    1M keys moved 2.6 entries per erase landing at 11/16, 2.1 at 13/16);
//  - erase(key) shrinks (or merges) a table that falls below 6/16. Erasing all of 1M keys
//    (32 KiB tables, in-place splits and merges) moved 2.07 entries per erase with the
//    shrink point at 7/16, 0.88 at 6/16, 0.66 at 5/16. After erasing a random 90% of N
//    keys, the map held this many times the bytes of a fresh map holding the survivors
//    (bench/memory_bench, N = 1M, 200K, 3M): 1.49, 1.11, 0.82 at 7/16; 1.64, 0.97, 0.98
//    at 6/16; 2.00, 1.02, 1.00 at 5/16. The figure depends on where the erasing leaves
//    the tables between their shrink and landing points; its bound is the ratio of the
//    densest fresh table (7/8) to the shrink point: 2x at 7/16, 2.33x at 6/16.
// The landing points keep a band between every rebuild and the next one in the other
// direction, so alternating inserts and erases do not thrash: 1/16 of the capacity above
// a doubled table (7/16), 6/16 above a shrunk or merged one (13/16), 6/16 under churn.
inline constexpr std::size_t max_load(std::size_t capacity) noexcept {
  return capacity == group_slots ? capacity : capacity - capacity / 8;
}
inline constexpr bool worth_cleaning(std::size_t tombstones, std::size_t capacity) noexcept {
  return tombstones * 16 >= capacity;
}
inline constexpr std::size_t shrink_load16 = 6;
inline constexpr bool below_shrink_point(std::size_t used, std::size_t groups) noexcept {
  return groups > 1 && used * 16 < groups * (group_slots * shrink_load16);
}
// The count below which a table of `groups` groups is below its shrink point (0: never), kept
// in its header so that erase(key) tests one number. Clamped to 65,535: only a table whose keys
// all share one hash grows that large (directory.hpp, make_room), and erase(key) leaves it to
// shrink_to_fit() until it holds fewer entries.
inline constexpr std::uint16_t shrink_point(std::size_t groups) noexcept {
  if (groups <= 1) return 0;
  const std::size_t below = (groups * (group_slots * shrink_load16) + 15) / 16;
  return static_cast<std::uint16_t>(std::min<std::size_t>(below, 0xFFFF));
}
static_assert(shrink_point(1) == 0 && shrink_point(2) == 12 && shrink_point(8) == 45,
              "used < shrink_point(groups) exactly when below_shrink_point(used, groups)");
// The fewest groups that hold `n` entries at a load of at most num/16.
inline constexpr std::size_t groups_for(std::size_t n, std::size_t num16) noexcept {
  if (n <= group_slots) return 1;
  const std::size_t slots = (n * 16 + num16 - 1) / num16;
  return (slots + group_slots - 1) / group_slots;
}
inline constexpr std::size_t grow_load16 = 7;
inline constexpr std::size_t churn_load16 = 12;
static_assert(max_load(group_slots) == group_slots, "a lone group may fill completely");
inline constexpr std::size_t compact_load16 = 13;
static_assert(grow_load16 >= shrink_load16 + 1 && compact_load16 >= shrink_load16 + 2 &&
                  churn_load16 >= shrink_load16 + 2,
              "a rebuilt table lands above the shrink point");
static_assert(grow_load16 < 14 && compact_load16 < 14 && churn_load16 < 14,
              "a rebuilt table lands below the grow point (7/8 = 14/16)");
static_assert(groups_for(max_load(64 * group_slots) + 1, grow_load16) > 64,
              "growing always adds groups");

// A table as the directory sees it. Several directory entries may name one table.
struct table_ref {
  ctrl_t* ctrl;
  std::size_t groups;

  std::size_t capacity() const noexcept { return groups * group_slots; }
  std::size_t positions() const noexcept { return groups * group_width; }
  table_header& header() const noexcept {
    return *reinterpret_cast<table_header*>(ctrl - sizeof(table_header));
  }
  friend bool operator==(const table_ref&, const table_ref&) = default;
};

inline constexpr std::size_t slot_index(std::size_t position) noexcept {
  return position - position / group_width;
}

// The group a probe starts at: the low 32 bits of the hash scaled to [0, groups). The
// product's top half depends on the high bits of that word, not on the tag (bits 0..7),
// and not on the directory's bits (the top of the hash).
inline std::size_t start_group(std::size_t hash, std::size_t groups) noexcept {
  const std::uint64_t h1 = static_cast<std::uint32_t>(hash);
  return static_cast<std::size_t>((h1 * groups) >> 32);
}

inline std::size_t next_group(std::size_t g, std::size_t groups) noexcept {
  return g + 1 == groups ? 0 : g + 1;
}

// The table of an empty map: one group of empty ctrl bytes and no growth left, so a find
// misses without a branch and the first insert allocates a real table. Never written.
struct empty_table_storage {
  table_header header{0, 0, 0, 0, 0, 0};
  ctrl_t ctrl[group_width] = {};  // all ctrl_empty, overflow clear
};
static_assert(ctrl_empty == 0, "the empty table's ctrl bytes are zero-initialised");
inline constexpr empty_table_storage empty_table_instance{};

inline table_ref empty_table() noexcept {
  auto* ctrl = const_cast<ctrl_t*>(empty_table_instance.ctrl);
#if defined(__GNUC__)
  // Hidden from the optimizer: an insert inlined right after a constructor would otherwise
  // let g++ follow the probe into the empty table's slots (which do not exist, and are never
  // read: no tag matches an empty ctrl byte) and warn -Warray-bounds in users' code.
  __asm__("" : "+r"(ctrl));
#endif
  return {ctrl, 1};
}
inline bool is_empty_table(const table_ref& t) noexcept {
  return t.ctrl == empty_table_instance.ctrl;
}

// Sizes and addresses of the pieces of a table allocation for slots of type Slot.
template <class Slot>
struct table_layout {
  static constexpr std::size_t slot_align = alignof(Slot);
  static constexpr std::size_t unit = std::max<std::size_t>(slot_align, sizeof(table_header));
  // The header sits at the end of the first `unit`, so ctrl starts unit-aligned.
  static constexpr std::size_t header_pad = unit;
  static_assert(header_pad >= sizeof(table_header), "the header fits in front of ctrl");

  struct alignas(unit) storage_unit {
    unsigned char bytes[unit];
  };

  static constexpr std::size_t slots_offset(std::size_t groups) noexcept {
    const std::size_t end_of_ctrl = header_pad + groups * group_width;
    return (end_of_ctrl + slot_align - 1) / slot_align * slot_align;
  }
  static constexpr std::size_t units(std::size_t groups) noexcept {
    const std::size_t bytes = slots_offset(groups) + groups * group_slots * sizeof(Slot);
    return (bytes + unit - 1) / unit;
  }
  static constexpr std::size_t bytes(std::size_t groups) noexcept { return units(groups) * unit; }

  // Groups per table at most: a largest table is one allocation of at most 32 KiB, header
  // and control bytes included (Go's comment on its made-up 1024-slot limit: the copying cost
  // of a split grows with slot size), so it is one 32 KiB size class of tide::heap, not a
  // 40 KiB run of pages (a table of 32 KiB of slots alone was 34,832 B for u64->u64, and
  // tide::heap_map held 17.6% more than it asked for); never fewer than 8 groups nor more
  // than max_slots_limit slots. A split of a largest table is the slowest step of an insert:
  // growing 10M u64->u64 entries, splits that moved whole 64 KiB tables took 72 us (median)
  // and 138 us (p99), of 32 KiB tables 38 us and 84 us; with the lower half kept in place,
  // 31 us and 66 us (17 us and 22 us when the heap's pages were touched before: the rest is
  // first-touch page faults). At 16 KiB the directory, and the copy when it doubles, would be
  // 4x the size it is at 64 KiB.
  static constexpr std::size_t max_table_bytes = 32 * 1024;
  static constexpr std::size_t max_groups = [] {
    std::size_t groups = 8;
    while (groups < max_slots_limit / group_slots && bytes(groups + 1) <= max_table_bytes) {
      ++groups;
    }
    return groups;
  }();
  static storage_unit* base(const table_ref& t) noexcept {
    return reinterpret_cast<storage_unit*>(t.ctrl - header_pad);
  }
  static Slot* slots(const table_ref& t) noexcept {
    return reinterpret_cast<Slot*>(t.ctrl - header_pad + slots_offset(t.groups));
  }

  // Allocates a table of `groups` groups with every ctrl byte empty. May throw whatever
  // the allocator throws; nothing is left allocated then.
  template <class Alloc>
  static table_ref allocate(Alloc& alloc, std::size_t groups, std::uint8_t local_depth) {
    using unit_alloc = typename std::allocator_traits<Alloc>::template rebind_alloc<storage_unit>;
    using unit_traits = std::allocator_traits<unit_alloc>;
    unit_alloc a(alloc);
    storage_unit* mem = std::to_address(unit_traits::allocate(a, units(groups)));
    auto* raw = reinterpret_cast<unsigned char*>(mem);
    table_ref t{raw + header_pad, groups};
    TIDE_ASSERT(reinterpret_cast<std::uintptr_t>(t.ctrl) % group_width == 0,
                "groups are 16-byte aligned (iterators rely on it)");
    const std::size_t capacity = groups * group_slots;
    std::memset(t.ctrl, ctrl_empty, t.positions());
    t.header() = table_header{
        0, static_cast<std::uint32_t>(max_load(capacity)), 0, local_depth, 0, shrink_point(groups)};
    return t;
  }

  template <class Alloc>
  static void deallocate(Alloc& alloc, const table_ref& t) noexcept {
    using unit_alloc = typename std::allocator_traits<Alloc>::template rebind_alloc<storage_unit>;
    using unit_traits = std::allocator_traits<unit_alloc>;
    unit_alloc a(alloc);
    unit_traits::deallocate(a, base(t), units(t.groups));
  }
};

// The first group on the probe path of `hash` in t that has an empty slot, with its empty
// bits: empty_bits(g) gives those of group g (read from the ctrl bytes, or from a mask that
// stands for them: free_slots). Sets the overflow bit of every full group it passes.
// Precondition: the table has an empty slot.
struct group_with_room {
  std::size_t g;
  std::uint32_t empty;
};
template <class EmptyBits>
TIDE_ALWAYS_INLINE group_with_room first_group_with_room(const table_ref& t, std::size_t hash,
                                                         EmptyBits empty_bits) noexcept {
  std::size_t g = start_group(hash, t.groups);
  for (std::size_t n = 0; n < t.groups; ++n, g = next_group(g, t.groups)) {
    if (const std::uint32_t empty = empty_bits(g); empty != 0) return {g, empty};
    mark_overflow(t.ctrl + g * group_width, tag_of(hash));
  }
  TIDE_CHECK(false, "table has no empty slot");
}

// The position where an entry with hash h goes: the first empty slot on its probe path.
// Sets the overflow bit of every full group it passes. Precondition: the table has an
// empty slot (growth_left > 0 guarantees one).
inline std::size_t find_insert_position(const table_ref& t, std::size_t hash) noexcept {
  const group_with_room room = first_group_with_room(t, hash, [&](std::size_t g) {
    return group(t.ctrl + g * group_width).match_empty().bits();
  });
  return room.g * group_width + static_cast<std::size_t>(std::countr_zero(room.empty));
}

// The empty slots of a table that a bulk move (a rebuild, split or merge) is filling, one
// 15-bit mask per group in a local array. take(hash) returns the position
// find_insert_position would, and marks it taken in the mask; the caller still writes the
// ctrl byte. The positions are the same, but finding one never loads ctrl bytes that an
// earlier placement has just written: a 16-byte load of a group with a 1-byte store still
// in flight cannot take the store's data and waits until the store reaches the cache, so
// consecutive entries that hit one group ran one at a time (in-place merges while erasing
// 1M u64 keys took 8.7 us each through find_insert_position, 6.5-6.6 us with the masks;
// see docs/PERFORMANCE.md). A table of more groups than a normal table can have (keys that
// share one hash, directory.hpp) is filled through find_insert_position.
// Invariant: for a tracked table, masks_[g] has bit i set exactly when ctrl byte i of group
// g is empty, as long as only take() chooses the slots filled.
class free_slots {
 public:
  explicit free_slots(const table_ref& t) noexcept : table_(t) {
    if (!tracked()) return;
    for (std::size_t g = 0; g < t.groups; ++g) {
      masks_[g] = static_cast<std::uint16_t>(group(t.ctrl + g * group_width).match_empty().bits());
    }
  }
  const table_ref& table() const noexcept { return table_; }

  // Precondition: the table has an empty slot not yet taken.
  std::size_t take(std::size_t hash) noexcept {
    if (!tracked()) return find_insert_position(table_, hash);
    const group_with_room room =
        first_group_with_room(table_, hash, [&](std::size_t g) { return masks_[g]; });
    masks_[room.g] = static_cast<std::uint16_t>(room.empty & (room.empty - 1));
    const std::size_t p =
        room.g * group_width + static_cast<std::size_t>(std::countr_zero(room.empty));
    TIDE_ASSERT(table_.ctrl[p] == ctrl_empty, "free_slots: a taken slot is full");
    return p;
  }

 private:
  static constexpr std::size_t max_tracked_groups =
      (max_slots_limit + group_slots - 1) / group_slots;
  bool tracked() const noexcept { return table_.groups <= max_tracked_groups; }

  table_ref table_;
  std::uint16_t masks_[max_tracked_groups];
};

// Marks position p full with `tag` and updates the counts. Precondition: p is empty and
// growth_left > 0.
inline void mark_full(const table_ref& t, std::size_t p, ctrl_t tag) noexcept {
  table_header& h = t.header();
  TIDE_ASSERT(t.ctrl[p] == ctrl_empty, "mark_full: slot is full");
  TIDE_ASSERT(h.growth_left > 0, "mark_full: no growth left");
  --h.growth_left;
  ++h.used;
  t.ctrl[p] = tag;
}

// Counts n entries whose ctrl bytes a move already set in t (moves count once, not per
// entry). Precondition: t had growth for them.
inline void add_entries(const table_ref& t, std::size_t n) noexcept {
  table_header& h = t.header();
  TIDE_ASSERT(h.growth_left >= n, "add_entries: no growth left");
  h.used += static_cast<std::uint32_t>(n);
  h.growth_left -= static_cast<std::uint32_t>(n);
}

// Marks full position p empty. Its slot goes back to growth_left unless its group had
// overflowed for its tag (then it counts as a tombstone until the table is rebuilt).
// `bit` is the overflow bit of its tag's class, overflow_bit(t.ctrl[p]); erase(key) has it
// from its probe already.
inline void mark_erased(const table_ref& t, std::size_t p, ctrl_t bit) noexcept {
  TIDE_ASSERT(is_full(t.ctrl[p]), "mark_erased: slot is not full");
  TIDE_ASSERT(bit == overflow_bit(t.ctrl[p]), "mark_erased: not the overflow bit of the tag");
  table_header& h = t.header();
  --h.used;
  const ctrl_t* group_ctrl = t.ctrl + p / group_width * group_width;
  if (overflowed_bit(group_ctrl, bit)) {
    ++h.tombstones;
  } else {
    ++h.growth_left;
  }
  t.ctrl[p] = ctrl_empty;
}

// Calls f(position) for every full slot of t, in position order.
template <class F>
inline void for_each_full(const table_ref& t, F&& f) {
  for (std::size_t g = 0; g < t.groups; ++g) {
    for (bitmask full = group(t.ctrl + g * group_width).match_full(); full; full.clear_lowest()) {
      f(g * group_width + full.lowest());
    }
  }
}

// The first full position at or after `from`, or t.positions() if none.
inline std::size_t next_full_slot(const table_ref& t, std::size_t from) noexcept {
  if (from >= t.positions()) return t.positions();
  std::size_t g = from / group_width;
  bitmask full = group(t.ctrl + g * group_width).match_full().from_slot(from % group_width);
  while (!full) {
    if (++g == t.groups) return t.positions();
    full = group(t.ctrl + g * group_width).match_full();
  }
  return g * group_width + full.lowest();
}

}  // namespace tide::detail
