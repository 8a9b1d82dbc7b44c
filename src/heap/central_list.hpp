// Central lists: per size class, the spans that have a free object. See docs/heap.md.
//
// One central_list per size class (Go's mcentral). Thread caches move objects in and out in
// batches, linked through each object's first word, so the lock is taken once per batch.
// allocate_batch() takes objects from the first span on the list, asking the page heap for a
// new span when the list is empty; a span that becomes full leaves the list. Freeing checks
// each object against its span's bitmap (an interior pointer or a double free is reported
// here, whichever thread cache it passed through); a full span that gets a free object
// rejoins the list, and a span whose last object is freed goes back to the page heap at once
// (the thread caches above keep hot objects, so spans rarely bounce).
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
#include "page_map.hpp"
#include "span.hpp"

namespace tide::heap::detail {

class central_list {
 public:
  central_list() = default;
  central_list(const central_list&) = delete;
  central_list& operator=(const central_list&) = delete;

  // Preconditions: called once, before any other member. c is a size class.
  void init(page_heap& pages, const page_map& map, int c) noexcept {
    pages_ = &pages;
    map_ = &map;
    size_class_ = c;
  }

  // Takes up to n >= 1 objects of this class and links them through their first word into a
  // list starting at *head (the last one's link is nullptr). Returns how many: at least 1,
  // or 0 if the OS refuses memory.
  std::size_t allocate_batch(std::size_t n, void** head) noexcept;

  // Frees `count` objects linked through their first word from `head`, or aborts with a
  // message if one is not an allocated object of this class (interior pointer, double free).
  // Preconditions: each object's page maps to a span of this class.
  void deallocate_batch(void* head, std::size_t count) noexcept;

  // Frees one object, checked as deallocate_batch does. Preconditions: s is the span the
  // page map gives for p, of this class.
  void deallocate(span* s, void* p) noexcept;

  std::size_t span_count() const noexcept;
  void check_invariants() const noexcept;

 private:
  void check_invariants_locked() const noexcept;
  void deallocate_locked(span* s, void* p) noexcept;

  mutable std::mutex mu_;
  page_heap* pages_ = nullptr;
  const page_map* map_ = nullptr;
  int size_class_ = 0;
  span_list nonfull_;
};

}  // namespace tide::heap::detail
