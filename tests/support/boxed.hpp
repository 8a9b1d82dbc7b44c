// boxed<T>: an integer that is not trivially copyable (its copy constructor is user-provided)
// and converts to and from T. tide::concurrent_map keeps small trivially copyable entries in
// its groups and anything else in nodes, so a map of boxed<T> values takes the node layout
// where a map of T takes the inline one: the tests run both read paths with the same values.
#pragma once

namespace tide_test {

template <class T>
struct boxed {
  T v = 0;
  boxed(T x) : v(x) {}  // NOLINT: converts like the integer it boxes
  boxed(const boxed& other) : v(other.v) {}
  boxed& operator=(const boxed&) = default;
  operator T() const { return v; }  // NOLINT
};

}  // namespace tide_test
