// tide::set_memory_limit and tide::on_memory_pressure: callbacks run when the footprint
// crosses the limit, once per crossing (again only after the footprint fell below the limit
// or grew by a further eighth of it), see the limit and the footprint, may free memory and
// allocate; registrations unregister on destruction, reset() and move; exceptions from a
// callback are swallowed; limit 0 means none.
//
// Each test starts from release_memory() (no idle pages, so the footprint is the pages in
// use), sets a limit a few MiB above the footprint and allocates 256 KiB blocks,
// which go straight to the page heap, reading the footprint after each. The fixture restores
// the limit to 0 and the background release switch whatever happens.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <latch>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tide/heap.hpp"
#include "tide/memstats.hpp"

namespace {

constexpr std::size_t mib = std::size_t{1} << 20;
constexpr std::size_t block_bytes = 256 * 1024;

class Pressure : public ::testing::Test {
 protected:
  void SetUp() override {
    background_ = tide::background_release();
    // The scavenger only lowers the footprint, but off, the figures move only when we do.
    tide::set_background_release(false);
    tide::set_memory_limit(0);
    tide::release_memory();
  }
  void TearDown() override {
    tide::set_memory_limit(0);
    for (void* p : blocks_) tide::heap::deallocate(p, block_bytes);
    blocks_.clear();
    tide::release_memory();
    tide::set_background_release(background_);
  }

  static std::size_t footprint() { return tide::read_memstats().footprint_bytes; }

  // A limit `headroom` above the current footprint.
  static std::size_t limit_above_footprint(std::size_t headroom) { return footprint() + headroom; }

  void allocate_block() { blocks_.push_back(tide::heap::allocate(block_bytes)); }

  // Allocates blocks until the footprint is above `bytes`; false if 256 blocks did not do it.
  bool allocate_until_footprint_above(std::size_t bytes) {
    for (int i = 0; i < 256; ++i) {
      if (footprint() > bytes) return true;
      allocate_block();
    }
    return footprint() > bytes;
  }

  void free_blocks() {
    for (void* p : blocks_) tide::heap::deallocate(p, block_bytes);
    blocks_.clear();
  }

  std::vector<void*> blocks_;
  bool background_ = true;
};

TEST(PressureDefaults, NoLimitByDefault) {
  EXPECT_EQ(tide::memory_limit(), 0u);
  EXPECT_EQ(tide::read_memstats().memory_limit, 0u);
}

TEST_F(Pressure, LimitRoundTripsAndShowsInMemstats) {
  tide::set_memory_limit(123 * mib);
  EXPECT_EQ(tide::memory_limit(), 123 * mib);
  EXPECT_EQ(tide::read_memstats().memory_limit, 123 * mib);
  tide::set_memory_limit(0);
  EXPECT_EQ(tide::memory_limit(), 0u);
  EXPECT_EQ(tide::read_memstats().memory_limit, 0u);
}

TEST_F(Pressure, CallbackRunsOncePerCrossingAndSeesTheLimitAndTheFootprint) {
  std::vector<tide::memory_pressure> calls;
  auto registration = tide::on_memory_pressure([&](const tide::memory_pressure& p) { calls.push_back(p); });
  EXPECT_TRUE(registration);
  const std::uint64_t events_before = tide::read_memstats().pressure_events;
  // 16 MiB of headroom: an eighth of the limit is then at least 2 MiB, eight blocks.
  const std::size_t limit = limit_above_footprint(16 * mib);
  tide::set_memory_limit(limit);

  ASSERT_TRUE(allocate_until_footprint_above(limit));
  ASSERT_EQ(calls.size(), 1u) << "the crossing runs the callback once";
  EXPECT_EQ(calls[0].limit, limit);
  EXPECT_GT(calls[0].footprint, limit) << "the callback sees a footprint above the limit";
  EXPECT_EQ(tide::read_memstats().pressure_events - events_before, 1u);

  // Growing further, by less than an eighth of the limit since the run, is the same crossing.
  const std::size_t eighth = limit / 8;
  const std::size_t first_run = calls[0].footprint;
  while (footprint() + 2 * block_bytes < first_run + eighth) allocate_block();
  EXPECT_EQ(calls.size(), 1u) << "footprint " << footprint() << " B is less than limit/8 ("
                              << eighth << " B) above the last run's " << first_run << " B";

  // Growing by a further eighth runs the callbacks again (just past it: one block at most,
  // far from the eighth after that).
  ASSERT_TRUE(allocate_until_footprint_above(first_run + eighth));
  ASSERT_EQ(calls.size(), 2u) << "the footprint grew by a further eighth of the limit";
  EXPECT_EQ(calls[1].limit, limit);
  EXPECT_GE(calls[1].footprint, first_run + eighth);

  // Dropping below the limit and crossing again runs them again.
  free_blocks();
  tide::release_memory();
  ASSERT_LT(footprint(), limit);
  ASSERT_TRUE(allocate_until_footprint_above(limit));
  ASSERT_EQ(calls.size(), 3u) << "a new crossing after the footprint fell below the limit";
  EXPECT_EQ(calls[2].limit, limit);
  EXPECT_GT(calls[2].footprint, limit);
  EXPECT_EQ(tide::read_memstats().pressure_events - events_before, 3u);
}

TEST_F(Pressure, ACallbackThatFreesItsCacheBringsTheFootprintUnderTheLimit) {
  // A cache of 4 MiB, made before the limit is set.
  std::vector<void*> cache;
  for (int i = 0; i < 16; ++i) cache.push_back(tide::heap::allocate(block_bytes));
  const std::size_t limit = limit_above_footprint(2 * mib);
  int runs = 0;
  auto registration = tide::on_memory_pressure([&](const tide::memory_pressure& p) {
    ++runs;
    EXPECT_GT(p.footprint, p.limit);
    for (void* q : cache) tide::heap::deallocate(q, block_bytes);
    cache.clear();
  });
  tide::set_memory_limit(limit);

  // Allocate until the callback has run (not until the footprint is above the limit: the
  // callback's frees may keep it below).
  while (runs == 0 && blocks_.size() < 64) allocate_block();
  ASSERT_EQ(runs, 1) << "the limit was crossed";
  EXPECT_TRUE(cache.empty());
  // The cache's pages are free now. The heap released free pages before running the
  // callbacks, not after, so the freed cache may still be idle: it no longer counts once
  // released.
  const tide::memstats s = tide::read_memstats();
  EXPECT_LT(s.in_use_bytes, limit) << "the callback freed 4 MiB of pages in use";
  tide::release_memory();
  EXPECT_LT(footprint(), limit) << "under the limit again";

  // Allocating while under the limit runs no callback.
  const std::size_t room = limit - footprint();
  for (std::size_t used = 0; used + 2 * block_bytes < room; used += block_bytes) allocate_block();
  EXPECT_EQ(runs, 1);
}

TEST_F(Pressure, CallbacksRunInRegistrationOrderAndMayAllocate) {
  std::vector<int> order;
  auto first = tide::on_memory_pressure([&](const tide::memory_pressure&) {
    order.push_back(1);
    // Allocating (and freeing) inside a callback, from the page heap and from a size class,
    // neither deadlocks nor runs the callbacks again: they run one crossing at a time. (64 KiB
    // is far less than an eighth of the limit, so this is not a new crossing either.)
    void* big = tide::heap::allocate(64 * 1024);
    void* small = tide::heap::allocate(100);
    tide::heap::deallocate(small);
    tide::heap::deallocate(big);
  });
  auto second = tide::on_memory_pressure([&](const tide::memory_pressure&) { order.push_back(2); });
  tide::set_memory_limit(limit_above_footprint(2 * mib));
  ASSERT_TRUE(allocate_until_footprint_above(tide::memory_limit()));
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

TEST_F(Pressure, AnExceptionFromACallbackIsSwallowed) {
  int later = 0;
  auto thrower = tide::on_memory_pressure([](const tide::memory_pressure&) {
    throw std::runtime_error("a callback that throws");
  });
  auto counter = tide::on_memory_pressure([&](const tide::memory_pressure&) { ++later; });
  tide::set_memory_limit(limit_above_footprint(2 * mib));
  bool crossed = false;
  EXPECT_NO_THROW(crossed = allocate_until_footprint_above(tide::memory_limit()));
  ASSERT_TRUE(crossed);
  EXPECT_EQ(later, 1) << "the callback after the one that threw still ran";
  void* p = tide::heap::allocate(100);  // the heap is usable
  tide::heap::deallocate(p);
}

TEST_F(Pressure, DestroyedAndResetRegistrationsDoNotRun) {
  int destroyed_runs = 0;
  int reset_runs = 0;
  int control_runs = 0;
  {
    auto gone = tide::on_memory_pressure([&](const tide::memory_pressure&) { ++destroyed_runs; });
  }
  auto reset = tide::on_memory_pressure([&](const tide::memory_pressure&) { ++reset_runs; });
  ASSERT_TRUE(reset);
  reset.reset();
  EXPECT_FALSE(reset);
  reset.reset();  // twice is harmless
  auto control = tide::on_memory_pressure([&](const tide::memory_pressure&) { ++control_runs; });
  tide::set_memory_limit(limit_above_footprint(2 * mib));
  ASSERT_TRUE(allocate_until_footprint_above(tide::memory_limit()));
  EXPECT_EQ(control_runs, 1) << "the limit was crossed";
  EXPECT_EQ(destroyed_runs, 0) << "a destroyed registration's callback ran";
  EXPECT_EQ(reset_runs, 0) << "a reset registration's callback ran";
}

// The header: destroying a registration "waits for a run of the callback in progress on
// another thread to finish". A worker crosses the limit and its callback blocks; another
// thread resets the registration meanwhile, and must see the callback finished when reset()
// returns. The pause before the callback is let go only widens the window in which a reset()
// that does not wait would return early; the test's outcome does not depend on it.
TEST_F(Pressure, ResetWaitsForARunInProgressOnAnotherThread) {
  std::latch entered(1);
  std::latch go(1);
  std::atomic<bool> ran{false};
  std::atomic<bool> finished{false};
  auto registration = tide::on_memory_pressure([&](const tide::memory_pressure&) {
    ran.store(true);
    entered.count_down();
    go.wait();
    finished.store(true);
  });
  tide::set_memory_limit(limit_above_footprint(2 * mib));
  const std::size_t limit = tide::memory_limit();
  std::vector<void*> worker_blocks;
  std::thread worker([&] {
    while (tide::read_memstats().footprint_bytes <= limit && worker_blocks.size() < 256) {
      worker_blocks.push_back(tide::heap::allocate(block_bytes));
    }
    if (!ran.load()) entered.count_down();  // no crossing: do not leave the test hanging
  });
  entered.wait();
  if (!ran.load()) {
    worker.join();
    for (void* p : worker_blocks) tide::heap::deallocate(p, block_bytes);
    FAIL() << "the worker's allocations did not cross the limit";
  }
  bool finished_when_reset_returned = false;
  std::thread resetter([&] {
    registration.reset();
    finished_when_reset_returned = finished.load();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  go.count_down();
  resetter.join();
  worker.join();
  EXPECT_TRUE(finished_when_reset_returned) << "reset() returned while the callback was still running";
  EXPECT_FALSE(registration);
  for (void* p : worker_blocks) tide::heap::deallocate(p, block_bytes);
}

TEST_F(Pressure, MovedRegistrationsRunOnceAndMoveAssignmentUnregistersTheOld) {
  int a_runs = 0;
  int b_runs = 0;
  auto a = tide::on_memory_pressure([&](const tide::memory_pressure&) { ++a_runs; });
  tide::pressure_registration moved(std::move(a));
  EXPECT_FALSE(a) << "a moved-from registration is empty";
  EXPECT_TRUE(moved);
  a.reset();  // resetting the moved-from one does not unregister the callback

  auto b = tide::on_memory_pressure([&](const tide::memory_pressure&) { ++b_runs; });
  tide::pressure_registration target;
  EXPECT_FALSE(target);
  target = std::move(b);
  EXPECT_FALSE(b);
  EXPECT_TRUE(target);

  tide::set_memory_limit(limit_above_footprint(2 * mib));
  ASSERT_TRUE(allocate_until_footprint_above(tide::memory_limit()));
  EXPECT_EQ(a_runs, 1) << "the moved registration runs, once";
  EXPECT_EQ(b_runs, 1) << "the move-assigned registration runs, once";

  // Move-assigning over a live registration unregisters the callback it held.
  moved = std::move(target);
  EXPECT_FALSE(target);
  free_blocks();
  tide::release_memory();
  ASSERT_LT(footprint(), tide::memory_limit());
  ASSERT_TRUE(allocate_until_footprint_above(tide::memory_limit()));
  EXPECT_EQ(b_runs, 2) << "the callback moved in runs";
  EXPECT_EQ(a_runs, 1) << "the callback overwritten by move assignment still ran";
  moved.reset();
  EXPECT_FALSE(moved);
}

TEST_F(Pressure, EmptyCallbackThrowsInvalidArgument) {
  EXPECT_THROW((void)tide::on_memory_pressure(std::function<void(const tide::memory_pressure&)>()),
               std::invalid_argument);
  EXPECT_THROW((void)tide::on_memory_pressure(nullptr), std::invalid_argument);
}

TEST_F(Pressure, SettingALimitBelowTheFootprintRunsTheCallbacksAtOnce) {
  // 16 MiB in use, whatever else is: the limit is then at least 14 MiB, and an eighth of it
  // several blocks.
  for (int i = 0; i < 64; ++i) allocate_block();
  std::vector<tide::memory_pressure> calls;
  auto registration = tide::on_memory_pressure([&](const tide::memory_pressure& p) { calls.push_back(p); });
  const std::size_t limit = footprint() - 2 * mib;
  tide::set_memory_limit(limit);
  ASSERT_EQ(calls.size(), 1u) << "the footprint was already above the new limit";
  EXPECT_EQ(calls[0].limit, limit);
  EXPECT_GT(calls[0].footprint, limit);
  ASSERT_GT(limit / 8, 2 * block_bytes);
  allocate_block();  // the same crossing: grown by less than an eighth of the limit
  EXPECT_EQ(calls.size(), 1u);
}

TEST_F(Pressure, LimitZeroMeansNoCallbacks) {
  int runs = 0;
  auto registration = tide::on_memory_pressure([&](const tide::memory_pressure&) { ++runs; });
  // Cross a limit once, so the callback is known to work, then switch the limit off.
  tide::set_memory_limit(limit_above_footprint(2 * mib));
  ASSERT_TRUE(allocate_until_footprint_above(tide::memory_limit()));
  ASSERT_EQ(runs, 1);
  free_blocks();
  tide::release_memory();
  const std::uint64_t events = tide::read_memstats().pressure_events;

  tide::set_memory_limit(0);
  const std::size_t start = footprint();
  for (int i = 0; i < 64; ++i) allocate_block();  // 16 MiB
  EXPECT_GT(footprint(), start + 8 * mib);
  EXPECT_EQ(runs, 1) << "no callback without a limit";
  EXPECT_EQ(tide::read_memstats().pressure_events, events);
}

}  // namespace
