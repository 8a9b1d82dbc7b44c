// Comparing a tide container with a reference std container, with messages that say what
// differs: "find(42) got end() want 7".
#pragma once

#include <cstddef>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>

#include <gtest/gtest.h>

#include "support/describe.hpp"

namespace tide_test {

// The differences a comparison found: the first `max_shown` described, all counted.
class differences {
 public:
  explicit differences(int max_shown) : max_shown_(max_shown) {}
  void add(const std::string& what) {
    if (count_++ < max_shown_) text_ << "\n  " << what;
  }
  // What every comparison checks last: the container's size, and how many elements one
  // iteration of it visited.
  void check_counts(std::size_t size, std::size_t visited, std::size_t want) {
    if (size != want) add("size() got " + std::to_string(size) + " want " + std::to_string(want));
    if (visited != want) {
      add("iteration visited " + std::to_string(visited) + " elements want " +
          std::to_string(want));
    }
  }
  ::testing::AssertionResult result() const {
    if (count_ == 0) return ::testing::AssertionSuccess();
    auto failure = ::testing::AssertionFailure();
    failure << count_ << " difference(s) from the reference:" << text_.str();
    return failure;
  }

 private:
  int max_shown_;
  int count_ = 0;
  std::ostringstream text_;
};

// Map m (tide) against reference map ref (std::unordered_map or similar): size, find for every
// reference key, and one iteration of m visiting exactly the reference's elements.
template <class M, class Ref>
::testing::AssertionResult same_contents(const M& m, const Ref& ref, int max_errors = 5) {
  differences diff(max_errors);
  if (m.empty() != ref.empty()) diff.add("empty() got " + describe(m.empty()));
  for (const auto& [k, v] : ref) {
    auto it = m.find(k);
    if (it == m.end()) {
      diff.add("find(" + describe(k) + ") got end() want " + describe(v));
    } else if (!same_value(it->second, v)) {
      diff.add("find(" + describe(k) + ") got " + describe(it->second) + " want " + describe(v));
    }
  }
  std::size_t visited = 0;
  for (const auto& [k, v] : m) {
    ++visited;
    if (ref.find(k) == ref.end()) {
      diff.add("iteration visited " + describe(k) + " which is not in the map");
    }
  }
  diff.check_counts(m.size(), visited, ref.size());
  return diff.result();
}

// Set s (tide) against reference set ref.
template <class S, class Ref>
::testing::AssertionResult same_set_contents(const S& s, const Ref& ref, int max_errors = 5) {
  differences diff(max_errors);
  for (const auto& k : ref) {
    if (s.find(k) == s.end()) diff.add("find(" + describe(k) + ") got end() want it");
  }
  std::size_t visited = 0;
  for (const auto& k : s) {
    ++visited;
    if (ref.find(k) == ref.end()) diff.add("iteration visited " + describe(k) + " not in the set");
  }
  diff.check_counts(s.size(), visited, ref.size());
  return diff.result();
}

}  // namespace tide_test
