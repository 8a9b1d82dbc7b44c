// Give-back: allocate 256 MiB as small objects, free them all, release the free pages, and
// RSS (from /proc/self/statm) is back within 5% or 4 MiB, whichever is larger, of its value
// before. The 4 MiB allowance covers what the heap keeps: span records (72 B per 8 KiB span,
// 2.3 MiB for 256 MiB) and page map entries (8 B per page, 256 KiB). The objects are linked
// through themselves, so the test's own bookkeeping costs no RSS. The objects are allocated and
// freed on a thread of their own, joined before RSS is read again: AddressSanitizer's fake
// stacks (detect_stack_use_after_return) are per thread and grow by megabytes during the run;
// they go with the thread, while everything the heap keeps stays. 64 MiB under sanitizers
// (TIDE_TEST_SCALE scales it).
//
// The heap's own share of RSS, its arenas' resident pages (mincore), must drop to zero in
// every build. Under ThreadSanitizer the RSS bound is not checked: TSan's shadow memory for
// the heap's pages (several bytes per byte touched) stays resident after the heap releases
// them, so RSS there measures TSan, not the heap.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <new>
#include <thread>

#include "global_heap.hpp"
#include "os.hpp"
#include "support/random.hpp"
#include "support/scale.hpp"
#include "tide/heap.hpp"

#if defined(__SANITIZE_THREAD__)
#define TIDE_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TIDE_TEST_TSAN 1
#endif
#endif
#ifndef TIDE_TEST_TSAN
#define TIDE_TEST_TSAN 0
#endif

namespace {

using tide::heap::detail::os_resident_bytes;
constexpr bool rss_measures_the_heap = !TIDE_TEST_TSAN;

struct object_header {  // at the start of every object: the list of live objects
  object_header* next;
  std::size_t size;
};

TEST(HeapGiveBack, FreeingEverythingAndReleasingReturnsRss) {
  const std::size_t target = tide_test::scaled(std::size_t{256} << 20, std::size_t{16} << 20);
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

}  // namespace
