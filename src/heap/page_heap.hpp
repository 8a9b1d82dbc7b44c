// The page heap: carves spans out of arenas, coalesces them when freed, and releases free
// pages to the OS. See docs/heap.md.
//
// Vocabulary: an *arena* is one reservation of address space from the OS (page-aligned,
// arena_bytes or larger for a huge allocation); a *span* is a run of pages (span.hpp).
//
//   arena:  | small span | large span | free span | small span |   released span ...  |
//                                         ^ resident, reusable      ^ madvised, not in RSS
//
// Free and released spans sit on free lists by state and length (span_lists.hpp): one list
// per length 1..127 pages and one list (searched best-fit) for longer spans. Allocation takes
// free spans first (their pages are already resident), then released ones, splitting off the
// rest; when nothing fits, it looks for free and released neighbours that together would
// (they do not merge across states), releases the free ones of that run only and tries again,
// and only then reserves a new arena, which starts released. (It used to release every free
// span there: with 256 MiB free in short spans between live ones, an 8 MiB allocation took
// 31-34 ms on a VM, and grew the heap anyway; now under 0.1 ms.)
// The scavenger (release_idle_pages), release_memory() and the memory limit
// (release_free_pages) madvise without the lock, as Go's scavenger does: they take a batch of
// free spans off the lists (state releasing: no allocation finds them, no neighbour merges
// with them), release them unlocked, then list them as released. So an allocation or a free
// never waits for their system calls (only an allocation that found no room releases under
// the lock, and then only the run it needs).
//
// Invariants (check_invariants() recomputes them):
//   - a free span has no free neighbour and a released span no released neighbour
//     (coalescing is eager, within one state; a free span next to a released one stays
//     apart until release_free_pages() releases it);
//   - every free or released span is on exactly the list for its state and length, and every
//     releasing span on releasing_;
//   - free_pages_ / released_pages_ / in_use_pages_ equal the sums over the spans (releasing
//     pages count as free: they are resident until the madvise is done), and their total
//     equals the pages of all arenas; footprint_pages_ == in_use_ + free_pages_;
//   - the page map invariants stated in page_map.hpp.
//
// Thread safety: every public member takes the page heap's lock; release_idle_pages and
// release_free_pages also take release_mu_ (first), which fork takes too, so a child never
// inherits a batch that is half released.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>

#include "fixed_pool.hpp"
#include "page_map.hpp"
#include "trace.hpp"
#include "span.hpp"
#include "span_lists.hpp"

namespace tide::heap::detail {

struct page_heap_stats {
  std::size_t arena_bytes = 0;     // reserved from the OS
  std::size_t in_use_bytes = 0;    // in small and large spans
  std::size_t free_bytes = 0;      // in free spans: resident, idle
  std::size_t released_bytes = 0;  // in released spans: returned to the OS
  std::size_t span_count = 0;      // span records live (all states)
  std::size_t small_spans = 0;
  std::size_t large_spans = 0;
  std::size_t free_spans = 0;      // free and being released by the scavenger
  std::size_t released_spans = 0;
  std::size_t metadata_bytes = 0;  // span records, bitmap blocks, page map entries
  std::uint64_t large_mallocs = 0;
  std::uint64_t large_frees = 0;
  std::size_t large_live_bytes = 0;
  std::uint64_t released_total_bytes = 0;  // released ever
};

class page_heap {
 public:
  using reserve_function = void* (*)(std::size_t bytes, std::size_t align) noexcept;
  using release_function = void (*)(void* start, std::size_t bytes) noexcept;
  static constexpr std::size_t default_arena_bytes = std::size_t{64} << 20;

  // `reserve` is os_reserve and `release` os_release except in tests, which inject failures
  // and look at the heap while it releases.
  explicit page_heap(page_map& map, reserve_function reserve = os_reserve,
                     std::size_t arena_bytes = default_arena_bytes,
                     release_function release = os_release) noexcept;
  page_heap(const page_heap&) = delete;
  page_heap& operator=(const page_heap&) = delete;
  // Returns every arena to the OS. Preconditions: no span is in use (tests only; the
  // process-wide heap is never destroyed).
  ~page_heap();

  // A large span of `pages` pages whose first page is aligned to `align_pages` (a power of
  // two), or nullptr if the OS refuses memory. Preconditions: pages >= 1.
  span* allocate_large(std::size_t pages, std::size_t align_pages = 1) noexcept;

  // A small span of class c, cut into free objects, or nullptr if the OS refuses memory.
  span* allocate_small(int c) noexcept;

  // Takes back an in-use span (small or large) and coalesces it with free neighbours. A
  // coalesced free span is as old as the larger of its parts (see release_idle_pages).
  void deallocate(span* s) noexcept;

  // Releases every free span to the OS (madvise) and coalesces the released runs, in batches
  // as release_idle_pages. Returns the bytes released. `why` names the caller in the trace
  // (TIDE_TRACE=1).
  std::size_t release_free_pages(const char* why = "release") noexcept;

  // Releases the free spans freed at or before `cutoff_ms` (os_monotonic_ms), in batches of
  // at most max_release_batch bytes, each madvised without the lock. Returns the bytes
  // released.
  std::size_t release_idle_pages(std::uint64_t cutoff_ms) noexcept;
  static constexpr std::size_t max_release_batch = std::size_t{64} << 20;

  // Pages in use plus free resident pages, in bytes: what the memory limit counts. Lock-free
  // (a mirror of the page counts, updated under the lock).
  std::size_t footprint_bytes() const noexcept {
    return footprint_pages_.load(std::memory_order_relaxed) * page_bytes;
  }
  // The lowest footprint since the last reset_footprint_low_water(): the memory limit asks
  // whether the footprint dipped under it between two checks.
  std::size_t footprint_low_water_bytes() const noexcept {
    return footprint_low_water_pages_.load(std::memory_order_relaxed) * page_bytes;
  }
  void reset_footprint_low_water() noexcept;

  // See central_list::lock_for_fork.
  void lock_for_fork() noexcept {
    release_mu_.lock();
    mu_.lock();
  }
  void unlock_after_fork() noexcept {
    mu_.unlock();
    release_mu_.unlock();
  }

  page_heap_stats stats() const noexcept;
  // The arena, in-use, idle and released bytes the trace prints (TIDE_TRACE=1).
  trace_totals totals() const noexcept;

  // The bytes of all arenas that are resident (mincore): what the heap's pages cost in RSS.
  // O(arena pages); for tests and diagnostics.
  std::size_t resident_arena_bytes() const noexcept;

  // The span whose pages include `page`, or nullptr if no arena holds it. The page map has
  // nothing for the inner pages of a large or idle span, so this walks left to the nearest
  // mapped page: O(the span's pages), for error reports.
  const span* span_containing(page_id page) const noexcept;

  void check_invariants() const noexcept;

 private:
  span* allocate_locked(std::size_t pages, std::size_t align_pages) noexcept;
  span* find_fit_locked(std::size_t pages, span_state state) noexcept;
  span* carve_locked(span* s, std::size_t pages, std::size_t align_pages) noexcept;
  bool grow_locked(std::size_t pages) noexcept;
  void deallocate_locked(span* s) noexcept;
  // For an allocation that found no room: releases the free spans of one run of free and
  // released neighbours at least `pages` long, so it merges into one span. Returns the bytes.
  std::size_t release_run_locked(std::size_t pages) noexcept;
  // release_idle_pages without the trace.
  std::size_t release_in_batches(std::uint64_t cutoff_ms) noexcept;
  void release_span_locked(span* s) noexcept;
  // Lists s, off every list and with its pages released, as a released span.
  void list_as_released_locked(span* s) noexcept;
  // Takes up to max_release_batch bytes of free spans freed by cutoff_ms off the free lists
  // onto releasing_; returns their bytes.
  std::size_t take_idle_spans_locked(std::uint64_t cutoff_ms) noexcept;
  // Lists the spans of releasing_, whose pages have been released, as released spans.
  void finish_releasing_locked() noexcept;
  // Moves the records of free and released spans to the lowest chunks of the record pool, then
  // returns the pages of span records and bitmap blocks that hold no live record.
  void release_metadata_locked() noexcept;
  // Gives the free or released span s a new record, lower in the pool.
  void move_free_record_locked(span* s) noexcept;
  void check_invariants_locked_if_expensive() const noexcept;
  // Adds a free or released span to its list, merging it with neighbours of its state.
  void insert_free_locked(span* s) noexcept;
  void remove_free_locked(span* s) noexcept;
  void map_ends_locked(span* s) noexcept;
  span* new_span_locked(page_id start, std::size_t pages, span_state state) noexcept;
  void add_pages_locked(span_state state, std::ptrdiff_t pages) noexcept;
  span_lists& lists_for(span_state state) noexcept;
  const span_lists& lists_for(span_state state) const noexcept;
  void check_invariants_locked() const noexcept;
  trace_totals totals_locked() const noexcept;

  struct arena {
    page_id start;
    std::size_t pages;
  };
  static constexpr std::size_t max_arenas = 4096;

  std::mutex release_mu_;  // held by release_idle_pages throughout, so one batch at a time
  mutable std::mutex mu_;
  page_map& map_;
  reserve_function reserve_;
  release_function release_;
  std::size_t arena_bytes_;
  fixed_pool span_records_{sizeof(span)};
  fixed_pool bitmap_blocks_{span::bitmap_block_bytes};
  span_lists free_lists_;
  span_lists released_lists_;
  span_list releasing_;  // the batch release_idle_pages is releasing without the lock
  std::size_t free_pages_ = 0;
  std::size_t released_pages_ = 0;
  std::size_t in_use_pages_ = 0;
  std::atomic<std::size_t> footprint_pages_{0};  // in_use_pages_ + free_pages_
  std::atomic<std::size_t> footprint_low_water_pages_{0};
  std::uint64_t large_mallocs_ = 0;
  std::uint64_t large_frees_ = 0;
  std::size_t large_live_pages_ = 0;
  std::uint64_t released_total_bytes_ = 0;
  arena arenas_[max_arenas] = {};
  std::size_t arena_count_ = 0;
};

}  // namespace tide::heap::detail
