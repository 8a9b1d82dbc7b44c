// fixed_pool: fixed-size metadata records (span records, bitmap blocks, thread caches), carved
// from 1 MiB chunks reserved from the OS and given back to the OS an OS page at a time, as
// soon as a page holds no live record (Go's fixalloc never gives back; tide must, or a heap
// that held 512 MiB keeps megabytes of span records resident). See docs/heap.md ("Metadata").
//
//   chunk (1 MiB, aligned to 1 MiB):  | header (free bitmap, per-page counts) | record | ...
//
// A record's chunk is its address rounded down to 1 MiB. Free records are bits in the chunk's
// free bitmap, not a list through the records, so a page of free records can be dropped
// (madvise) without losing track of them: the next allocation there faults in a zero page.
// allocate() takes the lowest free record of the lowest chunk with one (the `available` list
// is in address order), so records gather low; an owner that can move a record (the page heap
// moves the records of free spans) asks has_lower_room() and moves it down.
// release_unused_pages() (run when the page heap releases pages) drops every resident page
// after the header that no live record touches.
//
// Invariants (check_invariants() recomputes them):
//   - a chunk is on the available list iff it has a free record, and the list is in address
//     order; no free record lies below a chunk's `hint`;
//   - a chunk's live count == records not free; the pool's live() is the sum;
//   - page_live[p] == live records touching OS page p; a released page has none;
//   - resident_bytes() == header pages plus pages not released, over all chunks.
//
// Not thread-safe: the owner's lock guards it (the page heap's, the registry's).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tide::heap::detail {

class fixed_pool {
 public:
  static constexpr std::size_t chunk_bytes = std::size_t{1} << 20;
  static constexpr std::size_t min_record_bytes = 64;

  // Preconditions: record_bytes is a multiple of 8, at least min_record_bytes and at most
  // chunk_bytes / 4.
  explicit fixed_pool(std::size_t record_bytes) noexcept;
  fixed_pool(const fixed_pool&) = delete;
  fixed_pool& operator=(const fixed_pool&) = delete;
  ~fixed_pool();

  // Raw memory for one record, aligned to 8 (to 16 if record_bytes is a multiple of 16), or
  // nullptr if the OS refuses memory.
  void* allocate() noexcept;
  void deallocate(void* record) noexcept;

  // Whether a record allocated now would sit in a lower chunk than `record`.
  bool has_lower_room(const void* record) const noexcept {
    return head_ != nullptr && head_ < chunk_of(record);
  }

  // Returns every page no live record touches to the OS; the bytes released.
  std::size_t release_unused_pages() noexcept;

  std::size_t live() const noexcept { return live_; }
  // What the records cost in RSS: the chunks' header pages and their pages not released.
  std::size_t resident_bytes() const noexcept { return resident_pages_ * page; }

  void check_invariants() const noexcept;

 private:
  static constexpr std::size_t page = 4096;  // the OS's
  static constexpr std::size_t pages_per_chunk = chunk_bytes / page;
  static constexpr std::size_t max_records = chunk_bytes / min_record_bytes;
  struct chunk {
    chunk* prev = nullptr;  // on the available list
    chunk* next = nullptr;
    chunk* next_reserved = nullptr;  // every chunk, for the destructor and the checks
    std::size_t live = 0;
    std::size_t hint = 0;  // no free record below this index
    bool on_available = false;
    std::uint16_t page_live[pages_per_chunk] = {};
    std::uint64_t page_released[pages_per_chunk / 64] = {};
    std::uint64_t free_bits[max_records / 64] = {};
  };
  static constexpr std::size_t header_bytes = (sizeof(chunk) + 15) / 16 * 16;
  static constexpr std::size_t header_pages = (header_bytes + page - 1) / page;

  static chunk* chunk_of(const void* record) noexcept {
    return reinterpret_cast<chunk*>(reinterpret_cast<std::uintptr_t>(record) &
                                    ~std::uintptr_t{chunk_bytes - 1});
  }
  char* record_at(chunk* c, std::size_t index) const noexcept {
    return reinterpret_cast<char*>(c) + header_bytes + index * record_bytes_;
  }
  // The OS pages record `index` touches: [first, last].
  std::size_t first_page(std::size_t index) const noexcept {
    return (header_bytes + index * record_bytes_) / page;
  }
  std::size_t last_page(std::size_t index) const noexcept {
    return (header_bytes + (index + 1) * record_bytes_ - 1) / page;
  }
  static bool released(const chunk* c, std::size_t p) noexcept {
    return (c->page_released[p / 64] >> (p % 64)) & 1;
  }
  bool has_room(const chunk* c) const noexcept { return c->live < records_per_chunk_; }
  chunk* new_chunk() noexcept;
  void link_in_order(chunk* c) noexcept;
  void unlink(chunk* c) noexcept;

  std::size_t record_bytes_;
  std::size_t records_per_chunk_;
  chunk* head_ = nullptr;  // the available list: chunks with a free record, in address order
  chunk* reserved_ = nullptr;
  std::size_t live_ = 0;
  std::size_t resident_pages_ = 0;
};

}  // namespace tide::heap::detail
