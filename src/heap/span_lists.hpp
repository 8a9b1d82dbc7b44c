// One state's idle spans (free, or released), on lists by length, as the page heap keeps them.
// See page_heap.hpp.
//
// List n (1 <= n < list_count) holds the spans of n pages; list 0 holds the longer ones. A
// bitmap of the lists that hold a span finds the shortest list that fits in one or two bit
// scans, instead of a look at every list from the length asked up to list_count (an
// allocation that found them empty checked up to 254 lists: 40% of the time of a 256 KiB
// allocation and free).
//
// Invariant (bitmap_matches() checks it): bit n of the bitmap is set if and only if list n
// holds a span. Only push() and remove() change what the lists hold, and they keep it.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

#include "span.hpp"

namespace tide::heap::detail {

class span_lists {
 public:
  static constexpr std::size_t list_count = 128;

  // Puts s on the list for its length.
  void push(span* s) noexcept {
    const std::size_t i = index_of(s->page_count);
    lists_[i].push_front(s);
    nonempty_[i / 64] |= bit(i);
  }
  void remove(span* s) noexcept {
    const std::size_t i = index_of(s->page_count);
    lists_[i].remove(s);
    if (lists_[i].empty()) nonempty_[i / 64] &= ~bit(i);
  }
  // Puts `replacement` (as long as s, on no list) where s is, and takes s off.
  void replace(span* s, span* replacement) noexcept {
    lists_[index_of(s->page_count)].replace(s, replacement);
  }

  // The first span of the shortest list of spans at least `pages` (>= 1) and fewer than
  // list_count pages long; nullptr if every such list is empty.
  span* shortest_fit(std::size_t pages) const noexcept {
    for (std::size_t w = pages / 64; w < words; ++w) {
      std::uint64_t lists = nonempty_[w];
      if (w == pages / 64) lists &= ~std::uint64_t{0} << (pages % 64);
      if (lists != 0)
        return lists_[w * 64 + static_cast<std::size_t>(std::countr_zero(lists))].front();
    }
    return nullptr;
  }

  const span_list& list_for(std::size_t pages) const noexcept { return lists_[index_of(pages)]; }
  // The spans of list_count pages or more.
  const span_list& long_spans() const noexcept { return lists_[0]; }
  // Every list, to walk every span (push, remove and replace are the only changes).
  const span_list* begin() const noexcept { return lists_; }
  const span_list* end() const noexcept { return lists_ + list_count; }

  std::size_t span_count() const noexcept {
    std::size_t count = 0;
    for (const span_list& list : lists_) count += list.size();
    return count;
  }
  bool bitmap_matches() const noexcept {
    for (std::size_t i = 0; i < list_count; ++i) {
      if (((nonempty_[i / 64] & bit(i)) != 0) == lists_[i].empty()) return false;
    }
    return true;
  }

 private:
  static constexpr std::size_t words = list_count / 64;
  static_assert(list_count % 64 == 0, "the bitmap is whole words");

  static std::size_t index_of(std::size_t pages) noexcept { return pages < list_count ? pages : 0; }
  static std::uint64_t bit(std::size_t i) noexcept { return std::uint64_t{1} << (i % 64); }

  span_list lists_[list_count];
  std::uint64_t nonempty_[words] = {};
};

}  // namespace tide::heap::detail
