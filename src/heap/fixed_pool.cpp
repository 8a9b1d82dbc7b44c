// fixed_pool. See fixed_pool.hpp for the design and invariants.
#include "fixed_pool.hpp"

#include <bit>
#include <cstdio>
#include <cstdlib>
#include <new>

#include "os.hpp"
#include "tide/detail/config.hpp"

namespace tide::heap::detail {

fixed_pool::fixed_pool(std::size_t record_bytes) noexcept
    : record_bytes_(record_bytes), records_per_chunk_((chunk_bytes - header_bytes) / record_bytes) {
  TIDE_ASSERT(record_bytes % 8 == 0 && record_bytes >= min_record_bytes &&
                  record_bytes <= chunk_bytes / 4,
              "fixed_pool: record size out of range");
}

fixed_pool::~fixed_pool() {
  while (reserved_ != nullptr) {
    chunk* next = reserved_->next_reserved;
    os_unreserve(reserved_, chunk_bytes);
    reserved_ = next;
  }
}

fixed_pool::chunk* fixed_pool::new_chunk() noexcept {
  void* memory = os_reserve(chunk_bytes, chunk_bytes);
  if (memory == nullptr) return nullptr;
  auto* c = ::new (memory) chunk();
  for (std::size_t i = 0; i < records_per_chunk_; ++i) c->free_bits[i / 64] |= std::uint64_t{1} << (i % 64);
  // Pages after the header start released: reserved memory is not resident until touched.
  for (std::size_t p = header_pages; p < pages_per_chunk; ++p) {
    c->page_released[p / 64] |= std::uint64_t{1} << (p % 64);
  }
  resident_pages_ += header_pages;
  c->next_reserved = reserved_;
  reserved_ = c;
  link_in_order(c);
  return c;
}

void fixed_pool::link_in_order(chunk* c) noexcept {
  chunk* prev = nullptr;
  chunk* next = head_;
  while (next != nullptr && next < c) {
    prev = next;
    next = next->next;
  }
  c->prev = prev;
  c->next = next;
  (prev != nullptr ? prev->next : head_) = c;
  if (next != nullptr) next->prev = c;
  c->on_available = true;
}

void fixed_pool::unlink(chunk* c) noexcept {
  (c->prev != nullptr ? c->prev->next : head_) = c->next;
  if (c->next != nullptr) c->next->prev = c->prev;
  c->prev = c->next = nullptr;
  c->on_available = false;
}

void* fixed_pool::allocate() noexcept {
  chunk* c = head_ != nullptr ? head_ : new_chunk();
  if (c == nullptr) return nullptr;
  std::size_t w = c->hint / 64;
  while (c->free_bits[w] == 0) ++w;  // has_room: a free bit exists at or after the hint
  const std::size_t index = w * 64 + static_cast<std::size_t>(std::countr_zero(c->free_bits[w]));
  c->free_bits[w] &= c->free_bits[w] - 1;
  c->hint = index + 1;
  for (std::size_t p = first_page(index); p <= last_page(index); ++p) {
    if (c->page_live[p]++ == 0 && released(c, p)) {
      c->page_released[p / 64] &= ~(std::uint64_t{1} << (p % 64));  // faulted in on first touch
      ++resident_pages_;
    }
  }
  ++c->live;
  ++live_;
  if (!has_room(c)) unlink(c);
  return record_at(c, index);
}

void fixed_pool::deallocate(void* record) noexcept {
  chunk* c = chunk_of(record);
  const auto offset = static_cast<std::size_t>(static_cast<char*>(record) - record_at(c, 0));
  const std::size_t index = offset / record_bytes_;
  TIDE_ASSERT(offset % record_bytes_ == 0 && index < records_per_chunk_ &&
                  !((c->free_bits[index / 64] >> (index % 64)) & 1),
              "fixed_pool::deallocate: not a live record of this pool");
  c->free_bits[index / 64] |= std::uint64_t{1} << (index % 64);
  if (index < c->hint) c->hint = index;
  for (std::size_t p = first_page(index); p <= last_page(index); ++p) --c->page_live[p];
  --c->live;
  --live_;
  if (!c->on_available) link_in_order(c);
}

std::size_t fixed_pool::release_unused_pages() noexcept {
  std::size_t released_pages = 0;
  for (chunk* c = reserved_; c != nullptr; c = c->next_reserved) {
    std::size_t p = header_pages;
    while (p < pages_per_chunk) {
      if (c->page_live[p] != 0 || released(c, p)) {
        ++p;
        continue;
      }
      const std::size_t run_start = p;
      while (p < pages_per_chunk && c->page_live[p] == 0 && !released(c, p)) {
        c->page_released[p / 64] |= std::uint64_t{1} << (p % 64);
        ++p;
      }
      os_release(reinterpret_cast<char*>(c) + run_start * page, (p - run_start) * page);
      released_pages += p - run_start;
    }
  }
  resident_pages_ -= released_pages;
  return released_pages * page;
}

void fixed_pool::check_invariants() const noexcept {
  auto fail = [](const char* what) {
    std::fprintf(stderr, "tide::heap: fixed pool invariant broken: %s\n", what);
    std::abort();
  };
  std::size_t live = 0;
  std::size_t resident = 0;
  std::size_t available = 0;
  for (const chunk* c = reserved_; c != nullptr; c = c->next_reserved) {
    std::size_t chunk_live = 0;
    std::uint16_t page_live[pages_per_chunk] = {};
    for (std::size_t i = 0; i < records_per_chunk_; ++i) {
      if ((c->free_bits[i / 64] >> (i % 64)) & 1) {
        if (i < c->hint) fail("no free record below the hint");
        continue;
      }
      ++chunk_live;
      for (std::size_t p = first_page(i); p <= last_page(i); ++p) ++page_live[p];
    }
    if (chunk_live != c->live) fail("a chunk's live count == records not free");
    live += chunk_live;
    resident += header_pages;
    for (std::size_t p = header_pages; p < pages_per_chunk; ++p) {
      if (page_live[p] != c->page_live[p]) fail("page_live == live records touching the page");
      if (released(c, p) && page_live[p] != 0) fail("a released page holds no live record");
      resident += !released(c, p);
    }
    if (c->on_available != has_room(c)) fail("a chunk is on the list iff it has a free record");
    available += c->on_available;
  }
  std::size_t listed = 0;
  for (const chunk* c = head_; c != nullptr; c = c->next) {
    ++listed;
    if (c->next != nullptr && c->next <= c) fail("the available list is in address order");
  }
  if (listed != available) fail("the list holds exactly the chunks with a free record");
  if (live != live_) fail("live() == the chunks' live counts");
  if (resident != resident_pages_) fail("resident_bytes() == header pages + pages not released");
}

}  // namespace tide::heap::detail
