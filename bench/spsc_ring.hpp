// A bounded single-producer single-consumer ring, for alloc_bench's producer/consumer
// workload. One thread calls try_push, one other thread calls try_pop; neither allocates.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>

namespace tide_bench {

template <class T, std::size_t Capacity>
class spsc_ring {
  static_assert((Capacity & (Capacity - 1)) == 0, "Capacity must be a power of two: indices wrap by masking");

 public:
  // False when the ring is full.
  bool try_push(const T& value) {
    const std::size_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - head_.load(std::memory_order_acquire) == Capacity) return false;
    slots_[tail & (Capacity - 1)] = value;
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  // False when the ring is empty.
  bool try_pop(T& value) {
    const std::size_t head = head_.load(std::memory_order_relaxed);
    if (head == tail_.load(std::memory_order_acquire)) return false;
    value = slots_[head & (Capacity - 1)];
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

 private:
  // head_ (consumer) and tail_ (producer) on cache lines of their own, so the two threads do
  // not invalidate each other's line on every operation.
  alignas(64) std::atomic<std::size_t> head_{0};
  alignas(64) std::atomic<std::size_t> tail_{0};
  alignas(64) std::array<T, Capacity> slots_{};
};

}  // namespace tide_bench
