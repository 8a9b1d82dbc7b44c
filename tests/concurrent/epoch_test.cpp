// Epoch-based reclamation (tide/detail/epoch.hpp): a pinned thread holds the epoch back, an
// unpinned or exited one does not, and records of exited threads are reused.
#include <gtest/gtest.h>

#include <latch>
#include <thread>
#include <tide/detail/epoch.hpp>
#include <vector>

namespace {

using tide::detail::epoch_domain;
using tide::detail::epoch_guard;
using tide::detail::reclaimable;

// Advances as far as the pinned threads allow, at most `steps` times.
std::uint64_t advance(int steps) {
  std::uint64_t epoch = 0;
  for (int i = 0; i < steps; ++i) epoch = epoch_domain::instance().try_advance();
  return epoch;
}

TEST(EpochDomain, UnpinnedThreadsLetTheEpochAdvance) {
  const std::uint64_t retired_at = epoch_domain::instance().global_epoch();
  EXPECT_FALSE(reclaimable(retired_at, retired_at));
  EXPECT_FALSE(reclaimable(retired_at, retired_at + 1));
  EXPECT_GE(advance(2), retired_at + 2);
  EXPECT_TRUE(reclaimable(retired_at, epoch_domain::instance().global_epoch()));
}

// A reader pinned before an object is retired keeps it from being reclaimable until it unpins.
TEST(EpochDomain, PinnedReaderHoldsBackReclamation) {
  std::latch pinned(1);
  std::latch release(1);
  std::latch done(1);
  std::thread reader([&] {
    {
      epoch_guard guard;
      pinned.count_down();
      release.wait();
    }
    done.count_down();
  });
  pinned.wait();
  const std::uint64_t retired_at = epoch_domain::instance().global_epoch();
  const std::uint64_t reached = advance(5);
  EXPECT_LE(reached, retired_at + 1) << "the epoch moved past a pinned reader";
  EXPECT_FALSE(reclaimable(retired_at, reached)) << "reclaimable while a reader may hold it";
  release.count_down();
  done.wait();
  EXPECT_TRUE(reclaimable(retired_at, advance(3))) << "the reader unpinned; want reclaimable";
  reader.join();
}

// Guards nest: only the outermost pins and unpins.
TEST(EpochDomain, NestedGuardsUnpinOnlyAtTheOutermost) {
  std::uint64_t retired_at = 0;
  {
    epoch_guard outer;
    {
      epoch_guard inner;
      retired_at = epoch_domain::instance().global_epoch();
    }
    EXPECT_FALSE(reclaimable(retired_at, advance(5))) << "the inner guard unpinned the thread";
  }
  EXPECT_TRUE(reclaimable(retired_at, advance(3)));
}

// Threads that pinned and exited give their records back: the epoch is not held by them, and
// sequential short-lived threads reuse one record instead of adding one each.
TEST(EpochDomain, ExitedThreadsReleaseTheirRecords) {
  {
    std::thread([] { epoch_guard guard; }).join();
  }
  const std::size_t records = epoch_domain::instance().record_count();
  for (int i = 0; i < 50; ++i) std::thread([] { epoch_guard guard; }).join();
  EXPECT_EQ(epoch_domain::instance().record_count(), records);
  const std::uint64_t retired_at = epoch_domain::instance().global_epoch();
  EXPECT_TRUE(reclaimable(retired_at, advance(2)));
}

}  // namespace
