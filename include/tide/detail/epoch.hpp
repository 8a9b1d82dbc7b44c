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
// Memory order. Pin and scan are the two sides of a store-buffering pattern: the reader stores
// its announcement, then loads slots; the scan loads the records after the writer's unlink (a
// store). One of them must see the other's store, so a full barrier must separate each side's
// store from its loads. Where it sits is decided once per process (reader_fence_):
//
//   membarrier  (Linux >= 4.14, the default) an *asymmetric fence*. The reader's announcement is
//               a relaxed store followed by a compiler-only barrier (atomic_signal_fence), which
//               keeps its slot loads after the store in the instruction stream but not in the
//               CPU's store buffer. try_advance() pays instead: between its load of the global
//               epoch and its scan it calls membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED), which
//               runs a full barrier on every CPU then running a thread of this process (a thread
//               not running passed one when it was switched out), all between the call's entry
//               and its return, themselves full barriers. So every thread's instruction stream is
//               cut at one point P by a full barrier ordered between the scanner's accesses
//               before the call and those after it: whatever a thread stored before P the scan
//               sees; whatever it loads after P sees all that the scanner saw before the call.
//   exchange    (the fallback, when registering for membarrier fails: ENOSYS on old kernels,
//               EINVAL, EPERM under seccomp; and always under ThreadSanitizer, below) the
//               announcement is a seq_cst exchange (x86-64 `xchg`, a full barrier; AArch64
//               orders the later `ldar` slot loads after its release half) and the scan reads
//               every record seq_cst, with no syscall. It is the same argument with P the
//               exchange itself.
//
// Why e + 2, and why a scan that frees cannot miss a reader. A writer unlinks an object, then
// reads the global epoch e through global_epoch(), which issues a full fence first: the unlink
// is visible everywhere before the read (x86-64 and AArch64 are multi-copy atomic: a store seen
// by one other thread is seen by all), so before any store of e + 1, a later store than the
// value the writer read; hence
//   (*) a thread that reads a global epoch > e (acquire) and then loads sees the unlink.
// The object is freed once the global epoch is e + 2, that is after a scan S that read e + 1,
// cut every thread at its P, found no pinned record announcing anything but e + 1 and advanced.
// Take a reader R pinned across the free; it read the global epoch (acquire), announced it,
// then made the slot loads that could have found the object.
//   - R announced before P: S saw the announcement, so it was e + 1 (or S would not have
//     advanced): R had read e + 1, so by (*) its loads saw the unlink.
//   - R announced after P: so are its loads, which see what S saw before the call; S had read
//     e + 1, so by (*) S, and then R, sees the unlink.
// Either way R never held the object. A reader whose pin ended before S read its record stored
// 0 with release; if S saw a later pin's announcement instead, that announcement was stored
// before P, so the earlier pin's accesses were too (membarrier), or it is an RMW that carries
// the unpin's release on (exchange): either way they happen before the free.
//
// ThreadSanitizer models neither membarrier nor fences: under it readers always take the
// exchange, whose release sequence (an RMW continues the unpin's) is what lets it see the free
// ordered after the reader's loads, and global_epoch() reads with an RMW instead of a fence.
// The unpin is a release store in both modes, so a writer that sees a record unpinned (acquire)
// sees every access the reader made under the guard happen before the free.
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

// TIDE_EPOCH_MEMBARRIER: whether this build may use membarrier at all (it is still asked at run
// time). TIDE_EPOCH_NO_MEMBARRIER=1 forces the exchange, for the test of that path.
#if defined(__SANITIZE_THREAD__)
#define TIDE_EPOCH_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TIDE_EPOCH_TSAN 1
#endif
#endif
#if defined(__linux__) && __has_include(<linux/membarrier.h>) && !defined(TIDE_EPOCH_TSAN) && \
    !(defined(TIDE_EPOCH_NO_MEMBARRIER) && TIDE_EPOCH_NO_MEMBARRIER)
#define TIDE_EPOCH_MEMBARRIER 1
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace tide::detail {

class epoch_domain {
 public:
  // A thread record (see the vocabulary above). Public only so that an epoch_guard can hold
  // the one it pinned.
  struct alignas(cache_line_bytes) record {
    std::atomic<std::uint64_t> word{0};
    std::atomic<bool> in_use{true};
    record* next = nullptr;  // set before the record is published, never changed
  };
  static_assert(sizeof(record) == cache_line_bytes, "one record per cache line");

  // The process's domain: every concurrent_map shares it, so a thread pins once whatever the
  // number of maps it reads. Constant-initialized: no guard on the way to it.
  static epoch_domain& instance() noexcept { return domain_; }

  // The epoch to tag a retirement with: the caller's unlink is ordered before the read by a full
  // fence (see "Why e + 2" above).
  std::uint64_t global_epoch() noexcept {
#if defined(TIDE_EPOCH_TSAN)
    return global_.fetch_add(0, std::memory_order_seq_cst);
#else
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return global_.load(std::memory_order_acquire);
#endif
  }

  // Advances the global epoch by one if every pinned record announced the current one, and
  // returns the global epoch after the attempt. Lock-free; any thread may call it.
  // With membarrier, a first look without the barrier spares the syscall when a record visibly
  // holds the epoch back (a stale value only makes the call give up as if it came earlier);
  // only the look after the barrier may let the epoch advance.
  std::uint64_t try_advance() noexcept {
    std::uint64_t epoch = global_.load(std::memory_order_seq_cst);
    if (!all_announced(epoch)) return epoch;
    if (asymmetric()) {
      heavy_fence();
      if (!all_announced(epoch)) return epoch;
    }
    if (global_.compare_exchange_strong(epoch, epoch + 1, std::memory_order_seq_cst)) {
      return epoch + 1;
    }
    return epoch;  // another thread advanced it; `epoch` holds the value it found
  }

  // The calling thread's record, pinned, or nullptr if the thread was pinned already (a nested
  // pin, which leaves the record as the outer one set it). Precondition: a non-null result is
  // passed to unpin() on the same thread, after every nested pin's unpin.
  //
  // A thread is pinned exactly when its record's word is nonzero, and only the thread writes
  // it, so the nesting test is a load of its own store: no counter is kept (a counter in
  // thread-local storage cost every read a load and a store to pin and another pair to unpin).
  record* pin() noexcept {
    thread_slot& slot = this_thread_;
    record* r = slot.owned;
    if (TIDE_UNLIKELY(r == nullptr)) r = first_pin(slot);
    if (TIDE_UNLIKELY(r->word.load(std::memory_order_relaxed) != 0)) return nullptr;
    const std::uint64_t word = (global_.load(std::memory_order_acquire) << 1) | pinned_bit;
    if (TIDE_LIKELY(slot.light)) {
      // A compiler-only barrier: try_advance's membarrier makes it a full one when it matters.
      r->word.store(word, std::memory_order_relaxed);
      std::atomic_signal_fence(std::memory_order_seq_cst);
    } else {
      r->word.exchange(word, std::memory_order_seq_cst);
    }
    return r;
  }

  // Ends the pin that returned r; nothing for a nested pin (r == nullptr).
  static void unpin(record* r) noexcept {
    TIDE_ASSERT(r == nullptr || r->word.load(std::memory_order_relaxed) != 0,
                "epoch unpin without a pin");
    if (r != nullptr) r->word.store(0, std::memory_order_release);
  }

  // True when readers pin with a relaxed store and scans pay with membarrier; false when they
  // pin with an exchange. Decided on the first call in the process, then fixed.
  bool asymmetric() noexcept {
    int fence = reader_fence_.load(std::memory_order_acquire);
    if (TIDE_UNLIKELY(fence == fence_undecided)) fence = decide_reader_fence();
    return fence == fence_membarrier;
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

  // reader_fence_ values.
  static constexpr int fence_undecided = 0;
  static constexpr int fence_membarrier = 1;
  static constexpr int fence_exchange = 2;

  // The calling thread's record and pin kind. Trivially destructible and constant-initialized,
  // so reaching it is one thread-pointer-relative access with no guard; record_release gives
  // the record back at thread exit. The TLS model is the compiler's
  // default (initial- or local-exec in an executable, general-dynamic in -fPIC code), never
  // forced to initial-exec: this header may be compiled into a library loaded with dlopen.
  struct thread_slot {
    record* owned;
    bool light;  // pin with the relaxed store (asymmetric()), cached at the first pin
  };

  struct record_release {
    ~record_release() {
      thread_slot& slot = this_thread_;
      if (slot.owned != nullptr) {
        slot.owned->word.store(0, std::memory_order_release);
        slot.owned->in_use.store(false, std::memory_order_release);
        slot.owned = nullptr;
      }
    }
  };

  constexpr epoch_domain() = default;
  // Records stay reachable from records_ for the life of the process (threads may outlive
  // static destruction), so none is freed: the destructor is trivial.
  ~epoch_domain() = default;

  // True if every pinned record announced `epoch`.
  bool all_announced(std::uint64_t epoch) const noexcept {
    for (record* r = records_.load(std::memory_order_acquire); r != nullptr; r = r->next) {
      const std::uint64_t word = r->word.load(std::memory_order_seq_cst);
      if ((word & pinned_bit) != 0 && (word >> 1) != epoch) return false;
    }
    return true;
  }

  // The thread's first pin (or its first after its records were given back at exit): takes a
  // record and registers its release at thread exit.
  TIDE_NOINLINE record* first_pin(thread_slot& slot) noexcept {
    [[maybe_unused]] static thread_local record_release release;
    slot.light = asymmetric();
    slot.owned = acquire_record();
    return slot.owned;
  }

  TIDE_NOINLINE int decide_reader_fence() noexcept {
    const int decided = register_membarrier() ? fence_membarrier : fence_exchange;
    int found = fence_undecided;
    if (reader_fence_.compare_exchange_strong(found, decided, std::memory_order_acq_rel)) {
      return decided;
    }
    return found;  // another thread decided first
  }

  // Registration belongs to the process (its address space) and a fork() inherits it, as the
  // child inherits reader_fence_.
  static bool register_membarrier() noexcept {
#if defined(TIDE_EPOCH_MEMBARRIER)
    return syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
#else
    return false;
#endif
  }

  // Precondition: asymmetric() returned true (so registration succeeded).
  static void heavy_fence() noexcept {
#if defined(TIDE_EPOCH_MEMBARRIER)
    TIDE_CHECK(syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0,
               "membarrier failed after registering");
#else
    TIDE_CHECK(false, "membarrier not built in");
#endif
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

  static epoch_domain domain_;
  static thread_local thread_slot this_thread_;

  alignas(cache_line_bytes) std::atomic<std::uint64_t> global_{1};
  alignas(cache_line_bytes) std::atomic<record*> records_{nullptr};
  std::atomic<int> reader_fence_{fence_undecided};  // read by scans and first pins only
};

constinit inline epoch_domain epoch_domain::domain_{};
constinit inline thread_local epoch_domain::thread_slot epoch_domain::this_thread_{};

// RAII pin of the calling thread: pointers loaded from a concurrent structure while it lives
// stay valid until it is destroyed.
class epoch_guard {
 public:
  epoch_guard() noexcept : pinned_(epoch_domain::instance().pin()) {}
  ~epoch_guard() { epoch_domain::unpin(pinned_); }
  epoch_guard(const epoch_guard&) = delete;
  epoch_guard& operator=(const epoch_guard&) = delete;

 private:
  epoch_domain::record* pinned_;  // nullptr when nested in another guard of this thread
};

// True once an object retired at `retired_epoch` can no longer be reached by any reader.
inline bool reclaimable(std::uint64_t retired_epoch, std::uint64_t global_epoch) noexcept {
  return global_epoch >= retired_epoch + 2;
}

}  // namespace tide::detail
