// Thread caches: the lock-free fast path of tide::heap (Go's mcache, tcmalloc's ThreadCache).
// See docs/heap.md ("Thread caches").
//
// Each thread that allocates a small object gets a thread_cache: per size class, a LIFO list
// of free objects linked through their first word. allocate pops, deallocate pushes: no lock
// and no atomic read-modify-write (the counters memstats reads are owned_counters). An empty
// list refills with a batch from the class's central list; a list longer than its limit
// returns a batch; a cache holding more than cache_bytes_limit returns half of every list.
// A list's limit starts at one batch and grows by one batch at each refill, up to
// max_length_for(c) (tcmalloc's slow start: a class a thread uses heavily gets a deep list),
// and drops by a batch at every third overflow (a thread that only frees, as one emptying a
// structure, shrinks its lists back to a batch instead of keeping the largest it reached:
// cached objects pin their spans).
//
// Invariants (check_invariants() recomputes them):
//   - list c holds length(c) distinct objects of class c; to the layers below they are
//     allocated (their bitmap bits are set), so a span with a cached object stays in use;
//   - length(c) <= max_length(c) <= max_length_for(c) after every call;
//   - cached_bytes() == sum over c of length(c) * class_object_bytes[c].
//
// Lifetime: the registry (thread_cache_registry) creates a thread's cache on its first small
// allocation and keeps every live cache on a list for memstats. When the thread exits, a
// pthread key destructor flushes the cache to the central lists, folds its counters into the
// registry's retired totals and recycles its record; allocations the thread makes after that
// (in later TLS destructors) go straight to the central lists.
//
// Misuse: pushing the object at the top of the list again (the commonest double free) is
// caught on every free; debug builds search the whole list; any other double free is caught
// when the cache returns the object to its central list, which checks the span's bitmap.
#pragma once

#include <cstddef>
#include <cstdint>

#include "allocation_sampler.hpp"
#include "central_list.hpp"
#include "misuse.hpp"
#include "owned_counter.hpp"
#include "size_classes.hpp"

namespace tide::heap::detail {

class thread_cache {
 public:
  static constexpr std::size_t cache_bytes_limit = std::size_t{2} << 20;
  static constexpr std::uint32_t overflows_per_drop = 3;

  // Objects moved between a thread cache and a central list at once: 64 KiB worth, at least
  // 2 and at most 32 (tcmalloc's num_objects_to_move).
  static constexpr std::uint32_t batch_for(int c) noexcept {
    const std::size_t n = std::size_t{64 << 10} / class_object_bytes[c];
    return static_cast<std::uint32_t>(n < 2 ? 2 : n > 32 ? 32 : n);
  }
  // The deepest a list may grow: 1 MiB worth, at most 4096 objects, at least one batch.
  static constexpr std::uint32_t max_length_for(int c) noexcept {
    const std::size_t n = std::size_t{1 << 20} / class_object_bytes[c];
    const std::size_t capped = n > 4096 ? 4096 : n;
    return static_cast<std::uint32_t>(capped < batch_for(c) ? batch_for(c) : capped);
  }

  explicit thread_cache(central_list* central) noexcept;
  thread_cache(const thread_cache&) = delete;
  thread_cache& operator=(const thread_cache&) = delete;

  // An object of class c, or nullptr if the list is empty (then call refill).
  TIDE_ALWAYS_INLINE void* try_allocate(int c) noexcept {
    free_list& list = lists_[c];
    void* p = list.head;
    if (p == nullptr) return nullptr;
    list.head = *static_cast<void**>(p);
    list.length.add(std::uint32_t(-1));
    list.mallocs.add(1);
    cached_bytes_ -= class_object_bytes[c];
    return p;
  }

  // Refills list c from the central list and returns one of its objects, or nullptr if the
  // OS refuses memory.
  void* refill(int c) noexcept;

  // Caches the object p of class c. Preconditions: p is an object of class c that the
  // page map knows (the caller checked span and offset).
  TIDE_ALWAYS_INLINE void deallocate(void* p, int c) noexcept {
    free_list& list = lists_[c];
    if (p == list.head) report_misuse("double free", p);
    if constexpr (::tide::detail::debug_checks) check_not_cached(list, p);
    *static_cast<void**>(p) = list.head;
    list.head = p;
    list.length.add(1);
    list.frees.add_release(1);
    cached_bytes_ += class_object_bytes[c];
    if (list.length.load() > list.max_length || cached_bytes_ > cache_bytes_limit) overflow(c);
  }

  // Returns every cached object to the central lists.
  void flush() noexcept;

  // Read by read_memstats (any thread, under the registry's lock).
  std::uint64_t mallocs(int c) const noexcept { return lists_[c].mallocs.load(); }
  std::uint64_t frees_acquire(int c) const noexcept { return lists_[c].frees.load_acquire(); }
  std::uint32_t length(int c) const noexcept { return lists_[c].length.load(); }

  std::size_t cached_bytes() const noexcept { return cached_bytes_; }
  void check_invariants() const noexcept;

  // Which of this thread's allocations the heap profile records (profile.hpp).
  allocation_sampler sampler;

  // The registry's list of live caches.
  thread_cache* prev = nullptr;
  thread_cache* next = nullptr;

 private:
  struct free_list {
    void* head = nullptr;
    owned_counter<std::uint32_t> length;
    std::uint32_t max_length = 0;
    std::uint32_t overflows = 0;  // since max_length last dropped
    owned_counter<std::uint64_t> mallocs;
    owned_counter<std::uint64_t> frees;
  };

  void overflow(int c) noexcept;
  // Returns the n objects at the top of list c to the central list.
  void release(int c, std::uint32_t n) noexcept;
  static void check_not_cached(const free_list& list, const void* p) noexcept;

  central_list* central_;  // [size_class_count]
  std::size_t cached_bytes_ = 0;
  free_list lists_[size_class_count];
};

// The calling thread's cache, or nullptr if it has none yet (or has exited).
// constinit: no TLS wrapper call on access (the compiler knows there is no dynamic init).
extern constinit thread_local thread_cache* tls_thread_cache
    __attribute__((tls_model("initial-exec")));

}  // namespace tide::heap::detail
