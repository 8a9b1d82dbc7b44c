// tide::pool: reuse, the reset hook, the bounds (per thread and whole pool, counts and
// bytes), the TTL on a fake clock, clear() and memory pressure, bad options, destruction in
// both orders with threads, and a multithreaded stress run whose objects count their
// constructions and destructions.
#include "tide/pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <latch>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/scale.hpp"
#include "tide/heap.hpp"
#include "tide/memstats.hpp"

namespace {

using namespace std::chrono_literals;

// A clock the tests move by hand: TTL tests never sleep.
struct fake_clock {
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<fake_clock>;
  static inline std::atomic<std::int64_t> ns{0};
  static time_point now() noexcept { return time_point(duration(ns.load())); }
  static void advance(duration d) { ns.fetch_add(d.count()); }
};

// Counts live objects, so every test can check that nothing leaked or was freed twice.
struct counted {
  static inline std::atomic<long> live{0};
  std::uint64_t value = 0;
  counted() { live.fetch_add(1); }
  counted(counted&& o) noexcept : value(o.value) { live.fetch_add(1); }
  ~counted() { live.fetch_sub(1); }
};

class Pool : public ::testing::Test {
 protected:
  void SetUp() override { counted::live.store(0); }
  void TearDown() override {
    EXPECT_EQ(counted::live.load(), 0) << "objects leaked or freed twice";
  }
};

using test_pool = tide::pool<counted, fake_clock>;

TEST_F(Pool, PutThenGetReusesTheSameObject) {
  test_pool p;
  counted* first = p.take();
  first->value = 7;
  p.put(first);
  counted* again = p.take();
  EXPECT_EQ(again, first);
  EXPECT_EQ(again->value, 7u) << "no reset hook: the object comes back as it was put";
  p.put(again);
  const tide::pool_stats s = p.stats();
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.cached_objects, 1u);
  EXPECT_EQ(s.cached_bytes, sizeof(counted));
  p.check_invariants();
}

TEST_F(Pool, HandlePutsBackWhenDestroyed) {
  test_pool p;
  counted* raw = nullptr;
  {
    test_pool::handle h = p.get();
    raw = h.get();
  }
  EXPECT_EQ(p.stats().cached_objects, 1u);
  test_pool::handle h = p.get();
  EXPECT_EQ(h.get(), raw);
}

TEST_F(Pool, DiscardDestroysWithoutCaching) {
  test_pool p;
  test_pool::handle h = p.get();
  p.discard(h.release());
  EXPECT_EQ(counted::live.load(), 0);
  EXPECT_EQ(p.stats().cached_objects, 0u);
}

TEST_F(Pool, FactoryAndResetHookRun) {
  int made = 0;
  int resets = 0;
  tide::pool<std::string, fake_clock> p(
      {},
      [&] {
        ++made;
        return std::string("fresh");
      },
      [&](std::string& s) {
        ++resets;
        s.clear();
      });
  {
    auto s = p.get();
    EXPECT_EQ(*s, "fresh");
    s->assign("used");
  }
  EXPECT_EQ(resets, 1);
  auto s = p.get();
  EXPECT_EQ(*s, "") << "the reset hook ran on put";
  EXPECT_EQ(made, 1);
}

TEST_F(Pool, ThrowingResetDestroysTheObject) {
  test_pool p({}, nullptr, [](counted&) { throw std::runtime_error("reset"); });
  p.put(p.take());
  EXPECT_EQ(p.stats().cached_objects, 0u);
  EXPECT_EQ(counted::live.load(), 0);
}

TEST_F(Pool, ThrowingFactoryPropagatesAndLeaksNothing) {
  test_pool p({}, []() -> counted { throw std::runtime_error("factory"); });
  EXPECT_THROW((void)p.take(), std::runtime_error);
}

TEST_F(Pool, PerThreadCountBoundSpillsToTheSharedList) {
  test_pool p({.max_per_thread = 4, .max_total = 6});
  std::vector<counted*> out;
  for (int i = 0; i < 10; ++i) out.push_back(p.take());
  for (counted* c : out) p.put(c);
  const tide::pool_stats s = p.stats();
  EXPECT_EQ(s.cached_objects, 6u) << "max_total";
  EXPECT_EQ(s.dropped, 4u);
  p.check_invariants();
  p.clear();
  EXPECT_EQ(p.stats().cached_objects, 0u);
}

TEST_F(Pool, ByteBoundsCountWhatBytesOfSays) {
  test_pool p({.max_bytes_per_thread = 100, .max_bytes_total = 250}, nullptr, nullptr,
              [](const counted& c) { return static_cast<std::size_t>(c.value); });
  std::vector<counted*> out;
  for (int i = 0; i < 6; ++i) out.push_back(p.take());
  for (counted* c : out) c->value = 60;
  for (counted* c : out) p.put(c);
  const tide::pool_stats s = p.stats();
  EXPECT_LE(s.cached_bytes, 250u);
  EXPECT_EQ(s.cached_bytes, 4 * 60u) << "four of 60 B fit in 250 B";
  EXPECT_EQ(s.dropped, 2u);
  p.check_invariants();

  counted* big = p.take();
  big->value = 1000;  // bigger than max_bytes_total: never cached
  p.put(big);
  EXPECT_EQ(p.stats().dropped, 3u);
}

// Regression: a refill from the shared list took a whole batch of objects whatever their
// bytes, overfilling the thread cache's byte bound.
TEST_F(Pool, RefillKeepsTheThreadByteBound) {
  test_pool p({.max_per_thread = 16, .max_bytes_per_thread = 100, .max_bytes_total = 1000}, nullptr,
              nullptr, [](const counted&) { return std::size_t{40}; });
  std::thread([&] {
    std::vector<counted*> out;
    for (int i = 0; i < 8; ++i) out.push_back(p.take());
    for (counted* c : out) p.put(c);
  }).join();  // the thread's 2 cached objects and its 6 spilled ones: all in the shared list
  ASSERT_EQ(p.stats().cached_objects, 8u);
  counted* c = p.take();  // refills this thread's cache from the shared list
  p.check_invariants();   // aborts if this thread's cache holds more than 100 bytes
  p.put(c);
  p.check_invariants();
  EXPECT_EQ(p.stats().dropped, 0u);
}

TEST_F(Pool, TtlTrimFreesOnlyObjectsIdleThatLong) {
  test_pool p({.ttl = 10s});
  counted* a = p.take();
  counted* b = p.take();
  p.put(a);
  fake_clock::advance(6s);
  p.put(b);
  fake_clock::advance(5s);  // a idle 11 s, b 5 s
  p.trim();
  tide::pool_stats s = p.stats();
  EXPECT_EQ(s.cached_objects, 1u);
  EXPECT_EQ(s.expired, 1u);
  EXPECT_EQ(p.take(), b);
  p.put(b);
  fake_clock::advance(10s);  // exactly ttl: expired
  p.trim();
  s = p.stats();
  EXPECT_EQ(s.cached_objects, 0u);
  EXPECT_EQ(s.expired, 2u);
  p.check_invariants();
}

TEST_F(Pool, ActivityTrimsEveryHalfTtl) {
  test_pool p({.ttl = 10s});
  counted* a = p.take();
  counted* b = p.take();
  p.put(a);  // the first put trims (nothing) and schedules the next trim at +5 s
  fake_clock::advance(11s);
  p.put(b);  // a is 11 s idle: this put trims it
  const tide::pool_stats s = p.stats();
  EXPECT_EQ(s.expired, 1u);
  EXPECT_EQ(s.cached_objects, 1u);
}

TEST_F(Pool, TrimReachesOtherThreadsCaches) {
  test_pool p({.ttl = 1s});
  std::thread([&] { p.put(p.take()); }).join();  // that thread's cache went to the shared list
  std::latch cached(1);
  std::latch done(1);
  std::thread idle([&] {
    p.put(p.take());
    cached.count_down();
    done.wait();
  });
  cached.wait();
  EXPECT_EQ(p.stats().cached_objects, 1u);
  fake_clock::advance(2s);
  p.trim();
  EXPECT_EQ(p.stats().cached_objects, 0u) << "an idle thread's cache is trimmed";
  done.count_down();
  idle.join();
}

TEST_F(Pool, NoTtlNeverExpires) {
  test_pool p({.ttl = tide::pool_options::no_ttl});
  p.put(p.take());
  fake_clock::advance(std::chrono::hours(24 * 365));
  p.trim();
  EXPECT_EQ(p.stats().cached_objects, 1u);
}

TEST_F(Pool, MemoryPressureDropsEverything) {
  test_pool p;
  std::vector<counted*> out;
  for (int i = 0; i < 20; ++i) out.push_back(p.take());
  for (counted* c : out) p.put(c);
  ASSERT_GT(p.stats().cached_objects, 0u);
  // A limit below the footprint runs the pressure callbacks at once, on this thread.
  void* block = tide::heap::allocate(1 << 20);
  tide::set_memory_limit(1);
  tide::set_memory_limit(0);
  tide::heap::deallocate(block);
  const tide::pool_stats s = p.stats();
  EXPECT_EQ(s.cached_objects, 0u);
  EXPECT_EQ(s.released, 20u);
  p.check_invariants();
}

TEST_F(Pool, PressureCanBeSwitchedOff) {
  test_pool p({.drop_on_memory_pressure = false});
  p.put(p.take());
  void* block = tide::heap::allocate(1 << 20);
  tide::set_memory_limit(1);
  tide::set_memory_limit(0);
  tide::heap::deallocate(block);
  EXPECT_EQ(p.stats().cached_objects, 1u);
}

TEST(PoolOptions, BadValuesNameTheArgument) {
  auto message = [](tide::pool_options o) -> std::string {
    try {
      tide::pool<int> p(o);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "no exception";
  };
  EXPECT_NE(message({.max_per_thread = 0}).find("max_per_thread"), std::string::npos);
  EXPECT_NE(message({.max_bytes_per_thread = 0}).find("max_bytes_per_thread"), std::string::npos);
  EXPECT_NE(message({.max_total = 0}).find("max_total"), std::string::npos);
  EXPECT_NE(message({.max_bytes_total = 0}).find("max_bytes_total"), std::string::npos);
  EXPECT_NE(message({.max_per_thread = 10, .max_total = 5}).find("exceeds max_total"),
            std::string::npos);
  EXPECT_NE(
      message({.max_bytes_per_thread = 10, .max_bytes_total = 5}).find("exceeds max_bytes_total"),
      std::string::npos);
  EXPECT_NE(message({.max_bytes_per_thread = 2, .max_bytes_total = 2}).find("max_bytes_total"),
            std::string::npos)
      << "no int fits in 2 bytes";
  EXPECT_NE(message({.ttl = 0s}).find("ttl"), std::string::npos);
  EXPECT_NE(message({.ttl = -1s}).find("ttl"), std::string::npos);
}

TEST_F(Pool, PoolDestroyedBeforeThreadsExit) {
  std::latch used(3);
  std::latch pool_gone(1);
  std::vector<std::thread> threads;
  {
    test_pool p;
    for (int t = 0; t < 3; ++t) {
      threads.emplace_back([&] {
        p.put(p.take());
        used.count_down();
        pool_gone.wait();
        // A new pool on this thread prunes the entry of the destroyed one.
        test_pool q;
        q.put(q.take());
      });
    }
    used.wait();
    EXPECT_EQ(p.stats().threads, 3u);
  }
  EXPECT_EQ(counted::live.load(), 0) << "the pool freed the threads' cached objects";
  pool_gone.count_down();
  for (auto& t : threads) t.join();
}

TEST_F(Pool, ThreadsExitBeforePoolIsDestroyed) {
  test_pool p;
  std::latch all_taken(3);
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      counted* c = p.take();
      all_taken.arrive_and_wait();
      p.put(c);
    });
  }
  for (auto& t : threads) t.join();
  const tide::pool_stats s = p.stats();
  EXPECT_EQ(s.threads, 0u);
  EXPECT_EQ(s.cached_objects, 3u) << "exiting threads leave their objects to the shared list";
  EXPECT_EQ(s.misses, 3u);
  p.check_invariants();
  counted* c = p.take();
  EXPECT_EQ(p.stats().hits, 1u) << "taken from the shared list";
  p.put(c);
}

TEST_F(Pool, ManyPoolsOnOneThread) {
  std::vector<std::unique_ptr<test_pool>> pools;
  for (int i = 0; i < 50; ++i) pools.push_back(std::make_unique<test_pool>());
  for (auto& p : pools) p->put(p->take());
  for (auto& p : pools) EXPECT_EQ(p->stats().cached_objects, 1u);
  pools.erase(pools.begin(), pools.begin() + 25);
  for (auto& p : pools) p->put(p->take());
  for (auto& p : pools) EXPECT_EQ(p->stats().hits, 1u);
}

TEST_F(Pool, BackgroundTrimThreadStartsAndStops) {
  tide::pool<counted> p({.ttl = 1ms, .background_trim = true});
  p.put(p.take());
}

// The trim thread waits in real time (ttl/2) and judges expiry by the pool's clock: with the
// fake clock moved past the TTL, it frees the object without any get or put. Polls for up
// to a minute; asserts what happened, not how fast.
TEST_F(Pool, BackgroundTrimFreesIdleObjects) {
  test_pool p({.ttl = 2ms, .background_trim = true});
  p.put(p.take());
  fake_clock::advance(1s);
  for (int i = 0; i < 60000 && p.stats().cached_objects != 0; ++i) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(p.stats().cached_objects, 0u);
  EXPECT_EQ(p.stats().expired, 1u);
}

// Threads take and put at random, hand objects to each other through a shared slot (so puts
// land on threads that did not take), while one thread trims and clears.
TEST_F(Pool, StressManyThreads) {
  test_pool p({.max_per_thread = 8, .max_total = 24, .ttl = 1s});
  constexpr int threads = 4;
  const std::size_t ops = tide_test::scaled(1000000, 2000);
  std::atomic<counted*> handoff{nullptr};
  std::atomic<bool> stop{false};
  std::latch start(threads + 1);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937_64 rng(static_cast<std::uint64_t>(t) + 1);
      std::vector<counted*> held;
      start.arrive_and_wait();
      for (std::size_t i = 0; i < ops; ++i) {
        const std::uint64_t r = rng() % 8;
        if (r < 3 || held.empty()) {
          held.push_back(p.take());
          held.back()->value = i;
        } else if (r == 7) {
          counted* mine = held.back();
          held.pop_back();
          if (counted* theirs = handoff.exchange(mine)) held.push_back(theirs);
        } else {
          p.put(held.back());
          held.pop_back();
        }
        if (held.size() > 16) {
          p.put(held.front());
          held.erase(held.begin());
        }
      }
      for (counted* c : held) p.put(c);
    });
  }
  std::thread janitor([&] {
    start.arrive_and_wait();
    while (!stop.load()) {
      fake_clock::advance(100ms);
      p.trim();
      if (p.stats().cached_objects > 20) p.clear();
      std::this_thread::yield();
    }
  });
  for (auto& w : workers) w.join();
  stop.store(true);
  janitor.join();
  if (counted* c = handoff.exchange(nullptr)) p.put(c);
  p.check_invariants();
  const tide::pool_stats s = p.stats();
  EXPECT_LE(s.cached_objects, 24u);
  EXPECT_EQ(static_cast<long>(s.cached_objects), counted::live.load())
      << "every object not cached was destroyed";
}

}  // namespace
