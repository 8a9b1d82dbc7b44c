// tide::counting_allocator — an allocator that tells how many bytes a container holds.
//
// Design
// ------
// Memory behaviour is half of tide's promise ("gives memory back", "peak during growth
// close to final"), so tests, benchmarks and the lab need an exact, cheap account of the
// bytes a container holds from its allocator. Two pieces:
//
//   * tide::allocation_counter — the account. Bytes in use, the peak of bytes in use since
//     the last reset_peak(), and the number of allocate/deallocate calls. Thread-safe with
//     relaxed atomics: every update is one atomic RMW (plus a CAS loop for a new peak), so a
//     counter may be shared by containers on several threads; a reader sees each counter
//     value exactly but the four values are not a consistent snapshot while others write.
//     One process-wide counter is available as allocation_counter::global().
//
//   * tide::counting_allocator<T, Base> — a standard allocator adaptor. It forwards every
//     allocate/deallocate to `Base` (std::allocator<T> by default, rebound to T) and records
//     n * sizeof(T) bytes in the counter it points to. It stores a pointer, so the counter
//     must outlive every allocator (and container) that refers to it.
//
// Allocator semantics: two counting allocators compare equal iff they point to the same
// counter (and their Base allocators compare equal). Allocators propagate on copy
// assignment, move assignment and swap, so memory is always returned to the counter that
// recorded it; is_always_equal is false, so a container must handle unequal allocators
// (e.g. an allocator-extended move constructor with a different counter copies elements).
//
// Accounting is in bytes requested (n * sizeof(T)), not bytes the underlying allocator
// really reserved (no malloc rounding or headers): that is what a container controls.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>

namespace tide {

/// The account a counting_allocator keeps: bytes in use, their peak, and the number of
/// allocate and deallocate calls. Thread-safe (relaxed atomics); each value is exact, but
/// the four are not a consistent snapshot while other threads write.
class allocation_counter {
 public:
  /// All counts zero.
  allocation_counter() noexcept = default;
  allocation_counter(const allocation_counter&) = delete;
  allocation_counter& operator=(const allocation_counter&) = delete;

  /// Bytes currently allocated and not yet deallocated.
  std::size_t bytes_in_use() const noexcept { return in_use_.load(std::memory_order_relaxed); }
  /// Largest bytes_in_use() seen since construction or the last reset_peak().
  std::size_t peak_bytes() const noexcept { return peak_.load(std::memory_order_relaxed); }
  /// Number of allocate() calls recorded.
  std::uint64_t allocations() const noexcept { return allocs_.load(std::memory_order_relaxed); }
  /// Number of deallocate() calls recorded.
  std::uint64_t deallocations() const noexcept {
    return deallocs_.load(std::memory_order_relaxed);
  }
  /// Restarts peak tracking from the current bytes in use.
  void reset_peak() noexcept { peak_.store(bytes_in_use(), std::memory_order_relaxed); }

  /// Records an allocation of `bytes` (called by counting_allocator; usable by other
  /// instrumented code).
  void record_allocate(std::size_t bytes) noexcept {
    allocs_.fetch_add(1, std::memory_order_relaxed);
    const std::size_t now = in_use_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
    std::size_t peak = peak_.load(std::memory_order_relaxed);
    while (now > peak &&
           !peak_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
    }
  }
  /// Records a deallocation of `bytes`.
  void record_deallocate(std::size_t bytes) noexcept {
    deallocs_.fetch_add(1, std::memory_order_relaxed);
    in_use_.fetch_sub(bytes, std::memory_order_relaxed);
  }

  /// The process-wide counter used by default-constructed counting allocators.
  static allocation_counter& global() noexcept {
    static allocation_counter counter;
    return counter;
  }

 private:
  std::atomic<std::size_t> in_use_{0};
  std::atomic<std::size_t> peak_{0};
  std::atomic<std::uint64_t> allocs_{0};
  std::atomic<std::uint64_t> deallocs_{0};
};

/// A standard allocator adaptor that forwards to `Base` and records n * sizeof(T) bytes per
/// call in an allocation_counter. Two counting allocators are equal iff they share a counter
/// (and their bases are equal); they propagate on copy, move and swap.
///
///     tide::allocation_counter counter;
///     tide::map<int, int, tide::hash<int>, std::equal_to<int>,
///               tide::counting_allocator<std::pair<const int, int>>> m{
///         tide::counting_allocator<std::pair<const int, int>>(counter)};
///     m[1] = 2;
///     std::size_t held = counter.bytes_in_use();
template <class T, class Base = std::allocator<T>>
class counting_allocator {
  using base_type = typename std::allocator_traits<Base>::template rebind_alloc<T>;
  using base_traits = std::allocator_traits<base_type>;

 public:
  ///@{
  /// Allocator traits: Base's pointer and size types; propagates on copy, move and swap;
  /// not always equal.
  using value_type = T;
  using pointer = typename base_traits::pointer;
  using const_pointer = typename base_traits::const_pointer;
  using void_pointer = typename base_traits::void_pointer;
  using const_void_pointer = typename base_traits::const_void_pointer;
  using size_type = typename base_traits::size_type;
  using difference_type = typename base_traits::difference_type;
  using propagate_on_container_copy_assignment = std::true_type;
  using propagate_on_container_move_assignment = std::true_type;
  using propagate_on_container_swap = std::true_type;
  using is_always_equal = std::false_type;
  ///@}

  /// The same adaptor for U, over Base rebound to U.
  template <class U>
  struct rebind {
    /// counting_allocator<U, Base rebound to U>.
    using other = counting_allocator<
        U, typename std::allocator_traits<Base>::template rebind_alloc<U>>;
  };

  /// Counts into allocation_counter::global().
  counting_allocator() noexcept(std::is_nothrow_default_constructible_v<base_type>)
      : counter_(&allocation_counter::global()) {}
  /// Counts into `counter`, which must outlive this allocator and all its copies.
  explicit counting_allocator(allocation_counter& counter, const base_type& base = base_type{})
      : counter_(&counter), base_(base) {}
  ///@{
  /// Copies share the counter.
  counting_allocator(const counting_allocator&) = default;
  counting_allocator& operator=(const counting_allocator&) = default;
  ///@}
  /// From a counting_allocator of another type: the same counter.
  template <class U, class B>
  counting_allocator(const counting_allocator<U, B>& other) noexcept
      : counter_(&other.counter()), base_(other.base()) {}

  /// Allocates from Base and records n * sizeof(T) bytes.
  [[nodiscard]] pointer allocate(size_type n) {
    pointer p = base_traits::allocate(base_, n);
    counter_->record_allocate(static_cast<std::size_t>(n) * sizeof(T));
    return p;
  }
  /// Deallocates to Base and records n * sizeof(T) bytes freed.
  void deallocate(pointer p, size_type n) noexcept {
    base_traits::deallocate(base_, p, n);
    counter_->record_deallocate(static_cast<std::size_t>(n) * sizeof(T));
  }

  /// The counter this allocator records into.
  allocation_counter& counter() const noexcept { return *counter_; }
  /// The underlying allocator.
  const base_type& base() const noexcept { return base_; }

  /// True iff both record into the same counter and their bases are equal.
  template <class U, class B>
  friend bool operator==(const counting_allocator& a, const counting_allocator<U, B>& b) noexcept {
    return a.counter_ == &b.counter() && a.base_ == base_type(b.base());
  }

 private:
  allocation_counter* counter_;
  [[no_unique_address]] base_type base_{};
};

}  // namespace tide
