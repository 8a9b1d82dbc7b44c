// The process-wide heap: one page map, one page heap, one central list per size class and the
// thread cache registry, created on first use and never destroyed (allocations may outlive
// static destructors). See docs/heap.md.
#pragma once

#include <atomic>

#include "central_list.hpp"
#include "page_heap.hpp"
#include "page_map.hpp"
#include "thread_cache_registry.hpp"

namespace tide::heap::detail {

struct global_heap {
  page_map map;
  page_heap pages{map};
  central_list central[size_class_count];
  thread_cache_registry caches{central};

  global_heap() noexcept {
    for (int c = 1; c < size_class_count; ++c) central[c].init(pages, map, c);
  }
};

// The heap, created by the first call (thread-safe). Inline: one load on the fast paths.
global_heap& create_heap() noexcept;
inline constinit std::atomic<global_heap*> heap_instance{nullptr};
TIDE_ALWAYS_INLINE global_heap& the_heap() noexcept {
  global_heap* heap = heap_instance.load(std::memory_order_acquire);
  return heap != nullptr ? *heap : create_heap();
}

}  // namespace tide::heap::detail
