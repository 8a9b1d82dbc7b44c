// The thread cache registry. See thread_cache_registry.hpp for the design and invariants.
#include "thread_cache_registry.hpp"

#include <new>

#include "global_heap.hpp"

namespace tide::heap::detail {

namespace {
// Set when the calling thread's cache has been retired (its TLS destructors are running):
// a retired thread never gets a new cache, which nothing would flush.
thread_local bool tls_cache_retired __attribute__((tls_model("initial-exec"))) = false;
}  // namespace

thread_cache_registry::thread_cache_registry(central_list* central) noexcept
    : central_(central) {
  key_ok_ = pthread_key_create(&key_, &thread_cache_registry::on_thread_exit) == 0;
}

thread_cache* thread_cache_registry::create_current() noexcept {
  if (tls_cache_retired || !key_ok_) return nullptr;
  void* memory = nullptr;
  {
    std::lock_guard lock(mu_);
    memory = records_.allocate();
    if (memory == nullptr) return nullptr;
  }
  auto* tc = ::new (memory) thread_cache(central_);
  if (pthread_setspecific(key_, tc) != 0) {
    std::lock_guard lock(mu_);
    tc->~thread_cache();
    records_.deallocate(memory);
    return nullptr;
  }
  {
    std::lock_guard lock(mu_);
    tc->next = head_;
    if (head_ != nullptr) head_->prev = tc;
    head_ = tc;
    ++live_;
  }
  tls_thread_cache = tc;
  return tc;
}

void thread_cache_registry::on_thread_exit(void* cache) noexcept {
  the_heap().caches.retire(static_cast<thread_cache*>(cache));
}

void thread_cache_registry::retire(thread_cache* tc) noexcept {
  tls_thread_cache = nullptr;
  tls_cache_retired = true;
  tc->flush();
  std::lock_guard lock(mu_);
  for (int c = 1; c < size_class_count; ++c) {
    retired_mallocs_[c] += tc->mallocs(c);
    retired_frees_[c] += tc->frees_acquire(c);
  }
  if (tc->prev != nullptr) {
    tc->prev->next = tc->next;
  } else {
    head_ = tc->next;
  }
  if (tc->next != nullptr) tc->next->prev = tc->prev;
  --live_;
  tc->~thread_cache();
  records_.deallocate(tc);
}

std::size_t thread_cache_registry::totals(class_totals (&out)[size_class_count]) const noexcept {
  std::lock_guard lock(mu_);
  for (int c = 1; c < size_class_count; ++c) {
    std::uint64_t frees = retired_frees_[c] + uncached_[c].frees.load(std::memory_order_acquire);
    for (const thread_cache* tc = head_; tc != nullptr; tc = tc->next) frees += tc->frees_acquire(c);
    out[c].frees = frees;
  }
  for (int c = 1; c < size_class_count; ++c) {
    std::uint64_t mallocs = retired_mallocs_[c] + uncached_[c].mallocs.load(std::memory_order_relaxed);
    std::uint64_t cached = 0;
    for (const thread_cache* tc = head_; tc != nullptr; tc = tc->next) {
      mallocs += tc->mallocs(c);
      cached += tc->length(c);
    }
    out[c].mallocs = mallocs;
    out[c].cached_objects = cached;
  }
  return live_;
}

std::size_t thread_cache_registry::record_bytes() const noexcept {
  std::lock_guard lock(mu_);
  return records_.resident_bytes();
}

}  // namespace tide::heap::detail
