// Control bytes and the group of 16 slots they describe. See docs/map.md.
//
// Every slot of a table has one control (ctrl) byte; 16 consecutive slots form a group,
// and the 16 ctrl bytes of a group are matched all at once: with one SSE2 compare on
// x86-64, or with SWAR arithmetic (SIMD within a register) on two 64-bit words elsewhere.
//
//   empty     1000 0000   never held an entry since the table was built
//   tombstone 1111 1110   held an entry that was erased while its group was full
//   full      0hhh hhhh   holds an entry; hhhhhhh is h2, the low 7 bits of its hash
//
// Read as signed bytes: full >= 0 > tombstone (-2) > empty (-128), so "empty or
// tombstone" is "less than -1" and "full" is "sign bit clear" (absl's encoding).
//
// Why 16 and not Go's 8: tide probes groups linearly (table.hpp); with 8 slots a group at
// 7/8 load is full often enough that a miss visited 1.3-2.2 groups on average (measured
// with a probe counter at 1K-1M keys), each visit a hard-to-predict branch. A group of 16
// at the same load is full about 50 times less often, so nearly every miss ends in its
// first group.
//
// A probe for a key walks groups and stops at the first group with an empty slot, so a
// group without an empty slot may have been passed by other keys' probes; erasing from
// such a group must leave a tombstone. Erasing from a group that has an empty slot can
// mark the slot empty again: no probe ever went past that group.
//
// Matches are returned as a bitmask with bit i set for slot i.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "tide/detail/config.hpp"

namespace tide::detail {

using ctrl_t = std::uint8_t;

inline constexpr ctrl_t ctrl_empty = 0b1000'0000;
inline constexpr ctrl_t ctrl_tombstone = 0b1111'1110;
inline constexpr std::size_t group_slots = 16;

static_assert((ctrl_empty & 0x80) && (ctrl_tombstone & 0x80),
              "empty and tombstone have the high bit set, full slots never do");
static_assert(static_cast<std::int8_t>(ctrl_empty) < -1 &&
                  static_cast<std::int8_t>(ctrl_tombstone) < -1,
              "empty and tombstone are both below -1 as signed bytes");

inline constexpr bool is_full(ctrl_t c) noexcept { return (c & 0x80) == 0; }

// The set bits of a match, one per slot (bit i for slot i).
class bitmask {
 public:
  explicit constexpr bitmask(std::uint32_t bits) noexcept : bits_(bits) {}
  constexpr explicit operator bool() const noexcept { return bits_ != 0; }
  // Index of the lowest matching slot. Precondition: *this is not empty.
  constexpr std::size_t lowest() const noexcept {
    return static_cast<std::size_t>(std::countr_zero(bits_));
  }
  constexpr void clear_lowest() noexcept { bits_ &= bits_ - 1; }
  constexpr int count() const noexcept { return std::popcount(bits_); }
  // The matches of slots `slot` and above (slot in 0..15).
  constexpr bitmask from_slot(std::size_t slot) const noexcept {
    return bitmask(bits_ & (~std::uint32_t{0} << slot));
  }

 private:
  std::uint32_t bits_;
};

#if defined(__SSE2__)

// A copy of one group's 16 ctrl bytes in an SSE2 register.
class group {
 public:
  explicit group(const ctrl_t* ctrl) noexcept
      : ctrl_(_mm_loadu_si128(reinterpret_cast<const __m128i*>(ctrl))) {}

  bitmask match_h2(std::uint8_t h2) const noexcept {
    return mask(_mm_cmpeq_epi8(_mm_set1_epi8(static_cast<char>(h2)), ctrl_));
  }
  bitmask match_empty() const noexcept {
    return mask(_mm_cmpeq_epi8(_mm_set1_epi8(static_cast<char>(ctrl_empty)), ctrl_));
  }
  bitmask match_empty_or_tombstone() const noexcept {
    return mask(_mm_cmpgt_epi8(_mm_set1_epi8(-1), ctrl_));
  }
  bitmask match_full() const noexcept {
    return bitmask(static_cast<std::uint32_t>(_mm_movemask_epi8(ctrl_)) ^ 0xFFFFu);
  }

 private:
  static bitmask mask(__m128i v) noexcept {
    return bitmask(static_cast<std::uint32_t>(_mm_movemask_epi8(v)));
  }
  __m128i ctrl_;
};

#else

// A copy of one group's 16 ctrl bytes as two little-endian words, matched with SWAR.
class group {
 public:
  static constexpr std::uint64_t lsb = 0x0101010101010101ull;
  static constexpr std::uint64_t msb = 0x8080808080808080ull;

  explicit group(const ctrl_t* ctrl) noexcept { std::memcpy(words_, ctrl, sizeof(words_)); }

  // Exact: a byte is zero iff its low 7 bits are zero and its high bit is clear.
  bitmask match_h2(std::uint8_t h2) const noexcept {
    return combine([h2](std::uint64_t w) {
      const std::uint64_t v = w ^ (lsb * h2);
      return ~(((v & ~msb) + ~msb) | v) & msb;
    });
  }
  bitmask match_empty() const noexcept {
    return combine([](std::uint64_t w) { return w & ~(w << 6) & msb; });
  }
  bitmask match_empty_or_tombstone() const noexcept {
    return combine([](std::uint64_t w) { return w & msb; });
  }
  bitmask match_full() const noexcept {
    return combine([](std::uint64_t w) { return ~w & msb; });
  }

 private:
  static_assert(std::endian::native == std::endian::little,
                "group words are read little-endian: slot i is byte i");
  // One bit per byte (the high bit of each) of the two words, gathered into 16 bits.
  template <class F>
  bitmask combine(F f) const noexcept {
    return bitmask(gather(f(words_[0])) | (gather(f(words_[1])) << 8));
  }
  static std::uint32_t gather(std::uint64_t high_bits) noexcept {
    return static_cast<std::uint32_t>(((high_bits >> 7) * 0x0102040810204080ull) >> 56);
  }
  std::uint64_t words_[2];
};

#endif

}  // namespace tide::detail
