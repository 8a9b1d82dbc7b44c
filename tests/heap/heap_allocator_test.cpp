// tide::heap_allocator, tide::heap_resource and the container aliases (tide::heap_map,
// tide::heap_set, tide::pmr::map): standard containers on the heap, a randomized differential
// test of heap_map / heap_set against std::unordered_map / set, pmr maps on heap_resource and
// on a monotonic buffer, allocation overflow, and live objects back where they started once
// every container is gone.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <list>
#include <map>
#include <memory_resource>
#include <new>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "support/map_check.hpp"
#include "support/random.hpp"
#include "support/scale.hpp"
#include "tide/heap_allocator.hpp"
#include "tide/heap_map.hpp"
#include "tide/memstats.hpp"

namespace {

template <class T>
using heap_alloc = tide::heap_allocator<T>;

std::uint64_t live_objects() { return tide::read_memstats().live_objects; }

// The heap's live objects on construction must be the same on destruction.
class LiveObjectsBalance : public ::testing::Test {
 protected:
  void SetUp() override { start_ = live_objects(); }
  void TearDown() override {
    EXPECT_EQ(live_objects(), start_) << "the containers left objects allocated on tide::heap";
  }
  std::uint64_t start_ = 0;
};

using HeapAllocator = LiveObjectsBalance;

TEST_F(HeapAllocator, VectorGrowsOnTheHeap) {
  {
    std::vector<std::uint64_t, heap_alloc<std::uint64_t>> v;
    for (std::uint64_t i = 0; i < 100'000; ++i) v.push_back(i * 3);
    EXPECT_GT(live_objects(), start_) << "the vector's buffer is on tide::heap";
    EXPECT_GE(tide::heap::usable_size(v.data()), v.capacity() * sizeof(std::uint64_t));
    for (std::uint64_t i = 0; i < v.size(); ++i) ASSERT_EQ(v[i], i * 3) << "v[" << i << "]";
    v.shrink_to_fit();
    std::vector<std::uint64_t, heap_alloc<std::uint64_t>> w = v;  // copy
    EXPECT_EQ(w, v);
    std::vector<std::uint64_t, heap_alloc<std::uint64_t>> moved = std::move(w);
    EXPECT_EQ(moved.size(), 100'000u);
  }
}

TEST_F(HeapAllocator, ListMapAndUnorderedMapRebindTheAllocator) {
  {
    std::list<std::string, heap_alloc<std::string>> list;
    std::map<int, std::string, std::less<int>, heap_alloc<std::pair<const int, std::string>>> tree;
    std::unordered_map<int, int, std::hash<int>, std::equal_to<int>, heap_alloc<std::pair<const int, int>>> hashed;
    const std::uint64_t before = live_objects();
    constexpr int n = 5'000;
    for (int i = 0; i < n; ++i) {
      list.push_back(std::string(40, static_cast<char>('a' + i % 26)));  // beyond SSO: std::allocator
      tree.emplace(i, std::to_string(i));
      hashed.emplace(i, -i);
    }
    // At least one node per element of each (the list's and the tree's nodes, the hash map's
    // nodes) plus the hash map's bucket array.
    EXPECT_GE(live_objects() - before, 3u * n);
    for (int i = 0; i < n; i += 7) {
      ASSERT_EQ(tree.at(i), std::to_string(i));
      ASSERT_EQ(hashed.at(i), -i);
    }
    int i = 0;
    for (const std::string& s : list) ASSERT_EQ(s[0], static_cast<char>('a' + i++ % 26));
    for (int k = 0; k < n; k += 2) {
      tree.erase(k);
      hashed.erase(k);
      list.pop_front();
    }
    EXPECT_EQ(tree.size(), static_cast<std::size_t>(n / 2));
    EXPECT_EQ(hashed.size(), static_cast<std::size_t>(n / 2));
  }
}

TEST(HeapAllocatorBasics, AllocatorsCompareEqualAcrossTypes) {
  tide::heap_allocator<int> a;
  tide::heap_allocator<double> b;
  tide::heap_allocator<int> c(b);
  EXPECT_TRUE(a == b);
  EXPECT_TRUE(a == c);
  EXPECT_FALSE(a != b);
  static_assert(std::allocator_traits<tide::heap_allocator<int>>::is_always_equal::value);
  // Memory from one allocator freed by another, of another type.
  int* p = a.allocate(10);
  p[9] = 1;
  tide::heap_allocator<int>(tide::heap_allocator<char>()).deallocate(p, 10);
}

TEST(HeapAllocatorBasics, OverAlignedTypesAreAligned) {
  struct alignas(64) line {
    unsigned char bytes[64];
  };
  struct alignas(4096) page_aligned {
    unsigned char bytes[100];
  };
  tide::heap_allocator<line> lines;
  tide::heap_allocator<page_aligned> pages;
  for (std::size_t n : {1u, 3u, 100u}) {
    line* l = lines.allocate(n);
    page_aligned* p = pages.allocate(n);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(l) % 64, 0u) << n << " lines";
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 4096, 0u) << n << " pages";
    lines.deallocate(l, n);
    pages.deallocate(p, n);
  }
}

TEST(HeapAllocatorBasics, OverflowingCountThrowsBadArrayNewLength) {
  tide::heap_allocator<std::uint64_t> words;
  const std::size_t max = std::numeric_limits<std::size_t>::max();
  EXPECT_THROW((void)words.allocate(max / sizeof(std::uint64_t) + 1), std::bad_array_new_length);
  EXPECT_THROW((void)words.allocate(max), std::bad_array_new_length);
  struct big {
    char bytes[1000];
  };
  EXPECT_THROW((void)tide::heap_allocator<big>().allocate(max / 1000 + 1), std::bad_array_new_length);
  // No overflow, but more than the OS gives: std::bad_alloc.
  EXPECT_THROW((void)tide::heap_allocator<char>().allocate(max), std::bad_alloc);
  const std::uint64_t live = live_objects();
  std::uint64_t* p = words.allocate(4);  // still usable
  EXPECT_EQ(live_objects(), live + 1);
  words.deallocate(p, 4);
  EXPECT_EQ(live_objects(), live);
}

// A randomized differential test: heap_map and heap_set mirror std::unordered_map / set
// through inserts, erases, rehash, reserve and shrink_to_fit, compared in full (find for every
// key, one iteration visiting exactly the reference's keys) every so often and at the end.
using HeapMap = LiveObjectsBalance;

TEST_F(HeapMap, DifferentialAgainstUnorderedMap) {
  {
    tide::heap_map<std::uint64_t, std::uint64_t> m;
    tide::heap_set<std::uint64_t> s;
    tide::heap_map<std::string, std::string> strings;
    std::unordered_map<std::uint64_t, std::uint64_t> ref;
    std::unordered_set<std::uint64_t> ref_set;
    std::unordered_map<std::string, std::string> ref_strings;
    tide_test::rng rng(77);
    const std::size_t ops = tide_test::scaled(300'000, 10'000);
    const std::uint64_t key_range = tide_test::scaled(20'000, 1'000);
    for (std::size_t op = 0; op < ops; ++op) {
      const std::uint64_t k = tide_test::scramble(rng.below(key_range), 5);
      const std::uint64_t r = rng.below(100);
      if (r < 45) {
        const bool added = m.insert_or_assign(k, op).second;
        ASSERT_EQ(added, ref.insert_or_assign(k, op).second) << "insert_or_assign at op " << op;
        ASSERT_EQ(s.insert(k).second, ref_set.insert(k).second) << "set insert at op " << op;
        if (op % 8 == 0) {
          const std::string key = tide_test::string_key(k % 5000);
          strings[key] = std::to_string(op);
          ref_strings[key] = std::to_string(op);
        }
      } else if (r < 90) {
        ASSERT_EQ(m.erase(k), ref.erase(k)) << "erase at op " << op;
        ASSERT_EQ(s.erase(k), ref_set.erase(k)) << "set erase at op " << op;
        if (op % 8 == 1) {
          const std::string key = tide_test::string_key(k % 5000);
          ASSERT_EQ(strings.erase(key), ref_strings.erase(key));
        }
      } else if (r < 97) {
        auto it = m.find(k);
        auto rit = ref.find(k);
        ASSERT_EQ(it == m.end(), rit == ref.end()) << "find at op " << op;
        if (it != m.end()) {
          ASSERT_EQ(it->second, rit->second) << "find at op " << op;
        }
        ASSERT_EQ(s.contains(k), ref_set.count(k) == 1) << "set contains at op " << op;
      } else if (r < 98) {
        m.rehash(rng.below(4) == 0 ? 0 : rng.below(4 * key_range));
        s.reserve(rng.below(2 * key_range));
      } else if (r < 99) {
        m.shrink_to_fit();
        s.shrink_to_fit();
        strings.shrink_to_fit();
      } else if (rng.below(10) == 0) {
        // Erase half by iterator, then compare everything.
        for (auto it = m.begin(); it != m.end();) {
          if (it->second % 2 == 0) {
            ref.erase(it->first);
            it = m.erase(it);
          } else {
            ++it;
          }
        }
        ASSERT_TRUE(tide_test::same_contents(m, ref)) << "at op " << op;
        ASSERT_TRUE(tide_test::same_set_contents(s, ref_set)) << "at op " << op;
        ASSERT_TRUE(tide_test::same_contents(strings, ref_strings)) << "at op " << op;
      }
      ASSERT_EQ(m.size(), ref.size()) << "size at op " << op;
    }
    EXPECT_TRUE(tide_test::same_contents(m, ref));
    EXPECT_TRUE(tide_test::same_set_contents(s, ref_set));
    EXPECT_TRUE(tide_test::same_contents(strings, ref_strings));

    // Copies and moves keep the contents and stay on the heap allocator.
    tide::heap_map<std::uint64_t, std::uint64_t> copy(m);
    EXPECT_TRUE(tide_test::same_contents(copy, ref));
    tide::heap_map<std::uint64_t, std::uint64_t> moved(std::move(copy));
    EXPECT_TRUE(tide_test::same_contents(moved, ref));
    m.clear();
    m.shrink_to_fit();
    EXPECT_TRUE(m.empty());
  }
}

using PmrMap = LiveObjectsBalance;

TEST_F(PmrMap, OnTheHeapResource) {
  {
    tide::pmr::map<int, std::pmr::string> m(tide::heap_resource::get());
    const std::uint64_t empty = live_objects();
    std::unordered_map<int, std::string> ref;
    for (int i = 0; i < 20'000; ++i) {
      // A pmr::string in the map takes the map's resource: its long text is on the heap too.
      const std::string text = std::string(30 + i % 20, 'x') + std::to_string(i);
      m.try_emplace(i, text.c_str());
      ref.try_emplace(i, text);
    }
    EXPECT_GE(live_objects() - empty, 20'000u) << "the strings' text is on tide::heap";
    for (int i = 0; i < 20'000; i += 3) {
      m.erase(i);
      ref.erase(i);
    }
    ASSERT_EQ(m.size(), ref.size());
    for (const auto& [k, v] : ref) {
      auto it = m.find(k);
      ASSERT_NE(it, m.end()) << "find(" << k << ") got end()";
      ASSERT_EQ(std::string_view(it->second), v) << "find(" << k << ")";
    }
    EXPECT_EQ(m.get_allocator().resource(), tide::heap_resource::get());
  }
}

TEST_F(PmrMap, OnAMonotonicBufferOverTheHeapResource) {
  {
    std::pmr::monotonic_buffer_resource arena(tide::heap_resource::get());
    const std::uint64_t before = live_objects();
    {
      tide::pmr::map<std::uint64_t, std::uint64_t> m(&arena);
      for (std::uint64_t i = 0; i < 50'000; ++i) m.emplace(i * 0x9e3779b97f4a7c15ull, i);
      for (std::uint64_t i = 0; i < 50'000; i += 2) m.erase(i * 0x9e3779b97f4a7c15ull);
      EXPECT_EQ(m.size(), 25'000u);
      for (std::uint64_t i = 1; i < 50'000; i += 2) {
        auto it = m.find(i * 0x9e3779b97f4a7c15ull);
        ASSERT_NE(it, m.end());
        ASSERT_EQ(it->second, i);
      }
    }
    // The map is gone, but a monotonic buffer frees nothing until it is destroyed: its
    // chunks, taken from tide::heap, are still live.
    EXPECT_GT(live_objects(), before);
    arena.release();
    EXPECT_EQ(live_objects(), before) << "release() gives every chunk back to tide::heap";
  }
}

TEST_F(PmrMap, OnAMonotonicBufferOverAStackBuffer) {
  alignas(64) static unsigned char buffer[1 << 16];
  std::pmr::monotonic_buffer_resource arena(buffer, sizeof buffer, tide::heap_resource::get());
  const std::uint64_t before = live_objects();
  tide::pmr::map<int, int> m(&arena);
  for (int i = 0; i < 10; ++i) m[i] = i;
  EXPECT_EQ(m.size(), 10u);
  EXPECT_EQ(live_objects(), before) << "ten entries fit in the 64 KiB initial buffer";
  for (int i = 10; i < 20'000; ++i) m[i] = i;  // beyond it: chunks from tide::heap
  EXPECT_GT(live_objects(), before);
  for (int i = 0; i < 20'000; ++i) ASSERT_EQ(m.at(i), i);
}

TEST(HeapResource, CompareEqualToEveryHeapResourceOnly) {
  tide::heap_resource* global = tide::heap_resource::get();
  EXPECT_EQ(global, tide::heap_resource::get()) << "one process-wide instance";
  tide::heap_resource other;
  EXPECT_TRUE(global->is_equal(other));
  EXPECT_TRUE(other.is_equal(*global));
  EXPECT_FALSE(global->is_equal(*std::pmr::new_delete_resource()));
  // Memory from one freed through the other.
  void* p = global->allocate(300, 64);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 64, 0u);
  EXPECT_GE(tide::heap::usable_size(p), 300u);
  other.deallocate(p, 300, 64);
}

}  // namespace
