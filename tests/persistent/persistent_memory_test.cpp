// tide::persistent_map memory, counted by tide::counting_allocator: single-key updates of a
// large map add one path of nodes each (not a copy), memory() and shared_with() agree with
// the allocator, and everything is freed when the last version dies.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <tide/counting_allocator.hpp>
#include <tide/persistent_map.hpp>
#include <vector>

#include "support/random.hpp"
#include "support/scale.hpp"

namespace {

using counted_alloc = tide::counting_allocator<std::pair<const std::uint64_t, std::uint64_t>>;
using counted_map = tide::persistent_map<std::uint64_t, std::uint64_t, tide::hash<std::uint64_t>,
                                         std::equal_to<std::uint64_t>, counted_alloc>;
using peer = tide::detail::persistent_map_test_peer<counted_map>;

counted_map build(tide::allocation_counter& counter, const std::vector<std::uint64_t>& keys) {
  auto builder = counted_map(counted_alloc(counter)).transient();
  for (std::uint64_t i = 0; i < keys.size(); ++i) builder.set(keys[i], i);
  return builder.persistent();
}

// ceil(log32(n)): the depth of a perfectly balanced 32-way trie of n entries.
std::size_t log32_ceil(std::size_t n) {
  std::size_t levels = 1;
  for (std::size_t capacity = 32; capacity < n; capacity *= 32) ++levels;
  return levels;
}

TEST(PersistentMapMemory, ThousandUpdatesAddPathsNotCopies) {
  const std::size_t n = tide_test::scaled(1000000, 20000);
  const std::vector<std::uint64_t> keys = tide_test::distinct_random_keys(n, 7);
  tide::allocation_counter counter;
  std::vector<counted_map> versions{build(counter, keys)};
  const std::size_t base_bytes = counter.bytes_in_use();
  const std::uint64_t base_allocations = counter.allocations();
  ASSERT_EQ(versions[0].memory().bytes, base_bytes);

  // Every update replaces the value of an existing key: it copies exactly the nodes on that
  // key's path, which the test peer measures in the version being updated.
  tide_test::rng random(8);
  std::size_t path_nodes = 0;
  std::size_t path_bytes = 0;
  constexpr std::size_t updates = 1000;
  for (std::size_t i = 0; i < updates; ++i) {
    const std::uint64_t key = keys[random.below(keys.size())];
    const auto path = peer::path(versions.back(), key);
    path_nodes += path.nodes;
    path_bytes += path.bytes;
    versions.push_back(versions.back().set(key, n + i));  // never the value it had: a copy
  }
  const std::size_t added_nodes = counter.allocations() - base_allocations;
  const std::size_t added_bytes = counter.bytes_in_use() - base_bytes;
  EXPECT_EQ(added_nodes, path_nodes) << "an update allocated nodes off its key's path";
  EXPECT_EQ(added_bytes, path_bytes);

  // The O(1000 * log32 N) bound, explicit: a random key's path is on average about
  // log32(N) + 0.5 nodes long (the deepest paths are longer, but rare); allow 2 extra levels
  // on average, each node at most the largest node of the map.
  const std::size_t levels = log32_ceil(n) + 2;
  EXPECT_LE(added_nodes, updates * levels);
  EXPECT_LE(added_bytes, updates * levels * peer::largest_node_bytes(versions[0]));
  // And nowhere near 1000 copies of the map (one copy is base_bytes): under a hundredth.
  EXPECT_LT(added_bytes, updates * base_bytes / 100) << "1000 updates cost 10 copies or more";

  // Each version's own view agrees: the last differs from the first only on the paths.
  const auto last = versions.back().memory();
  const auto shared = versions.back().shared_with(versions.front());
  EXPECT_EQ(last.bytes, versions.front().memory().bytes) << "same shape, same node sizes";
  EXPECT_LE(last.nodes - shared.nodes, path_nodes);
  versions.clear();
  EXPECT_EQ(counter.bytes_in_use(), 0u);
}

TEST(PersistentMapMemory, MemoryAndSharedWithMatchTheAllocator) {
  tide::allocation_counter counter;
  const std::vector<std::uint64_t> keys = tide_test::distinct_random_keys(20000, 9);
  const counted_map a = build(counter, keys);
  EXPECT_EQ(a.memory().bytes, counter.bytes_in_use());
  EXPECT_EQ(a.memory().nodes, counter.allocations() - counter.deallocations());
  EXPECT_EQ(a.shared_with(a), a.memory());

  counted_map b = a;
  for (std::uint64_t i = 0; i < 100; ++i) b = b.set(keys[i * 7], 0);
  for (std::uint64_t i = 0; i < 100; ++i) b = b.erase(keys[i * 11]);
  for (std::uint64_t i = 0; i < 100; ++i) b = b.set(i, i);  // new keys
  const auto shared = a.shared_with(b);
  EXPECT_EQ(shared, b.shared_with(a));
  EXPECT_EQ(a.memory().bytes + b.memory().bytes - shared.bytes, counter.bytes_in_use())
      << "the two versions hold their own nodes once and the shared ones once";
  EXPECT_LT(shared.bytes, a.memory().bytes);
  EXPECT_GT(shared.bytes, a.memory().bytes / 2);

  const counted_map unrelated = build(counter, keys);
  EXPECT_EQ(unrelated.shared_with(a).bytes, 0u) << "equal contents, no node in common";
  EXPECT_TRUE(unrelated == a);
}

TEST(PersistentMapMemory, LastVersionFreesEverything) {
  tide::allocation_counter counter;
  const std::vector<std::uint64_t> keys =
      tide_test::distinct_random_keys(tide_test::scaled(50000, 2000), 10);
  {
    std::vector<counted_map> versions{build(counter, keys)};
    tide_test::rng random(11);
    for (int i = 0; i < 2000; ++i) {
      const std::uint64_t key = keys[random.below(keys.size())];
      versions.push_back(random.chance(1, 2) ? versions.back().erase(key)
                                             : versions.back().set(key, 1));
      if (i % 500 == 0) {
        auto builder = versions.back().transient();
        for (int j = 0; j < 300; ++j) builder.erase(keys[random.below(keys.size())]);
        versions.push_back(builder.persistent());
      }
    }
    // Drop every version but the last, in random order: the last one's nodes must survive.
    while (versions.size() > 1) {
      const std::size_t victim = random.below(versions.size() - 1);
      versions.erase(versions.begin() + static_cast<std::ptrdiff_t>(victim));
    }
    EXPECT_EQ(versions.back().memory().bytes, counter.bytes_in_use());
    versions.back().check_invariants();

    // Erasing every entry leaves a version that holds nothing.
    auto builder = versions.back().transient();
    for (const std::uint64_t key : keys) builder.erase(key);
    const counted_map empty = builder.persistent();
    EXPECT_EQ(empty.size(), 0u);
    EXPECT_EQ(empty.memory().bytes, 0u);
  }
  EXPECT_EQ(counter.bytes_in_use(), 0u) << "nodes leaked";
  EXPECT_EQ(counter.allocations(), counter.deallocations());
}

}  // namespace
