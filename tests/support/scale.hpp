// Test sizes: full by default, smaller under sanitizers and invariant checks, and
// scaled by the environment variable TIDE_TEST_SCALE (a factor, e.g. 0.1 or 4).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdlib>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TIDE_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define TIDE_TEST_SANITIZED 1
#endif
#endif
#ifndef TIDE_TEST_SANITIZED
#define TIDE_TEST_SANITIZED 0
#endif

namespace tide_test {

// The default factor: 1 in a plain build; 1/4 under sanitizers; 1/50 when the map checks
// its invariants after every mutation (TIDE_INVARIANT_CHECKS), which makes each op O(table).
inline double default_scale() {
#if defined(TIDE_INVARIANT_CHECKS) && TIDE_INVARIANT_CHECKS
  return 0.02;
#else
  return TIDE_TEST_SANITIZED ? 0.25 : 1.0;
#endif
}

inline double test_scale() {
  static const double scale = [] {
    if (const char* env = std::getenv("TIDE_TEST_SCALE"); env != nullptr && *env != '\0') {
      const double s = std::strtod(env, nullptr);
      if (s > 0) return s;
    }
    return default_scale();
  }();
  return scale;
}

// n scaled by test_scale(), never below `floor`.
inline std::size_t scaled(std::size_t n, std::size_t floor = 1) {
  const auto s = static_cast<std::size_t>(static_cast<double>(n) * test_scale());
  return std::max(s, floor);
}

}  // namespace tide_test
