// Randomized single-threaded stress of tide::heap: two million operations (about a million
// allocations and as many frees) of random sizes (1 B to 1 MiB, mostly small) and alignments
// (up to 4 KiB), each block filled with a pattern from its id and checked before it is freed. Fixed
// seed; 1/4 of the ops under sanitizers, 1/50 with invariant checks (TIDE_TEST_SCALE overrides).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "global_heap.hpp"
#include "support/pattern_block.hpp"
#include "support/random.hpp"
#include "support/scale.hpp"
#include "tide/heap.hpp"

namespace {

using block = tide_test::pattern_block;
using tide_test::fill;
using tide_test::intact;

// Mostly small, as programs allocate: 70% up to 256 B, 20% up to 4 KiB, 9% up to 32 KiB,
// 1% up to 256 KiB, 0.1% up to 1 MiB (about 4 KiB on average).
std::size_t random_size(tide_test::rng& rng) {
  const std::uint64_t r = rng.below(1000);
  if (r < 700) return 1 + rng.below(256);
  if (r < 900) return 257 + rng.below(4096 - 256);
  if (r < 989) return 4097 + rng.below(32768 - 4096);
  if (r < 999) return 32769 + rng.below((256u << 10) - 32768);
  return (256u << 10) + 1 + rng.below((1u << 20) - (256u << 10));
}

TEST(HeapStress, RandomSizesAndAlignmentsKeepTheirContents) {
  auto& heap = tide::heap::detail::the_heap();
  const std::size_t in_use_before = heap.pages.stats().in_use_bytes;
  const std::size_t ops = tide_test::scaled(2'000'000, 40'000);
  tide_test::rng rng(20261125);
  std::vector<block> slots(tide_test::scaled(20'000, 1'000));
  std::size_t allocations = 0;
  for (std::size_t op = 0; op < ops; ++op) {
    block& b = slots[rng.below(slots.size())];
    if (b.p == nullptr) {
      b.size = random_size(rng);
      const std::size_t align = rng.chance(1, 4) ? std::size_t{1} << rng.below(13) : 16;
      b.p = static_cast<unsigned char*>(tide::heap::allocate(b.size, align));
      ASSERT_EQ(reinterpret_cast<std::uintptr_t>(b.p) % align, 0u)
          << "allocate(" << b.size << ", " << align << ")";
      b.id = ++allocations;
      fill(b);
    } else {
      ASSERT_TRUE(intact(b)) << "block " << b.id << " of " << b.size << " B was overwritten";
      if (rng.chance(1, 2)) {
        tide::heap::deallocate(b.p, b.size);
      } else {
        tide::heap::deallocate(b.p);
      }
      b.p = nullptr;
    }
    if (op % 100'000 == 0) heap.pages.check_invariants();
  }
  for (block& b : slots) {
    if (b.p == nullptr) continue;
    ASSERT_TRUE(intact(b)) << "block " << b.id << " of " << b.size << " B was overwritten";
    tide::heap::deallocate(b.p);
  }
  EXPECT_GE(allocations, ops / 3);
  tide::release_memory();  // the thread's cache back to the central lists, free pages to the OS
  EXPECT_EQ(heap.pages.stats().in_use_bytes, in_use_before) << "every span went back";
  heap.pages.check_invariants();
  for (int c = 1; c < tide::heap::detail::size_class_count; ++c) heap.central[c].check_invariants();
}

}  // namespace
