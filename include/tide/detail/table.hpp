// One table: a small open-addressing hash table of groups of 16 slots. See docs/map.md.
//
// Vocabulary (used in code, tests, docs and lab output alike):
//   slot        storage for one entry (value_type)
//   group       16 consecutive slots and their 16 ctrl bytes (group.hpp)
//   table       `groups` groups, at most max_groups; one allocation
//   h1, h2      the probe position (bits 7..38 of the hash) and the 7-bit tag (bits 0..6)
//               stored in the ctrl byte; the directory uses the top bits (directory.hpp)
//   growth_left empty slots that may still be filled before the table must be rebuilt
//   tombstone   a slot erased from a group that had no empty slot (group.hpp)
//
// Layout of one table allocation (slot alignment A; header padded so slots are aligned):
//
//   +--------------+---------------------------+-----+-----------------------------+
//   | table_header | ctrl[0] ... ctrl[8*groups-1] | pad | slot[0] ... slot[8*groups-1] |
//   +--------------+---------------------------+-----+-----------------------------+
//                  ^ table_ref::ctrl points here
//
// The number of groups is any integer 1..max_groups, not only a power of two, so a
// table is rebuilt to exactly the size its entries need (see the load constants below).
// The probe starts at group h1 * groups >> 32 (a multiply instead of a mask) and walks
// groups linearly, wrapping at the end, until it finds the key or a group with an empty
// slot. It visits at most `groups` groups, so a single-group table may be completely
// full (16 entries: small maps use one group).
//
// Invariants (check_table below recomputes them):
//   used + tombstones + empty == capacity, counted from the ctrl bytes
//   growth_left + used + tombstones == max_load(capacity) when no erase has turned a
//     slot back to empty; an erase to empty gives the slot back, so in general
//     growth_left <= empty and used + tombstones + growth_left <= max_load(capacity)
//   every full slot is reachable: its h2 matches, and every group from its start group
//     up to (not including) its own group has no empty slot
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
  std::uint32_t used;         // full slots
  std::uint32_t growth_left;  // empty slots that may still be filled
  std::uint32_t tombstones;   // erased slots that keep probe chains intact
  std::uint8_t local_depth;   // top hash bits shared by every key of this table
  std::uint8_t needs_compaction;  // an erase(iterator) left it below the shrink point
};
static_assert(sizeof(table_header) == 16, "the header is 16 bytes in front of the ctrl bytes");

inline constexpr std::size_t max_slots_limit = 4096;

// Load bounds, in eighths/sixteenths of capacity. Chosen so that
//  - a table is rebuilt when an insert finds no empty slot to take (max_load 7/8, as absl,
//    boost and Go; a single group may fill completely, see above);
//  - a grown (or split) table lands at 9/16 while the map is growing (the insert sets a
//    new record size), at 12/16 otherwise: under churn at constant size each table's
//    count wanders up and down, and a table that crosses its grow point should not take
//    a 1.56x step that it will never shrink back from (that is how a map drifts up);
//  - a table whose tombstones are at least 1/16 of its slots is cleaned at the same size
//    rather than grown, as long as its entries fit (Go issue 70886, hashbrown issue 85);
//  - a shrunk or merged table lands at 11/16;
//  - erase(key) shrinks a table that falls below 7/16.
// The shrink point 7/16 is half the grow point 7/8, so a map that shrank by erasing holds
// at most 2x the bytes of a freshly built map with the same entries (DESIGN.md). The
// landing points keep a band of about 1/8 of the capacity between every rebuild and the
// next one in the other direction, so alternating inserts and erases never thrash.
inline constexpr std::size_t max_load(std::size_t capacity) noexcept {
  return capacity == group_slots ? capacity : capacity - capacity / 8;
}
inline constexpr bool worth_cleaning(std::size_t tombstones, std::size_t capacity) noexcept {
  return tombstones * 16 >= capacity;
}
inline constexpr bool below_shrink_point(std::size_t used, std::size_t capacity) noexcept {
  return capacity > group_slots && used * 16 < capacity * 7;
}
// The fewest groups that hold `n` entries at a load of at most num/16.
inline constexpr std::size_t groups_for(std::size_t n, std::size_t num16) noexcept {
  if (n <= group_slots) return 1;
  const std::size_t slots = (n * 16 + num16 - 1) / num16;
  return (slots + group_slots - 1) / group_slots;
}
inline constexpr std::size_t grow_load16 = 9;
inline constexpr std::size_t churn_load16 = 12;
static_assert(max_load(group_slots) == group_slots, "a lone group may fill completely");
inline constexpr std::size_t compact_load16 = 11;
static_assert(grow_load16 > 7 && compact_load16 > 7 && churn_load16 > 7,
              "a rebuilt table lands above the shrink point (7/16)");
static_assert(grow_load16 < 14 && compact_load16 < 14 && churn_load16 < 14,
              "a rebuilt table lands below the grow point (7/8 = 14/16)");
static_assert(groups_for(max_load(64 * group_slots) + 1, grow_load16) > 64,
              "growing always adds groups");

// A table as the directory sees it. Several directory entries may name one table.
struct table_ref {
  ctrl_t* ctrl;
  std::size_t groups;

  std::size_t capacity() const noexcept { return groups * group_slots; }
  table_header& header() const noexcept {
    return *reinterpret_cast<table_header*>(ctrl - sizeof(table_header));
  }
  friend bool operator==(const table_ref&, const table_ref&) = default;
};

inline constexpr std::uint8_t h2_of(std::size_t hash) noexcept { return hash & 0x7F; }

inline std::size_t start_group(std::size_t hash, std::size_t groups) noexcept {
  const std::uint64_t h1 = static_cast<std::uint32_t>(hash >> 7);
  return static_cast<std::size_t>((h1 * groups) >> 32);
}

inline std::size_t next_group(std::size_t g, std::size_t groups) noexcept {
  return g + 1 == groups ? 0 : g + 1;
}

// The table of an empty map: one group of empty ctrl bytes and no growth left, so a find
// misses without a branch and the first insert allocates a real table. Never written.
struct empty_table_storage {
  table_header header{0, 0, 0, 0, 0};
  ctrl_t ctrl[group_slots];
  constexpr empty_table_storage() : ctrl{} {
    for (ctrl_t& c : ctrl) c = ctrl_empty;
  }
};
inline constexpr empty_table_storage empty_table_instance{};

inline table_ref empty_table() noexcept {
  return {const_cast<ctrl_t*>(empty_table_instance.ctrl), 1};
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

  // Slots per table: a table's slots should span at most about 64 KiB (Go's comment on its
  // made-up 1024-slot limit: the copying cost of a split grows with slot size), but never
  // fewer than 128 slots nor more than max_slots_limit.
  static constexpr std::size_t max_groups =
      std::clamp<std::size_t>((64 * 1024) / (sizeof(Slot) * group_slots),
                              128 / group_slots, max_slots_limit / group_slots);

  static constexpr std::size_t slots_offset(std::size_t groups) noexcept {
    const std::size_t end_of_ctrl = header_pad + groups * group_slots;
    return (end_of_ctrl + slot_align - 1) / slot_align * slot_align;
  }
  static constexpr std::size_t units(std::size_t groups) noexcept {
    const std::size_t bytes = slots_offset(groups) + groups * group_slots * sizeof(Slot);
    return (bytes + unit - 1) / unit;
  }
  static constexpr std::size_t bytes(std::size_t groups) noexcept {
    return units(groups) * unit;
  }
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
    const std::size_t capacity = groups * group_slots;
    std::memset(t.ctrl, ctrl_empty, capacity);
    t.header() = table_header{0, static_cast<std::uint32_t>(max_load(capacity)), 0,
                              local_depth, 0};
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

// The first slot on h's probe path that is empty or a tombstone. Precondition: the table
// has such a slot (a table always does while growth_left > 0 or it holds a tombstone).
inline std::size_t find_first_non_full(const table_ref& t, std::size_t hash) noexcept {
  std::size_t g = start_group(hash, t.groups);
  for (std::size_t n = 0; n < t.groups; ++n, g = next_group(g, t.groups)) {
    const bitmask free = group(t.ctrl + g * group_slots).match_empty_or_tombstone();
    if (free) return g * group_slots + free.lowest();
  }
  TIDE_CHECK(false, "find_first_non_full: table has no free slot");
}

// Marks slot i full with tag h2 and updates the counts. Precondition: slot i is empty or a
// tombstone, and if empty, growth_left > 0.
inline void mark_full(const table_ref& t, std::size_t i, std::uint8_t h2) noexcept {
  table_header& h = t.header();
  if (t.ctrl[i] == ctrl_empty) {
    TIDE_ASSERT(h.growth_left > 0, "mark_full: no growth left");
    --h.growth_left;
  } else {
    TIDE_ASSERT(t.ctrl[i] == ctrl_tombstone, "mark_full: slot is full");
    --h.tombstones;
  }
  ++h.used;
  t.ctrl[i] = h2;
}

// Marks full slot i erased: empty if its group has an empty slot (no probe ever went past
// the group) or the table is a single group (no probe goes past it at all), else a
// tombstone.
inline void mark_erased(const table_ref& t, std::size_t i) noexcept {
  TIDE_ASSERT(is_full(t.ctrl[i]), "mark_erased: slot is not full");
  table_header& h = t.header();
  --h.used;
  const ctrl_t* group_ctrl = t.ctrl + i / group_slots * group_slots;
  if (t.groups == 1 || group(group_ctrl).match_empty()) {
    t.ctrl[i] = ctrl_empty;
    ++h.growth_left;
  } else {
    t.ctrl[i] = ctrl_tombstone;
    ++h.tombstones;
  }
}

// Index of the first full slot at or after `from`, or t.capacity() if none.
inline std::size_t next_full_slot(const table_ref& t, std::size_t from) noexcept {
  const std::size_t capacity = t.capacity();
  if (from >= capacity) return capacity;
  std::size_t g = from / group_slots;
  bitmask full = group(t.ctrl + g * group_slots).match_full().from_slot(from % group_slots);
  while (!full) {
    if (++g == t.groups) return capacity;
    full = group(t.ctrl + g * group_slots).match_full();
  }
  return g * group_slots + full.lowest();
}

}  // namespace tide::detail
