// tide::heap::allocate / deallocate: sizes, alignments, bad_alloc, and misuse death tests.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <vector>

#include "global_heap.hpp"
#include "tide/heap.hpp"

namespace {

bool aligned(const void* p, std::size_t align) {
  return reinterpret_cast<std::uintptr_t>(p) % align == 0;
}

TEST(HeapApi, EverySmallSizeGetsAWritableAlignedBlock) {
  std::vector<void*> blocks;
  for (std::size_t size = 0; size <= 33000; size += (size < 1100 ? 1 : 61)) {
    void* p = tide::heap::allocate(size);
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(aligned(p, size >= 16 || size == 0 ? 16 : 8)) << "size " << size;
    std::memset(p, 0x5a, size);
    blocks.push_back(p);
  }
  std::size_t size = 0;
  for (void* p : blocks) {
    tide::heap::deallocate(p, size);
    size += size < 1100 ? 1 : 61;
  }
}

TEST(HeapApi, AlignmentsUpToAPageAndBeyond) {
  for (std::size_t align = 1; align <= (std::size_t{1} << 20); align *= 2) {
    for (std::size_t size : {std::size_t{1}, std::size_t{24}, std::size_t{100}, std::size_t{5000},
                             std::size_t{40000}, std::size_t{300000}}) {
      void* p = tide::heap::allocate(size, align);
      EXPECT_TRUE(aligned(p, align)) << "size " << size << " align " << align;
      std::memset(p, 1, size);
      tide::heap::deallocate(p);
    }
  }
}

TEST(HeapApi, DistinctLiveBlocksDoNotOverlap) {
  std::vector<std::pair<char*, std::size_t>> blocks;
  for (std::size_t i = 0; i < 2000; ++i) {
    const std::size_t size = 1 + (i * 7919) % 70000;
    char* p = static_cast<char*>(tide::heap::allocate(size));
    std::memset(p, static_cast<int>(i & 0xff), size);
    blocks.emplace_back(p, size);
  }
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    auto [p, size] = blocks[i];
    for (std::size_t j = 0; j < size; j += 97) {
      ASSERT_EQ(static_cast<unsigned char>(p[j]), i & 0xff) << "block " << i << " overwritten";
    }
    tide::heap::deallocate(p, size);
  }
}

TEST(HeapApi, DeallocateNullptrDoesNothing) {
  tide::heap::deallocate(nullptr);
  tide::heap::deallocate(nullptr, 16);
}

TEST(HeapApi, OverflowingSizesThrowBadAlloc) {
  const std::size_t max = std::numeric_limits<std::size_t>::max();
  EXPECT_THROW((void)tide::heap::allocate(max), std::bad_alloc);
  EXPECT_THROW((void)tide::heap::allocate(max - 4096), std::bad_alloc);
  EXPECT_THROW((void)tide::heap::allocate(max / 2), std::bad_alloc);
  EXPECT_THROW((void)tide::heap::allocate(100, std::size_t{1} << 62), std::bad_alloc);
  void* p = tide::heap::allocate(64);  // still usable
  tide::heap::deallocate(p);
}

TEST(HeapApi, OSRefusalThrowsBadAllocAndTheHeapStaysUsable) {
  // 200 TiB: more than the 128 TiB of user address space, so mmap refuses.
  EXPECT_THROW((void)tide::heap::allocate(std::size_t{200} << 40), std::bad_alloc);
  void* small = tide::heap::allocate(100);
  void* large = tide::heap::allocate(std::size_t{3} << 20);
  std::memset(large, 3, std::size_t{3} << 20);
  tide::heap::deallocate(small);
  tide::heap::deallocate(large);
  tide::heap::detail::the_heap().pages.check_invariants();
}

TEST(HeapApi, EmptiedSpansGoBackToThePageHeap) {
  auto& heap = tide::heap::detail::the_heap();
  // What earlier tests in this process left cached (free objects in spans still in use would
  // take some of the allocations below) goes back first.
  tide::release_memory();
  const std::size_t before = heap.pages.stats().in_use_bytes;
  std::vector<void*> blocks;
  for (int i = 0; i < 10000; ++i) blocks.push_back(tide::heap::allocate(48));
  EXPECT_GE(heap.pages.stats().in_use_bytes, before + 10000 * 48);
  for (void* p : blocks) tide::heap::deallocate(p, 48);
  EXPECT_GT(heap.pages.stats().in_use_bytes, before)
      << "the thread cache keeps up to a list's worth of objects, and their spans";
  tide::release_memory();  // the thread's cache goes back to the central lists
  EXPECT_EQ(heap.pages.stats().in_use_bytes, before);
}

// The "threadsafe" style re-runs the test binary for each death test instead of forking this
// process, which has the scavenger thread (it may hold the page heap's lock at a fork).
class HeapApiDeathTest : public ::testing::Test {
 protected:
  HeapApiDeathTest() { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(HeapApiDeathTest, ForeignPointerIsReported) {
  int on_stack = 0;
  EXPECT_DEATH(tide::heap::deallocate(&on_stack), "not allocated by tide::heap");
  void* from_malloc = std::malloc(32);
  EXPECT_DEATH(tide::heap::deallocate(from_malloc), "not allocated by tide::heap");
  std::free(from_malloc);
}

TEST_F(HeapApiDeathTest, DoubleFreeOfASmallObjectIsReported) {
  void* keep = tide::heap::allocate(32);
  void* p = tide::heap::allocate(32);
  tide::heap::deallocate(p);
  EXPECT_DEATH(tide::heap::deallocate(p), "double free");
  tide::heap::deallocate(keep);
}

// A double free of an object that is no longer at the top of its thread cache list: debug
// builds catch it on the free, every build when the cache returns it to its span.
TEST_F(HeapApiDeathTest, DoubleFreeBehindOtherFreesIsReportedWhenTheCacheIsFlushed) {
  void* keep = tide::heap::allocate(32);
  void* a = tide::heap::allocate(32);
  void* b = tide::heap::allocate(32);
  tide::heap::deallocate(a);
  tide::heap::deallocate(b);
  EXPECT_DEATH(
      {
        tide::heap::deallocate(a);
        tide::release_memory();
      },
      "double free");
  tide::heap::deallocate(keep);
}

TEST_F(HeapApiDeathTest, DoubleFreeOfALargeBlockIsReported) {
  void* p = tide::heap::allocate(100000);
  tide::heap::deallocate(p);
  EXPECT_DEATH(tide::heap::deallocate(p), "double free|not allocated by tide::heap");
}

TEST_F(HeapApiDeathTest, InteriorPointersAreReported) {
  char* small = static_cast<char*>(tide::heap::allocate(64));
  EXPECT_DEATH(tide::heap::deallocate(small + 16), "interior pointer");
  char* large = static_cast<char*>(tide::heap::allocate(100000));  // 13 pages
  // An inner page maps to nothing (the report finds the block); the last page maps to it.
  EXPECT_DEATH(tide::heap::deallocate(large + 8192), "interior pointer");
  EXPECT_DEATH(tide::heap::deallocate(large + 12 * 8192), "interior pointer");
  EXPECT_DEATH(tide::heap::deallocate(large + 1), "interior pointer");
  tide::heap::deallocate(small);
  tide::heap::deallocate(large);
}

TEST_F(HeapApiDeathTest, SizedDeallocateWithALargerSizeIsReported) {
  void* p = tide::heap::allocate(40);
  EXPECT_DEATH(tide::heap::deallocate(p, 4000), "larger than the block");
  tide::heap::deallocate(p, 40);
}

TEST_F(HeapApiDeathTest, UsableSizeOfAFreedLargeBlockIsReported) {
  void* p = tide::heap::allocate(100000);
  tide::heap::deallocate(p);
  EXPECT_DEATH((void)tide::heap::usable_size(p), "freed block|not allocated by tide::heap");
}

#if defined(__SANITIZE_ADDRESS__)
// Under AddressSanitizer free blocks are poisoned: a use after free is reported as for malloc.
TEST_F(HeapApiDeathTest, UseAfterFreeIsReportedUnderAddressSanitizer) {
  char* small = static_cast<char*>(tide::heap::allocate(64));
  tide::heap::deallocate(small);
  EXPECT_DEATH(small[40] = 1, "use-after-poison");
  char* large = static_cast<char*>(tide::heap::allocate(100000));
  tide::heap::deallocate(large);
  EXPECT_DEATH(large[5000] = 1, "use-after-poison");
}
#endif

TEST_F(HeapApiDeathTest, AlignmentMustBeAPowerOfTwo) {
  EXPECT_DEATH((void)tide::heap::allocate(16, 24), "power of two");
}

}  // namespace
