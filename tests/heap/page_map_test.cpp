// The page map: page -> span lookups across leaves, and nothing for pages never set.
#include "page_map.hpp"

#include <gtest/gtest.h>

namespace {

using namespace tide::heap::detail;

TEST(PageMap, UnsetPagesAndPagesOutsideTheAddressSpaceMapToNothing) {
  page_map map;
  EXPECT_EQ(map.lookup(0), nullptr);
  EXPECT_EQ(map.lookup(12345), nullptr);
  EXPECT_EQ(map.lookup(page_map::page_limit), nullptr);
  EXPECT_EQ(map.lookup(~page_id{0}), nullptr);
  EXPECT_FALSE(map.ensure(page_map::page_limit, 1));
  EXPECT_FALSE(map.ensure(page_map::page_limit - 1, 2));
}

TEST(PageMap, SetRangeAcrossALeafBoundaryIsSeenByEveryPage) {
  page_map map;
  span a;
  span b;
  const page_id start = 5 * page_map::leaf_entries - 3;  // the range spans two leaves
  ASSERT_TRUE(map.ensure(start, 6));
  map.set_range(start, 6, &a);
  for (page_id p = start; p < start + 6; ++p) EXPECT_EQ(map.lookup(p), &a) << "page " << p;
  EXPECT_EQ(map.lookup(start - 1), nullptr);
  EXPECT_EQ(map.lookup(start + 6), nullptr);
  map.set(start + 2, &b);
  EXPECT_EQ(map.lookup(start + 2), &b);
  map.set_range(start, 6, nullptr);
  for (page_id p = start; p < start + 6; ++p) EXPECT_EQ(map.lookup(p), nullptr);
}

TEST(PageMap, TheLastPageOfTheAddressSpaceCanBeMapped) {
  page_map map;
  span a;
  ASSERT_TRUE(map.ensure(page_map::page_limit - 1, 1));
  map.set(page_map::page_limit - 1, &a);
  EXPECT_EQ(map.lookup(page_map::page_limit - 1), &a);
}

TEST(PageMap, RealHeapAddressesMapToTheirPages) {
  page_map map;
  span a;
  static char block[4 * page_bytes];
  const page_id first = page_of(block);
  ASSERT_TRUE(map.ensure(first, 4));
  map.set_range(first, 4, &a);
  EXPECT_EQ(map.lookup(page_of(block + 1)), &a);
  EXPECT_EQ(map.lookup(page_of(block + 3 * page_bytes)), &a);
}

}  // namespace
