// tide::snapshot: versions handed to readers live as long as a reader holds them and no
// longer; many reader threads load() while writers publish and update(); update()'s
// compare-and-swap loses no write. The concurrency tests are what the tsan preset is for.
// Sizes scale with TIDE_TEST_SCALE; threads start together on a std::latch.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <tide/persistent_map.hpp>
#include <tide/snapshot.hpp>
#include <vector>

#include "support/scale.hpp"

namespace {

using config = tide::persistent_map<std::uint64_t, std::uint64_t>;

// Live-object count of the versions, to check that every one is freed.
std::atomic<std::int64_t> live_versions{0};

struct counted_config {
  explicit counted_config(config c) : entries(std::move(c)) { live_versions.fetch_add(1); }
  counted_config(const counted_config& other) : entries(other.entries) {
    live_versions.fetch_add(1);
  }
  ~counted_config() { live_versions.fetch_sub(1); }
  config entries;
};

// A consistent version: keys 0..width-1 all map to the same generation number.
config make_generation(const config& from, std::uint64_t generation, std::uint64_t width) {
  auto builder = from.transient();
  for (std::uint64_t k = 0; k < width; ++k) builder.set(k, generation);
  return builder.persistent();
}

TEST(Snapshot, OldVersionLivesWhileAReaderHoldsIt) {
  tide::snapshot<int> current(std::make_shared<const int>(1));
  std::shared_ptr<const int> reader = current.load();
  const std::weak_ptr<const int> first = reader;
  current.publish(std::make_shared<const int>(2));
  EXPECT_EQ(*current.load(), 2);
  EXPECT_EQ(*reader, 1);
  EXPECT_FALSE(first.expired());
  reader.reset();
  EXPECT_TRUE(first.expired()) << "the old version outlived its last reader";
}

TEST(Snapshot, UpdateAppliesToTheCurrentVersion) {
  tide::snapshot<config> current(std::make_shared<const config>());
  const auto published = current.update([](const config& c) { return c.set(1, 10); });
  EXPECT_EQ(*published->find(1), 10u);
  EXPECT_EQ(current.load(), published);
  EXPECT_THROW(current.update([](const config&) -> config { throw 1; }), int);
  EXPECT_EQ(current.load(), published) << "a throwing update published something";
}

TEST(SnapshotThreads, ReadersSeeWholeVersionsWhileAWriterPublishes) {
  const std::int64_t live_before = live_versions.load();
  constexpr std::uint64_t width = 64;
  const std::uint64_t generations = tide_test::scaled(20000, 500);
  constexpr int readers = 4;
  {
    tide::snapshot<counted_config> current(
        std::make_shared<const counted_config>(make_generation(config(), 0, width)));
    std::atomic<bool> done{false};
    std::atomic<std::uint64_t> loads{0};
    std::atomic<std::uint64_t> torn{0};
    std::latch start(readers + 1);
    std::vector<std::thread> threads;
    for (int r = 0; r < readers; ++r) {
      threads.emplace_back([&] {
        start.arrive_and_wait();
        std::uint64_t last_generation = 0;
        std::uint64_t my_loads = 0;
        do {  // at least one load, even if the writer is done before this thread runs
          const std::shared_ptr<const counted_config> version = current.load();
          const std::uint64_t generation = *version->entries.find(0);
          // Versions only move forward, and every key agrees with key 0.
          if (generation < last_generation) torn.fetch_add(1);
          for (std::uint64_t k = 0; k < width; ++k) {
            if (*version->entries.find(k) != generation) torn.fetch_add(1);
          }
          last_generation = generation;
          ++my_loads;
        } while (!done.load(std::memory_order_acquire));
        loads.fetch_add(my_loads);
      });
    }
    start.arrive_and_wait();
    for (std::uint64_t g = 1; g <= generations; ++g) {
      const std::shared_ptr<const counted_config> previous = current.load();
      current.publish(
          std::make_shared<const counted_config>(make_generation(previous->entries, g, width)));
    }
    done.store(true, std::memory_order_release);
    for (auto& t : threads) t.join();
    EXPECT_EQ(torn.load(), 0u) << "a reader saw a mixed or older version";
    EXPECT_GT(loads.load(), 0u);
    EXPECT_EQ(*current.load()->entries.find(width - 1), generations);
    EXPECT_EQ(live_versions.load() - live_before, 1) << "old versions not freed";
  }
  EXPECT_EQ(live_versions.load(), live_before);
}

// Readers that do nothing but load() keep a registration in flight most of the time, so a
// publish that freed a holder while a load still used it would be seen (by ASan, TSan, or
// the count of live versions).
TEST(SnapshotThreads, LoadStormAgainstPublish) {
  const std::int64_t live_before = live_versions.load();
  constexpr int readers = 3;
  const std::uint64_t publications = tide_test::scaled(100000, 2000);
  {
    tide::snapshot<counted_config> current(std::make_shared<const counted_config>(config()));
    std::atomic<bool> done{false};
    std::latch start(readers + 1);
    std::vector<std::thread> threads;
    for (int r = 0; r < readers; ++r) {
      threads.emplace_back([&] {
        start.arrive_and_wait();
        while (!done.load(std::memory_order_acquire)) {
          for (int i = 0; i < 64; ++i) (void)current.load();
        }
      });
    }
    start.arrive_and_wait();
    const auto version = std::make_shared<const counted_config>(config().set(1, 1));
    for (std::uint64_t p = 0; p < publications; ++p) current.publish(version);
    done.store(true, std::memory_order_release);
    for (auto& t : threads) t.join();
    EXPECT_EQ(current.load(), version);
  }
  EXPECT_EQ(live_versions.load(), live_before);
}

TEST(SnapshotThreads, ConcurrentUpdatesLoseNoWrite) {
  constexpr int writers = 3;
  constexpr int readers = 2;
  const std::uint64_t increments = tide_test::scaled(10000, 300);
  tide::snapshot<config> current(std::make_shared<const config>(config().set(0, 0)));
  std::atomic<bool> done{false};
  std::latch start(writers + readers);
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      start.arrive_and_wait();
      for (std::uint64_t i = 0; i < increments; ++i) {
        current.update([&](const config& c) {
          return c.update(0, [](const std::uint64_t* v) { return *v + 1; })
              .set(static_cast<std::uint64_t>(w + 1), i);
        });
      }
    });
  }
  for (int r = 0; r < readers; ++r) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      std::uint64_t last = 0;
      while (!done.load(std::memory_order_acquire)) {
        const std::uint64_t now = *current.load()->find(0);
        EXPECT_GE(now, last);
        last = now;
      }
    });
  }
  for (int w = 0; w < writers; ++w) threads[static_cast<std::size_t>(w)].join();
  done.store(true, std::memory_order_release);
  for (std::size_t t = writers; t < threads.size(); ++t) threads[t].join();
  EXPECT_EQ(*current.load()->find(0), increments * writers) << "an update() was lost";
}

}  // namespace
