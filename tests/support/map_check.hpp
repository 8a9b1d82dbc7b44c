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

// Map m (tide) against reference map ref (std::unordered_map or similar): size, find for every
// reference key, and one iteration of m visiting exactly the reference's elements.
template <class M, class Ref>
::testing::AssertionResult same_contents(const M& m, const Ref& ref, int max_errors = 5) {
  std::ostringstream errors;
  int n = 0;
  auto error = [&](const std::string& what) {
    if (n++ < max_errors) errors << "\n  " << what;
  };
  if (m.size() != ref.size())
    error("size() got " + std::to_string(m.size()) + " want " + std::to_string(ref.size()));
  if (m.empty() != ref.empty()) error("empty() got " + describe(m.empty()));
  for (const auto& [k, v] : ref) {
    auto it = m.find(k);
    if (it == m.end()) {
      error("find(" + describe(k) + ") got end() want " + describe(v));
    } else if (!same_value(it->second, v)) {
      error("find(" + describe(k) + ") got " + describe(it->second) + " want " + describe(v));
    }
  }
  std::size_t visited = 0;
  for (const auto& [k, v] : m) {
    ++visited;
    auto rit = ref.find(k);
    if (rit == ref.end()) error("iteration visited " + describe(k) + " which is not in the map");
  }
  if (visited != ref.size())
    error("iteration visited " + std::to_string(visited) + " elements want " +
          std::to_string(ref.size()));
  if (n == 0) return ::testing::AssertionSuccess();
  auto failure = ::testing::AssertionFailure();
  failure << n << " difference(s) from the reference:" << errors.str();
  return failure;
}

// Set s (tide) against reference set ref.
template <class S, class Ref>
::testing::AssertionResult same_set_contents(const S& s, const Ref& ref, int max_errors = 5) {
  std::ostringstream errors;
  int n = 0;
  auto error = [&](const std::string& what) {
    if (n++ < max_errors) errors << "\n  " << what;
  };
  if (s.size() != ref.size())
    error("size() got " + std::to_string(s.size()) + " want " + std::to_string(ref.size()));
  for (const auto& k : ref)
    if (s.find(k) == s.end()) error("find(" + describe(k) + ") got end() want it");
  std::size_t visited = 0;
  for (const auto& k : s) {
    ++visited;
    if (ref.find(k) == ref.end()) error("iteration visited " + describe(k) + " not in the set");
  }
  if (visited != ref.size())
    error("iteration visited " + std::to_string(visited) + " elements want " +
          std::to_string(ref.size()));
  if (n == 0) return ::testing::AssertionSuccess();
  auto failure = ::testing::AssertionFailure();
  failure << n << " difference(s) from the reference:" << errors.str();
  return failure;
}

}  // namespace tide_test
