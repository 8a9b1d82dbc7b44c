// Spans and span records. See span.hpp for the states and invariants.
#include "span.hpp"

#include <bit>
#include <cstdio>

#include "os.hpp"

namespace tide::heap::detail {

void span::init_small(int c, std::uint64_t* bitmap) noexcept {
  TIDE_ASSERT(c >= 1 && c < size_class_count, "init_small: not a size class");
  TIDE_ASSERT(page_count == class_span_pages[c], "init_small: span has the wrong page count");
  state = span_state::small;
  size_class = static_cast<std::uint8_t>(c);
  object_count = class_objects_per_span[c];
  object_bytes = class_object_bytes[c];
  div_magic = static_cast<std::uint32_t>(class_div_magic[c]);
  allocated_count = 0;
  first_free_word = 0;
  allocated_bits = bitmap;
  for (std::size_t w = 0; w < bitmap_words(); ++w) allocated_bits[w] = 0;
}

void* span::allocate_object() noexcept {
  TIDE_ASSERT(state == span_state::small && !full(), "allocate_object: span full or not small");
  std::size_t w = first_free_word;
  while (allocated_bits[w] == ~std::uint64_t{0}) ++w;  // !full(): a free bit exists
  const std::size_t bit = static_cast<std::size_t>(std::countr_one(allocated_bits[w]));
  const std::size_t index = w * 64 + bit;
  TIDE_ASSERT(index < object_count, "allocate_object: free bit past the last object");
  allocated_bits[w] |= std::uint64_t{1} << bit;
  first_free_word = static_cast<std::uint16_t>(w);
  ++allocated_count;
  return base() + index * object_bytes;
}

void span::free_object(std::size_t index) noexcept {
  TIDE_ASSERT(is_allocated(index), "free_object: object is not allocated");
  allocated_bits[index / 64] &= ~(std::uint64_t{1} << (index % 64));
  if (index / 64 < first_free_word) first_free_word = static_cast<std::uint16_t>(index / 64);
  --allocated_count;
}

void span::check_invariants() const noexcept {
  auto fail = [&](const char* what) {
    std::fprintf(stderr,
                 "tide::heap: span invariant broken: %s\n  span pages [%#zx, %#zx) state %s "
                 "class %d objects %d allocated %d\n",
                 what, static_cast<std::size_t>(start), static_cast<std::size_t>(end()),
                 to_string(state), size_class, object_count, allocated_count);
    std::abort();
  };
  if (page_count == 0) fail("page_count > 0");
  if (state != span_state::small) return;
  if (object_bytes != class_object_bytes[size_class]) fail("object_bytes matches the class");
  if (div_magic != class_div_magic[size_class]) fail("div_magic matches the class");
  if (object_count * std::size_t{object_bytes} > bytes()) fail("objects fit the span");
  std::size_t set = 0;
  if (bitmap_words() != bitmap_words_for(size_class)) fail("bitmap sized for the class");
  if (bitmap_is_inline() != (bitmap_words() <= inline_bitmap_words)) {
    fail("bitmap inline iff it fits");
  }
  for (std::size_t w = 0; w < bitmap_words(); ++w) set += std::popcount(allocated_bits[w]);
  if (set != allocated_count) fail("allocated_count == bits set in allocated_bits");
  for (std::size_t i = object_count; i < bitmap_words() * 64; ++i) {
    if (is_allocated(i)) fail("no bit set past the last object");
  }
  for (std::size_t w = 0; w < first_free_word; ++w) {
    if (allocated_bits[w] != ~std::uint64_t{0}) fail("no free object before first_free_word");
  }
}

void span_list::push_front(span* s) noexcept {
  TIDE_ASSERT(s->prev == nullptr && s->next == nullptr, "push_front: span is on a list");
  s->next = head_;
  if (head_ != nullptr) head_->prev = s;
  head_ = s;
  ++size_;
}

void span_list::replace(span* s, span* replacement) noexcept {
  TIDE_ASSERT(replacement->prev == nullptr && replacement->next == nullptr,
              "replace: the replacement is on a list");
  replacement->prev = s->prev;
  replacement->next = s->next;
  (s->prev != nullptr ? s->prev->next : head_) = replacement;
  if (s->next != nullptr) s->next->prev = replacement;
  s->prev = nullptr;
  s->next = nullptr;
}

void span_list::remove(span* s) noexcept {
  if (s->prev != nullptr) {
    s->prev->next = s->next;
  } else {
    TIDE_ASSERT(head_ == s, "remove: span is not on this list");
    head_ = s->next;
  }
  if (s->next != nullptr) s->next->prev = s->prev;
  s->prev = nullptr;
  s->next = nullptr;
  --size_;
}

}  // namespace tide::heap::detail
