// Central lists: spans taken from the page heap on demand, full spans off the list, empty
// spans back to the page heap, and misuse caught on free.
#include "central_list.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "support/random.hpp"

namespace {

using namespace tide::heap::detail;

struct central_fixture {
  std::unique_ptr<page_map> map = std::make_unique<page_map>();
  std::unique_ptr<page_heap> heap = std::make_unique<page_heap>(*map);
  central_list list;
  explicit central_fixture(int c) { list.init(*heap, *map, c); }
  void* allocate() {
    void* p = nullptr;
    EXPECT_EQ(list.allocate_batch(1, &p), 1u);
    return p;
  }
  span* span_of(void* p) const { return map->lookup(page_of(p)); }
};

TEST(CentralList, TakesANewSpanOnlyWhenEveryObjectIsHandedOut) {
  const int c = 17;  // 256 B, 32 per span
  central_fixture f(c);
  std::vector<void*> objects;
  for (std::size_t i = 0; i < class_objects_per_span[c]; ++i) objects.push_back(f.allocate());
  EXPECT_EQ(f.heap->stats().in_use_bytes, page_bytes);
  EXPECT_EQ(f.list.span_count(), 0u) << "a full span leaves the list";
  objects.push_back(f.allocate());
  EXPECT_EQ(f.heap->stats().in_use_bytes, 2 * page_bytes);
  EXPECT_EQ(f.list.span_count(), 1u);
  f.list.check_invariants();
  for (void* p : objects) f.list.deallocate(f.span_of(p), p);
  EXPECT_EQ(f.heap->stats().in_use_bytes, 0u) << "empty spans go back to the page heap";
  EXPECT_EQ(f.list.span_count(), 0u);
  f.heap->check_invariants();
}

TEST(CentralList, ObjectsAreDistinctAlignedAndOfTheClass) {
  for (int c : {1, 2, 4, 33, 52, size_class_count - 1}) {
    central_fixture f(c);
    std::vector<void*> objects;
    for (int i = 0; i < 3000; ++i) {
      void* p = f.allocate();
      ASSERT_NE(p, nullptr);
      const span* s = f.span_of(p);
      ASSERT_NE(s, nullptr);
      EXPECT_EQ(s->size_class, c);
      if (c >= 2) {
        EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 16, 0u);
      }
      objects.push_back(p);
    }
    std::vector<void*> sorted = objects;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end());
    f.list.check_invariants();
    tide_test::rng rng(c);
    for (std::size_t i = objects.size(); i > 1; --i)
      std::swap(objects[i - 1], objects[rng.below(i)]);
    for (void* p : objects) f.list.deallocate(f.span_of(p), p);
    f.heap->check_invariants();
    EXPECT_EQ(f.heap->stats().in_use_bytes, 0u);
  }
}

TEST(CentralList, AFullSpanRejoinsTheListWhenAnObjectIsFreed) {
  const int c = size_class_of(8192);  // one object per span
  ASSERT_EQ(class_objects_per_span[c], 1);
  central_fixture f(c);
  void* a = f.allocate();
  void* b = f.allocate();
  EXPECT_EQ(f.list.span_count(), 0u);
  f.list.deallocate(f.span_of(a), a);
  EXPECT_EQ(f.list.span_count(), 0u) << "a span of one object goes straight back";
  f.list.deallocate(f.span_of(b), b);
  const int c2 = size_class_of(4096);  // two objects per span
  ASSERT_EQ(class_objects_per_span[c2], 2);
  central_fixture g(c2);
  void* x = g.allocate();
  void* y = g.allocate();
  g.list.deallocate(g.span_of(x), x);
  EXPECT_EQ(g.list.span_count(), 1u);
  g.list.check_invariants();
  g.list.deallocate(g.span_of(y), y);
  EXPECT_EQ(g.list.span_count(), 0u);
}

using CentralListDeathTest = ::testing::Test;

TEST(CentralListDeathTest, DoubleFreeIsReported) {
  central_fixture f(9);
  void* a = f.allocate();
  void* b = f.allocate();  // keeps the span alive
  f.list.deallocate(f.span_of(a), a);
  EXPECT_DEATH(f.list.deallocate(f.span_of(a), a), "double free");
  f.list.deallocate(f.span_of(b), b);
}

TEST(CentralListDeathTest, InteriorPointerIsReported) {
  central_fixture f(9);
  char* a = static_cast<char*>(f.allocate());
  EXPECT_DEATH(f.list.deallocate(f.span_of(a + 8), a + 8), "interior pointer");
  f.list.deallocate(f.span_of(a), a);
}

}  // namespace
