// A heap block filled with a pattern derived from its id, for the heap tests that check no
// block is overwritten while it lives: fill() writes it, intact() checks every byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "support/random.hpp"

namespace tide_test {

struct pattern_block {
  unsigned char* p = nullptr;
  std::size_t size = 0;
  std::uint64_t id = 0;
};

inline std::uint64_t pattern_word(const pattern_block& b) { return scramble(b.id, 7); }

inline void fill(const pattern_block& b) {
  const std::uint64_t word = pattern_word(b);
  std::size_t i = 0;
  for (; i + 8 <= b.size; i += 8) std::memcpy(b.p + i, &word, 8);
  for (; i < b.size; ++i) b.p[i] = static_cast<unsigned char>(word >> (8 * (i % 8)));
}

inline bool intact(const pattern_block& b) {
  const std::uint64_t word = pattern_word(b);
  std::size_t i = 0;
  for (; i + 8 <= b.size; i += 8) {
    if (std::memcmp(b.p + i, &word, 8) != 0) return false;
  }
  for (; i < b.size; ++i) {
    if (b.p[i] != static_cast<unsigned char>(word >> (8 * (i % 8)))) return false;
  }
  return true;
}

}  // namespace tide_test
