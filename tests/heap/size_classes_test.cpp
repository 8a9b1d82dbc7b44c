// Size classes: re-checks the generated table against the generator's rules (see
// tools/gen_size_classes.cpp); the test heap_size_classes_generated diffs the file itself.
#include "size_classes.hpp"

#include <gtest/gtest.h>

#include <cstddef>

namespace {

using namespace tide::heap::detail;

TEST(SizeClasses, RunFrom8BytesTo32KiBAndIncrease) {
  EXPECT_EQ(class_object_bytes[0], 0u) << "class 0 means a large allocation";
  EXPECT_EQ(class_object_bytes[1], 8u);
  EXPECT_EQ(class_object_bytes[size_class_count - 1], max_small_bytes);
  for (int c = 2; c < size_class_count; ++c) {
    EXPECT_GT(class_object_bytes[c], class_object_bytes[c - 1]) << "class " << c;
  }
  EXPECT_GE(size_class_count, 60);
  EXPECT_LE(size_class_count, 80);
}

TEST(SizeClasses, EveryClassFrom16BytesIsAlignedForMaxAlign) {
  for (int c = 2; c < size_class_count; ++c) {
    EXPECT_EQ(class_object_bytes[c] % alignof(std::max_align_t), 0u) << "class " << c;
  }
}

TEST(SizeClasses, RoundingWastesAtMostAnEighthOr15BytesBelow128) {
  for (int c = 2; c < size_class_count; ++c) {
    const std::size_t bytes = class_object_bytes[c];
    const std::size_t worst = bytes - class_object_bytes[c - 1] - 1;  // request prev + 1
    const std::size_t allowed = bytes < 128 ? 15 : bytes / 8;
    EXPECT_LE(worst, allowed) << "class " << c << " (" << bytes << " B)";
  }
}

TEST(SizeClasses, SpanTailWastesAtMostAnEighth) {
  for (int c = 1; c < size_class_count; ++c) {
    const std::size_t span = std::size_t{class_span_pages[c]} * page_bytes;
    const std::size_t objects = class_objects_per_span[c];
    EXPECT_EQ(objects, span / class_object_bytes[c]) << "class " << c;
    EXPECT_LE((span - objects * class_object_bytes[c]) * 8, span) << "class " << c;
    EXPECT_LE(objects, max_objects_per_span) << "class " << c;
    EXPECT_GE(objects, 1u) << "class " << c;
  }
}

TEST(SizeClasses, SpanPagesAreTheFewestThatKeepTheTailBound) {
  for (int c = 1; c < size_class_count; ++c) {
    for (std::size_t pages = 1; pages < class_span_pages[c]; ++pages) {
      const std::size_t span = pages * page_bytes;
      EXPECT_GT((span % class_object_bytes[c]) * 8, span)
          << "class " << c << " would fit in " << pages << " pages";
    }
  }
}

TEST(SizeClasses, EverySizeMapsToTheSmallestClassThatFits) {
  int smallest = 1;
  for (std::size_t size = 1; size <= max_small_bytes; ++size) {
    while (class_object_bytes[smallest] < size) ++smallest;
    ASSERT_EQ(size_class_of(size), smallest) << "size_class_of(" << size << ")";
  }
}

TEST(SizeClasses, AlignedLookupGivesAnAlignedClassThatFits) {
  for (std::size_t align = 1; align <= page_bytes; align *= 2) {
    for (std::size_t size = 1; size <= max_small_bytes; size += 7) {
      const int c = size_class_of(size, align);
      if (c == 0) {
        // Only when no class at all is both big enough and a multiple of align.
        for (int d = size_class_of(size); d < size_class_count; ++d) {
          ASSERT_NE(class_object_bytes[d] % align, 0u) << "size " << size << " align " << align;
        }
        continue;
      }
      ASSERT_GE(class_object_bytes[c], size);
      ASSERT_EQ(class_object_bytes[c] % align, 0u) << "size " << size << " align " << align;
      ASSERT_GE(c, size_class_of(size));
    }
  }
}

}  // namespace

namespace {

using namespace tide::heap::detail;

TEST(SizeClasses, DivMagicDividesEveryOffsetOfEverySpanExactly) {
  for (int c = 1; c < size_class_count; ++c) {
    const std::size_t span_bytes = class_span_pages[c] * page_bytes;
    for (std::size_t offset = 0; offset < span_bytes; ++offset) {
      ASSERT_EQ((offset * class_div_magic[c]) >> 32, offset / class_object_bytes[c])
          << "class " << c << " offset " << offset;
    }
  }
}

}  // namespace
