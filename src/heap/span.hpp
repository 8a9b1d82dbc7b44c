// Spans: runs of 8 KiB pages, the unit the page heap hands out. See docs/heap.md.
//
// A span is `page_count` pages starting at page `start` (page = address >> page_shift). Its
// state says who owns its pages:
//
//   free         in the page heap, resident (touched since it was last released);
//   released     in the page heap, handed back to the OS (madvise): not in RSS;
//   small        in use, cut into objects of one size class (size_class >= 1);
//   large        in use, one allocation of page_count pages (size_class == 0).
//
// A small span's allocation bitmap has bit i set iff object i is allocated; allocated_count
// is the number of set bits (check_invariants() recounts it). The bitmap is what makes a
// double free cheap to catch: freeing object i checks bit i. Free spans link into the page
// heap's free lists, small spans with a free object into their class's central list, through
// prev/next (a span is on at most one list).
//
// Span records live in a fixed_pool (fixed_pool.hpp), never in the memory they describe, so a released span's
// pages can be dropped whole. The bitmap of a class with at most 128 objects per span sits in
// the record; larger bitmaps (the four smallest classes) come from a pool of 128 B blocks, so a
// record stays small (metadata is about 1% of an 8 KiB span's bytes).
#pragma once

#include <cstddef>
#include <cstdint>

#include "size_classes.hpp"

namespace tide::heap::detail {

using page_id = std::uintptr_t;  // address >> page_shift

inline page_id page_of(const void* p) noexcept {
  return reinterpret_cast<std::uintptr_t>(p) >> page_shift;
}
inline void* address_of(page_id page) noexcept {
  return reinterpret_cast<void*>(page << page_shift);
}

// releasing: a free span the scavenger took off the free lists and is releasing without the
// page heap's lock (page_heap::release_idle_pages); it becomes released when that is done.
enum class span_state : std::uint8_t { free, released, small, large, releasing };

inline const char* to_string(span_state s) noexcept {
  switch (s) {
    case span_state::free:
      return "free";
    case span_state::released:
      return "released";
    case span_state::small:
      return "small";
    case span_state::large:
      return "large";
    case span_state::releasing:
      return "releasing";
  }
  return "?";
}

struct span {
  static constexpr std::size_t max_bitmap_words = max_objects_per_span / 64;
  static constexpr std::size_t inline_bitmap_words = 2;
  static constexpr std::size_t bitmap_block_bytes = max_bitmap_words * 8;

  // Words of allocation bitmap a span of class c needs.
  static constexpr std::size_t bitmap_words_for(int c) noexcept {
    return (class_objects_per_span[c] + 63) / 64;
  }

  page_id start = 0;
  std::size_t page_count = 0;
  span* prev = nullptr;
  span* next = nullptr;
  span_state state = span_state::free;
  std::uint8_t size_class = 0;
  std::uint16_t object_count = 0;               // small: objects in the span
  std::uint16_t allocated_count = 0;            // small: bits set in allocated_bits
  std::uint16_t first_free_word = 0;            // small: no free object before this bitmap word
  std::uint32_t object_bytes = 0;               // small: class_object_bytes[size_class]
  std::uint32_t div_magic = 0;                  // small: class_div_magic[size_class]
  std::uint64_t* allocated_bits = inline_bits;  // bitmap_words_for(size_class) words
  std::uint64_t inline_bits[inline_bitmap_words] = {};

  span() = default;
  span(const span&) = delete;
  span& operator=(const span&) = delete;

  page_id end() const noexcept { return start + page_count; }
  std::size_t bytes() const noexcept { return page_count * page_bytes; }
  char* base() const noexcept { return static_cast<char*>(address_of(start)); }
  bool in_use() const noexcept { return state == span_state::small || state == span_state::large; }

  // A free span has no bitmap: its first inline word holds when it was freed (os_monotonic_ms),
  // which the scavenger reads to release only pages idle for longer than the release delay.
  std::uint64_t& freed_at_ms() noexcept { return inline_bits[0]; }
  std::uint64_t freed_at_ms() const noexcept { return inline_bits[0]; }

  std::size_t bitmap_words() const noexcept { return (object_count + 63u) / 64u; }
  bool bitmap_is_inline() const noexcept { return allocated_bits == inline_bits; }

  // Cuts a span the page heap just handed out into objects of class c, all free, with its
  // bitmap in `bitmap` (bitmap_words_for(c) words; inline_bits if that is at most 2).
  void init_small(int c, std::uint64_t* bitmap) noexcept;

  bool full() const noexcept { return allocated_count == object_count; }
  bool empty() const noexcept { return allocated_count == 0; }

  // Takes the lowest free object. Preconditions: state small, !full().
  void* allocate_object() noexcept;

  // The index of the object at p, or -1 if p is not the start of one of this span's objects.
  // Preconditions: state small, p inside the span.
  // A multiply, not a division (class_div_magic): deallocate calls it on every free.
  std::ptrdiff_t object_index(const void* p) const noexcept {
    const auto offset = static_cast<std::size_t>(static_cast<const char*>(p) - base());
    const std::size_t index = (offset * div_magic) >> 32;
    if (index * object_bytes != offset || index >= object_count) return -1;
    return static_cast<std::ptrdiff_t>(index);
  }
  bool is_allocated(std::size_t index) const noexcept {
    return (allocated_bits[index / 64] >> (index % 64)) & 1;
  }
  // Frees object `index`. Preconditions: state small, is_allocated(index).
  void free_object(std::size_t index) noexcept;

  // Recounts the bitmap; aborts naming the broken invariant.
  void check_invariants() const noexcept;
};

static_assert(sizeof(span) <= 72,
              "a span record is 72 B (under 1% of an 8 KiB span); the give-back test's RSS "
              "allowance counts on it");

// An intrusive doubly linked list of spans (the page heap's free lists, a central list).
class span_list {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  span* front() const noexcept { return head_; }
  std::size_t size() const noexcept { return size_; }
  void push_front(span* s) noexcept;
  void remove(span* s) noexcept;
  // Puts `replacement` (not on a list) where s is, and takes s off.
  void replace(span* s, span* replacement) noexcept;

 private:
  span* head_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace tide::heap::detail
