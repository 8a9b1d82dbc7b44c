// Epoch-based reclamation for lock-free readers. See docs/concurrent_map.md.
//
// A reader that follows pointers it did not lock (concurrent_map's lookups) must not see the
// memory behind them freed while it looks. Writers therefore do not free what they unlink:
// they retire it, tagged with the global epoch, and free it once no reader can still hold it.
//
// Vocabulary:
//   global epoch    a counter, `epoch_domain::global_`; it advances by one only when every
//                   pinned thread has announced the current value
//   thread record   one cache line per thread: the epoch the thread announced while pinned,
//                   or 0 while it is not; written only by its thread, read by writers
//   pin / guard     a reader announces the global epoch in its record for as long as an
//                   epoch_guard lives (guards nest; only the outermost one writes)
//   retire          unlink an object, then read the global epoch e: the object may be freed
//                   once the global epoch reaches e + 2 (retire_list, below)
//
// Record word (std::uint64_t):
//
//   bit 63 ............... 1 | bit 0
//   [ announced epoch        | pinned ]     0 when the thread is not pinned
//
// Why e + 2 is safe: a reader that could have loaded the pointer pinned before the object was
// unlinked, so it announced e or e - 1 (a reader's announcement may lag the global epoch by
// one; the global epoch never advances past a pinned record that announced an older value).
// The epoch reaching e + 1 waits for every record pinned at e - 1 to unpin or re-pin; reaching
// e + 2 waits for every record pinned at e. A reader that pins later reads a global epoch of at
// least e + 1, which was stored after the unlink, so its loads no longer find the object.
//
// Memory order: the pin is a seq_cst exchange on the record and the scan that advances the
// epoch reads every record seq_cst; a pinned reader's slot loads are acquire loads that follow
// the exchange (x86-64 `xchg` is a full barrier; AArch64 orders `ldar` after `stlr`). The unpin
// is a release store, so a writer that sees a record unpinned (acquire) also sees every access
// the reader made under the guard happen before the free (this is what ThreadSanitizer checks).
//
// Thread records live in one lock-free list per process and are never freed: a thread takes a
// free record on its first pin and gives it back when it exits (a thread_local destructor), so
// the list is as long as the most threads that were ever pinned at once. Retired objects are
// kept by whoever retired them (concurrent_map keeps one retire list per shard, under the
// shard's lock), not by the thread, so a thread's exit leaves nothing behind.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "tide/detail/config.hpp"

namespace tide::detail {

inline constexpr std::size_t cache_line_bytes = 64;

class epoch_domain {
 public:
  // The process's domain: every concurrent_map shares it, so a thread pins once whatever the
  // number of maps it reads.
  static epoch_domain& instance() noexcept {
    static epoch_domain domain;
    return domain;
  }

  std::uint64_t global_epoch() const noexcept { return global_.load(std::memory_order_seq_cst); }

  // Advances the global epoch by one if every pinned record announced the current one, and
  // returns the global epoch after the attempt. Lock-free; any thread may call it.
  std::uint64_t try_advance() noexcept {
    std::uint64_t epoch = global_.load(std::memory_order_seq_cst);
    for (record* r = records_.load(std::memory_order_acquire); r != nullptr; r = r->next) {
      const std::uint64_t word = r->word.load(std::memory_order_seq_cst);
      if ((word & pinned_bit) != 0 && (word >> 1) != epoch) return epoch;
    }
    if (global_.compare_exchange_strong(epoch, epoch + 1, std::memory_order_seq_cst)) {
      return epoch + 1;
    }
    return epoch;  // another thread advanced it; `epoch` holds the value it found
  }

  // Pins the calling thread (nestable). Precondition: paired with unpin() on the same thread.
  void pin() noexcept {
    thread_slot& slot = this_thread_slot();
    if (slot.nesting++ != 0) return;
    if (slot.owned == nullptr) slot.owned = acquire_record();
    const std::uint64_t epoch = global_.load(std::memory_order_seq_cst);
    slot.owned->word.exchange((epoch << 1) | pinned_bit, std::memory_order_seq_cst);
  }

  void unpin() noexcept {
    thread_slot& slot = this_thread_slot();
    TIDE_ASSERT(slot.nesting > 0, "epoch unpin without a pin");
    if (--slot.nesting != 0) return;
    slot.owned->word.store(0, std::memory_order_release);
  }

  // Records ever created: at most the number of threads that were ever pinned at once
  // (records of exited threads are reused).
  std::size_t record_count() const noexcept {
    std::size_t n = 0;
    for (record* r = records_.load(std::memory_order_acquire); r != nullptr; r = r->next) ++n;
    return n;
  }

  epoch_domain(const epoch_domain&) = delete;
  epoch_domain& operator=(const epoch_domain&) = delete;

 private:
  static constexpr std::uint64_t pinned_bit = 1;

  struct alignas(cache_line_bytes) record {
    std::atomic<std::uint64_t> word{0};
    std::atomic<bool> in_use{true};
    record* next = nullptr;  // set before the record is published, never changed
  };
  static_assert(sizeof(record) == cache_line_bytes, "one record per cache line");

  // The calling thread's record and guard nesting depth; gives the record back at thread exit.
  struct thread_slot {
    record* owned = nullptr;
    unsigned nesting = 0;
    ~thread_slot() {
      if (owned != nullptr) {
        owned->word.store(0, std::memory_order_release);
        owned->in_use.store(false, std::memory_order_release);
        owned = nullptr;
      }
    }
  };

  epoch_domain() = default;
  // Records stay reachable from records_ for the life of the process (threads may outlive the
  // domain's static destructor), so none is freed here.
  ~epoch_domain() = default;

  static thread_slot& this_thread_slot() noexcept {
    static thread_local thread_slot slot;
    return slot;
  }

  record* acquire_record() {
    for (record* r = records_.load(std::memory_order_acquire); r != nullptr; r = r->next) {
      bool free = false;
      if (!r->in_use.load(std::memory_order_relaxed) &&
          r->in_use.compare_exchange_strong(free, true, std::memory_order_acquire)) {
        return r;
      }
    }
    auto* fresh = new record;  // std::bad_alloc here ends the program: pin() is noexcept
    record* head = records_.load(std::memory_order_relaxed);
    do {
      fresh->next = head;
    } while (!records_.compare_exchange_weak(head, fresh, std::memory_order_release,
                                             std::memory_order_relaxed));
    return fresh;
  }

  alignas(cache_line_bytes) std::atomic<std::uint64_t> global_{1};
  alignas(cache_line_bytes) std::atomic<record*> records_{nullptr};
};

// RAII pin of the calling thread: pointers loaded from a concurrent structure while it lives
// stay valid until it is destroyed.
class epoch_guard {
 public:
  epoch_guard() noexcept { epoch_domain::instance().pin(); }
  ~epoch_guard() { epoch_domain::instance().unpin(); }
  epoch_guard(const epoch_guard&) = delete;
  epoch_guard& operator=(const epoch_guard&) = delete;
};

// True once an object retired at `retired_epoch` can no longer be reached by any reader.
inline bool reclaimable(std::uint64_t retired_epoch, std::uint64_t global_epoch) noexcept {
  return global_epoch >= retired_epoch + 2;
}

}  // namespace tide::detail
