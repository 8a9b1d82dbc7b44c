// The page heap: carving, coalescing, release to the OS, alignment, OS refusal.
#include "page_heap.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "support/random.hpp"
#include "support/scale.hpp"

namespace {

using namespace tide::heap::detail;

constexpr std::size_t test_arena_bytes = std::size_t{16} << 20;  // 2048 pages

struct heap_fixture {
  std::unique_ptr<page_map> map = std::make_unique<page_map>();
  std::unique_ptr<page_heap> heap;
  explicit heap_fixture(page_heap::reserve_function reserve = os_reserve,
                        std::size_t arena_bytes = test_arena_bytes,
                        page_heap::release_function release = os_release)
      : heap(std::make_unique<page_heap>(*map, reserve, arena_bytes, release)) {}
};

// A large span maps its first and last page; its inner pages map to nothing, and
// span_containing finds it from any of them.
TEST(PageHeap, LargeSpansAreDistinctAndMapTheirEnds) {
  heap_fixture f;
  std::vector<span*> spans;
  for (std::size_t pages : {1, 3, 17, 200, 1}) {
    span* s = f.heap->allocate_large(pages);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->state, span_state::large);
    EXPECT_EQ(s->page_count, pages);
    EXPECT_EQ(f.map->lookup(s->start), s);
    EXPECT_EQ(f.map->lookup(s->end() - 1), s);
    for (page_id p = s->start + 1; p + 1 < s->end(); ++p) EXPECT_EQ(f.map->lookup(p), nullptr);
    for (page_id p = s->start; p < s->end(); ++p) EXPECT_EQ(f.heap->span_containing(p), s);
    std::memset(s->base(), 0xab, s->bytes());  // writable
    spans.push_back(s);
  }
  f.heap->check_invariants();
  EXPECT_EQ(f.heap->stats().in_use_bytes, 222 * page_bytes);
  const page_id inside_200 = spans[3]->start + 100;
  for (span* s : spans) f.heap->deallocate(s);
  f.heap->check_invariants();
  EXPECT_EQ(f.heap->stats().in_use_bytes, 0u);
  const span* idle = f.heap->span_containing(inside_200);
  ASSERT_NE(idle, nullptr);
  EXPECT_FALSE(idle->in_use()) << "freed pages are in an idle span";
  EXPECT_LE(idle->start, inside_200);
  EXPECT_GT(idle->end(), inside_200);
  EXPECT_EQ(f.heap->span_containing(page_of(&f)), nullptr) << "not in any arena";
}

TEST(PageHeap, FreedNeighboursCoalesceWithinTheirState) {
  heap_fixture f;
  span* a = f.heap->allocate_large(4);
  span* b = f.heap->allocate_large(4);
  span* c = f.heap->allocate_large(4);
  ASSERT_TRUE(a && b && c);
  ASSERT_EQ(b->start, a->end()) << "a fresh arena is carved front to back";
  ASSERT_EQ(c->start, b->end());
  const page_id first = a->start;
  f.heap->deallocate(b);
  f.heap->check_invariants();
  EXPECT_EQ(f.heap->stats().free_bytes, 4 * page_bytes);
  f.heap->deallocate(a);  // merges with b
  f.heap->check_invariants();
  span* merged = f.map->lookup(first);
  ASSERT_NE(merged, nullptr);
  EXPECT_EQ(merged->page_count, 8u);
  EXPECT_EQ(f.map->lookup(first + 7), merged);
  EXPECT_EQ(f.map->lookup(first + 3), nullptr) << "inner pages of a free span map to nothing";
  f.heap->deallocate(c);  // merges with a+b; the released rest of the arena stays apart
  f.heap->check_invariants();
  EXPECT_EQ(f.map->lookup(first)->page_count, 12u);
  const page_heap_stats st = f.heap->stats();
  EXPECT_EQ(st.free_bytes, 12 * page_bytes);
  EXPECT_EQ(st.released_bytes, test_arena_bytes - 12 * page_bytes);
  EXPECT_EQ(st.span_count, 2u);
}

TEST(PageHeap, ReleaseFreePagesMakesEverythingOneReleasedSpan) {
  heap_fixture f;
  std::vector<span*> spans;
  for (int i = 0; i < 10; ++i) spans.push_back(f.heap->allocate_large(1 + i));
  for (std::size_t i = 0; i < spans.size(); i += 2) f.heap->deallocate(spans[i]);
  EXPECT_EQ(f.heap->release_free_pages(), (1 + 3 + 5 + 7 + 9) * page_bytes);
  f.heap->check_invariants();
  for (std::size_t i = 1; i < spans.size(); i += 2) f.heap->deallocate(spans[i]);
  EXPECT_EQ(f.heap->release_free_pages(), (2 + 4 + 6 + 8 + 10) * page_bytes);
  f.heap->check_invariants();
  const page_heap_stats st = f.heap->stats();
  EXPECT_EQ(st.released_bytes, test_arena_bytes);
  EXPECT_EQ(st.free_bytes, 0u);
  EXPECT_EQ(st.span_count, 1u);
  EXPECT_EQ(f.heap->release_free_pages(), 0u) << "nothing left to release";
}

TEST(PageHeap, ReleaseReturnsResidentPagesToTheOS) {
  heap_fixture f;
  const std::size_t pages = 1024;  // 8 MiB
  span* s = f.heap->allocate_large(pages);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(f.heap->resident_arena_bytes(), 0u) << "a fresh arena is not resident";
  std::memset(s->base(), 1, s->bytes());
  EXPECT_GE(f.heap->resident_arena_bytes(), pages * page_bytes);
  const std::size_t touched = os_resident_bytes();
  f.heap->deallocate(s);
  EXPECT_GE(os_resident_bytes() + (std::size_t{1} << 20), touched)
      << "a free span stays resident until released";
  EXPECT_GE(f.heap->resident_arena_bytes(), pages * page_bytes) << "free pages stay resident";
  EXPECT_EQ(f.heap->release_free_pages(), pages * page_bytes);
  EXPECT_EQ(f.heap->resident_arena_bytes(), 0u);
  const std::size_t after = os_resident_bytes();
  EXPECT_LE(after + 7 * (std::size_t{1} << 20), touched)
      << "RSS " << touched << " -> " << after << " after releasing 8 MiB";
}

TEST(PageHeap, FreeSpansAreReusedBeforeReleasedOnes) {
  heap_fixture f;
  span* a = f.heap->allocate_large(5);
  span* keep = f.heap->allocate_large(1);
  const page_id a_start = a->start;
  f.heap->deallocate(a);
  span* again = f.heap->allocate_large(3);
  EXPECT_EQ(again->start, a_start) << "the free (resident) run is taken first";
  f.heap->deallocate(again);
  f.heap->deallocate(keep);
  f.heap->check_invariants();
}

// Free and released neighbours do not merge. An allocation that fits nowhere releases the free
// spans of one run of them that together would fit, and nothing else.
TEST(PageHeap, AnAllocationReleasesOnlyTheFreeSpansOfARunThatFits) {
  heap_fixture f(os_reserve, 16 * page_bytes);
  span* a = f.heap->allocate_large(4);
  span* b = f.heap->allocate_large(4);
  span* keep = f.heap->allocate_large(1);
  span* d = f.heap->allocate_large(4);
  span* keep2 = f.heap->allocate_large(1);  // 2 pages of the arena are left, released
  const page_id a_start = a->start;
  f.heap->deallocate(a);
  ASSERT_EQ(f.heap->release_free_pages(), 4 * page_bytes);
  f.heap->deallocate(b);  // free, next to the released a
  f.heap->deallocate(d);  // free, elsewhere
  f.heap->check_invariants();
  span* big = f.heap->allocate_large(8);
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(big->start, a_start) << "a and b together";
  const page_heap_stats st = f.heap->stats();
  EXPECT_EQ(st.arena_bytes, 16 * page_bytes) << "no new arena";
  EXPECT_EQ(st.released_total_bytes, 8 * page_bytes) << "a, then b: not d";
  EXPECT_EQ(st.free_bytes, 4 * page_bytes) << "d stays free (resident)";
  f.heap->check_invariants();
  for (span* s : {big, keep, keep2}) f.heap->deallocate(s);
  f.heap->check_invariants();
}

// The runs are found from whichever state has fewer spans (with thousands of free spans
// between live ones and no released span, the walk is then empty). Each of the four shapes of a
// two-span run, [x][y] with x or y released, is found with few free spans and with few
// released ones (six one-page spans between live ones tip the count).
TEST(PageHeap, AnAllocationFindsARunFromTheStateWithFewerSpans) {
  for (const bool x_released : {true, false}) {
    for (const bool singles_released : {true, false}) {
      SCOPED_TRACE(::testing::Message() << "x released " << x_released << ", singles released "
                                        << singles_released);
      heap_fixture f(os_reserve, 24 * page_bytes);
      span* x = f.heap->allocate_large(4);
      span* y = f.heap->allocate_large(4);
      std::vector<span*> live{f.heap->allocate_large(1)};
      std::vector<span*> singles;
      for (int i = 0; i < 6; ++i) {
        singles.push_back(f.heap->allocate_large(1));
        live.push_back(f.heap->allocate_large(1));
      }  // 3 pages of the arena are left, released: no room for 8
      const page_id x_start = x->start;
      span* released = x_released ? x : y;
      span* stays_free = x_released ? y : x;
      f.heap->deallocate(released);
      if (singles_released) {
        for (span* s : singles) f.heap->deallocate(s);
      }
      const std::size_t released_before = f.heap->release_free_pages();
      f.heap->deallocate(stays_free);
      if (!singles_released) {
        for (span* s : singles) f.heap->deallocate(s);
      }
      const page_heap_stats before = f.heap->stats();
      ASSERT_NE(before.free_spans, before.released_spans) << "one state has fewer spans";
      span* big = f.heap->allocate_large(8);
      ASSERT_NE(big, nullptr);
      EXPECT_EQ(big->start, x_start) << "x and y together";
      const page_heap_stats st = f.heap->stats();
      EXPECT_EQ(st.arena_bytes, 24 * page_bytes) << "no new arena";
      EXPECT_EQ(st.released_total_bytes, released_before + 4 * page_bytes) << "only the run's";
      f.heap->check_invariants();
      f.heap->deallocate(big);
      for (span* s : live) f.heap->deallocate(s);
      f.heap->check_invariants();
    }
  }
}

// When no run would fit, it grows at once: releasing free spans would not help (before, it
// released all of them first: with 256 MiB free in short spans between live ones, an 8 MiB
// allocation took 31-34 ms on a VM, and then grew anyway).
TEST(PageHeap, AnAllocationThatNoRunFitsGrowsWithoutReleasing) {
  heap_fixture f;
  std::vector<span*> spans;
  for (int i = 0; i < 20; ++i) spans.push_back(f.heap->allocate_large(4));
  for (std::size_t i = 0; i < spans.size(); i += 2) f.heap->deallocate(spans[i]);
  const std::size_t arena_pages = test_arena_bytes / page_bytes;
  span* big = f.heap->allocate_large(arena_pages);
  ASSERT_NE(big, nullptr);
  const page_heap_stats st = f.heap->stats();
  EXPECT_EQ(st.released_total_bytes, 0u);
  EXPECT_EQ(st.free_bytes, 40 * page_bytes) << "the ten short free spans stay resident";
  EXPECT_GT(st.arena_bytes, test_arena_bytes);
  f.heap->check_invariants();
  f.heap->deallocate(big);
  for (std::size_t i = 1; i < spans.size(); i += 2) f.heap->deallocate(spans[i]);
  f.heap->check_invariants();
}

TEST(PageHeap, AlignedLargeSpansStartOnTheirAlignment) {
  heap_fixture f;
  span* pad = f.heap->allocate_large(1);  // so the next free page is not aligned
  for (std::size_t align_pages : {2, 8, 64, 512}) {
    span* s = f.heap->allocate_large(3, align_pages);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->start % align_pages, 0u) << "align " << align_pages;
    EXPECT_EQ(s->page_count, 3u);
    f.heap->check_invariants();
    f.heap->deallocate(s);
  }
  f.heap->deallocate(pad);
  f.heap->check_invariants();
}

TEST(PageHeap, SpansLongerThanAnArenaGetTheirOwnArena) {
  heap_fixture f;
  const std::size_t pages = test_arena_bytes / page_bytes * 3 + 5;
  span* s = f.heap->allocate_large(pages);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->page_count, pages);
  f.heap->check_invariants();
  f.heap->deallocate(s);
  f.heap->check_invariants();
}

bool refuse_reservations = false;
void* maybe_refusing_reserve(std::size_t bytes, std::size_t align) noexcept {
  return refuse_reservations ? nullptr : os_reserve(bytes, align);
}

TEST(PageHeap, OSRefusalGivesNullptrAndTheHeapStaysUsable) {
  heap_fixture f(maybe_refusing_reserve);
  span* small = f.heap->allocate_large(2);
  ASSERT_NE(small, nullptr);
  refuse_reservations = true;
  EXPECT_EQ(f.heap->allocate_large(test_arena_bytes / page_bytes * 2), nullptr);
  EXPECT_EQ(f.heap->allocate_small(5) != nullptr, true) << "the arena still has room";
  refuse_reservations = false;
  span* big = f.heap->allocate_large(test_arena_bytes / page_bytes * 2);
  ASSERT_NE(big, nullptr);
  f.heap->check_invariants();
  f.heap->deallocate(big);
  f.heap->deallocate(small);
}

TEST(PageHeap, SmallSpansAreCutForTheirClass) {
  heap_fixture f;
  for (int c = 1; c < size_class_count; ++c) {
    span* s = f.heap->allocate_small(c);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->state, span_state::small);
    EXPECT_EQ(s->size_class, c);
    EXPECT_EQ(s->page_count, class_span_pages[c]);
    EXPECT_EQ(s->object_count, class_objects_per_span[c]);
    for (page_id p = s->start; p < s->end(); ++p) EXPECT_EQ(f.map->lookup(p), s);
    f.heap->deallocate(s);
  }
  f.heap->check_invariants();
  EXPECT_EQ(f.heap->stats().in_use_bytes, 0u);
}

TEST(PageHeap, RandomAllocateFreeReleaseKeepsTheInvariants) {
  heap_fixture f;
  tide_test::rng rng(42);
  std::vector<span*> live;
  const std::size_t steps = tide_test::scaled(4000, 400);
  for (std::size_t step = 0; step < steps; ++step) {
    const std::uint64_t op = rng.below(10);
    if (op < 5 || live.empty()) {
      const std::size_t pages = rng.chance(1, 10) ? 1 + rng.below(600) : 1 + rng.below(8);
      span* s = f.heap->allocate_large(pages, std::size_t{1} << rng.below(4));
      ASSERT_NE(s, nullptr);
      live.push_back(s);
    } else if (op < 9) {
      const std::size_t i = rng.below(live.size());
      f.heap->deallocate(live[i]);
      live[i] = live.back();
      live.pop_back();
    } else {
      f.heap->release_free_pages();
    }
    if (step % 50 == 0) f.heap->check_invariants();
  }
  for (span* s : live) f.heap->deallocate(s);
  f.heap->release_free_pages();
  f.heap->check_invariants();
  const page_heap_stats st = f.heap->stats();
  EXPECT_EQ(st.in_use_bytes, 0u);
  EXPECT_EQ(st.released_bytes, st.arena_bytes);
}

TEST(PageHeap, ReleaseIdlePagesReleasesOnlySpansFreedByTheCutoff) {
  heap_fixture f;
  span* old_span = f.heap->allocate_large(4);
  span* keep = f.heap->allocate_large(1);  // keeps the two free spans apart
  span* new_span = f.heap->allocate_large(6);
  std::memset(old_span->base(), 1, old_span->bytes());
  std::memset(new_span->base(), 1, new_span->bytes());
  const std::uint64_t before_free = os_monotonic_ms();
  f.heap->deallocate(old_span);
  EXPECT_EQ(f.heap->release_idle_pages(before_free - 1), 0u) << "nothing was freed that early";
  EXPECT_EQ(f.heap->stats().free_bytes, 4 * page_bytes);
  f.heap->deallocate(new_span);
  EXPECT_EQ(f.heap->release_idle_pages(os_monotonic_ms()), 10 * page_bytes);
  EXPECT_EQ(f.heap->stats().free_bytes, 0u);
  EXPECT_EQ(f.heap->stats().released_total_bytes, 10 * page_bytes);
  f.heap->check_invariants();
  f.heap->deallocate(keep);
}

// The scavenger, release_memory() and the memory limit madvise without the page heap's lock:
// while they release, another thread allocates and frees (before, it waited for the whole
// batch: up to 64 MiB of madvise, which took milliseconds on a VM and showed as tide::heap_map
// merges that slow). The span being released is out of reach meanwhile: no allocation takes
// it and it still counts as free.
struct release_observer {
  page_heap* heap = nullptr;
  std::size_t calls = 0;
  bool others_got_through = false;
  bool overlapped = false;
  std::size_t free_bytes_meanwhile = 0;
  std::thread other;
};
release_observer observer;

void observing_release(void* start, std::size_t bytes) noexcept {
  ++observer.calls;
  std::promise<void> done;
  std::future<void> finished = done.get_future();
  // A thread of its own: if the lock were held here it would wait until the release is over,
  // and the test fails after the timeout below instead of hanging.
  observer.other = std::thread([&, start, bytes, done = std::move(done)]() mutable {
    span* s = observer.heap->allocate_large(2);
    const auto* lo = static_cast<const char*>(start);
    observer.overlapped = s == nullptr || (static_cast<const char*>(s->base()) < lo + bytes &&
                                           lo < static_cast<const char*>(s->base()) + s->bytes());
    observer.free_bytes_meanwhile = observer.heap->stats().free_bytes;
    observer.heap->check_invariants();
    if (s != nullptr) observer.heap->deallocate(s);
    done.set_value();
  });
  observer.others_got_through = finished.wait_for(std::chrono::seconds(30)) ==
                                std::future_status::ready;
  os_release(start, bytes);
}

// Frees an 8-page span and releases it with `release`, which must madvise without the lock.
template <class Release>
void expect_release_without_the_lock(Release release) {
  heap_fixture f(os_reserve, test_arena_bytes, observing_release);
  observer = {};
  observer.heap = f.heap.get();
  span* idle = f.heap->allocate_large(8);
  span* keep = f.heap->allocate_large(1);  // keeps the idle span and the arena's rest apart
  std::memset(idle->base(), 1, idle->bytes());
  f.heap->deallocate(idle);
  EXPECT_EQ(release(*f.heap), 8 * page_bytes);
  observer.other.join();
  EXPECT_EQ(observer.calls, 1u);
  EXPECT_TRUE(observer.others_got_through) << "an allocation waited for the release's madvise";
  EXPECT_FALSE(observer.overlapped) << "an allocation took pages being released";
  EXPECT_EQ(observer.free_bytes_meanwhile, 8 * page_bytes) << "pages being released are resident";
  const page_heap_stats st = f.heap->stats();
  EXPECT_EQ(st.released_total_bytes, 8 * page_bytes);
  EXPECT_EQ(st.free_bytes, 2 * page_bytes) << "only the other thread's span, freed meanwhile";
  EXPECT_EQ(st.free_spans, 1u);
  f.heap->check_invariants();
  f.heap->deallocate(keep);
  f.heap->check_invariants();
}

TEST(PageHeap, TheScavengerReleasesWithoutTheLock) {
  expect_release_without_the_lock(
      [](page_heap& heap) { return heap.release_idle_pages(os_monotonic_ms()); });
}

TEST(PageHeap, ReleaseFreePagesReleasesWithoutTheLock) {
  expect_release_without_the_lock([](page_heap& heap) { return heap.release_free_pages(); });
}

TEST(PageHeap, FootprintCountsInUseAndFreePagesAndItsLowWater) {
  heap_fixture f;
  span* a = f.heap->allocate_large(8);
  EXPECT_EQ(f.heap->footprint_bytes(), 8 * page_bytes);
  f.heap->reset_footprint_low_water();
  f.heap->deallocate(a);
  EXPECT_EQ(f.heap->footprint_bytes(), 8 * page_bytes) << "free pages stay resident";
  f.heap->release_free_pages();
  EXPECT_EQ(f.heap->footprint_bytes(), 0u);
  span* b = f.heap->allocate_large(2);
  EXPECT_EQ(f.heap->footprint_low_water_bytes(), 0u) << "it dipped to 0 before growing again";
  f.heap->reset_footprint_low_water();
  EXPECT_EQ(f.heap->footprint_low_water_bytes(), 2 * page_bytes);
  f.heap->deallocate(b);
}

TEST(PageHeap, LargeAllocationsAreCounted) {
  heap_fixture f;
  span* a = f.heap->allocate_large(3);
  span* b = f.heap->allocate_large(5);
  f.heap->deallocate(a);
  const page_heap_stats st = f.heap->stats();
  EXPECT_EQ(st.large_mallocs, 2u);
  EXPECT_EQ(st.large_frees, 1u);
  EXPECT_EQ(st.large_live_bytes, 5 * page_bytes);
  EXPECT_EQ(st.large_spans, 1u);
  EXPECT_EQ(st.small_spans, 0u);
  f.heap->deallocate(b);
}

}  // namespace
