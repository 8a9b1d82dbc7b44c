// The scavenger: pages idle for longer than the release delay go back to the OS in the
// background, and not when background release is switched off. Polls with a generous
// deadline: the test checks that the release happens, not how fast.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <thread>

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

TEST(Scavenger, SettingsReadBack) {
  tide::set_release_delay(1234ms);
  EXPECT_EQ(tide::release_delay(), 1234ms);
  EXPECT_THROW(tide::set_release_delay(-1ms), std::invalid_argument);
  EXPECT_EQ(tide::release_delay(), 1234ms);
}

}  // namespace
