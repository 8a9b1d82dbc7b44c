// Epoch-based reclamation (tide/detail/epoch.hpp): a pinned thread holds the epoch back, an
// unpinned or exited one does not, records of exited threads are reused, and no object is freed
// under a reader. Built twice: concurrent_epoch_test pins as the process allows (membarrier
// where the kernel has it), concurrent_epoch_exchange_test with TIDE_EPOCH_NO_MEMBARRIER=1, so
// both reader fences are tested on every machine.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <latch>
#include <thread>
#include <tide/detail/epoch.hpp>
#include <vector>

#if defined(TIDE_EPOCH_NO_MEMBARRIER) && TIDE_EPOCH_NO_MEMBARRIER
#define EpochDomain EpochDomainExchange  // distinct CTest names for the second build
#endif

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

// The reader fence is the one the build and the kernel allow: membarrier when this build may use
// it and the kernel offers the private expedited command, the exchange otherwise.
TEST(EpochDomain, ReaderFenceIsMembarrierExactlyWhenAvailable) {
#if defined(TIDE_EPOCH_MEMBARRIER)
  const long commands = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  const bool available = commands > 0 && (commands & MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0;
  EXPECT_EQ(epoch_domain::instance().asymmetric(), available);
#else
  EXPECT_FALSE(epoch_domain::instance().asymmetric())
      << "membarrier used in a build that forces the exchange (TSan or TIDE_EPOCH_NO_MEMBARRIER)";
#endif
}

// Readers follow a pointer a writer keeps replacing; the writer retires each old object and, once
// reclaimable, "frees" it: marks it dead and keeps its memory to the end, so that no allocation
// reuses it and hides the mark. A reader that finds a dead object fails here (and under TSan, at
// the read, which races the mark).
TEST(EpochDomain, NoObjectIsFreedUnderAReader) {
  constexpr std::uint64_t live = 0x11FE11FE11FE11FEull;
  constexpr std::uint64_t dead = 0xDEADDEADDEADDEADull;
  struct object {
    std::uint64_t value = live;  // plain: a read racing the free is a data race
  };
  constexpr int replacements = 20000;
  constexpr int readers = 2;
  std::atomic<object*> current{new object};
  std::atomic<bool> writer_done{false};
  std::atomic<std::uint64_t> bad{0};
  std::latch readers_started(readers);
  std::vector<std::thread> threads;
  for (int i = 0; i < readers; ++i) {
    threads.emplace_back([&] {
      readers_started.count_down();
      std::uint64_t seen_dead = 0;
      do {
        epoch_guard guard;
        const object* o = current.load(std::memory_order_acquire);
        // Volatile: every read goes to memory, so a reader holds the object for a while.
        const volatile std::uint64_t& value = o->value;
        for (int k = 0; k < 64; ++k) seen_dead += value != live;
      } while (!writer_done.load(std::memory_order_acquire));
      bad.fetch_add(seen_dead, std::memory_order_relaxed);
    });
  }
  readers_started.wait();
  struct retired {
    object* o;
    std::uint64_t epoch;
  };
  std::vector<retired> retire_list;
  std::size_t freed = 0;
  const auto free_reclaimable = [&](std::uint64_t global) {
    while (freed < retire_list.size() && reclaimable(retire_list[freed].epoch, global)) {
      retire_list[freed].o->value = dead;
      ++freed;
    }
  };
  // A reader preempted while pinned holds the epoch for its time slice: the writer goes on (and
  // yields to the readers) until it has freed some objects, within a bound.
  for (int i = 0; i < replacements || (freed < 100 && i < 100 * replacements); ++i) {
    object* old = current.exchange(new object, std::memory_order_acq_rel);
    retire_list.push_back({old, epoch_domain::instance().global_epoch()});
    if (i % 4 == 3) {
      const std::size_t before = freed;
      free_reclaimable(epoch_domain::instance().try_advance());
      if (freed == before) std::this_thread::yield();
    }
  }
  writer_done.store(true, std::memory_order_release);
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0u) << "a reader saw a freed object";
  EXPECT_GE(freed, 100u) << "the epoch hardly advanced under the readers";
  free_reclaimable(advance(3));
  EXPECT_EQ(freed, retire_list.size()) << "no reader left, yet objects stay unreclaimable";
  for (const retired& r : retire_list) delete r.o;
  delete current.load();
}

}  // namespace
