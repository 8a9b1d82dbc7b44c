// libtide_malloc.so, part 2: every replaceable global operator new and delete (plain, array,
// nothrow, sized, aligned), on tide::heap. new follows the standard: on failure it calls the
// new-handler while there is one, then throws std::bad_alloc (the nothrow forms return null).
#include <cstddef>
#include <new>

#include "tide/heap.hpp"

namespace {

void* allocate_or_throw(std::size_t size, std::size_t align) {
  for (;;) {
    try {
      return tide::heap::allocate(size, align);
    } catch (const std::bad_alloc&) {
      std::new_handler handler = std::get_new_handler();
      if (handler == nullptr) throw;
      handler();
    }
  }
}

void* allocate_or_null(std::size_t size, std::size_t align) noexcept {
  try {
    return allocate_or_throw(size, align);
  } catch (...) {
    return nullptr;
  }
}

constexpr std::size_t default_align = __STDCPP_DEFAULT_NEW_ALIGNMENT__;

}  // namespace

void* operator new(std::size_t size) { return allocate_or_throw(size, default_align); }
void* operator new[](std::size_t size) { return allocate_or_throw(size, default_align); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  return allocate_or_null(size, default_align);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  return allocate_or_null(size, default_align);
}
void* operator new(std::size_t size, std::align_val_t align) {
  return allocate_or_throw(size, static_cast<std::size_t>(align));
}
void* operator new[](std::size_t size, std::align_val_t align) {
  return allocate_or_throw(size, static_cast<std::size_t>(align));
}
void* operator new(std::size_t size, std::align_val_t align, const std::nothrow_t&) noexcept {
  return allocate_or_null(size, static_cast<std::size_t>(align));
}
void* operator new[](std::size_t size, std::align_val_t align, const std::nothrow_t&) noexcept {
  return allocate_or_null(size, static_cast<std::size_t>(align));
}

void operator delete(void* p) noexcept { tide::heap::deallocate(p); }
void operator delete[](void* p) noexcept { tide::heap::deallocate(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { tide::heap::deallocate(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { tide::heap::deallocate(p); }
void operator delete(void* p, std::size_t size) noexcept { tide::heap::deallocate(p, size); }
void operator delete[](void* p, std::size_t size) noexcept { tide::heap::deallocate(p, size); }
void operator delete(void* p, std::align_val_t) noexcept { tide::heap::deallocate(p); }
void operator delete[](void* p, std::align_val_t) noexcept { tide::heap::deallocate(p); }
void operator delete(void* p, std::size_t size, std::align_val_t) noexcept {
  tide::heap::deallocate(p, size);
}
void operator delete[](void* p, std::size_t size, std::align_val_t) noexcept {
  tide::heap::deallocate(p, size);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  tide::heap::deallocate(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  tide::heap::deallocate(p);
}
