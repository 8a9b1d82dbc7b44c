// Allocators on tide::heap for containers: tide::heap_allocator<T> (a stateless standard
// allocator) and tide::heap_resource (a std::pmr::memory_resource). See docs/heap.md.
//
//   std::vector<int, tide::heap_allocator<int>> v;                 // std containers
//   tide::map<int, int, tide::hash<int>, std::equal_to<int>,
//             tide::heap_allocator<std::pair<const int, int>>> m;   // = tide::heap_map<int, int>
//   std::pmr::vector<int> w(tide::heap_resource::get());           // pmr containers
#pragma once

#include <cstddef>
#include <limits>
#include <memory_resource>
#include <new>

#include "tide/heap.hpp"

namespace tide {

/// A standard allocator on tide::heap, stateless: every heap_allocator compares equal to every
/// other, so memory allocated by one can be freed by any, of any T. Deallocation is sized (the
/// fast path of tide::heap::deallocate).
///
///     std::vector<int, tide::heap_allocator<int>> v;
template <class T>
class heap_allocator {
 public:
  ///@{
  /// Allocator traits: stateless, always equal, propagates on move assignment.
  using value_type = T;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  using propagate_on_container_move_assignment = std::true_type;
  using is_always_equal = std::true_type;
  ///@}

  /// Stateless: nothing to construct.
  heap_allocator() noexcept = default;
  /// From a heap_allocator of another type (all are equal).
  template <class U>
  heap_allocator(const heap_allocator<U>&) noexcept {}

  /// Room for `n` objects of T, aligned for T. Throws std::bad_array_new_length if
  /// n * sizeof(T) overflows, std::bad_alloc if the OS refuses memory.
  [[nodiscard]] T* allocate(std::size_t n) {
    if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(heap::allocate(n * sizeof(T), alignof(T)));
  }
  /// Frees `p`, which allocate(n) returned.
  void deallocate(T* p, std::size_t n) noexcept { heap::deallocate(p, n * sizeof(T)); }

  /// Always true.
  template <class U>
  friend bool operator==(const heap_allocator&, const heap_allocator<U>&) noexcept {
    return true;
  }
};

/// A std::pmr::memory_resource on tide::heap. get() is the process-wide instance; any two
/// heap_resources compare equal (they share the heap).
///
///     std::pmr::vector<int> w(tide::heap_resource::get());
class heap_resource final : public std::pmr::memory_resource {
 public:
  /// The process-wide instance.
  static heap_resource* get() noexcept {
    static heap_resource instance;
    return &instance;
  }

 private:
  void* do_allocate(std::size_t bytes, std::size_t align) override {
    return heap::allocate(bytes, align);
  }
  void do_deallocate(void* p, std::size_t bytes, std::size_t) override {
    heap::deallocate(p, bytes);
  }
  bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
    return dynamic_cast<const heap_resource*>(&other) != nullptr;
  }
};

}  // namespace tide
