// libtide_malloc.so, part 1: the C allocation functions, for any program started with
// LD_PRELOAD=libtide_malloc.so. Each is the C interface's (src/capi/c_api.cpp); the names are
// glibc's. See docs/heap.md ("C interface and LD_PRELOAD").
#include <cerrno>
#include <cstddef>
#include <cstdint>

#include "tide/tide.h"

namespace {
constexpr std::size_t os_page = 4096;  // valloc and pvalloc's page
}  // namespace

extern "C" {

void* malloc(std::size_t size) { return tide_malloc(size); }
void free(void* p) { tide_free(p); }
void* calloc(std::size_t count, std::size_t size) { return tide_calloc(count, size); }
void* realloc(void* p, std::size_t size) { return tide_realloc(p, size); }

void* reallocarray(void* p, std::size_t count, std::size_t size) {
  std::size_t bytes = 0;
  if (__builtin_mul_overflow(count, size, &bytes)) {
    errno = ENOMEM;
    return nullptr;
  }
  return tide_realloc(p, bytes);
}

int posix_memalign(void** out, std::size_t align, std::size_t size) {
  return tide_posix_memalign(out, align, size);
}
void* aligned_alloc(std::size_t align, std::size_t size) { return tide_aligned_alloc(align, size); }
// glibc accepts any alignment in memalign and rounds it up to a power of two; so does tide.
void* memalign(std::size_t align, std::size_t size) {
  std::size_t power = alignof(std::max_align_t);
  while (power < align) {
    if (power > (SIZE_MAX >> 1)) {
      errno = EINVAL;
      return nullptr;
    }
    power <<= 1;
  }
  return tide_aligned_alloc(power, size);
}
void* valloc(std::size_t size) { return tide_aligned_alloc(os_page, size); }
void* pvalloc(std::size_t size) {
  const std::size_t rounded = (size + os_page - 1) & ~(os_page - 1);
  if (rounded < size) {
    errno = ENOMEM;
    return nullptr;
  }
  return tide_aligned_alloc(os_page, rounded == 0 ? os_page : rounded);
}

std::size_t malloc_usable_size(void* p) { return tide_malloc_usable_size(p); }

// glibc's malloc_trim(pad): give free memory back. Returns 1 if anything was released.
int malloc_trim(std::size_t) { return tide_release_memory() > 0 ? 1 : 0; }

}  // extern "C"
