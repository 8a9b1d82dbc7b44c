// fixed_pool. See fixed_pool.hpp for the design and invariants.
#include "fixed_pool.hpp"

#include <cstdio>
#include <cstdlib>
#include <new>

#include "os.hpp"
#include "tide/detail/config.hpp"

namespace tide::heap::detail {

fixed_pool::~fixed_pool() {
  while (reserved_ != nullptr) {
    chunk* next = reserved_->next_reserved;
    os_unreserve(reserved_, chunk_bytes);
    reserved_ = next;
  }
}

bool fixed_pool::has_room(const chunk* c) const noexcept {
  const char* end = reinterpret_cast<const char*>(c) + chunk_bytes;
  return c->free != nullptr || static_cast<std::size_t>(end - c->bump) >= record_bytes_;
}

fixed_pool::chunk* fixed_pool::new_chunk() noexcept {
  void* memory = os_reserve(chunk_bytes, chunk_bytes);
  if (memory == nullptr) return nullptr;
  auto* c = ::new (memory) chunk();
  c->bump = first_record(c);
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
  void* record = nullptr;
  if (c->free != nullptr) {
    record = c->free;
    c->free = c->free->next;
  } else {
    record = c->bump;
    c->bump += record_bytes_;
    carved_ += record_bytes_;
    c->released = false;
  }
  ++c->live;
  ++live_;
  if (!has_room(c)) unlink(c);
  return record;
}

void fixed_pool::deallocate(void* record) noexcept {
  chunk* c = chunk_of(record);
  TIDE_ASSERT(c->live > 0, "fixed_pool::deallocate: the record's chunk has no live record");
  c->free = ::new (record) free_record{c->free};
  --c->live;
  --live_;
  if (!c->on_available) link_in_order(c);
}

std::size_t fixed_pool::release_empty_chunks() noexcept {
  std::size_t released = 0;
  for (chunk* c = reserved_; c != nullptr; c = c->next_reserved) {
    if (c->live != 0 || c->released) continue;
    // Drop every OS page after the one holding the header.
    char* start = reinterpret_cast<char*>(c) + os_page_bytes;
    const std::size_t used = static_cast<std::size_t>(c->bump - first_record(c));
    os_release(start, chunk_bytes - os_page_bytes);
    carved_ -= used;
    released += chunk_bytes - os_page_bytes;
    c->free = nullptr;
    c->bump = first_record(c);
    c->released = true;
  }
  return released;
}

void fixed_pool::check_invariants() const noexcept {
  auto fail = [](const char* what) {
    std::fprintf(stderr, "tide::heap: fixed pool invariant broken: %s\n", what);
    std::abort();
  };
  std::size_t live = 0;
  std::size_t carved = 0;
  std::size_t available = 0;
  for (const chunk* c = reserved_; c != nullptr; c = c->next_reserved) {
    live += c->live;
    if (c->on_available != has_room(c)) fail("a chunk is on the list iff it has room");
    available += c->on_available;
    if (c->released && (c->free != nullptr || c->live != 0)) fail("a released chunk is empty");
    if (!c->released) {
      carved += static_cast<std::size_t>(c->bump - first_record(const_cast<chunk*>(c)));
    }
  }
  std::size_t listed = 0;
  for (const chunk* c = head_; c != nullptr; c = c->next) {
    ++listed;
    if (c->next != nullptr && c->next <= c) fail("the available list is in address order");
  }
  if (listed != available) fail("the list holds exactly the chunks with room");
  if (live != live_) fail("live() == the chunks' live counts");
  if (carved != carved_) fail("carved_bytes() == bumped bytes of chunks not released");
}

}  // namespace tide::heap::detail
