// Spans: objects, the allocation bitmap, span lists and the record pool.
#include "span.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <vector>

namespace {

using namespace tide::heap::detail;

// A span over real memory (a static buffer), cut into objects of class c.
struct span_on_buffer {
  alignas(page_bytes) static inline unsigned char buffer[8 * page_bytes];
  std::uint64_t bitmap[span::max_bitmap_words] = {};
  span s;
  explicit span_on_buffer(int c) {
    s.start = page_of(buffer);
    s.page_count = class_span_pages[c];
    s.init_small(c, span::bitmap_words_for(c) > span::inline_bitmap_words ? bitmap : s.inline_bits);
  }
};

TEST(Span, HandsOutEveryObjectOnceThenIsFull) {
  for (int c : {1, 2, 5, 9, 40, size_class_count - 1}) {
    span_on_buffer b(c);
    span& s = b.s;
    std::set<std::uintptr_t> seen;
    for (std::size_t i = 0; i < class_objects_per_span[c]; ++i) {
      ASSERT_FALSE(s.full());
      void* p = s.allocate_object();
      const auto addr = reinterpret_cast<std::uintptr_t>(p);
      EXPECT_TRUE(seen.insert(addr).second) << "class " << c << " object handed out twice";
      EXPECT_EQ((addr - reinterpret_cast<std::uintptr_t>(s.base())) % class_object_bytes[c], 0u);
      EXPECT_LE(addr + class_object_bytes[c],
                reinterpret_cast<std::uintptr_t>(s.base()) + s.bytes());
    }
    EXPECT_TRUE(s.full());
    s.check_invariants();
  }
}

TEST(Span, FreedObjectsAreReusedLowestFirst) {
  span_on_buffer b(3);
  span& s = b.s;
  std::vector<void*> objects;
  for (int i = 0; i < 100; ++i) objects.push_back(s.allocate_object());
  s.free_object(static_cast<std::size_t>(s.object_index(objects[70])));
  s.free_object(static_cast<std::size_t>(s.object_index(objects[5])));
  EXPECT_EQ(s.allocated_count, 98);
  s.check_invariants();
  EXPECT_EQ(s.allocate_object(), objects[5]);
  EXPECT_EQ(s.allocate_object(), objects[70]);
  EXPECT_EQ(s.allocate_object(), static_cast<char*>(s.base()) + 100 * class_object_bytes[3]);
  s.check_invariants();
}

TEST(Span, ObjectIndexRejectsInteriorPointers) {
  span_on_buffer b(9);  // 128 B objects
  span& s = b.s;
  EXPECT_EQ(s.object_index(s.base()), 0);
  EXPECT_EQ(s.object_index(s.base() + 128 * 7), 7);
  EXPECT_EQ(s.object_index(s.base() + 1), -1);
  EXPECT_EQ(s.object_index(s.base() + 128 * 7 + 64), -1);
}

TEST(Span, TailPastTheLastObjectIsNotAnObject) {
  const int c = 4;  // 48 B: 170 objects in 8 KiB, 32 B of tail
  span_on_buffer b(c);
  EXPECT_EQ(b.s.object_index(b.s.base() + 48 * 170), -1);
}

TEST(Span, BitmapIsInlineExactlyForClassesOfAtMost128Objects) {
  for (int c = 1; c < size_class_count; ++c) {
    span_on_buffer b(c);
    EXPECT_EQ(b.s.bitmap_is_inline(), class_objects_per_span[c] <= 128) << "class " << c;
    b.s.check_invariants();
  }
}

TEST(SpanList, PushAndRemoveKeepOrderAndSize) {
  span a;
  span b;
  span c;
  span_list list;
  list.push_front(&a);
  list.push_front(&b);
  list.push_front(&c);
  EXPECT_EQ(list.size(), 3u);
  list.remove(&b);
  EXPECT_EQ(list.front(), &c);
  EXPECT_EQ(c.next, &a);
  EXPECT_EQ(a.prev, &c);
  list.remove(&c);
  list.remove(&a);
  EXPECT_TRUE(list.empty());
  EXPECT_EQ(list.size(), 0u);
}

}  // namespace
