// Control bytes and the group of 15 slots they describe. See docs/map.md.
//
// A group is 16 ctrl bytes: one per slot for its 15 slots, and an overflow byte. They are
// matched all at once: with one SSE2 compare on x86-64, or with SWAR arithmetic (SIMD
// within a register) on two 64-bit words elsewhere.
//
//   byte:   0    1    ...   14   15
//         [ c0 | c1 | ... | c14 | overflow ]
//
//   ctrl byte  0000 0000   empty
//              tttt tttt   full; tttttttt is the entry's tag, the low 8 bits of its hash,
//                          moved off 0 and 1 (tag_of), so a tag never looks empty
//   overflow   bit b set: some entry whose tag has (tag & 7) == b was inserted past this
//              group because the group was full
//
// A lookup walks groups and stops at the first group whose overflow bit for its tag is
// clear: no entry of that class ever went past it. Unlike Go's and absl's tombstones,
// this needs no marker on erase: an erased slot becomes empty at once, and a miss ends
// in its first group unless that very group overflowed for its class (boost.unordered's
// design, foa/core.hpp). Overflow bits are cleared only when the table is rebuilt; the
// table counts erasures that may have left a stale bit (table.hpp) and cleans itself
// before they make probes long.
//
// Why 16 bytes and not Go's 8: a group is full, and probes go on, far less often; and 16
// bytes is one SSE2 register.
//
// Matches are returned as a bitmask with bit i set for slot i (0..14).
#pragma once

#include <array>
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

inline constexpr ctrl_t ctrl_empty = 0;
inline constexpr std::size_t group_width = 16;  // ctrl bytes per group
inline constexpr std::size_t group_slots = 15;  // slots per group
inline constexpr std::size_t overflow_byte = 15;
inline constexpr std::uint32_t slot_bits = 0x7FFF;  // bits of the 15 slots in a match

static_assert(group_slots + 1 == group_width, "15 slots and one overflow byte");

inline constexpr bool is_full(ctrl_t c) noexcept { return c != ctrl_empty; }

// What a probe needs from the low byte of a hash, in one word: the tag, moved off 0 (empty)
// and 1 (kept free) and repeated in the four low bytes (a lookup broadcasts them to a
// group with one shuffle), and the overflow bit of its class, 1 << (tag & 7), in byte 4.
// Moving the tag by 8 keeps tag & 7, the overflow class, equal to hash & 7, so the word of
// a tag's own value carries that tag's overflow bit too. One load takes both (a shift by a
// variable count took four instructions on x86-64, which needs the count in cl).
inline constexpr std::array<std::uint64_t, 256> probe_words = [] {
  std::array<std::uint64_t, 256> words{};
  for (std::uint32_t low = 0; low < 256; ++low) {
    const std::uint64_t tag = low < 2 ? low + 8 : low;
    words[low] = tag * 0x01010101u | std::uint64_t{1} << (32 + (low & 7));
  }
  return words;
}();
inline std::uint64_t probe_word(std::size_t hash) noexcept { return probe_words[hash & 0xFF]; }
inline std::uint32_t tag_word(std::uint64_t probe) noexcept {
  return static_cast<std::uint32_t>(probe);
}
inline ctrl_t tag_of(std::size_t hash) noexcept {
  return static_cast<ctrl_t>(probe_word(hash));
}
inline ctrl_t overflow_bit_of(std::uint64_t probe) noexcept {
  return static_cast<ctrl_t>(probe >> 32);
}
inline ctrl_t overflow_bit(ctrl_t tag) noexcept { return overflow_bit_of(probe_words[tag]); }

// SWAR (SIMD within a register) on one little-endian 64-bit word of 8 bytes, byte i in bits
// 8i..8i+7. The portable group below matches its 16 ctrl bytes as two such words;
// tide::concurrent_map matches the 8 tag bytes of its groups, loaded as one atomic word.
inline constexpr std::uint64_t swar_lsb = 0x0101010101010101ull;
inline constexpr std::uint64_t swar_msb = 0x8080808080808080ull;
static_assert(std::endian::native == std::endian::little,
              "SWAR words are read little-endian: byte i is slot i");
// The high bit of each zero byte of w, exactly: (w & ~msb) + ~msb sets a byte's high bit iff
// its low 7 bits are not all zero and never carries into the next byte.
inline constexpr std::uint64_t zero_bytes(std::uint64_t w) noexcept {
  return ~(((w & ~swar_msb) + ~swar_msb) | w) & swar_msb;
}
// The high bit of each byte of w equal to b, and perhaps of bytes equal to b ^ 1 above one:
// (x - lsb) & ~x & msb on x = w ^ (b in every byte), two operations cheaper than an exact
// match. Its borrow out of a zero byte of x may flag the 0x01 bytes of x right above it, never a
// byte below the lowest match nor a byte of x other than 0x00 and 0x01. For matches verified
// afterwards (a tag match is followed by a key compare).
inline constexpr std::uint64_t maybe_equal_bytes(std::uint64_t w, std::uint8_t b) noexcept {
  const std::uint64_t x = w ^ (swar_lsb * b);
  return (x - swar_lsb) & ~x & swar_msb;
}
// Bytes 01 00 01 02 00 01 02 03 (byte 0 first): zero bytes 1 and 4; bytes equal to 0 are 1
// and 4, and bytes 2 and 5 (01 above a 00) by the borrow, not byte 0; equal to 2 are 3 and 6,
// and byte 7 (03 = 2 ^ 1 above one).
static_assert(zero_bytes(0x0302010002010001ull) == 0x0000008000008000ull &&
                  maybe_equal_bytes(0x0302010002010001ull, 0) == 0x0000808000808000ull &&
                  maybe_equal_bytes(0x0302010002010001ull, 2) == 0x8080000080000000ull,
              "exact zero bytes; the borrow's extra bytes only above a match");

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
  constexpr std::uint32_t bits() const noexcept { return bits_; }
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

  // Slots holding the tag repeated in tag_word (see tag_words).
  bitmask match(std::uint32_t tag_word) const noexcept {
    return mask(_mm_cmpeq_epi8(_mm_set1_epi32(static_cast<int>(tag_word)), ctrl_));
  }
  bitmask match_empty() const noexcept { return bitmask(match_empty_bits()); }
  bitmask match_full() const noexcept { return bitmask(match_empty_bits() ^ slot_bits); }

 private:
  std::uint32_t match_empty_bits() const noexcept {
    return static_cast<std::uint32_t>(
               _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_setzero_si128(), ctrl_))) &
           slot_bits;
  }
  static bitmask mask(__m128i v) noexcept {
    return bitmask(static_cast<std::uint32_t>(_mm_movemask_epi8(v)) & slot_bits);
  }
  __m128i ctrl_;
};

#else

// A copy of one group's 16 ctrl bytes as two little-endian words, matched with SWAR.
class group {
 public:
  explicit group(const ctrl_t* ctrl) noexcept { std::memcpy(words_, ctrl, sizeof(words_)); }

  // Slots holding the tag repeated in tag_word (see tag_words).
  bitmask match(std::uint32_t tag_word) const noexcept {
    const std::uint64_t pattern = tag_word * (std::uint64_t{1} << 32 | 1);
    return combine([pattern](std::uint64_t w) { return zero_bytes(w ^ pattern); });
  }
  bitmask match_empty() const noexcept { return bitmask(match_empty_bits()); }
  bitmask match_full() const noexcept { return bitmask(match_empty_bits() ^ slot_bits); }

 private:
  std::uint32_t match_empty_bits() const noexcept { return combine(zero_bytes).bits(); }
  template <class F>
  bitmask combine(F f) const noexcept {
    return bitmask((gather(f(words_[0])) | (gather(f(words_[1])) << 8)) & slot_bits);
  }
  // One bit per byte (the high bit of each), gathered into 8 bits.
  static std::uint32_t gather(std::uint64_t high_bits) noexcept {
    return static_cast<std::uint32_t>(((high_bits >> 7) * 0x0102040810204080ull) >> 56);
  }
  std::uint64_t words_[2];
};

#endif

// Overflow bits live in the group's last ctrl byte, read and written in place.
inline bool overflowed_bit(const ctrl_t* group_ctrl, ctrl_t bit) noexcept {
  return (group_ctrl[overflow_byte] & bit) != 0;
}
inline bool overflowed(const ctrl_t* group_ctrl, ctrl_t tag) noexcept {
  return overflowed_bit(group_ctrl, overflow_bit(tag));
}
inline void mark_overflow(ctrl_t* group_ctrl, ctrl_t tag) noexcept {
  group_ctrl[overflow_byte] |= overflow_bit(tag);
}

}  // namespace tide::detail
