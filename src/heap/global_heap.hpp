// The process-wide heap: one page map, one page heap, one central list per size class,
// created on first use and never destroyed (allocations may outlive static destructors).
// See docs/heap.md.
#pragma once

#include "central_list.hpp"
#include "page_heap.hpp"
#include "page_map.hpp"

namespace tide::heap::detail {

struct global_heap {
  page_map map;
  page_heap pages{map};
  central_list central[size_class_count];

  global_heap() noexcept {
    for (int c = 1; c < size_class_count; ++c) central[c].init(pages, c);
  }
};

global_heap& the_heap() noexcept;

// Returns every free page to the OS; the bytes released. (tide::release_memory() will call
// this once memstats exist.)
std::size_t release_free_pages() noexcept;

}  // namespace tide::heap::detail
