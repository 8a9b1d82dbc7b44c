// Multithreaded stress of tide::heap, meant for ThreadSanitizer (the tsan preset) as much as
// for the plain build: four threads allocating and freeing at random; blocks allocated on one
// thread and freed on another; and thousands of short-lived threads, after which memstats
// must show that their thread caches were flushed and retired. Every block is filled with a
// pattern from its id and checked before it is freed. Fixed seeds; sizes through scaled()
// (1/4 under sanitizers; TIDE_TEST_SCALE overrides).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <latch>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "size_classes.hpp"
#include "support/pattern_block.hpp"
#include "support/random.hpp"
#include "support/scale.hpp"
#include "tide/heap.hpp"
#include "tide/memstats.hpp"

namespace {

using block = tide_test::pattern_block;
using tide_test::fill;
using tide_test::intact;

// 1 B to 64 KiB, mostly small, and 1% larger (up to 512 KiB).
std::size_t random_size(tide_test::rng& rng) {
  const std::uint64_t r = rng.below(100);
  if (r < 60) return 1 + rng.below(256);
  if (r < 90) return 257 + rng.below(4096 - 256);
  if (r < 99) return 4097 + rng.below((64u << 10) - 4096);
  return (64u << 10) + 1 + rng.below((512u << 10) - (64u << 10));
}

block make_block(tide_test::rng& rng, std::uint64_t id) {
  block b;
  b.size = random_size(rng);
  b.p = static_cast<unsigned char*>(tide::heap::allocate(b.size));
  b.id = id;
  fill(b);
  return b;
}

// Ids unique across threads: the thread's number in the high bits.
std::uint64_t block_id(std::uint64_t thread, std::uint64_t n) { return thread << 40 | n; }

// Makes the calling thread own a cache, and starts the scavenger (with the first freed page),
// so neither appears for the first time in the middle of a test and skews thread_caches.
void warm_up() {
  tide::heap::deallocate(tide::heap::allocate(64));
  tide::heap::deallocate(tide::heap::allocate(std::size_t{1} << 20));
  tide::release_memory();
}

TEST(HeapThreads, RandomAllocateAndFreeOnFourThreads) {
  warm_up();
  const tide::memstats before = tide::read_memstats();
  constexpr int threads = 4;
  const std::size_t ops = tide_test::scaled(400'000, 20'000);
  const std::size_t slots = tide_test::scaled(4'000, 200);
  std::latch start(threads);
  std::vector<std::string> errors(threads);
  std::vector<std::size_t> allocations(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      tide_test::rng rng(1000 + t);
      std::vector<block> mine(slots);
      std::uint64_t n = 0;
      start.arrive_and_wait();
      for (std::size_t op = 0; op < ops && errors[t].empty(); ++op) {
        block& b = mine[rng.below(mine.size())];
        if (b.p == nullptr) {
          b = make_block(rng, block_id(t, ++n));
          if (tide::heap::usable_size(b.p) < b.size) errors[t] = "usable_size below the size asked";
        } else {
          if (!intact(b)) errors[t] = "block " + std::to_string(b.id) + " of " + std::to_string(b.size) + " B was overwritten";
          if (rng.chance(1, 2)) {
            tide::heap::deallocate(b.p, b.size);
          } else {
            tide::heap::deallocate(b.p);
          }
          b.p = nullptr;
        }
      }
      for (block& b : mine) {
        if (b.p == nullptr) continue;
        if (!intact(b)) errors[t] = "block " + std::to_string(b.id) + " was overwritten";
        tide::heap::deallocate(b.p, b.size);
      }
      allocations[t] = n;
    });
  }
  for (auto& th : pool) th.join();
  for (int t = 0; t < threads; ++t) {
    EXPECT_EQ(errors[t], "") << "thread " << t;
    EXPECT_GE(allocations[t], ops / 3) << "thread " << t;
  }
  const tide::memstats after = tide::read_memstats();
  EXPECT_EQ(after.live_objects, before.live_objects);
  EXPECT_EQ(after.live_bytes, before.live_bytes);
  std::uint64_t made = 0;
  for (std::size_t a : allocations) made += a;
  EXPECT_EQ(after.mallocs - before.mallocs, made) << "every thread's mallocs are counted";
  EXPECT_EQ(after.frees - before.frees, made) << "every thread's frees are counted";
  EXPECT_EQ(after.thread_caches, before.thread_caches) << "the four threads' caches retired";
}

// Producers allocate and hand blocks to consumers through a queue; consumers check and free
// them. Every block is freed on a thread that did not allocate it.
TEST(HeapThreads, BlocksAllocatedOnOneThreadAreFreedOnAnother) {
  warm_up();
  const tide::memstats before = tide::read_memstats();
  constexpr int producers = 2;
  constexpr int consumers = 2;
  const std::size_t per_producer = tide_test::scaled(200'000, 10'000);
  constexpr std::size_t max_queued = 512;  // bounded, so live memory stays small

  struct handoff {
    block b;
    std::thread::id from;
  };
  std::mutex mu;
  std::condition_variable not_empty;
  std::condition_variable not_full;
  std::deque<handoff> queue;
  int producing = producers;
  std::atomic<std::size_t> consumed{0};
  std::atomic<std::size_t> same_thread{0};
  std::atomic<std::size_t> damaged{0};

  std::latch start(producers + consumers);
  std::vector<std::thread> pool;
  for (int t = 0; t < producers; ++t) {
    pool.emplace_back([&, t] {
      tide_test::rng rng(2000 + t);
      start.arrive_and_wait();
      for (std::size_t i = 0; i < per_producer; ++i) {
        handoff h{make_block(rng, block_id(t, i)), std::this_thread::get_id()};
        std::unique_lock lock(mu);
        not_full.wait(lock, [&] { return queue.size() < max_queued; });
        queue.push_back(h);
        not_empty.notify_one();
      }
      std::lock_guard lock(mu);
      if (--producing == 0) not_empty.notify_all();
    });
  }
  for (int t = 0; t < consumers; ++t) {
    pool.emplace_back([&, t] {
      start.arrive_and_wait();
      std::size_t n = 0;
      for (;;) {
        std::optional<handoff> h;
        {
          std::unique_lock lock(mu);
          not_empty.wait(lock, [&] { return !queue.empty() || producing == 0; });
          if (queue.empty()) break;
          h = queue.front();
          queue.pop_front();
          not_full.notify_one();
        }
        if (h->from == std::this_thread::get_id()) same_thread.fetch_add(1);
        if (!intact(h->b)) damaged.fetch_add(1);
        if (++n % 2 == static_cast<std::size_t>(t % 2)) {
          tide::heap::deallocate(h->b.p, h->b.size);
        } else {
          tide::heap::deallocate(h->b.p);
        }
      }
      consumed.fetch_add(n);
    });
  }
  for (auto& th : pool) th.join();
  EXPECT_EQ(consumed.load(), producers * per_producer);
  EXPECT_EQ(same_thread.load(), 0u);
  EXPECT_EQ(damaged.load(), 0u) << "blocks overwritten between their allocation and their free";
  const tide::memstats after = tide::read_memstats();
  EXPECT_EQ(after.live_objects, before.live_objects);
  EXPECT_EQ(after.live_bytes, before.live_bytes);
  EXPECT_EQ(after.mallocs - before.mallocs, producers * per_producer);
  EXPECT_EQ(after.frees - before.frees, producers * per_producer)
      << "frees made on the consumers count, though the producers made the mallocs";
  EXPECT_EQ(after.thread_caches, before.thread_caches);
}

// Thousands of short-lived threads, a few at a time. Each allocates blocks of random sizes
// and frees most of them; every fourth leaves some for the main thread to free. Once they
// are gone, their caches must have been flushed (their cached objects back in their spans)
// and retired: live objects and bytes, cached bytes and the number of thread caches are back
// where they were, and after release_memory() the pages in use are too, within one span per
// size class (see below).
TEST(HeapThreads, ShortLivedThreadsFlushAndRetireTheirCaches) {
  warm_up();
  const tide::memstats before = tide::read_memstats();
  const std::size_t total = tide_test::scaled(4'000, 200);
  constexpr std::size_t batch = 8;
  constexpr std::size_t per_thread = 48;

  std::mutex mu;
  std::vector<block> left;  // blocks the threads leave for the main thread
  std::atomic<std::size_t> damaged{0};
  std::atomic<std::uint64_t> made{0};
  std::size_t started = 0;
  bool checked_alive = false;
  while (started < total) {
    const std::size_t n = std::min(batch, total - started);
    // In the first batch the threads wait, holding their caches, until the main thread has
    // counted them.
    const bool count_alive = !checked_alive;
    std::latch allocated(static_cast<std::ptrdiff_t>(n) + 1);
    std::latch counted(count_alive ? 1 : 0);
    std::vector<std::thread> pool;
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t t = started + i;
      pool.emplace_back([&, t] {
        tide_test::rng rng(3000 + t);
        std::vector<block> mine;
        for (std::size_t k = 0; k < per_thread; ++k) {
          block b;
          b.size = 1 + rng.below(rng.chance(1, 8) ? 40'000 : 1'024);
          b.p = static_cast<unsigned char*>(tide::heap::allocate(b.size));
          b.id = block_id(t, k);
          fill(b);
          mine.push_back(b);
        }
        made.fetch_add(per_thread);
        allocated.count_down();
        counted.wait();
        const std::size_t keep = t % 4 == 0 ? 1 + t % 5 : 0;
        for (std::size_t k = 0; k < mine.size(); ++k) {
          if (!intact(mine[k])) damaged.fetch_add(1);
          if (k < keep) {
            std::lock_guard lock(mu);
            left.push_back(mine[k]);
          } else {
            tide::heap::deallocate(mine[k].p, mine[k].size);
          }
        }
      });
    }
    allocated.arrive_and_wait();
    if (count_alive) {
      const tide::memstats alive = tide::read_memstats();
      EXPECT_EQ(alive.thread_caches, before.thread_caches + n)
          << "every thread that allocated has a cache while it lives";
      EXPECT_EQ(alive.live_objects - before.live_objects, n * per_thread);
      counted.count_down();
      checked_alive = true;
    }
    for (auto& th : pool) th.join();
    started += n;
  }
  EXPECT_EQ(damaged.load(), 0u);
  EXPECT_FALSE(left.empty());

  const tide::memstats with_left = tide::read_memstats();
  EXPECT_EQ(with_left.thread_caches, before.thread_caches)
      << "every exited thread's cache is retired";
  EXPECT_EQ(with_left.live_objects - before.live_objects, left.size())
      << "only the blocks left for the main thread are live";
  for (const block& b : left) {
    EXPECT_TRUE(intact(b)) << "block " << b.id << " left by its thread was overwritten";
    tide::heap::deallocate(b.p, b.size);
  }

  const tide::memstats after = tide::read_memstats();
  EXPECT_EQ(after.live_objects, before.live_objects);
  EXPECT_EQ(after.live_bytes, before.live_bytes);
  EXPECT_EQ(after.mallocs - before.mallocs, made.load());
  EXPECT_EQ(after.frees - before.frees, made.load());
  EXPECT_EQ(after.thread_caches, before.thread_caches);

  // release_memory() flushes the main thread's cache too; then no cached object pins a span.
  // Allowance: one span per size class (127 pages, 1016 KiB), in case a central list keeps an
  // empty span to stop spans bouncing to and from the page heap; the header does not rule
  // that out. An exited thread's cache that was not flushed would pin spans of many classes
  // for each of the thousands of threads, far more than this.
  tide::release_memory();
  const tide::memstats released = tide::read_memstats();
  std::size_t allowance = 0;
  for (int c = 1; c < tide::heap::detail::size_class_count; ++c) {
    allowance += tide::heap::detail::class_span_pages[c] * tide::heap::detail::page_bytes;
  }
  EXPECT_EQ(released.cached_bytes, 0u) << "no thread cache holds objects";
  EXPECT_LE(released.in_use_bytes, before.in_use_bytes + allowance)
      << "pages in use before " << before.in_use_bytes << " B, after " << released.in_use_bytes
      << " B, allowance " << allowance << " B";
  EXPECT_EQ(released.idle_bytes, 0u);
}

}  // namespace
