// AddressSanitizer poisoning of free memory, so a use after free of a tide::heap block is
// reported under ASan as it would be for malloc. Without ASan these are no-ops. See docs/heap.md
// ("Checks").
//
// A free small object is poisoned except its first word (the link of the free list it is on,
// which the thread caches and central lists read); it is unpoisoned when handed out. A span
// going back to the page heap is poisoned whole, and unpoisoned when carved again.
#pragma once

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#define TIDE_HEAP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TIDE_HEAP_ASAN 1
#endif
#endif

#if defined(TIDE_HEAP_ASAN)
#include <sanitizer/asan_interface.h>
#endif

namespace tide::heap::detail {

inline void poison(void* p, std::size_t bytes) noexcept {
#if defined(TIDE_HEAP_ASAN)
  ASAN_POISON_MEMORY_REGION(p, bytes);
#else
  (void)p;
  (void)bytes;
#endif
}

inline void unpoison(void* p, std::size_t bytes) noexcept {
#if defined(TIDE_HEAP_ASAN)
  ASAN_UNPOISON_MEMORY_REGION(p, bytes);
#else
  (void)p;
  (void)bytes;
#endif
}

// A free object on a list: everything after its link word.
inline void poison_free_object(void* p, std::size_t bytes) noexcept {
  poison(static_cast<char*>(p) + sizeof(void*), bytes - sizeof(void*));
}

}  // namespace tide::heap::detail
