// tide::heap: a size-class allocator in the manner of Go's runtime and tcmalloc, which gives
// freed pages back to the OS. See docs/heap.md.
//
//   void* p = tide::heap::allocate(100);        // a 112 B object (size class 8)
//   tide::heap::deallocate(p, 100);             // sized: the size given to allocate
//   void* q = tide::heap::allocate(1 << 20, 4096);
//   tide::heap::deallocate(q);                  // unsized
//
// Requests up to 32 KiB are served from size classes; larger ones in whole 8 KiB pages.
// Misuse (freeing a pointer tide::heap did not return, a double free, an interior pointer)
// prints what went wrong and aborts.
#pragma once

#include <cstddef>

namespace tide::heap {

// At least `size` bytes aligned to `align` (a power of two; at least alignof(max_align_t)
// for sizes >= 16). Never returns nullptr: throws std::bad_alloc if the size overflows or the
// OS refuses memory (the heap stays usable). allocate(0) returns a unique pointer.
[[nodiscard]] void* allocate(std::size_t size, std::size_t align = alignof(std::max_align_t));

// Frees a pointer allocate() returned. nullptr is ignored.
void deallocate(void* p) noexcept;

// Frees a pointer allocate(size, ...) returned; `size` must be the size asked for.
void deallocate(void* p, std::size_t size) noexcept;

}  // namespace tide::heap
