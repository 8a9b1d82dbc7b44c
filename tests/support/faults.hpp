// Fault injection for exception-safety tests: hashes, equalities, values and allocators that
// throw on the Nth call, and objects that count their constructions and destructions.
//
// Each kind of fault has its own fault_point (hash_faults, equal_faults, construct_faults,
// alloc_faults). arm(n) makes the nth hit from now throw tide_test::injected_fault (n >= 1);
// disarm() stops it. Tests are single-threaded, so plain integers suffice.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>

#include <tide/hash.hpp>

namespace tide_test {

struct injected_fault : std::runtime_error {
  explicit injected_fault(const char* what) : std::runtime_error(what) {}
};

class fault_point {
 public:
  explicit fault_point(const char* name) : name_(name) {}
  void arm(std::int64_t n) { countdown_ = n; }
  void disarm() { countdown_ = -1; }
  bool armed() const { return countdown_ > 0; }
  std::uint64_t hits() const { return hits_; }
  std::uint64_t faults() const { return faults_; }
  void hit() {
    ++hits_;
    if (countdown_ > 0 && --countdown_ == 0) {
      countdown_ = -1;
      ++faults_;
      throw injected_fault(name_);
    }
  }

 private:
  const char* name_;
  std::int64_t countdown_ = -1;
  std::uint64_t hits_ = 0;
  std::uint64_t faults_ = 0;
};

inline fault_point hash_faults{"injected fault in hash"};
inline fault_point equal_faults{"injected fault in key_equal"};
inline fault_point construct_faults{"injected fault in value constructor"};
inline fault_point alloc_faults{"injected fault in allocate"};

// Disarms every fault point when it goes out of scope (so a failing test does not leak an
// armed fault into the next one).
struct disarm_all_on_exit {
  ~disarm_all_on_exit() {
    hash_faults.disarm();
    equal_faults.disarm();
    construct_faults.disarm();
    alloc_faults.disarm();
  }
};

// tide::hash<K> that hits hash_faults first.
template <class K>
struct throwing_hash {
  std::size_t operator()(const K& k) const {
    hash_faults.hit();
    return tide::hash<K>{}(k);
  }
};

// std::equal_to<K> that hits equal_faults first.
template <class K>
struct throwing_equal {
  bool operator()(const K& a, const K& b) const {
    equal_faults.hit();
    return a == b;
  }
};

// Live-object accounting for types below: constructions - destructions must return to the
// value it had before a test once every container and temporary is gone.
struct lifetime_counts {
  std::int64_t constructed = 0;
  std::int64_t destroyed = 0;
  std::int64_t live() const { return constructed - destroyed; }
};
inline lifetime_counts value_lifetimes;

// A value whose every constructor (from int, copy, move) hits construct_faults before doing
// anything; assignment never throws. Moved-from objects hold -1. Counts lifetimes.
class throwing_value {
 public:
  explicit throwing_value(int v) : v_(v) {
    construct_faults.hit();
    ++value_lifetimes.constructed;
  }
  throwing_value(const throwing_value& o) : v_(o.v_) {
    construct_faults.hit();
    ++value_lifetimes.constructed;
  }
  throwing_value(throwing_value&& o) : v_(o.v_) {  // deliberately not noexcept
    construct_faults.hit();
    o.v_ = -1;
    ++value_lifetimes.constructed;
  }
  throwing_value& operator=(const throwing_value& o) noexcept {
    v_ = o.v_;
    return *this;
  }
  throwing_value& operator=(throwing_value&& o) noexcept {
    v_ = o.v_;
    o.v_ = -1;
    return *this;
  }
  ~throwing_value() { ++value_lifetimes.destroyed; }
  int get() const { return v_; }
  friend bool operator==(const throwing_value& a, const throwing_value& b) { return a.v_ == b.v_; }

 private:
  int v_;
};

// A value that counts lifetimes and never throws (for leak checks in other tests).
class counted_value {
 public:
  explicit counted_value(int v = 0) noexcept : v_(v) { ++value_lifetimes.constructed; }
  counted_value(const counted_value& o) noexcept : v_(o.v_) { ++value_lifetimes.constructed; }
  counted_value(counted_value&& o) noexcept : v_(o.v_) {
    o.v_ = -1;
    ++value_lifetimes.constructed;
  }
  counted_value& operator=(const counted_value& o) noexcept = default;
  counted_value& operator=(counted_value&& o) noexcept {
    v_ = o.v_;
    o.v_ = -1;
    return *this;
  }
  ~counted_value() { ++value_lifetimes.destroyed; }
  int get() const { return v_; }
  friend bool operator==(const counted_value& a, const counted_value& b) { return a.v_ == b.v_; }

 private:
  int v_;
};

// Bytes handed out by every throwing_allocator and not yet returned.
inline std::int64_t throwing_allocator_live_bytes = 0;

// std::allocator<T> that hits alloc_faults before each allocation. Stateless, always equal.
template <class T>
struct throwing_allocator {
  using value_type = T;
  throwing_allocator() = default;
  template <class U>
  throwing_allocator(const throwing_allocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    alloc_faults.hit();
    T* p = std::allocator<T>{}.allocate(n);
    throwing_allocator_live_bytes += static_cast<std::int64_t>(n * sizeof(T));
    return p;
  }
  void deallocate(T* p, std::size_t n) noexcept {
    throwing_allocator_live_bytes -= static_cast<std::int64_t>(n * sizeof(T));
    std::allocator<T>{}.deallocate(p, n);
  }
  template <class U>
  friend bool operator==(const throwing_allocator&, const throwing_allocator<U>&) noexcept {
    return true;
  }
};

}  // namespace tide_test
