// Thread caches. See thread_cache.hpp for the design and invariants.
#include "thread_cache.hpp"

#include <cstdio>
#include <cstdlib>

#include "os.hpp"
#include "profile.hpp"

namespace tide::heap::detail {

constinit thread_local thread_cache* tls_thread_cache
    __attribute__((tls_model("initial-exec"))) = nullptr;

thread_cache::thread_cache(central_list* central) noexcept
    : sampler(reinterpret_cast<std::uintptr_t>(this) * 0x9E3779B97F4A7C15ULL ^ os_monotonic_ms()),
      central_(central) {
  for (int c = 1; c < size_class_count; ++c) lists_[c].max_length = batch_for(c);
  sampler.restart(the_heap_profile().rate());
}

void* thread_cache::refill(int c) noexcept {
  free_list& list = lists_[c];
  TIDE_ASSERT(list.head == nullptr, "refill: the list is not empty");
  void* head = nullptr;
  const std::size_t got = central_[c].allocate_batch(batch_for(c), &head);
  if (got == 0) return nullptr;
  if (list.max_length < max_length_for(c)) {
    const std::uint32_t grown = list.max_length + batch_for(c);
    list.max_length = grown < max_length_for(c) ? grown : max_length_for(c);
  }
  // One object for the caller, the rest cached.
  void* p = head;
  list.head = *static_cast<void**>(head);
  list.length.set(static_cast<std::uint32_t>(got - 1));
  list.mallocs.add(1);
  cached_bytes_ += (got - 1) * class_object_bytes[c];
  if constexpr (::tide::detail::invariant_checks) check_invariants();
  return p;
}

void thread_cache::overflow(int c) noexcept {
  free_list& list = lists_[c];
  if (list.length.load() > list.max_length) {
    if (list.max_length > batch_for(c) && ++list.overflows == overflows_per_drop) {
      list.max_length -= batch_for(c);
      list.overflows = 0;
    }
    const std::uint32_t excess = list.length.load() - list.max_length;
    release(c, excess > batch_for(c) ? excess : batch_for(c));
  }
  if (cached_bytes_ > cache_bytes_limit) {
    // Over the whole cache's budget: return half of every list, and halve the limits so the
    // lists regrow only where they are used.
    for (int d = 1; d < size_class_count; ++d) {
      free_list& l = lists_[d];
      release(d, (l.length.load() + 1) / 2);
      l.max_length = l.max_length / 2 > batch_for(d) ? l.max_length / 2 : batch_for(d);
    }
  }
  if constexpr (::tide::detail::invariant_checks) check_invariants();
}

void thread_cache::release(int c, std::uint32_t n) noexcept {
  free_list& list = lists_[c];
  if (n > list.length.load()) n = list.length.load();
  if (n == 0) return;
  void* head = list.head;
  void* last = head;
  for (std::uint32_t i = 1; i < n; ++i) last = *static_cast<void**>(last);
  list.head = *static_cast<void**>(last);
  list.length.set(list.length.load() - n);
  cached_bytes_ -= std::size_t{n} * class_object_bytes[c];
  central_[c].deallocate_batch(head, n);
}

void thread_cache::flush() noexcept {
  for (int c = 1; c < size_class_count; ++c) {
    release(c, lists_[c].length.load());
    lists_[c].max_length = batch_for(c);
  }
}

void thread_cache::check_not_cached(const free_list& list, const void* p) noexcept {
  for (const void* q = list.head; q != nullptr; q = *static_cast<void* const*>(q)) {
    if (q == p) report_misuse("double free (the object is in this thread's cache)", p);
  }
}

void thread_cache::check_invariants() const noexcept {
  auto fail = [](const char* what, int c) {
    std::fprintf(stderr, "tide::heap: thread cache invariant broken: %s (class %d)\n", what, c);
    std::abort();
  };
  std::size_t bytes = 0;
  for (int c = 1; c < size_class_count; ++c) {
    const free_list& list = lists_[c];
    std::uint32_t n = 0;
    for (const void* q = list.head; q != nullptr; q = *static_cast<void* const*>(q)) ++n;
    if (n != list.length.load()) fail("length == objects on the list", c);
    if (list.length.load() > list.max_length) fail("length <= max_length", c);
    if (list.max_length > max_length_for(c)) fail("max_length <= max_length_for(c)", c);
    bytes += std::size_t{n} * class_object_bytes[c];
  }
  if (bytes != cached_bytes_) fail("cached_bytes == sum of list bytes", 0);
}

}  // namespace tide::heap::detail
