// tide::heap::allocate / deallocate: the thread cache fast path, then the layer that owns the
// block. See docs/heap.md for the layers.
//
// allocate: a size class (<= 32 KiB, alignment <= 8 KiB) pops from the calling thread's cache,
// refilling from the class's central list when the list is empty; anything larger is a run of
// pages from the page heap. An allocation the heap profile samples (profile.hpp) is a run of
// pages whatever its size. deallocate: the page map gives the span (none: a foreign pointer),
// the span's state says small or large (free: a double free), and a small object must start
// an object of its span (else an interior pointer) before it goes to the thread cache. Every
// step that grows the page heap's footprint is followed by the memory limit's check.
#include "tide/heap.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>

#include "environment.hpp"
#include "fork_safety.hpp"
#include "global_heap.hpp"
#include "misuse.hpp"
#include "poison.hpp"
#include "pressure.hpp"
#include "profile.hpp"
#include "release.hpp"
#include "scavenger.hpp"
#include "size_classes.hpp"

namespace tide::heap::detail {

void report_misuse(const char* what, const void* p) noexcept {
  std::fprintf(stderr, "tide::heap: %s (pointer %p)\n", what, p);
  std::abort();
}

global_heap& create_heap() noexcept {
  alignas(global_heap) static unsigned char storage[sizeof(global_heap)];
  static global_heap* heap = ::new (storage) global_heap();  // once, thread-safe
  heap_instance.store(heap, std::memory_order_release);
  // After the store: pthread_atfork may allocate, which must find the heap made.
  // Then the environment's knobs, which set the limit and the scavenger on the heap made.
  static const bool set_up = (register_fork_handlers(), apply_environment(), true);
  (void)set_up;
  return *heap;
}

std::size_t release_all(const char* why) noexcept {
  global_heap& heap = the_heap();
  if (thread_cache* tc = tls_thread_cache; tc != nullptr) tc->flush();
  return heap.pages.release_free_pages(why);
}

namespace {

// The class of a request, or 0 if it goes to the page heap. The common alignments (up to 16,
// with sizes above 8) take the plain lookup: every class from 16 B is a multiple of 16.
TIDE_ALWAYS_INLINE int class_for(std::size_t size, std::size_t align) noexcept {
  if (size > max_small_bytes || align > page_bytes) return 0;
  if (align <= 8 || (align <= 16 && size > 8)) return size_class_of(size == 0 ? 1 : size);
  return size_class_of(size == 0 ? 1 : size, align);
}

TIDE_NOINLINE void* allocate_small_slow(int c) {
  global_heap& heap = the_heap();
  void* p = nullptr;
  if (thread_cache* tc = heap.caches.current(); tc != nullptr) {
    the_scavenger().ensure_started();
    p = tc->refill(c);
  } else if (heap.central[c].allocate_batch(1, &p) == 1) {
    heap.caches.count_uncached_malloc(c);
  }
  if (p == nullptr) throw std::bad_alloc();
  unpoison(p, class_object_bytes[c]);
  the_pressure_monitor().check(heap.pages.footprint_bytes());
  return p;
}

// An object of class c from tc, refilling tc when it has none of that class.
TIDE_ALWAYS_INLINE void* allocate_from_cache(thread_cache& tc, int c) {
  void* p = tc.try_allocate(c);
  if (p == nullptr) return allocate_small_slow(c);
  unpoison(p, class_object_bytes[c]);
  return p;
}

// Whether the allocation whose bytes ran tc's sampler out is sampled; starts the next count.
TIDE_NOINLINE bool sample_now(thread_cache& tc) noexcept {
  const std::size_t rate = the_heap_profile().rate();
  tc.sampler.restart(rate);
  return rate != 0 && !heap_profile::thread_inside();
}

TIDE_NOINLINE void* allocate_pages(std::size_t size, std::size_t align) {
  global_heap& heap = the_heap();
  if (size > page_map::page_limit * page_bytes) throw std::bad_alloc();
  const std::size_t pages = (size + page_bytes - 1) / page_bytes;
  const std::size_t align_pages = align <= page_bytes ? 1 : align / page_bytes;
  span* s = heap.pages.allocate_large(pages, align_pages);
  if (s == nullptr) throw std::bad_alloc();
  the_scavenger().ensure_started();
  the_pressure_monitor().check(heap.pages.footprint_bytes());
  return s->base();
}

// A sampled allocation gets a span of its own, so that its free takes the large path, the
// only one that looks in the profile.
TIDE_NOINLINE void* allocate_sampled(std::size_t size, std::size_t align) {
  void* p = allocate_pages(size == 0 ? 1 : size, align);
  the_heap_profile().record_allocation(p, size);
  return p;
}

TIDE_NOINLINE void* allocate_large(std::size_t size, std::size_t align) {
  if (thread_cache* tc = tls_thread_cache;
      tc != nullptr && tc->sampler.counts_out(size) && sample_now(*tc)) {
    return allocate_sampled(size, align);
  }
  return allocate_pages(size, align);
}

// p's page maps to no span: it is not in the heap, or inside a large block or idle pages
// (only their first and last pages are mapped). Says which, and aborts.
[[noreturn]] TIDE_NOINLINE void report_unmapped(global_heap& heap, const void* p) noexcept {
  const span* s = heap.pages.span_containing(page_of(p));
  if (s != nullptr && s->state == span_state::large) {
    report_misuse("interior pointer (not the start of a block)", p);
  }
  report_misuse("pointer not allocated by tide::heap (or already freed)", p);
}

// A free before the heap exists: p cannot be tide's.
[[noreturn]] TIDE_NOINLINE void report_free_before_heap(const void* p) noexcept {
  report_unmapped(the_heap(), p);
}

// The heap a free goes to. Not the_heap(): a free never creates it, so that the free paths
// make no call that is not a tail call and need no stack frame.
TIDE_ALWAYS_INLINE global_heap& heap_for_free(const void* p) noexcept {
  global_heap* heap = heap_instance.load(std::memory_order_acquire);
  if (heap == nullptr) [[unlikely]] report_free_before_heap(p);
  return *heap;
}

// The span p belongs to, or a misuse report if there is none.
TIDE_ALWAYS_INLINE span* span_of(global_heap& heap, const void* p) noexcept {
  span* s = heap.map.lookup(page_of(p));
  if (s == nullptr) report_unmapped(heap, p);
  return s;
}

// A small object's free on a thread that has no cache yet: makes one (see
// thread_cache_registry::current), or frees to the central list if it cannot.
TIDE_NOINLINE void deallocate_without_cache(global_heap& heap, span* s, void* p) noexcept {
  if (thread_cache* tc = heap.caches.current(); tc != nullptr) {
    return tc->deallocate(p, s->size_class);
  }
  heap.central[s->size_class].deallocate(s, p);
  heap.caches.count_uncached_free(s->size_class);
}

TIDE_NOINLINE void deallocate_large(global_heap& heap, span* s, void* p) noexcept {
  if (s->state != span_state::large) report_misuse("double free (its pages are free)", p);
  if (p != s->base()) report_misuse("interior pointer (not the start of a block)", p);
  if (heap_profile& profile = the_heap_profile(); profile.has_live_samples()) {
    profile.record_free(p);
  }
  heap.pages.deallocate(s);
}

TIDE_ALWAYS_INLINE void deallocate_in(global_heap& heap, span* s, void* p) noexcept {
  if (s->state != span_state::small) return deallocate_large(heap, s, p);
  if (s->object_index(p) < 0) report_misuse("interior pointer (not the start of an object)", p);
  poison_free_object(p, s->object_bytes);
  // Every call on the common path is a tail call, so it needs no stack frame.
  if (thread_cache* tc = tls_thread_cache; tc != nullptr) return tc->deallocate(p, s->size_class);
  deallocate_without_cache(heap, s, p);
}

// The rest of allocate() for a thread cache whose sampler ran out: samples this allocation,
// or goes on as allocate() does.
TIDE_NOINLINE void* allocate_after_count_out(thread_cache& tc, std::size_t size,
                                             std::size_t align, int c) {
  if (sample_now(tc)) return allocate_sampled(size, align);
  return allocate_from_cache(tc, c);
}

}  // namespace
}  // namespace tide::heap::detail

namespace tide::heap {

void* allocate(std::size_t size, std::size_t align) {
  using namespace detail;
  TIDE_CHECK(align != 0 && (align & (align - 1)) == 0,
             "tide::heap::allocate: align must be a power of two");
  // Every call on the common path is a tail call, so it needs no stack frame.
  if (const int c = class_for(size, align); c != 0) {
    thread_cache* tc = tls_thread_cache;
    if (tc == nullptr) return allocate_small_slow(c);
    if (tc->sampler.counts_out(size)) [[unlikely]] {
      return allocate_after_count_out(*tc, size, align, c);
    }
    return allocate_from_cache(*tc, c);
  }
  return allocate_large(size == 0 ? 1 : size, align);
}

void deallocate(void* p) noexcept {
  if (p == nullptr) return;
  detail::global_heap& heap = detail::heap_for_free(p);
  detail::deallocate_in(heap, detail::span_of(heap, p), p);
}

void deallocate(void* p, std::size_t size) noexcept {
  using namespace detail;
  if (p == nullptr) return;
  global_heap& heap = heap_for_free(p);
  span* s = span_of(heap, p);
  // Cheap: the block must hold the size the caller says it asked for.
  const std::size_t block = s->state == span_state::small ? s->object_bytes : s->bytes();
  if (size > block && s->in_use()) {
    report_misuse("sized deallocate with a size larger than the block allocated", p);
  }
  deallocate_in(heap, s, p);
}

std::size_t usable_size(const void* p) noexcept {
  using namespace detail;
  global_heap& heap = the_heap();
  const span* s = span_of(heap, p);
  switch (s->state) {
    case span_state::small:
      return s->object_bytes;
    case span_state::large:
      return s->bytes();
    case span_state::free:
    case span_state::released:
    case span_state::releasing:
      break;
  }
  report_misuse("usable_size of a freed block", p);
}

}  // namespace tide::heap

namespace tide {

std::size_t release_memory() noexcept { return heap::detail::release_all("release_memory()"); }

}  // namespace tide
