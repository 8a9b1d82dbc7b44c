// describe(x): a short text for a key or value in failure messages; same_value(a, b): does
// a tide mapped value equal a plain reference value. No GoogleTest dependency (the fuzz
// target uses these too).
#pragma once

#include <string>
#include <string_view>
#include <type_traits>

namespace tide_test {

template <class T>
std::string describe(const T& x) {
  if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, std::string_view>) {
    // Appending (rather than "literal" + string) avoids a GCC 12 -Wrestrict false positive.
    std::string r(1, '"');
    r.append(x.data(), x.size());
    r += '"';
    return r;
  } else if constexpr (std::is_same_v<T, bool>) {
    return x ? "true" : "false";
  } else if constexpr (std::is_arithmetic_v<T>) {
    return std::to_string(x);
  } else if constexpr (requires { *x; x == nullptr; }) {  // smart pointers
    if (x == nullptr) return "null";
    std::string r = "ptr->";
    r += describe(*x);
    return r;
  } else if constexpr (requires { x.get(); }) {
    return describe(x.get());
  } else if constexpr (requires { x.first; x.second; }) {
    std::string r(1, '{');
    r += describe(x.first);
    r += ", ";
    r += describe(x.second);
    r += '}';
    return r;
  } else {
    return "<value>";
  }
}

// Does a tide mapped value equal the reference's?
template <class A, class B>
bool same_value(const A& a, const B& b) {
  if constexpr (std::is_same_v<A, B>) {
    return a == b;
  } else if constexpr (requires { *a; a == nullptr; }) {
    return a != nullptr && same_value(*a, b);
  } else if constexpr (requires { a.get(); }) {
    return a.get() == b;
  } else {
    return a == b;
  }
}

}  // namespace tide_test
