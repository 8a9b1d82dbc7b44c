// Which allocations the heap profile records: about one per `rate` bytes allocated, chosen at
// random (Go's MemProfileRate, tcmalloc's sampler). See docs/heap.md ("Heap profiles").
//
// Each thread cache owns a sampler: a countdown of bytes to the next sample, decremented by
// every allocation on the fast path (a subtract and a branch). The gaps between samples are
// exponentially distributed with mean `rate`, so every byte allocated has the same chance,
// 1/rate, of being the one sampled: an allocation of s bytes is sampled with probability
// 1 - exp(-s/rate), which the profile writer divides out.
//
// With profiling off the countdown is reset to poll_bytes, so a thread notices a rate set
// later within poll_bytes of allocation.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "tide/detail/config.hpp"

namespace tide::heap::detail {

class allocation_sampler {
 public:
  static constexpr std::int64_t poll_bytes = std::int64_t{16} << 20;

  explicit allocation_sampler(std::uint64_t seed) noexcept : random_(seed | 1) {}

  // Counts an allocation of `bytes`; true when the countdown runs out (call next()).
  TIDE_ALWAYS_INLINE bool counts_out(std::size_t bytes) noexcept {
    countdown_ -= static_cast<std::int64_t>(bytes);
    return countdown_ < 0;
  }

  // Starts the next countdown for `rate` (0: profiling off).
  void restart(std::size_t rate) noexcept {
    countdown_ = rate == 0 ? poll_bytes : next_gap(rate);
  }

 private:
  // An exponentially distributed gap with mean `rate` bytes, at least 1.
  std::int64_t next_gap(std::size_t rate) noexcept {
    // xorshift64*: 53 random bits give a uniform u in (0, 1].
    random_ ^= random_ >> 12;
    random_ ^= random_ << 25;
    random_ ^= random_ >> 27;
    const std::uint64_t bits = (random_ * 0x2545F4914F6CDD1DULL) >> 11;
    const double u = (static_cast<double>(bits) + 1.0) / 9007199254740992.0;
    const double gap = -std::log(u) * static_cast<double>(rate);
    return gap < 1.0 ? 1 : gap > 1e15 ? std::int64_t{1} << 50 : static_cast<std::int64_t>(gap);
  }

  std::int64_t countdown_ = poll_bytes;
  std::uint64_t random_;
};

}  // namespace tide::heap::detail
