// Give-back: allocate 512 MiB as small objects, free them all, release the free pages, and
// RSS (from /proc/self/statm) is back within 5% or 4 MiB, whichever is larger, of its value
// before. The 4 MiB allowance covers what the heap keeps: page map entries (8 B per page,
// 256 KiB), the span records of its released runs and the first page of each metadata chunk
// (span records themselves, 72 B per 8 KiB span or 2.3 MiB at the peak, are moved down and
// their emptied chunks released). The objects are linked
// through themselves, so the test's own bookkeeping costs no RSS. The objects are allocated and
// freed on a thread of their own, joined before RSS is read again: AddressSanitizer's fake
// stacks (detect_stack_use_after_return) are per thread and grow by megabytes during the run;
// they go with the thread, while everything the heap keeps stays. 128 MiB under sanitizers
// (TIDE_TEST_SCALE scales it).
//
// Two more tests follow the wording: holes left by a random 90% free are reused (RSS
// grows by at most 5% when as many objects are allocated again), and after the oldest 90% are
// freed and released RSS stays within 1.5x the live bytes plus a fixed allowance (a
// non-moving allocator cannot give back a page that still holds one live object, so only the
// in-order free is a give-back test).
//
// The heap's own share of RSS, its arenas' resident pages (mincore), must drop to zero in
// every build. The background scavenger is switched off, so the release counted is the
// explicit call's (tests/heap/scavenger_test.cpp covers the background). Under the sanitizers
// RSS bounds are checked on the arenas' resident pages instead: ThreadSanitizer's shadow of
// the heap's pages (several bytes per byte touched) and AddressSanitizer's (the heap poisons
// free blocks, one shadow byte per 8) stay resident after the heap releases the pages, so RSS
// there measures the sanitizer, not the heap.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <new>
#include <thread>
#include <vector>

#include "global_heap.hpp"
#include "os.hpp"
#include "support/random.hpp"
#include "support/scale.hpp"
#include "tide/heap.hpp"

namespace {

using tide::heap::detail::os_resident_bytes;
constexpr bool rss_measures_the_heap = !TIDE_TEST_SANITIZED;

struct object_header {  // at the start of every object: the list of live objects
  object_header* next;
  std::size_t size;
};

TEST(HeapGiveBack, FreeingEverythingAndReleasingReturnsRss) {
  // The release is the explicit call's: the scavenger must not take part of it first.
  tide::set_background_release(false);
  const std::size_t target = tide_test::scaled(std::size_t{512} << 20, std::size_t{16} << 20);
  tide_test::rng rng(3);
  const std::size_t before = os_resident_bytes();
  ASSERT_GT(before, 0u) << "/proc/self/statm is unreadable";

  std::size_t peak = 0;
  std::size_t released = 0;
  std::thread worker([&] {
    object_header* live = nullptr;
    std::size_t bytes = 0;
    while (bytes < target) {
      const std::size_t size = 16 + rng.below(1024 - 16);
      auto* p = static_cast<unsigned char*>(tide::heap::allocate(size));
      live = ::new (p) object_header{live, size};
      if (size > sizeof(object_header)) p[size - 1] = 1;  // every page of the object is touched
      bytes += size;
    }
    peak = os_resident_bytes();
    while (live != nullptr) {
      object_header* next = live->next;
      tide::heap::deallocate(live, live->size);
      live = next;
    }
    released = tide::release_memory();
  });
  worker.join();
  EXPECT_GE(peak, before + target / 2) << "the objects should have made RSS grow";
  const std::size_t after = os_resident_bytes();
  const std::size_t allowance = std::max(before / 20, std::size_t{4} << 20);
  std::printf("RSS before %zu B, at peak %zu B, after release %zu B (%zu B released)\n", before,
              peak, after, released);
  EXPECT_GE(released, target);
  EXPECT_EQ(tide::heap::detail::the_heap().pages.resident_arena_bytes(), 0u)
      << "every page of the heap's arenas should be back with the OS";
  if (rss_measures_the_heap) {
    EXPECT_LE(after, before + allowance) << "RSS before " << before << " B, at peak " << peak
                                         << " B, after release " << after << " B";
  }
  tide::heap::detail::the_heap().pages.check_invariants();
}

// The heap's share of RSS: RSS itself where it measures the heap, else the arenas' resident
// pages (under the sanitizers, whose shadow memory blurs RSS).
std::size_t heap_resident_bytes() {
  return rss_measures_the_heap ? os_resident_bytes()
                               : tide::heap::detail::the_heap().pages.resident_arena_bytes();
}

// Sizes of small objects, 16 B to 512 B, from a fixed seed.
std::vector<std::uint16_t> small_sizes(std::size_t n, std::uint64_t seed) {
  tide_test::rng rng(seed);
  std::vector<std::uint16_t> sizes(n);
  for (auto& s : sizes) s = static_cast<std::uint16_t>(16 + rng.below(512 - 16 + 1));
  return sizes;
}

TEST(HeapGiveBack, HolesLeftByARandomNinetyPercentFreeAreReused) {
  tide::set_background_release(false);
  const std::size_t n = tide_test::scaled(1'000'000, 10'000);
  const std::vector<std::uint16_t> sizes = small_sizes(n, 5);
  std::vector<void*> blocks(n, nullptr);  // allocated and touched before any RSS is read
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  tide_test::rng rng(6);
  for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);

  for (std::size_t i = 0; i < n; ++i) {
    blocks[i] = tide::heap::allocate(sizes[i]);
    std::memset(blocks[i], 1, sizes[i]);
  }
  const std::size_t freed = n * 9 / 10;
  for (std::size_t k = 0; k < freed; ++k) {
    tide::heap::deallocate(blocks[order[k]], sizes[order[k]]);
    blocks[order[k]] = nullptr;
  }
  const std::size_t after_free = heap_resident_bytes();
  for (std::size_t k = 0; k < freed; ++k) {  // as many again, of the same sizes
    const std::size_t i = order[k];
    blocks[i] = tide::heap::allocate(sizes[i]);
    std::memset(blocks[i], 2, sizes[i]);
  }
  const std::size_t after_refill = heap_resident_bytes();
  std::printf("resident after the 90%% free %zu B, after allocating as many again %zu B\n",
              after_free, after_refill);
  EXPECT_LE(after_refill, after_free + after_free / 20) << "the holes should have been reused";
  for (std::size_t i = 0; i < n; ++i) tide::heap::deallocate(blocks[i], sizes[i]);
}

TEST(HeapGiveBack, FreeingTheOldestNinetyPercentGivesBackAllButTheLive) {
  tide::set_background_release(false);
  const std::size_t n = tide_test::scaled(1'000'000, 10'000);
  const std::vector<std::uint16_t> sizes = small_sizes(n, 7);
  std::vector<void*> blocks(n, nullptr);
  tide::release_memory();
  const std::size_t before = heap_resident_bytes();

  for (std::size_t i = 0; i < n; ++i) {
    blocks[i] = tide::heap::allocate(sizes[i]);
    std::memset(blocks[i], 1, sizes[i]);
  }
  const std::size_t kept_from = n * 9 / 10;
  std::size_t live_bytes = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (i < kept_from) {
      tide::heap::deallocate(blocks[i], sizes[i]);
    } else {
      live_bytes += tide::heap::usable_size(blocks[i]);
    }
  }
  tide::release_memory();
  const std::size_t after = heap_resident_bytes();
  // The allowance: per size class, one span at the boundary between freed and kept objects
  // that is partly of each (61 classes up to 512 B, at most 8 KiB each: under 0.5 MiB), the
  // thread cache (<= 2 MiB), and metadata (page map and span records, under 1 MiB here).
  const std::size_t allowance = std::size_t{4} << 20;
  std::printf("resident before %zu B, after freeing the oldest 90%% and releasing %zu B; "
              "live %zu B\n",
              before, after, live_bytes);
  EXPECT_LE(after, before + live_bytes + live_bytes / 2 + allowance);
  for (std::size_t i = kept_from; i < n; ++i) tide::heap::deallocate(blocks[i], sizes[i]);
}

}  // namespace
