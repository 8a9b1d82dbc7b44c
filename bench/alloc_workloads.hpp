// alloc_bench's timed workloads, each a function template on a backend (alloc_backends.hpp).
// Each returns nanoseconds per operation, timed around the operations only: filling the live
// set beforehand and freeing it afterwards stay outside. See docs/PERFORMANCE.md ("Allocators").
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <latch>
#include <thread>
#include <utility>
#include <vector>

#include "bench_common.hpp"
#include "spsc_ring.hpp"

namespace tide_bench {

// Every block is written once when allocated, as a program would write it: for large objects
// the first touch of fresh pages is part of the allocator's cost.
inline void touch(void* p) { *static_cast<volatile unsigned char*>(p) = 1; }

// Same-size churn: `live` objects of `size` bytes; each of `pairs` steps frees the oldest and
// allocates a new one in its place. Nanoseconds per free + malloc pair.
template <class Backend>
double churn(std::size_t size, std::size_t live, std::size_t pairs) {
  std::vector<void*> window(live);
  for (void*& p : window) touch(p = Backend::allocate(size));
  const auto start = bench_clock::now();
  std::size_t oldest = 0;
  for (std::size_t i = 0; i < pairs; ++i) {
    Backend::deallocate(window[oldest], size);
    touch(window[oldest] = Backend::allocate(size));
    if (++oldest == live) oldest = 0;
  }
  const auto stop = bench_clock::now();
  for (void* p : window) Backend::deallocate(p, size);
  return seconds_between(start, stop) * 1e9 / static_cast<double>(pairs);
}

// Batches: `live` blocks of `size` bytes allocated (and touched) one after another, then all
// freed, `rounds` times. Unlike churn, each allocation comes while the blocks freed last round
// are merged into one long free run (for a page allocator: no free span of the exact length).
// Nanoseconds per allocate + free.
template <class Backend>
double batches(std::size_t size, std::size_t live, std::size_t rounds) {
  std::vector<void*> batch(live);
  const auto start = bench_clock::now();
  for (std::size_t r = 0; r < rounds; ++r) {
    for (void*& p : batch) touch(p = Backend::allocate(size));
    for (void* p : batch) Backend::deallocate(p, size);
  }
  const auto stop = bench_clock::now();
  return seconds_between(start, stop) * 1e9 / static_cast<double>(rounds * live);
}

// A size from 8 B to 32 KiB, skewed to small sizes as in real programs: the low 4 bits of `r`
// pick a band by their trailing ones (band b with probability 2^-(b+1), the last band taking
// the remaining 1/16), bits 8..39 a size uniform within the band.
//
//   band   sizes (B)      probability
//   0      8 – 64         1/2
//   1      65 – 256       1/4
//   2      257 – 1024     1/8
//   3      1025 – 4096    1/16
//   4      4097 – 32768   1/16
//
// Mean 1,450 B, of which the last band is 80% of the bytes and 6% of the objects.
inline std::size_t skewed_size(std::uint64_t r) {
  static constexpr std::array<std::pair<std::uint32_t, std::uint32_t>, 5> bands{
      {{8, 64}, {65, 256}, {257, 1024}, {1025, 4096}, {4097, 32768}}};
  const auto [lo, hi] = bands[static_cast<std::size_t>(std::countr_one(r & 0xF))];
  return lo + ((r >> 8) & 0xFFFF'FFFF) % (hi - lo + 1);
}

// Random sizes, random frees: `live` objects of skewed_size(); each of `ops` steps frees a
// uniformly chosen live object and allocates a new one of a new size in its slot. Random bits
// are splitmix64(seed + step) (a few instructions, the same for every allocator); the fixed
// seed gives every run the same sequence. Nanoseconds per free + malloc pair.
template <class Backend>
double random_sizes(std::size_t live, std::size_t ops) {
  std::vector<void*> blocks(live);
  std::vector<std::uint32_t> sizes(live);
  std::uint64_t step = default_seed;
  for (std::size_t i = 0; i < live; ++i) {
    sizes[i] = static_cast<std::uint32_t>(skewed_size(splitmix64(step++)));
    touch(blocks[i] = Backend::allocate(sizes[i]));
  }
  const auto start = bench_clock::now();
  for (std::size_t i = 0; i < ops; ++i) {
    const std::uint64_t r = splitmix64(step++);
    const std::size_t slot = (r >> 40) % live;
    Backend::deallocate(blocks[slot], sizes[slot]);
    sizes[slot] = static_cast<std::uint32_t>(skewed_size(r));
    touch(blocks[slot] = Backend::allocate(sizes[slot]));
  }
  const auto stop = bench_clock::now();
  for (std::size_t i = 0; i < live; ++i) Backend::deallocate(blocks[i], sizes[i]);
  return seconds_between(start, stop) * 1e9 / static_cast<double>(ops);
}

// Producer/consumer: one thread allocates `blocks` blocks of `size` bytes and passes them
// through a 1024-slot ring to a second thread, which frees them (every free is of a block
// another thread allocated). Waits spin with a yield. Nanoseconds per block, from the moment
// both threads start until the consumer has freed the last block.
template <class Backend>
double producer_consumer(std::size_t size, std::size_t blocks) {
  spsc_ring<void*, 1024> ring;
  std::latch ready(3);
  std::thread producer([&] {
    ready.arrive_and_wait();
    for (std::size_t i = 0; i < blocks; ++i) {
      void* p = Backend::allocate(size);
      touch(p);
      while (!ring.try_push(p)) std::this_thread::yield();
    }
  });
  std::thread consumer([&] {
    ready.arrive_and_wait();
    for (std::size_t i = 0; i < blocks; ++i) {
      void* p = nullptr;
      while (!ring.try_pop(p)) std::this_thread::yield();
      Backend::deallocate(p, size);
    }
  });
  ready.arrive_and_wait();
  const auto start = bench_clock::now();
  consumer.join();
  const auto stop = bench_clock::now();
  producer.join();
  return seconds_between(start, stop) * 1e9 / static_cast<double>(blocks);
}

// A fragmented heap, then large allocations: `mib` MiB of 256 KiB blocks, each written whole,
// then every other one freed (half the memory free, in pieces too short for what follows);
// then `count` blocks of 8 MiB allocated (and touched) one by one, each timed. The first finds
// no free piece long enough: what the allocator does then is the figure. Microseconds: the
// slowest allocation and the mean.
struct large_allocation_times {
  double max_us;
  double mean_us;
};

template <class Backend>
large_allocation_times large_after_fragmentation(std::size_t mib, std::size_t count) {
  constexpr std::size_t piece = std::size_t{256} << 10, large = std::size_t{8} << 20;
  std::vector<void*> pieces((mib << 20) / piece);
  for (void*& p : pieces) std::memset(p = Backend::allocate(piece), 1, piece);
  for (std::size_t i = 0; i < pieces.size(); i += 2) Backend::deallocate(pieces[i], piece);
  std::vector<void*> blocks(count);
  large_allocation_times t{0, 0};
  for (void*& p : blocks) {
    const auto start = bench_clock::now();
    touch(p = Backend::allocate(large));
    const double us = seconds_between(start, bench_clock::now()) * 1e6;
    t.max_us = std::max(t.max_us, us);
    t.mean_us += us / static_cast<double>(count);
  }
  for (void* p : blocks) Backend::deallocate(p, large);
  for (std::size_t i = 1; i < pieces.size(); i += 2) Backend::deallocate(pieces[i], piece);
  return t;
}

// A map built to `entries` entries (keys splitmix64(i), values value(i)), then erased key by
// key in insertion order. Nanoseconds per insert and per erase.
struct map_times {
  double insert_ns;
  double erase_ns;
};

template <class Map, class MakeValue>
map_times build_and_erase(std::size_t entries, MakeValue value) {
  Map m;
  const auto start = bench_clock::now();
  for (std::uint64_t i = 0; i < entries; ++i) m.emplace(splitmix64(i), value(i));
  const auto built = bench_clock::now();
  for (std::uint64_t i = 0; i < entries; ++i) m.erase(splitmix64(i));
  const auto stop = bench_clock::now();
  const double n = static_cast<double>(entries);
  return {seconds_between(start, built) * 1e9 / n, seconds_between(built, stop) * 1e9 / n};
}

// tide::map<uint64_t, uint64_t> on the backend's container allocator.
template <class Backend>
map_times map_u64(std::size_t entries) {
  return build_and_erase<typename Backend::template map<std::uint64_t, std::uint64_t>>(
      entries, [](std::uint64_t i) { return value_for(i); });
}

// tide::map<uint64_t, string> with values of 20 to 40 characters (longer than libstdc++'s
// 15-byte small-string buffer, so every value is a heap block of its own), the string on the
// backend's allocator too.
template <class Backend>
map_times map_string(std::size_t entries) {
  using string = typename Backend::string;
  return build_and_erase<typename Backend::template map<std::uint64_t, string>>(
      entries, [](std::uint64_t i) {
        return string(20 + i % 21, static_cast<char>('a' + i % 26));
      });
}

}  // namespace tide_bench
