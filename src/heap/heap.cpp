// tide::heap::allocate / deallocate: size class or page run, then the layer that owns it.
// See docs/heap.md for the layers.
#include "tide/heap.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>

#include "global_heap.hpp"
#include "misuse.hpp"
#include "size_classes.hpp"

namespace tide::heap::detail {

void report_misuse(const char* what, const void* p) noexcept {
  std::fprintf(stderr, "tide::heap::deallocate(%p): %s\n", p, what);
  std::abort();
}

global_heap& the_heap() noexcept {
  alignas(global_heap) static unsigned char storage[sizeof(global_heap)];
  static global_heap* heap = ::new (storage) global_heap();
  return *heap;
}

std::size_t release_free_pages() noexcept { return the_heap().pages.release_free_pages(); }

namespace {

void* allocate_large(global_heap& heap, std::size_t size, std::size_t align) {
  if (size > page_map::page_limit * page_bytes) throw std::bad_alloc();
  const std::size_t pages = (size + page_bytes - 1) / page_bytes;
  const std::size_t align_pages = align <= page_bytes ? 1 : align / page_bytes;
  span* s = heap.pages.allocate_large(pages, align_pages);
  if (s == nullptr) throw std::bad_alloc();
  return s->base();
}

// The span p belongs to, or a misuse report if there is none.
span* span_of(global_heap& heap, void* p) noexcept {
  span* s = heap.map.lookup(page_of(p));
  if (s == nullptr) report_misuse("pointer not allocated by tide::heap (or already freed)", p);
  return s;
}

void deallocate_in(global_heap& heap, span* s, void* p) noexcept {
  switch (s->state) {
    case span_state::small:
      heap.central[s->size_class].deallocate(s, p);
      return;
    case span_state::large:
      if (p != s->base()) report_misuse("interior pointer (not the start of a block)", p);
      heap.pages.deallocate(s);
      return;
    case span_state::free:
    case span_state::released:
      report_misuse("double free (its pages are free)", p);
  }
}

}  // namespace
}  // namespace tide::heap::detail

namespace tide::heap {

void* allocate(std::size_t size, std::size_t align) {
  using namespace detail;
  TIDE_CHECK(align != 0 && (align & (align - 1)) == 0,
             "tide::heap::allocate: align must be a power of two");
  global_heap& heap = the_heap();
  if (size == 0) size = 1;
  if (align <= page_bytes && size <= max_small_bytes) {
    if (const int c = size_class_of(size, align); c != 0) {
      void* p = heap.central[c].allocate();
      if (p == nullptr) throw std::bad_alloc();
      return p;
    }
  }
  return allocate_large(heap, size, align);
}

void deallocate(void* p) noexcept {
  if (p == nullptr) return;
  detail::global_heap& heap = detail::the_heap();
  detail::deallocate_in(heap, detail::span_of(heap, p), p);
}

void deallocate(void* p, std::size_t size) noexcept {
  using namespace detail;
  if (p == nullptr) return;
  global_heap& heap = the_heap();
  span* s = span_of(heap, p);
  // Cheap: the block must hold the size the caller says it asked for.
  const std::size_t block = s->state == span_state::small ? s->object_bytes : s->bytes();
  if (s->in_use() && size > block) {
    report_misuse("sized deallocate with a size larger than the block allocated", p);
  }
  deallocate_in(heap, s, p);
}

}  // namespace tide::heap
