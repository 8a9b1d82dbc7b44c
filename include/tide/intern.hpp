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
// Vocabulary. An *entry* is one distinct string: a header (reference count, hash, length)
// followed by the bytes and a NUL, in one tide::heap block. A *handle* (tide::interned) holds
// one reference. The *table* maps text to entry; it is split into *shards* (by the top bits
// of the hash), each a tide::set of entry pointers under its own mutex.
//
//   shard[hash >> 58] { mutex, tide::set<entry*> }      entry: [refs | hash | size][bytes][\0]
//
// Invariants:
//   - A live entry (refs > 0) is in its shard's set, and no other entry with its text is.
//   - refs counts handles. Copying a handle adds one without a lock (there is a handle, so
//     refs > 0). A handle that takes refs from 1 to 0 *owns the entry's death*: it, and only
//     it, frees the entry, after taking the shard lock and erasing the entry if the set still
//     holds it.
//   - Resurrection race: between that 1→0 and the shard lock, intern() of the same text may
//     find the dying entry. It never revives it (a 0→1 would race with the free): under the
//     shard lock it increments only a non-zero count (compare-and-swap); on 0 it erases the
//     dying entry and inserts a fresh one. The dying entry's owner then finds a different
//     entry (or none) under the text and frees only its own. The shard lock keeps the dying
//     entry's memory valid for anyone who found it in the set: the owner frees only after it
//     has held the lock.
//   - No lock is held while allocating an entry, so a memory-pressure callback (which runs
//     inside an allocation) may drop handles. The sets use std::allocator for the same reason:
//     a set that grows under the shard lock must not run tide's pressure callbacks.
//   - The empty string is the null handle: intern("") == interned() and allocates nothing.
//   - The table is never destroyed, so handles in static objects are safe.
//
// Why 64 shards: intern() of distinct strings from every core hits different locks (the
// stress test runs 4 threads over a few strings, the worst case: one shard).
#pragma once

#include <array>
#include <atomic>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <string_view>
#include <utility>

#include "tide/detail/config.hpp"
#include "tide/hash.hpp"
#include "tide/heap.hpp"
#include "tide/set.hpp"

namespace tide {

// What intern_stats() reports: the table as it is now, and one count since the start.
struct intern_table_stats {
  std::size_t strings = 0;           // distinct strings (entries in the table)
  std::size_t string_bytes = 0;      // their text
  std::size_t bytes = 0;             // entries (header + text + NUL, as allocated) + the sets
  std::uint64_t dying_replaced = 0;  // interns that found a dying entry and replaced it
};

namespace detail {

struct intern_entry {
  std::atomic<std::uint64_t> refs;
  std::size_t hash;
  std::size_t size;

  const char* data() const noexcept { return reinterpret_cast<const char*>(this + 1); }
  char* data() noexcept { return reinterpret_cast<char*>(this + 1); }
  std::string_view view() const noexcept { return {data(), size}; }
  std::size_t block_bytes() const noexcept { return sizeof(intern_entry) + size + 1; }
};

struct intern_entry_hash {
  using is_transparent = void;
  using is_avalanching = std::true_type;
  std::size_t operator()(const intern_entry* e) const noexcept { return e->hash; }
  std::size_t operator()(std::string_view s) const noexcept { return string_hash{}(s); }
};

struct intern_entry_equal {
  using is_transparent = void;
  bool operator()(const intern_entry* a, const intern_entry* b) const noexcept {
    return a->view() == b->view();
  }
  bool operator()(const intern_entry* a, std::string_view b) const noexcept {
    return a->view() == b;
  }
  bool operator()(std::string_view a, const intern_entry* b) const noexcept {
    return a == b->view();
  }
};

class intern_table {
 public:
  static constexpr unsigned shard_bits = 6;
  static constexpr std::size_t shard_count = std::size_t{1} << shard_bits;

  // The process-wide table, never destroyed.
  static intern_table& get() noexcept {
    static intern_table* const table = new intern_table();
    return *table;
  }

  // An entry for `s` with one reference taken for the caller. Preconditions: !s.empty().
  intern_entry* acquire(std::string_view s) {
    const std::size_t hash = string_hash{}(s);
    shard& sh = shard_for(hash);
    {
      std::lock_guard g(sh.mu);
      if (intern_entry* e = acquire_live_locked(sh, s)) return e;
    }
    intern_entry* fresh = make_entry(s, hash);
    intern_entry* found = nullptr;
    {
      std::lock_guard g(sh.mu);
      found = acquire_live_locked(sh, s);
      if (found == nullptr) {
        try {
          sh.entries.insert(fresh);
        } catch (...) {
          free_entry(fresh);
          throw;
        }
        sh.string_bytes += fresh->size;
        sh.entry_bytes += fresh->block_bytes();
        return fresh;
      }
    }
    free_entry(fresh);  // another thread interned it meanwhile
    return found;
  }

  // Drops one reference; the last one erases and frees the entry.
  static void release(intern_entry* e) noexcept {
    if (e->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    if (auto hook = last_release_hook.load(std::memory_order_relaxed)) hook(e->view());
    get().erase_dead(e);
  }

  // Test seam: runs between a last release's 1→0 and its shard lock (where the resurrection
  // race lives), so a test can intern the dying text there deterministically.
  static inline std::atomic<void (*)(std::string_view)> last_release_hook{nullptr};

  intern_table_stats stats() const noexcept {
    intern_table_stats s;
    for (const shard& sh : shards_) {
      std::lock_guard g(sh.mu);
      s.strings += sh.entries.size();
      s.string_bytes += sh.string_bytes;
      s.bytes += sh.entry_bytes + sh.entries.memory().bytes;
      s.dying_replaced += sh.dying_replaced;
    }
    return s;
  }

 private:
  struct alignas(64) shard {
    mutable std::mutex mu;
    tide::set<intern_entry*, intern_entry_hash, intern_entry_equal> entries;  // guarded by mu
    std::size_t string_bytes = 0;                                             // guarded by mu
    std::size_t entry_bytes = 0;                                              // guarded by mu
    std::uint64_t dying_replaced = 0;                                         // guarded by mu
  };

  shard& shard_for(std::size_t hash) noexcept {
    return shards_[hash >> (8 * sizeof(std::size_t) - shard_bits)];
  }

  // The live entry for `s` with a reference added, or nullptr. A dying entry (refs 0) is
  // erased here, so the caller inserts a fresh one. Preconditions: sh.mu held.
  static intern_entry* acquire_live_locked(shard& sh, std::string_view s) {
    auto it = sh.entries.find(s);
    if (it == sh.entries.end()) return nullptr;
    intern_entry* e = *it;
    std::uint64_t refs = e->refs.load(std::memory_order_relaxed);
    while (refs != 0) {
      if (e->refs.compare_exchange_weak(refs, refs + 1, std::memory_order_relaxed)) return e;
    }
    // Dying: its owner frees it once it gets the lock, and will not find it here.
    sh.entries.erase(it);
    forget_locked(sh, e);
    ++sh.dying_replaced;
    return nullptr;
  }

  static void forget_locked(shard& sh, const intern_entry* e) noexcept {
    sh.string_bytes -= e->size;
    sh.entry_bytes -= e->block_bytes();
  }

  // Preconditions: the caller took e->refs from 1 to 0.
  void erase_dead(intern_entry* e) noexcept {
    shard& sh = shard_for(e->hash);
    {
      std::lock_guard g(sh.mu);
      auto it = sh.entries.find(e->view());
      if (it != sh.entries.end() && *it == e) {
        sh.entries.erase(it);
        forget_locked(sh, e);
      }
    }
    free_entry(e);
  }

  static intern_entry* make_entry(std::string_view s, std::size_t hash) {
    void* block = heap::allocate(sizeof(intern_entry) + s.size() + 1, alignof(intern_entry));
    auto* e = ::new (block) intern_entry{{1}, hash, s.size()};
    std::memcpy(e->data(), s.data(), s.size());
    e->data()[s.size()] = '\0';
    return e;
  }

  static void free_entry(intern_entry* e) noexcept {
    const std::size_t bytes = e->block_bytes();
    e->~intern_entry();
    heap::deallocate(e, bytes);
  }

  std::array<shard, shard_count> shards_;
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
