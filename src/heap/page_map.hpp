// The page map: page -> span, in O(1), for any address. See docs/heap.md.
//
// A two-level radix tree over the 48-bit user address space (2^35 pages of 8 KiB), as Go's
// arena index and tcmalloc's PageMap2:
//
//   page id (35 bits) = | root index (17 bits) | leaf index (18 bits) |
//   root_[root index] -> leaf: 2^18 span pointers (2 MiB, covers 2 GiB of address space)
//
// The root (1 MiB) and the leaves are reserved from the OS and committed by the kernel only
// where touched, so a leaf costs RSS only for the pages it maps. Leaves are created by
// ensure() and never freed.
//
// Invariants (kept by the page heap, which is the only writer, under its lock):
//   - every page of a small span maps to that span (an object may sit on any of them);
//   - the first and the last page of any other span (large, free, released, releasing) map to
//     it, and its other pages map to nullptr: a large block is freed by its first address,
//     coalescing finds a neighbour in O(1), and a stale pointer into a free run finds nothing
//     (page_heap::span_containing finds what such a pointer points into, for error reports);
//   - pages the heap never reserved map to nullptr.
// Readers (deallocate) may look up without the lock: entries are read and written atomically.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "os.hpp"
#include "span.hpp"

namespace tide::heap::detail {

class page_map {
 public:
  static constexpr int address_bits = 48;
  static constexpr int leaf_bits = 18;
  static constexpr int root_bits = address_bits - static_cast<int>(page_shift) - leaf_bits;
  static constexpr std::size_t leaf_entries = std::size_t{1} << leaf_bits;
  static constexpr std::size_t root_entries = std::size_t{1} << root_bits;
  static constexpr page_id page_limit = page_id{1} << (address_bits - page_shift);
  static_assert(root_bits == 17, "the root is 2^17 leaves of 2^18 pages: 2^35 pages of 8 KiB");

  // Reserves the root; if the OS refuses, every ensure() fails.
  page_map() noexcept
      : root_(static_cast<leaf**>(os_reserve(root_entries * sizeof(leaf*), os_page_bytes))) {}
  page_map(const page_map&) = delete;
  page_map& operator=(const page_map&) = delete;
  ~page_map() {
    if (root_ == nullptr) return;
    for (std::size_t i = 0; i < root_entries; ++i) {
      if (root_[i] != nullptr) os_unreserve(root_[i], sizeof(leaf));
    }
    os_unreserve(root_, root_entries * sizeof(leaf*));
  }

  // Creates the leaves for pages [start, start + count). False if the OS refuses memory or
  // the range is outside the 48-bit address space.
  bool ensure(page_id start, std::size_t count) noexcept {
    if (root_ == nullptr || start >= page_limit || count > page_limit - start) return false;
    for (page_id p = start; p < start + count; p = (p | (leaf_entries - 1)) + 1) {
      std::atomic_ref<leaf*> slot(root_[p >> leaf_bits]);
      if (slot.load(std::memory_order_relaxed) != nullptr) continue;
      void* fresh = os_reserve(sizeof(leaf), os_page_bytes);
      if (fresh == nullptr) return false;
      slot.store(static_cast<leaf*>(fresh), std::memory_order_release);  // zeros: nullptrs
    }
    return true;
  }

  // The span page `page` maps to, or nullptr. Any page id is fine (no precondition).
  span* lookup(page_id page) const noexcept {
    if (root_ == nullptr || page >= page_limit) return nullptr;
    leaf* l = std::atomic_ref<leaf*>(root_[page >> leaf_bits]).load(std::memory_order_acquire);
    if (l == nullptr) return nullptr;
    return std::atomic_ref<span*>(l->entries[page & (leaf_entries - 1)])
        .load(std::memory_order_relaxed);
  }

  // Preconditions: ensure() covered the page.
  void set(page_id page, span* s) noexcept {
    leaf* l = root_[page >> leaf_bits];
    TIDE_ASSERT(l != nullptr, "page_map::set: no leaf; call ensure() first");
    std::atomic_ref<span*>(l->entries[page & (leaf_entries - 1)])
        .store(s, std::memory_order_relaxed);
  }
  void set_range(page_id start, std::size_t count, span* s) noexcept {
    for (page_id p = start; p < start + count; ++p) set(p, s);
  }

 private:
  struct leaf {
    span* entries[leaf_entries];
  };
  leaf** root_;
};

}  // namespace tide::heap::detail
