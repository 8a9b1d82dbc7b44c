// Control bytes and the group of 8 slots they describe. See docs/map.md.
//
// Every slot of a table has one control (ctrl) byte; 8 consecutive slots form a group,
// and the 8 ctrl bytes of a group are read as one little-endian 64-bit word and matched
// all at once with SWAR arithmetic (SIMD within a register, as Go's maps do):
//
//   empty     1000 0000   never held an entry since the table was built
//   tombstone 1111 1110   held an entry that was erased while its group was full
//   full      0hhh hhhh   holds an entry; hhhhhhh is h2, the low 7 bits of its hash
//
// A probe for a key walks groups and stops at the first group with an empty slot, so a
// group without an empty slot may have been passed by other keys' probes; erasing from
// such a group must leave a tombstone. Erasing from a group that has an empty slot can
// mark the slot empty again: no probe ever went past that group.
//
// Matches are returned as a bitmask with bit 8*i+7 set for slot i. match_h2 may report
// a false positive, but only on a full slot (the borrow of the zero-byte trick runs
// into the next byte only where the preceding byte matched exactly); callers compare
// keys anyway. match_empty, match_empty_or_tombstone and match_full are exact.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "tide/detail/config.hpp"

namespace tide::detail {

using ctrl_t = std::uint8_t;

inline constexpr ctrl_t ctrl_empty = 0b1000'0000;
inline constexpr ctrl_t ctrl_tombstone = 0b1111'1110;
inline constexpr std::size_t group_slots = 8;

static_assert(std::endian::native == std::endian::little,
              "group words are read little-endian: slot i is byte i of the word");
static_assert((ctrl_empty & 0x80) && (ctrl_tombstone & 0x80),
              "empty and tombstone have the high bit set, full slots never do");
static_assert(!(ctrl_empty & 0x02) && (ctrl_tombstone & 0x02),
              "bit 1 tells empty from tombstone (see match_empty)");

inline constexpr bool is_full(ctrl_t c) noexcept { return (c & 0x80) == 0; }

// The set bits of a match, one per slot (bit 8*i+7 for slot i).
class bitmask {
 public:
  explicit constexpr bitmask(std::uint64_t bits) noexcept : bits_(bits) {}
  constexpr explicit operator bool() const noexcept { return bits_ != 0; }
  // Index (0..7) of the lowest matching slot. Precondition: *this is not empty.
  constexpr std::size_t lowest() const noexcept {
    return static_cast<std::size_t>(std::countr_zero(bits_)) >> 3;
  }
  constexpr void clear_lowest() noexcept { bits_ &= bits_ - 1; }
  // The matches of slots `slot` and above (slot in 0..7).
  constexpr bitmask from_slot(std::size_t slot) const noexcept {
    return bitmask(bits_ & (~std::uint64_t{0} << (slot * 8)));
  }
  constexpr int count() const noexcept { return std::popcount(bits_); }

 private:
  std::uint64_t bits_;
};

// A copy of one group's 8 ctrl bytes.
class group {
 public:
  static constexpr std::uint64_t lsb = 0x0101010101010101ull;
  static constexpr std::uint64_t msb = 0x8080808080808080ull;

  explicit group(const ctrl_t* ctrl) noexcept { std::memcpy(&word_, ctrl, sizeof(word_)); }

  bitmask match_h2(std::uint8_t h2) const noexcept {
    const std::uint64_t v = word_ ^ (lsb * h2);
    return bitmask((v - lsb) & ~v & msb);
  }
  bitmask match_empty() const noexcept { return bitmask(word_ & ~(word_ << 6) & msb); }
  bitmask match_empty_or_tombstone() const noexcept { return bitmask(word_ & msb); }
  bitmask match_full() const noexcept { return bitmask(~word_ & msb); }

 private:
  std::uint64_t word_;
};

}  // namespace tide::detail
