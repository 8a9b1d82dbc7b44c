// The thread cache registry: creates each thread's cache, retires it when the thread exits,
// and sums every cache's counters for memstats. See docs/heap.md ("Thread caches").
//
// Invariants (under mu_):
//   - the list from head_ holds exactly the caches of live threads that have one (live_ of
//     them), each recorded in its thread's tls_thread_cache and pthread key;
//   - a class's mallocs ever made == the live caches' mallocs + retired_ + uncached_ (the
//     same for frees): counters are never lost when a thread exits.
//
// Thread safety: current() touches the registry only when it creates a cache; totals() and
// thread exit take mu_.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>

#include "central_list.hpp"
#include "fixed_pool.hpp"
#include "span.hpp"
#include "thread_cache.hpp"

namespace tide::heap::detail {

struct class_totals {
  std::uint64_t mallocs = 0;
  std::uint64_t frees = 0;
  std::uint64_t cached_objects = 0;  // in thread caches
};

class thread_cache_registry {
 public:
  // Preconditions: central points to size_class_count initialised central lists.
  explicit thread_cache_registry(central_list* central) noexcept;
  thread_cache_registry(const thread_cache_registry&) = delete;
  thread_cache_registry& operator=(const thread_cache_registry&) = delete;

  // The calling thread's cache, created on first use. nullptr once the thread is exiting
  // (its TLS destructors run) or if the OS refuses memory: the caller then goes to the
  // central list itself and counts with count_uncached_*.
  TIDE_ALWAYS_INLINE thread_cache* current() noexcept {
    thread_cache* tc = tls_thread_cache;
    return tc != nullptr ? tc : create_current();
  }

  void count_uncached_malloc(int c) noexcept {
    uncached_[c].mallocs.fetch_add(1, std::memory_order_relaxed);
  }
  void count_uncached_free(int c) noexcept {
    uncached_[c].frees.fetch_add(1, std::memory_order_release);
  }

  // Per class totals over every cache, live or retired, and the number of live caches. Every
  // free counted is counted after its malloc (frees are read first, with acquire loads), so
  // frees <= mallocs per class even while other threads run.
  std::size_t totals(class_totals (&out)[size_class_count]) const noexcept;

  // Bytes of thread cache records (metadata).
  std::size_t record_bytes() const noexcept;

 private:
  struct uncached_counters {
    std::atomic<std::uint64_t> mallocs{0};
    std::atomic<std::uint64_t> frees{0};
  };

  thread_cache* create_current() noexcept;
  static void on_thread_exit(void* cache) noexcept;
  void retire(thread_cache* tc) noexcept;

  central_list* central_;
  pthread_key_t key_{};
  bool key_ok_ = false;
  mutable std::mutex mu_;
  thread_cache* head_ = nullptr;
  std::size_t live_ = 0;
  fixed_pool records_{(sizeof(thread_cache) + 15) / 16 * 16};
  std::uint64_t retired_mallocs_[size_class_count] = {};
  std::uint64_t retired_frees_[size_class_count] = {};
  uncached_counters uncached_[size_class_count];
};

}  // namespace tide::heap::detail
