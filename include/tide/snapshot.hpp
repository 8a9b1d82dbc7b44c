// tide::snapshot<T> — the current version of a value, read by many threads without locks,
// replaced by a writer. See docs/persistent_map.md ("Publishing versions").
//
// Design
// ------
// Readers call load() and get a std::shared_ptr<const T> they may keep as long as they like;
// a writer calls publish(next) or update(fn). An old version is freed when the last
// shared_ptr to it goes (that is std::shared_ptr's job); the problem is only the handover:
// reading "the current pointer" and taking a reference to it must be one step, or the writer
// could free the version in between.
//
// std::atomic<std::shared_ptr<T>> solves that with a lock: in libstdc++ 12 its load() sets a
// lock bit in the control-block pointer, copies, and clears it, and is_lock_free() is false;
// every reader then spins on one bit while a writer (or another reader) holds it. tide uses a
// split ("differential") reference count instead, so no thread ever waits for another:
//
//   current_ (one std::atomic<u64>):
//     bit 63 ............ 48 | 47 ..................................... 0
//     pending loads (16 bits)| address of the current holder (48 bits)
//
//   holder: { std::shared_ptr<const T> value; std::atomic<i64> released; }
//
// load():   1. current_.fetch_add(1 << 48): reads the holder and registers this load in
//              one atomic step; a registered holder is not freed.
//           2. copies holder->value (the shared_ptr that the caller gets).
//           3. unregisters: while current_ still names the holder, CAS the pending count down
//              by one; if a writer has swapped the holder out meanwhile, the count travelled
//              with it (see retire) and the load does released -= 1 instead.
// publish(): current_.exchange(new holder) and retire(old word): released += the pending
//              count of the old word. Whoever brings `released` to 0 — the writer, or the
//              last load that was still in flight — deletes the holder. The holder only holds
//              one shared_ptr: versions live as long as readers keep them, not holders.
// update(fn): registers like a load and keeps the registration while fn runs, so its holder
//              cannot be freed and its address cannot be reused: the CAS that installs the
//              new version succeeds only if no publish happened in between (no ABA); else it
//              retries with the newer version.
//
// Progress: publish is one exchange; load is a fetch_add, a shared_ptr copy and a CAS that
// fails only when another thread changed current_ (another load or a publish): lock-free,
// never waiting for a writer to finish anything. All loads contend on one cache line, as with
// the libstdc++ lock; this buys progress, not scalability.
//
// Invariants:
//   * the holder named by current_ is alive; it is deleted only after it was swapped out and
//     every load registered on it (the count it was swapped out with) has unregistered;
//   * at most 65535 load()/update() calls are between steps 1 and 3 at once (the pending
//     count's width); a 65536th aborts with a message (TIDE_CHECK) instead of wrapping;
//   * holder addresses fit in 48 bits (x86-64 and AArch64 user space; checked on publish).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <tide/detail/config.hpp>
#include <type_traits>
#include <utility>

namespace tide {

template <class T>
class snapshot {
 public:
  // Starts with `initial` as the current version (may be null).
  explicit snapshot(std::shared_ptr<const T> initial = nullptr)
      : current_(word_of(new holder(std::move(initial)))) {}
  snapshot(const snapshot&) = delete;
  snapshot& operator=(const snapshot&) = delete;
  // Preconditions: no load(), publish() or update() is running.
  ~snapshot() { delete holder_of(current_.load(std::memory_order_acquire)); }

  // The current version. Never blocks; safe from any number of threads.
  std::shared_ptr<const T> load() const {
    holder* h = acquire();
    std::shared_ptr<const T> version = h->value;
    unregister(h);
    return version;
  }

  // Makes `next` the current version; loads from now on see it (or a later one).
  void publish(std::shared_ptr<const T> next) {
    const std::uint64_t next_word = word_of(new holder(std::move(next)));
    retire(current_.exchange(next_word, std::memory_order_acq_rel), 0);
  }

  // Publishes fn(current) (a T) unless another thread published first, in which case fn runs
  // again on the newer version. fn must not itself publish to this snapshot. Returns the
  // version published. If fn throws, nothing is published.
  // Preconditions: a version is current (not null).
  template <class Fn>
  std::shared_ptr<const T> update(Fn&& fn) {
    while (true) {
      holder* h = acquire();
      TIDE_CHECK(h->value != nullptr, "snapshot::update: no current version to update");
      std::shared_ptr<const T> next;
      try {
        next = std::make_shared<const T>(fn(*h->value));
      } catch (...) {
        unregister(h);
        throw;
      }
      holder* next_holder = new holder(next);
      std::uint64_t seen = current_.load(std::memory_order_relaxed);
      while (holder_of(seen) == h) {
        if (current_.compare_exchange_weak(seen, word_of(next_holder), std::memory_order_acq_rel,
                                           std::memory_order_relaxed)) {
          // This update's own registration ends with the swap.
          retire(seen, 1);
          return next;
        }
      }
      delete next_holder;
      unregister(h);
    }
  }

 private:
  struct holder {
    explicit holder(std::shared_ptr<const T> v) : value(std::move(v)) {}
    std::shared_ptr<const T> value;
    // Loads that registered while this was current and unregistered after it was swapped
    // out, minus the count it was swapped out with (see retire): 0 again when all are done.
    std::atomic<std::int64_t> released{0};
  };

  static constexpr unsigned count_shift = 48;
  static constexpr std::uint64_t one_load = std::uint64_t{1} << count_shift;
  static constexpr std::uint64_t address_mask = one_load - 1;
  static_assert(sizeof(void*) == 8, "the holder address and the load count share 64 bits");

  static std::uint64_t word_of(holder* h) {
    const auto address = reinterpret_cast<std::uintptr_t>(h);
    TIDE_CHECK((address & ~address_mask) == 0, "snapshot: a heap address above 2^48");
    return address;
  }
  static holder* holder_of(std::uint64_t word) noexcept {
    return reinterpret_cast<holder*>(static_cast<std::uintptr_t>(word & address_mask));
  }

  // Registers a load on the current holder and returns it (alive until unregister()).
  holder* acquire() const {
    const std::uint64_t word = current_.fetch_add(one_load, std::memory_order_acq_rel);
    TIDE_CHECK((word >> count_shift) != (std::uint64_t{1} << (64 - count_shift)) - 1,
               "snapshot: more than 65535 loads in flight at once");
    return holder_of(word);
  }

  void unregister(holder* h) const noexcept {
    std::uint64_t word = current_.load(std::memory_order_relaxed);
    while (holder_of(word) == h) {
      if (current_.compare_exchange_weak(word, word - one_load, std::memory_order_acq_rel,
                                         std::memory_order_relaxed)) {
        return;
      }
    }
    // Swapped out: the writer moved this load's registration into `released`.
    if (h->released.fetch_sub(1, std::memory_order_acq_rel) == 1) delete h;
  }

  // Credits the holder of a swapped-out word with its pending loads, less `own` ones that
  // ended with the swap, and deletes it if none is left in flight.
  static void retire(std::uint64_t old_word, std::int64_t own) noexcept {
    holder* h = holder_of(old_word);
    const auto pending = static_cast<std::int64_t>(old_word >> count_shift) - own;
    if (h->released.fetch_add(pending, std::memory_order_acq_rel) + pending == 0) delete h;
  }

  mutable std::atomic<std::uint64_t> current_;
};

}  // namespace tide
