// The scavenger: pages idle for longer than the release delay go back to the OS in the
// background, and not when background release is switched off. Polls with a generous
// deadline: the test checks that the release happens, not how fast.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "tide/heap.hpp"
#include "tide/memstats.hpp"

namespace {

using namespace std::chrono_literals;

constexpr std::size_t block_bytes = std::size_t{8} << 20;

// Frees a touched 8 MiB block (a large allocation: its pages go straight to the page heap).
void free_a_touched_block() {
  void* p = tide::heap::allocate(block_bytes);
  std::memset(p, 1, block_bytes);
  tide::heap::deallocate(p);
}

TEST(Scavenger, ReleasesIdlePagesInTheBackground) {
  tide::set_release_delay(20ms);
  tide::set_background_release(true);
  const std::uint64_t released_before = tide::read_memstats().released_total_bytes;
  free_a_touched_block();
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (tide::read_memstats().idle_bytes != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  const tide::memstats after = tide::read_memstats();
  EXPECT_EQ(after.idle_bytes, 0u) << "the scavenger should have released every idle page";
  EXPECT_GE(after.released_total_bytes, released_before + block_bytes);
}

TEST(Scavenger, SwitchedOffItReleasesNothing) {
  tide::set_release_delay(1ms);
  tide::set_background_release(false);
  EXPECT_FALSE(tide::background_release());
  tide::release_memory();
  free_a_touched_block();
  std::this_thread::sleep_for(200ms);  // 200 delays: it would have run many times
  EXPECT_GE(tide::read_memstats().idle_bytes, block_bytes);
  tide::set_background_release(true);
}

// The scavenger and release_memory() madvise without the page heap's lock while other threads
// allocate and free large blocks. No block may lose its contents to a release (a released page
// reads back as zeros), and the heap's totals must add up afterwards. Under TSan this is the
// race check for the unlocked release.
TEST(Scavenger, ThreadsAllocateAndFreeWhileItReleases) {
  tide::set_release_delay(1ms);
  tide::set_background_release(true);
  constexpr int threads = 2, steps = 1500, window = 8;
  constexpr std::size_t stride = 4096;
  std::atomic<int> lost{0};
  const std::uint64_t released_before = tide::read_memstats().released_total_bytes;
  auto work = [&](int id) {
    std::mt19937_64 rng(static_cast<std::uint64_t>(id) + 1);
    struct block {
      unsigned char* p;
      std::size_t bytes;
      unsigned char mark;
    };
    std::vector<block> live;
    auto release_oldest = [&] {
      const block b = live.front();
      live.erase(live.begin());
      for (std::size_t i = 0; i < b.bytes; i += stride) lost += b.p[i] != b.mark;
      tide::heap::deallocate(b.p, b.bytes);
    };
    for (int step = 0; step < steps; ++step) {
      const std::size_t bytes = (std::size_t{64} << 10) + rng() % (std::size_t{192} << 10);
      const auto mark = static_cast<unsigned char>(1 + rng() % 255);
      auto* p = static_cast<unsigned char*>(tide::heap::allocate(bytes));
      for (std::size_t i = 0; i < bytes; i += stride) p[i] = mark;
      live.push_back({p, bytes, mark});
      if (live.size() > window) release_oldest();
      if (id == 0 && step % 300 == 0) tide::release_memory();
      if (step % 100 == 0) std::this_thread::sleep_for(2ms);  // let freed spans age
    }
    while (!live.empty()) release_oldest();
  };
  std::vector<std::thread> pool;
  for (int id = 0; id < threads; ++id) pool.emplace_back(work, id);
  for (std::thread& t : pool) t.join();
  EXPECT_EQ(lost.load(), 0) << "pages of live blocks read back changed: released under them";
  const tide::memstats m = tide::read_memstats();
  EXPECT_EQ(m.in_use_bytes + m.idle_bytes + m.released_bytes, m.arena_bytes);
  EXPECT_GT(m.released_total_bytes, released_before);
  tide::set_release_delay(500ms);
}

TEST(Scavenger, SettingsReadBack) {
  tide::set_release_delay(1234ms);
  EXPECT_EQ(tide::release_delay(), 1234ms);
  EXPECT_THROW(tide::set_release_delay(-1ms), std::invalid_argument);
  EXPECT_EQ(tide::release_delay(), 1234ms);
}

}  // namespace
