// Central lists: per size class, the spans that have a free object. See docs/heap.md.
//
// One central_list per size class (Go's mcentral). allocate() takes an object from the first
// span on the list, asking the page heap for a new span when the list is empty; a span that
// becomes full leaves the list. deallocate() frees an object in its span; a full span that
// gets a free object rejoins the list, and a span whose last object is freed goes back to
// the page heap at once (the per-thread caches of the next layer will keep spans warm).
//
// Invariants (check_invariants() recomputes them):
//   - every span on the list is a small span of this class and is neither full nor empty,
//     except that it may be empty for no longer than one call (never between calls);
//   - small spans of this class that are off the list are full.
//
// Thread safety: every public member takes the list's lock, and the page heap's lock inside
// it when a span is taken or returned (lock order: central list, then page heap).
#pragma once

#include <cstddef>
#include <mutex>

#include "page_heap.hpp"
#include "span.hpp"

namespace tide::heap::detail {

class central_list {
 public:
  central_list() = default;
  central_list(const central_list&) = delete;
  central_list& operator=(const central_list&) = delete;

  // Preconditions: called once, before any other member. c is a size class.
  void init(page_heap& pages, int c) noexcept {
    pages_ = &pages;
    size_class_ = c;
  }

  // An object of this class, or nullptr if the OS refuses memory.
  void* allocate() noexcept;

  // Frees the object at p in span s, or aborts with a message if p is not an allocated
  // object of s (interior pointer, double free). Preconditions: s is a span of this class
  // that the page map gives for p.
  void deallocate(span* s, void* p) noexcept;

  std::size_t span_count() const noexcept;
  void check_invariants() const noexcept;

 private:
  void check_invariants_locked() const noexcept;

  mutable std::mutex mu_;
  page_heap* pages_ = nullptr;
  int size_class_ = 0;
  span_list nonfull_;
};

}  // namespace tide::heap::detail
