// tide::interned — string interning in the manner of Go 1.23's unique.Make: one copy of each
// distinct string in the process, handles that compare and hash by pointer, and the string
// freed when its last handle goes. See docs/intern.md.
//
//   tide::interned a = tide::intern("GET");
//   tide::interned b = tide::intern(std::string("G") + "ET");
//   assert(a == b && a.data() == b.data());    // one copy; == compares one pointer
//   std::string_view text = a.view();          // NUL-terminated: a.c_str()
//   tide::map<tide::interned, int> counts;     // hashes the pointer (tide::hash, std::hash)
//
// Vocabulary. An *entry* is one distinct string: a header (reference count, length) followed by
// the bytes and a NUL, in one tide::heap block. A *handle* (tide::interned) holds one
// reference. The *table* is a tide::concurrent_map from the text (a std::string_view into the
// entry) to an *owner* of the entry: the map's node owns the entry, and the entry is freed when
// the map frees the node, i.e. once no reader can still see it (concurrent_map's epoch-based
// reclamation). A *dying* entry is one whose count reached 0; it never becomes live again.
//
//   table: concurrent_map< string_view ──┐ , owner >    entry: [refs | size][bytes][\0]
//                                        └─> the entry's bytes        ^ owner points here
//
// Invariants:
//   - A live entry (refs > 0) is in the table under its text, and no other entry with its
//     text is (a dying one may be, until someone erases it).
//   - refs counts handles. Copying a handle adds one without a lock (there is a handle, so
//     refs > 0); dropping one that is not the last subtracts one (compare-and-swap on a count
//     above 1). A handle that takes refs from 1 to 0 *owns the entry's death*: it erases the
//     table's entry for the text *only if it is this very entry* (concurrent_map::erase_if(key,
//     f), which tests and erases under the shard's mutex). It frees nothing itself: the node
//     that owns the entry is retired, and freed once no reader can still hold it.
//   - intern() of a present text takes no lock: a lock-free visit() finds the entry and adds a
//     reference only to a non-zero count (compare-and-swap). It never revives a dying entry (a
//     0→1 would race with its owner's erase): it erases the dying entry itself (again only if
//     its count is 0) and inserts a fresh one. Whichever erase comes second finds another entry
//     (or none) under the text and does nothing.
//   - Nothing an intern or a release reads is freed under it: a visit() reads the node and its
//     entry while pinned, and a release that may be the last pins (epoch_guard) *before* its
//     1→0, so the entry it then reads to erase is not freed before it unpins, even if another
//     intern has erased (retired) it meanwhile.
//   - No lock is held while allocating an entry, so a memory-pressure callback (which runs
//     inside an allocation) may drop handles. The table uses std::allocator for the same
//     reason: a table that grows under a shard's mutex must not run tide's pressure callbacks.
//   - The empty string is the null handle: intern("") == interned() and allocates nothing.
//   - The table is never destroyed, so handles in static objects are safe.
#pragma once

#include <atomic>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <new>
#include <string>
#include <string_view>
#include <utility>

#include "tide/concurrent_map.hpp"
#include "tide/detail/config.hpp"
#include "tide/detail/epoch.hpp"
#include "tide/hash.hpp"
#include "tide/heap.hpp"

namespace tide {

// What intern_stats() reports: the table as it is now, and one count since the start.
struct intern_table_stats {
  std::size_t strings = 0;       // distinct strings (entries in the table, dying ones too)
  std::size_t string_bytes = 0;  // their text
  std::size_t bytes = 0;  // entries not yet freed (header + text + NUL, as allocated) + the table
  std::size_t retired_bytes = 0;     // of `bytes`: erased entries and nodes waiting for readers
  std::uint64_t dying_replaced = 0;  // interns that found a dying entry and replaced it
};

namespace detail {

struct intern_entry {
  std::atomic<std::uint64_t> refs;
  std::size_t size;

  const char* data() const noexcept { return reinterpret_cast<const char*>(this + 1); }
  char* data() noexcept { return reinterpret_cast<char*>(this + 1); }
  std::string_view view() const noexcept { return {data(), size}; }
  // The heap block of an entry of `size` text bytes: header, text and NUL.
  static constexpr std::size_t block_bytes(std::size_t size) noexcept {
    return sizeof(intern_entry) + size + 1;
  }
  std::size_t block_bytes() const noexcept { return block_bytes(size); }
};

class intern_table {
 public:
  // The process-wide table, never destroyed.
  static intern_table& get() noexcept {
    static intern_table* const table = new intern_table();
    return *table;
  }

  // An entry for `s` with one reference taken for the caller. Preconditions: !s.empty().
  intern_entry* acquire(std::string_view s) {
    if (intern_entry* e = acquire_live(s)) return e;
    intern_entry* fresh = make_entry(s);  // no lock held
    for (;;) {
      bool inserted = false;
      try {
        inserted = map_.try_emplace(fresh->view(), fresh);
      } catch (...) {
        free_entry(fresh);
        throw;
      }
      if (inserted) {
        in_table(fresh->size, +1);
        return fresh;
      }
      if (intern_entry* e = acquire_live(s)) {  // another thread interned it meanwhile
        free_entry(fresh);
        return e;
      }
      erase_dying(s);  // the text's entry is dying (or was just erased): replace it
    }
  }

  // Drops one reference; the last one erases the entry from the table (it is freed once no
  // reader can still see it).
  static void release(intern_entry* e) noexcept {
    std::uint64_t refs = e->refs.load(std::memory_order_relaxed);
    while (refs > 1) {
      if (e->refs.compare_exchange_weak(refs, refs - 1, std::memory_order_release,
                                        std::memory_order_relaxed)) {
        return;
      }
    }
    // Perhaps the last: pin first, so that once the count is 0 and another intern erases the
    // entry, it is not freed before this thread has finished reading it.
    epoch_guard pin;
    if (e->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    if (auto hook = last_release_hook.load(std::memory_order_relaxed)) hook(e->view());
    get().erase_dead(e);
  }

  // Test seam: runs between a last release's 1→0 and its erase (where the resurrection race
  // lives), so a test can intern the dying text there deterministically.
  static inline std::atomic<void (*)(std::string_view)> last_release_hook{nullptr};

  intern_table_stats stats() const noexcept {
    const concurrent_map_memory m = map_.memory();
    intern_table_stats s;
    s.strings = m.size;
    s.string_bytes = string_bytes_.load(std::memory_order_relaxed);
    const std::size_t allocated = allocated_bytes_.load(std::memory_order_relaxed);
    const std::size_t in_table = table_entry_bytes_.load(std::memory_order_relaxed);
    s.bytes = allocated + m.bytes;
    // The counters are read one after another while other threads may change them.
    s.retired_bytes = m.retired_bytes + (allocated > in_table ? allocated - in_table : 0);
    s.dying_replaced = dying_replaced_.load(std::memory_order_relaxed);
    return s;
  }

  // Frees what no reader can still see (the table does so by itself every few dozen erases).
  void reclaim() { map_.reclaim(); }

 private:
  // The table's value: the map's node owns the entry and frees it with the node.
  class owner {
   public:
    explicit owner(intern_entry* e) noexcept : entry_(e) {}
    owner(const owner&) = delete;
    owner& operator=(const owner&) = delete;
    ~owner() { free_entry(entry_); }
    intern_entry* get() const noexcept { return entry_; }

   private:
    intern_entry* entry_;
  };

  intern_table() = default;

  // The live entry for `s` with a reference added, or nullptr (absent or dying). Lock-free.
  intern_entry* acquire_live(std::string_view s) const {
    intern_entry* live = nullptr;
    map_.visit(s, [&](const owner& o) {
      intern_entry* e = o.get();
      std::uint64_t refs = e->refs.load(std::memory_order_relaxed);
      while (refs != 0) {
        if (e->refs.compare_exchange_weak(refs, refs + 1, std::memory_order_relaxed)) {
          live = e;
          return;
        }
      }
    });
    return live;
  }

  // Erases the entry of `s` if it is dying. Throws what the table's erase throws (bad_alloc).
  void erase_dying(std::string_view s) {
    // Read under the shard's mutex: once erased, the entry may be freed (this thread is not
    // pinned).
    std::size_t size = 0;
    const auto erased = map_.erase_if(s, [&](const owner& o) {
      if (o.get()->refs.load(std::memory_order_relaxed) != 0) return false;
      size = o.get()->size;
      return true;
    });
    if (erased == 0) return;
    in_table(size, -1);
    dying_replaced_.fetch_add(1, std::memory_order_relaxed);
  }

  // Preconditions: the caller took e->refs from 1 to 0 and is pinned. If the erase fails (its
  // retire list cannot grow), the dying entry stays until an intern of its text replaces it.
  void erase_dead(intern_entry* e) noexcept {
    try {
      if (map_.erase_if(e->view(), [e](const owner& o) { return o.get() == e; }) == 1) {
        in_table(e->size, -1);
      }
    } catch (...) {
    }
  }

  // Counts an entry of `size` text bytes into (+1) or out of (-1) the table. An erased entry
  // stays allocated until its retired node is freed.
  void in_table(std::size_t size, int sign) noexcept {
    const std::size_t block = intern_entry::block_bytes(size);
    if (sign > 0) {
      string_bytes_.fetch_add(size, std::memory_order_relaxed);
      table_entry_bytes_.fetch_add(block, std::memory_order_relaxed);
    } else {
      string_bytes_.fetch_sub(size, std::memory_order_relaxed);
      table_entry_bytes_.fetch_sub(block, std::memory_order_relaxed);
    }
  }

  static intern_entry* make_entry(std::string_view s) {
    void* block = heap::allocate(intern_entry::block_bytes(s.size()), alignof(intern_entry));
    auto* e = ::new (block) intern_entry{{1}, s.size()};
    std::memcpy(e->data(), s.data(), s.size());
    e->data()[s.size()] = '\0';
    get().allocated_bytes_.fetch_add(e->block_bytes(), std::memory_order_relaxed);
    return e;
  }

  static void free_entry(intern_entry* e) noexcept {
    const std::size_t bytes = e->block_bytes();
    e->~intern_entry();
    heap::deallocate(e, bytes);
    get().allocated_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
  }

  // Text → owner of its entry. Node layout (the key is a string_view), std::allocator.
  concurrent_map<std::string_view, owner> map_;
  std::atomic<std::size_t> string_bytes_{0};       // text of the entries in the table
  std::atomic<std::size_t> table_entry_bytes_{0};  // blocks of the entries in the table
  std::atomic<std::size_t> allocated_bytes_{0};    // blocks allocated and not yet freed
  std::atomic<std::uint64_t> dying_replaced_{0};
};

}  // namespace detail

// A handle to one interned string. Copies share the entry; == and hashing use its address.
// The default handle is the empty string.
class interned {
 public:
  interned() noexcept = default;
  // Interns `s` (same as tide::intern). Throws std::bad_alloc.
  explicit interned(std::string_view s)
      : entry_(s.empty() ? nullptr : detail::intern_table::get().acquire(s)) {}

  interned(const interned& other) noexcept : entry_(other.entry_) {
    if (entry_ != nullptr) entry_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  interned(interned&& other) noexcept : entry_(std::exchange(other.entry_, nullptr)) {}
  interned& operator=(interned other) noexcept {
    std::swap(entry_, other.entry_);
    return *this;
  }
  ~interned() {
    if (entry_ != nullptr) detail::intern_table::release(entry_);
  }

  std::string_view view() const noexcept {
    return entry_ != nullptr ? entry_->view() : std::string_view();
  }
  operator std::string_view() const noexcept { return view(); }
  // NUL-terminated; the same pointer for every handle to the same text.
  const char* data() const noexcept { return entry_ != nullptr ? entry_->data() : ""; }
  const char* c_str() const noexcept { return data(); }
  std::size_t size() const noexcept { return entry_ != nullptr ? entry_->size : 0; }
  bool empty() const noexcept { return entry_ == nullptr; }

  // By address: equal text ⇔ equal address. The order is consistent but not alphabetical.
  friend bool operator==(const interned& a, const interned& b) noexcept {
    return a.entry_ == b.entry_;
  }
  friend std::strong_ordering operator<=>(const interned& a, const interned& b) noexcept {
    return std::compare_three_way{}(a.entry_, b.entry_);
  }

  // The address, mixed (tide::hash and std::hash both use it).
  std::size_t hash() const noexcept {
    return detail::hash_word(reinterpret_cast<std::uintptr_t>(entry_));
  }

 private:
  detail::intern_entry* entry_ = nullptr;
};

// The handle of `s`: the existing entry if one is live, else a new one. Thread-safe.
inline interned intern(std::string_view s) { return interned(s); }

// The distinct strings interned now and the bytes they hold.
inline intern_table_stats intern_stats() noexcept { return detail::intern_table::get().stats(); }

// Frees the entries of strings whose last handle went, once no intern on another thread can
// still be reading them. The table frees them by itself in batches of a few dozen per shard;
// call this to bring intern_stats().retired_bytes to zero when interning has gone quiet.
inline void intern_reclaim() { detail::intern_table::get().reclaim(); }

template <>
struct hash<interned> {
  using is_avalanching = std::true_type;
  std::size_t operator()(const interned& s) const noexcept { return s.hash(); }
};

}  // namespace tide

template <>
struct std::hash<tide::interned> {
  std::size_t operator()(const tide::interned& s) const noexcept { return s.hash(); }
};
