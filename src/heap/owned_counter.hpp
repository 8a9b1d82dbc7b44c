// owned_counter: a counter only one thread writes and any thread may read. See docs/heap.md
// ("Memstats").
//
// The owner updates it with a plain load and store (no read-modify-write, so no lock prefix on
// x86); readers load it atomically and see some value it had. add_release() publishes the
// owner's earlier writes to a reader that loads the counter with load_acquire(): memstats uses
// that to count every free after its malloc (see read_memstats in memstats.cpp).
#pragma once

#include <atomic>

namespace tide::heap::detail {

template <class T>
class owned_counter {
 public:
  // Owner thread only.
  void add(T delta) noexcept {
    value_.store(value_.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
  }
  void add_release(T delta) noexcept {
    value_.store(value_.load(std::memory_order_relaxed) + delta, std::memory_order_release);
  }
  void set(T value) noexcept { value_.store(value, std::memory_order_relaxed); }

  // Any thread.
  T load() const noexcept { return value_.load(std::memory_order_relaxed); }
  T load_acquire() const noexcept { return value_.load(std::memory_order_acquire); }

 private:
  std::atomic<T> value_{};
};

}  // namespace tide::heap::detail
