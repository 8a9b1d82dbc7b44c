// fixed_pool: fixed-size metadata records (span records, bitmap blocks, thread caches), carved
// from 1 MiB chunks reserved from the OS, recycled through per-chunk free lists, and given back
// to the OS a chunk at a time once a chunk holds no live record (Go's fixalloc, which never
// gives back; tide must, or a heap that held 512 MiB keeps 4.5 MiB of span records resident).
// See docs/heap.md ("Metadata").
//
//   chunk (1 MiB, aligned to 1 MiB):  | header | record | record | ... | bump -> unused |
//
// A record's chunk is its address rounded down to 1 MiB. allocate() takes from the lowest chunk
// with a free record or room to bump (the `available` list is kept in address order), so
// records gather in the low chunks; an owner that can move a record (the page heap moves the
// records of free spans) asks has_lower_room() and moves it down. release_empty_chunks()
// (run when the page heap releases pages) drops the pages of every chunk without a live
// record, after its header, and resets it to bump from the start.
//
// Invariants (check_invariants() recomputes them):
//   - a chunk is on the available list iff it has a free record or room to bump, and the
//     list is in address order;
//   - a chunk's live count == records handed out and not freed; the pool's live() is the sum;
//   - a released chunk has no free list, bumps from its first record, and carved_bytes()
//     counts only the bumped part of chunks not released.
//
// Not thread-safe: the owner's lock guards it (the page heap's, the registry's).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tide::heap::detail {

class fixed_pool {
 public:
  static constexpr std::size_t chunk_bytes = std::size_t{1} << 20;

  // Preconditions: record_bytes is a multiple of 8, at least 8 and at most chunk_bytes / 4.
  explicit fixed_pool(std::size_t record_bytes) noexcept : record_bytes_(record_bytes) {}
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

  // Returns the pages of every chunk without a live record to the OS; the bytes released.
  std::size_t release_empty_chunks() noexcept;

  std::size_t live() const noexcept { return live_; }
  // Bytes bumped in chunks not released: the records' cost in RSS (a chunk is committed only
  // where touched).
  std::size_t carved_bytes() const noexcept { return carved_; }

  void check_invariants() const noexcept;

 private:
  struct free_record {
    free_record* next;
  };
  struct chunk {
    chunk* prev = nullptr;  // on available_
    chunk* next = nullptr;
    chunk* next_reserved = nullptr;  // every chunk, for the destructor and the checks
    free_record* free = nullptr;
    char* bump = nullptr;
    std::size_t live = 0;
    bool on_available = false;
    bool released = false;
  };
  static constexpr std::size_t header_bytes = (sizeof(chunk) + 15) / 16 * 16;

  static chunk* chunk_of(const void* record) noexcept {
    return reinterpret_cast<chunk*>(reinterpret_cast<std::uintptr_t>(record) &
                                    ~std::uintptr_t{chunk_bytes - 1});
  }
  static char* first_record(chunk* c) noexcept { return reinterpret_cast<char*>(c) + header_bytes; }
  bool has_room(const chunk* c) const noexcept;
  chunk* new_chunk() noexcept;
  void link_in_order(chunk* c) noexcept;
  void unlink(chunk* c) noexcept;

  std::size_t record_bytes_;
  chunk* head_ = nullptr;  // the available list: chunks with room, in address order
  chunk* reserved_ = nullptr;
  std::size_t live_ = 0;
  std::size_t carved_ = 0;
};

}  // namespace tide::heap::detail
