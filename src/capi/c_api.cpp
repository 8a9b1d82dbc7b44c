// tide's C interface (include/tide/tide.h): tide::heap with C's error conventions (NULL and
// errno instead of exceptions). libtide_malloc.so's malloc family calls these.
#include "tide/tide.h"

#include <cerrno>
#include <cstring>
#include <new>
#include <system_error>

#include "tide/heap.hpp"
#include "tide/memstats.hpp"

namespace {

// A fundamental alignment for every size: what malloc promises.
constexpr std::size_t malloc_align = alignof(std::max_align_t);

bool is_power_of_two(std::size_t n) { return n != 0 && (n & (n - 1)) == 0; }

void* allocate_or_null(std::size_t size, std::size_t align) noexcept {
  try {
    return tide::heap::allocate(size, align);
  } catch (const std::bad_alloc&) {
    errno = ENOMEM;
    return nullptr;
  }
}

}  // namespace

extern "C" {

void* tide_malloc(size_t size) { return allocate_or_null(size, malloc_align); }

void* tide_calloc(size_t count, size_t size) {
  size_t bytes = 0;
  if (__builtin_mul_overflow(count, size, &bytes)) {
    errno = ENOMEM;
    return nullptr;
  }
  void* p = allocate_or_null(bytes, malloc_align);
  if (p != nullptr) std::memset(p, 0, bytes);
  return p;
}

void* tide_realloc(void* p, size_t size) {
  if (p == nullptr) return tide_malloc(size);
  if (size == 0) {
    tide::heap::deallocate(p);
    return nullptr;
  }
  const std::size_t usable = tide::heap::usable_size(p);
  // Keep the block when the new size fits and does not waste more than half of it.
  if (size <= usable && size >= usable / 2) return p;
  void* q = allocate_or_null(size, malloc_align);
  if (q == nullptr) return nullptr;  // p is left as it was, as C requires
  std::memcpy(q, p, size < usable ? size : usable);
  tide::heap::deallocate(p);
  return q;
}

void tide_free(void* p) { tide::heap::deallocate(p); }

void tide_free_sized(void* p, size_t size) { tide::heap::deallocate(p, size); }

int tide_posix_memalign(void** out, size_t align, size_t size) {
  if (!is_power_of_two(align) || align % sizeof(void*) != 0) return EINVAL;
  const int saved = errno;
  void* p = allocate_or_null(size, align < malloc_align ? malloc_align : align);
  errno = saved;  // posix_memalign reports through its result, not errno
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}

void* tide_aligned_alloc(size_t align, size_t size) {
  if (!is_power_of_two(align)) {
    errno = EINVAL;
    return nullptr;
  }
  return allocate_or_null(size, align < malloc_align ? malloc_align : align);
}

size_t tide_malloc_usable_size(const void* p) {
  return p == nullptr ? 0 : tide::heap::usable_size(p);
}

size_t tide_release_memory(void) { return tide::release_memory(); }

void tide_set_memory_limit(size_t bytes) { tide::set_memory_limit(bytes); }

void tide_set_heap_profile_rate(size_t bytes) { tide::set_heap_profile_rate(bytes); }

int tide_write_heap_profile(const char* path) {
  try {
    tide::write_heap_profile(path);
    return 0;
  } catch (const std::system_error& e) {
    errno = e.code().value();
  } catch (const std::bad_alloc&) {
    errno = ENOMEM;
  }
  return -1;
}

void tide_read_memstats(struct tide_memstats* out) {
  const tide::memstats s = tide::read_memstats();
  *out = {s.arena_bytes,       s.in_use_bytes,   s.idle_bytes,        s.released_bytes,
          s.metadata_bytes,    s.os_bytes,       s.footprint_bytes,   s.live_bytes,
          s.live_objects,      s.mallocs,        s.frees,             s.cached_bytes,
          s.small_spans,       s.large_spans,    s.free_spans,        s.released_spans,
          s.thread_caches,     s.released_total_bytes, s.memory_limit, s.pressure_events};
}

}  // extern "C"
