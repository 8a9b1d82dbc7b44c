// One state's lists of idle spans by length: the bitmap of the lists that hold a span, and the
// shortest list that fits, against a model that looks at every list.
#include "span_lists.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <random>
#include <vector>

namespace {

using namespace tide::heap::detail;

constexpr std::size_t list_count = span_lists::list_count;

// What shortest_fit must return: the front of the first non-empty list from `pages` up.
span* shortest_fit_by_walking(const span_lists& lists, std::size_t pages) {
  for (std::size_t n = pages; n < list_count; ++n) {
    if (!lists.list_for(n).empty()) return lists.list_for(n).front();
  }
  return nullptr;
}

TEST(SpanLists, AnEmptySetFitsNothing) {
  const span_lists lists;
  for (std::size_t pages : {std::size_t{1}, std::size_t{63}, std::size_t{64}, list_count - 1,
                            list_count, list_count + 5}) {
    EXPECT_EQ(lists.shortest_fit(pages), nullptr) << pages;
  }
  EXPECT_EQ(lists.span_count(), 0u);
  EXPECT_TRUE(lists.bitmap_matches());
}

TEST(SpanLists, TheShortestListThatFitsAcrossTheBitmapsWords) {
  span_lists lists;
  span at_3, at_64, at_127, at_long;
  at_3.page_count = 3;
  at_64.page_count = 64;
  at_127.page_count = list_count - 1;
  at_long.page_count = list_count + 40;
  for (span* s : {&at_3, &at_64, &at_127, &at_long}) lists.push(s);
  EXPECT_EQ(lists.shortest_fit(1), &at_3);
  EXPECT_EQ(lists.shortest_fit(3), &at_3);
  EXPECT_EQ(lists.shortest_fit(4), &at_64) << "from the first word into the second";
  EXPECT_EQ(lists.shortest_fit(64), &at_64);
  EXPECT_EQ(lists.shortest_fit(65), &at_127);
  EXPECT_EQ(lists.shortest_fit(list_count - 1), &at_127);
  EXPECT_EQ(lists.shortest_fit(list_count), nullptr) << "long spans are searched apart";
  EXPECT_EQ(lists.long_spans().front(), &at_long);
  lists.remove(&at_64);
  EXPECT_EQ(lists.shortest_fit(4), &at_127);
  EXPECT_EQ(lists.span_count(), 3u);
  EXPECT_TRUE(lists.bitmap_matches());
  for (span* s : {&at_3, &at_127, &at_long}) lists.remove(s);
  EXPECT_EQ(lists.shortest_fit(1), nullptr);
  EXPECT_TRUE(lists.bitmap_matches());
}

TEST(SpanLists, RandomPushesAndRemovesAgreeWithWalkingEveryList) {
  std::mt19937_64 rng(20261128);
  std::vector<span> spans(600);
  std::vector<span*> listed;
  std::vector<span*> unlisted;
  for (span& s : spans) {
    s.page_count = 1 + rng() % (list_count + 20);
    unlisted.push_back(&s);
  }
  span_lists lists;
  for (int step = 0; step < 20000; ++step) {
    const bool push = listed.empty() || (!unlisted.empty() && rng() % 2 == 0);
    std::vector<span*>& from = push ? unlisted : listed;
    const std::size_t i = rng() % from.size();
    span* s = from[i];
    from[i] = from.back();
    from.pop_back();
    if (push) {
      lists.push(s);
      listed.push_back(s);
    } else {
      lists.remove(s);
      unlisted.push_back(s);
    }
    ASSERT_TRUE(lists.bitmap_matches()) << "step " << step;
    const std::size_t pages = 1 + rng() % list_count;
    ASSERT_EQ(lists.shortest_fit(pages), shortest_fit_by_walking(lists, pages))
        << "step " << step << ", " << pages << " pages";
  }
  EXPECT_EQ(lists.span_count(), listed.size());
}

}  // namespace
