// alloc_bench's give-back workload: does RSS come back after everything is freed, and how
// soon? See docs/PERFORMANCE.md ("Allocators").
//
// Allocates `bytes` as small objects (16 B to 1 KiB, uniform, each written at both ends so
// every OS page it covers is touched), frees them all, newest first, optionally asks the
// allocator to give memory back (Backend::release()), then samples RSS every 10 ms for up to
// 3 s. The sampling never calls the allocator (resident_bytes() does not allocate), so what
// counts is what the allocator returned during the frees, inside release(), or on its own (a
// background thread). The objects are linked through themselves, so the bookkeeping costs no
// memory of its own. "Back" means within max(5%, 4 MiB) of the RSS before the allocations: the
// allowance tests/heap/give_back_test.cpp grants tide (span records and page map entries).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <thread>

#include "bench_common.hpp"
#include "common/process_memory.hpp"

namespace tide_bench {

struct give_back_result {
  std::size_t rss_before = 0;
  std::size_t rss_full = 0;        // with every object allocated
  std::size_t rss_after_free = 0;  // the first sample after the frees (and the release)
  std::size_t rss_end = 0;         // the last sample
  std::optional<double> ms_to_return;  // from the last free to the first sample that is back
};

template <class Backend>
give_back_result give_back(std::size_t bytes, bool explicit_release) {
  using namespace std::chrono_literals;
  constexpr auto interval = 10ms;
  constexpr auto patience = 3s;
  struct object {
    object* next;
    std::size_t size;
  };
  give_back_result r;
  r.rss_before = tide_tools::resident_bytes();

  object* live = nullptr;
  std::uint64_t step = default_seed;
  for (std::size_t total = 0; total < bytes;) {
    const std::size_t size = 16 + splitmix64(step++) % (1024 - 16 + 1);
    auto* p = static_cast<unsigned char*>(Backend::allocate(size));
    p[size - 1] = 1;  // before the header, which holds the last byte of a 16 B object
    live = ::new (p) object{live, size};
    total += size;
  }
  r.rss_full = tide_tools::resident_bytes();
  while (live != nullptr) {
    object* next = live->next;
    Backend::deallocate(live, live->size);
    live = next;
  }

  const auto start = bench_clock::now();
  if (explicit_release) Backend::release();
  const std::size_t allowance = std::max(r.rss_before / 20, std::size_t{4} << 20);
  for (auto next = start;; next += interval) {
    std::this_thread::sleep_until(next);
    r.rss_end = tide_tools::resident_bytes();
    if (next == start) r.rss_after_free = r.rss_end;
    const auto now = bench_clock::now();
    if (r.rss_end <= r.rss_before + allowance) {
      r.ms_to_return = seconds_between(start, now) * 1e3;
      return r;
    }
    if (now - start >= patience) return r;
  }
}

}  // namespace tide_bench
