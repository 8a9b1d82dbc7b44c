// Build-time checking levels shared by every tide header. See docs/map.md.
//
//   TIDE_CHECK(cond, msg)            always on; only where it costs nothing measurable
//                                    (size overflow, misuse that would corrupt memory).
//   TIDE_ASSERT(cond, msg)           debug builds (NDEBUG not defined).
//   TIDE_ASSERT_EXPENSIVE(cond, msg) the invariant-check build (TIDE_INVARIANT_CHECKS=1):
//                                    check_invariants() after every mutation.
//
// Each level is an `if constexpr` on a constant, so release code is unchanged and the
// checked expressions still compile in every build.
#pragma once

#include <cstddef>
#include <cstdio>
#include <cstdlib>

namespace tide::detail {

// The cache line of every target tide builds for (x86-64, AArch64): the unit of prefetching
// and of false-sharing padding.
inline constexpr std::size_t cache_line_bytes = 64;

#ifdef NDEBUG
inline constexpr bool debug_checks = false;
#else
inline constexpr bool debug_checks = true;
#endif

#if defined(TIDE_INVARIANT_CHECKS) && TIDE_INVARIANT_CHECKS
inline constexpr bool invariant_checks = true;
#else
inline constexpr bool invariant_checks = false;
#endif

[[noreturn]] inline void check_failed(const char* file, int line, const char* cond,
                                      const char* msg) noexcept {
  std::fprintf(stderr, "tide: %s:%d: check failed: %s: %s\n", file, line, cond, msg);
  std::abort();
}

}  // namespace tide::detail

#define TIDE_CHECK(cond, msg)                                       \
  do {                                                              \
    if (!(cond)) [[unlikely]]                                       \
      ::tide::detail::check_failed(__FILE__, __LINE__, #cond, msg); \
  } while (0)

#define TIDE_ASSERT(cond, msg)                                         \
  do {                                                                 \
    if constexpr (::tide::detail::debug_checks) TIDE_CHECK(cond, msg); \
  } while (0)

#define TIDE_ASSERT_EXPENSIVE(cond, msg)                                   \
  do {                                                                     \
    if constexpr (::tide::detail::invariant_checks) TIDE_CHECK(cond, msg); \
  } while (0)

#if defined(__GNUC__)
#define TIDE_LIKELY(x) __builtin_expect(!!(x), 1)
#define TIDE_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define TIDE_NOINLINE __attribute__((noinline))
#define TIDE_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define TIDE_LIKELY(x) (x)
#define TIDE_UNLIKELY(x) (x)
#define TIDE_NOINLINE
#define TIDE_ALWAYS_INLINE inline
#endif
