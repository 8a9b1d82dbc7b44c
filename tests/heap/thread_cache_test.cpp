// Thread caches: refill in batches, slow start, the per-list and per-cache bounds, flush,
// double-free detection, and flush at thread exit.
#include "thread_cache.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "global_heap.hpp"
#include "tide/heap.hpp"
#include "tide/memstats.hpp"

namespace {

using namespace tide::heap::detail;

// A private page heap and central lists, so the counts below are this test's alone.
struct cache_fixture {
  std::unique_ptr<page_map> map = std::make_unique<page_map>();
  std::unique_ptr<page_heap> heap = std::make_unique<page_heap>(*map);
  std::unique_ptr<central_list[]> central = std::make_unique<central_list[]>(size_class_count);
  std::unique_ptr<thread_cache> cache;
  cache_fixture() {
    for (int c = 1; c < size_class_count; ++c) central[c].init(*heap, *map, c);
    cache = std::make_unique<thread_cache>(central.get());
  }
  void* allocate(int c) {
    void* p = cache->try_allocate(c);
    return p != nullptr ? p : cache->refill(c);
  }
};

TEST(ThreadCache, AnEmptyListRefillsOneBatch) {
  cache_fixture f;
  const int c = 5;  // 64 B: a batch of 32
  void* p = f.allocate(c);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(f.cache->length(c), thread_cache::batch_for(c) - 1);
  EXPECT_EQ(f.cache->cached_bytes(), (thread_cache::batch_for(c) - 1) * class_object_bytes[c]);
  for (std::uint32_t i = 1; i < thread_cache::batch_for(c); ++i) f.allocate(c);
  EXPECT_EQ(f.cache->length(c), 0u);
  EXPECT_EQ(f.cache->mallocs(c), thread_cache::batch_for(c));
  f.cache->check_invariants();
}

TEST(ThreadCache, ObjectsAreDistinctAndOfTheClass) {
  cache_fixture f;
  const int c = 9;
  std::set<void*> seen;
  for (int i = 0; i < 1000; ++i) {
    void* p = f.allocate(c);
    ASSERT_TRUE(seen.insert(p).second) << "object handed out twice";
    const span* s = f.map->lookup(page_of(p));
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->size_class, c);
    EXPECT_GE(s->object_index(p), 0);
  }
  for (void* p : seen) f.cache->deallocate(p, c);
  f.cache->flush();
  EXPECT_EQ(f.heap->stats().in_use_bytes, 0u);
}

// Rounds of allocating a thousand objects and freeing them: the refills of each round deepen
// the list until a round's frees fit in it.
void allocate_and_free_in_rounds(cache_fixture& f, int c, int rounds) {
  std::vector<void*> objects;
  for (int round = 0; round < rounds; ++round) {
    for (int i = 0; i < 1000; ++i) objects.push_back(f.allocate(c));
    for (void* p : objects) {
      f.cache->deallocate(p, c);
      ASSERT_LE(f.cache->length(c), thread_cache::max_length_for(c));
    }
    objects.clear();
  }
}

TEST(ThreadCache, ListsStayWithinTheirLimitAndTheLimitGrowsWithRefills) {
  cache_fixture f;
  const int c = 3;  // 32 B: a batch of 32
  allocate_and_free_in_rounds(f, c, 10);
  EXPECT_GE(f.cache->length(c), 1000u)
      << "the refills should have deepened the list to hold a round's frees";
  f.cache->check_invariants();
  f.cache->flush();
  EXPECT_EQ(f.cache->length(c), 0u);
  EXPECT_EQ(f.heap->stats().in_use_bytes, 0u) << "every span went back after the flush";
}

TEST(ThreadCache, AThreadThatOnlyFreesShrinksItsListsBackToABatch) {
  cache_fixture f;
  const int c = 3;
  allocate_and_free_in_rounds(f, c, 10);
  const std::uint32_t deep = f.cache->length(c);
  std::vector<void*> objects;
  for (int i = 0; i < 20000; ++i) objects.push_back(f.allocate(c));
  for (void* p : objects) f.cache->deallocate(p, c);  // frees only
  EXPECT_LE(f.cache->length(c), thread_cache::batch_for(c))
      << "a long run of frees should bring the list's limit back to one batch (it was " << deep
      << " deep)";
  f.cache->check_invariants();
  f.cache->flush();
  EXPECT_EQ(f.heap->stats().in_use_bytes, 0u);
}

TEST(ThreadCache, AllTheListsTogetherStayWithinTheCacheBudget) {
  cache_fixture f;
  std::vector<std::pair<void*, int>> objects;
  for (int c = 40; c < size_class_count; ++c) {  // 2 KiB and up: the budget binds
    for (int i = 0; i < 200; ++i) objects.emplace_back(f.allocate(c), c);
  }
  for (auto [p, c] : objects) {
    f.cache->deallocate(p, c);
    ASSERT_LE(f.cache->cached_bytes(), thread_cache::cache_bytes_limit);
  }
  f.cache->check_invariants();
  f.cache->flush();
  EXPECT_EQ(f.cache->cached_bytes(), 0u);
}

TEST(ThreadCache, MallocsAndFreesAreCountedPerClass) {
  cache_fixture f;
  void* a = f.allocate(2);
  void* b = f.allocate(2);
  void* d = f.allocate(7);
  f.cache->deallocate(a, 2);
  EXPECT_EQ(f.cache->mallocs(2), 2u);
  EXPECT_EQ(f.cache->frees_acquire(2), 1u);
  EXPECT_EQ(f.cache->mallocs(7), 1u);
  EXPECT_EQ(f.cache->frees_acquire(7), 0u);
  f.cache->deallocate(b, 2);
  f.cache->deallocate(d, 7);
  f.cache->flush();
}

TEST(ThreadCacheDeathTest, FreeingTheObjectAtTheTopAgainIsReported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  cache_fixture f;
  void* keep = f.allocate(4);
  void* p = f.allocate(4);
  f.cache->deallocate(p, 4);
  EXPECT_DEATH(f.cache->deallocate(p, 4), "double free");
  f.cache->deallocate(keep, 4);
  f.cache->flush();
}

// The process-wide heap: a thread's cache is flushed and retired when it exits.
TEST(ThreadCache, AThreadsCacheIsFlushedWhenItExits) {
  tide::release_memory();
  const tide::memstats before = tide::read_memstats();
  std::thread([] {
    std::vector<void*> blocks;
    for (int i = 0; i < 5000; ++i) blocks.push_back(tide::heap::allocate(48));
    for (void* p : blocks) tide::heap::deallocate(p, 48);
    EXPECT_GT(tide::read_memstats().cached_bytes, 0u) << "the cache holds freed objects";
  }).join();
  const tide::memstats after = tide::read_memstats();
  EXPECT_EQ(after.thread_caches, before.thread_caches) << "the exited thread's cache is retired";
  EXPECT_EQ(after.live_objects, before.live_objects);
  EXPECT_EQ(after.mallocs, before.mallocs + 5000) << "its counters outlive it";
  EXPECT_EQ(after.cached_bytes, before.cached_bytes) << "its cache was flushed";
  EXPECT_EQ(after.in_use_bytes, before.in_use_bytes) << "its spans went back to the page heap";
}

}  // namespace
