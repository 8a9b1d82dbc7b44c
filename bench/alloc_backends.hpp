// The two sides of alloc_bench: the process's malloc (glibc, or whichever allocator the runner
// preloads with LD_PRELOAD) and tide::heap. Each workload is written once, against this
// interface. See docs/PERFORMANCE.md ("Allocators").
#pragma once

#include <malloc.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>
#include <string_view>
#include <tide/heap.hpp>
#include <tide/heap_allocator.hpp>
#include <tide/heap_map.hpp>
#include <tide/map.hpp>

namespace tide_bench {

// malloc/free, std::allocator for containers.
struct system_backend {
  static constexpr std::string_view name = "system";

  static void* allocate(std::size_t size) {
    void* p = std::malloc(size);
    if (p == nullptr) throw std::bad_alloc();
    return p;
  }
  static void deallocate(void* p, std::size_t) noexcept { std::free(p); }

  template <class K, class V>
  using map = tide::map<K, V>;
  using string = std::string;

  // Gives free memory back to the OS. malloc_trim is glibc's: under a preloaded allocator it
  // trims glibc's own (unused) heap, so the runner asks for this on glibc only.
  static void release() { malloc_trim(0); }
};

// tide::heap, sized deallocation; tide::heap_map for maps, and strings on tide::heap_allocator
// so that the values' bytes come from tide::heap too, not from malloc.
struct tide_backend {
  static constexpr std::string_view name = "tide";

  static void* allocate(std::size_t size) { return tide::heap::allocate(size); }
  static void deallocate(void* p, std::size_t size) noexcept { tide::heap::deallocate(p, size); }

  template <class K, class V>
  using map = tide::heap_map<K, V>;
  using string = std::basic_string<char, std::char_traits<char>, tide::heap_allocator<char>>;

  static void release() { tide::release_memory(); }
};

}  // namespace tide_bench
