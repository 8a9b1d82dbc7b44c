// fixed_pool: records distinct and aligned, recycled, and chunks without a live record given
// back to the OS and used again.
#include "fixed_pool.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <set>
#include <vector>

#include "os.hpp"

namespace {

using tide::heap::detail::fixed_pool;

constexpr std::size_t record_bytes = 72;  // a span record
constexpr std::size_t per_chunk = fixed_pool::chunk_bytes / record_bytes;

TEST(FixedPool, RecordsAreDistinctAlignedAndRecycled) {
  fixed_pool pool(record_bytes);
  std::vector<void*> records;
  for (std::size_t i = 0; i < 2 * per_chunk; ++i) {  // more than one chunk
    void* r = pool.allocate();
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(r) % 8, 0u);
    std::memset(r, 0xab, record_bytes);
    records.push_back(r);
  }
  EXPECT_EQ(pool.live(), records.size());
  EXPECT_EQ(std::set<void*>(records.begin(), records.end()).size(), records.size());
  void* last = records.back();
  pool.deallocate(last);
  EXPECT_EQ(pool.allocate(), last) << "a freed record is the next one handed out";
  pool.check_invariants();
  for (void* r : records) pool.deallocate(r);
  EXPECT_EQ(pool.live(), 0u);
  pool.check_invariants();
}

TEST(FixedPool, EmptyChunksGoBackToTheOSAndAreUsedAgain) {
  fixed_pool pool(record_bytes);
  std::vector<void*> records;
  for (std::size_t i = 0; i < 3 * per_chunk; ++i) records.push_back(pool.allocate());
  for (void* r : records) std::memset(r, 1, record_bytes);
  const std::size_t carved_full = pool.carved_bytes();
  EXPECT_GE(carved_full, records.size() * record_bytes);
  EXPECT_EQ(pool.release_empty_chunks(), 0u) << "every chunk holds live records";

  void* survivor = records[per_chunk / 2];  // keeps the first chunk
  for (void* r : records) {
    if (r != survivor) pool.deallocate(r);
  }
  pool.check_invariants();
  const std::size_t released = pool.release_empty_chunks();
  EXPECT_GE(released, 2 * (fixed_pool::chunk_bytes - tide::heap::detail::os_page_bytes));
  EXPECT_LT(pool.carved_bytes(), carved_full / 2);
  EXPECT_EQ(pool.release_empty_chunks(), 0u) << "nothing is released twice";
  pool.check_invariants();

  // The released chunks are carved again.
  std::vector<void*> again;
  for (std::size_t i = 0; i < 2 * per_chunk; ++i) {
    void* r = pool.allocate();
    ASSERT_NE(r, nullptr);
    std::memset(r, 2, record_bytes);
    again.push_back(r);
  }
  EXPECT_EQ(std::set<void*>(again.begin(), again.end()).size(), again.size());
  pool.check_invariants();
  for (void* r : again) pool.deallocate(r);
  pool.deallocate(survivor);
  EXPECT_EQ(pool.live(), 0u);
  pool.check_invariants();
}

TEST(FixedPool, AllocatesFromTheLowestChunkWithRoom) {
  fixed_pool pool(record_bytes);
  std::vector<void*> records;
  for (std::size_t i = 0; i < 3 * per_chunk; ++i) records.push_back(pool.allocate());
  // Free one record in every chunk: the next allocation takes the lowest of them.
  std::set<void*> one_per_chunk;
  std::set<std::uintptr_t> chunks_seen;
  for (void* r : records) {
    const std::uintptr_t chunk = reinterpret_cast<std::uintptr_t>(r) / fixed_pool::chunk_bytes;
    if (chunks_seen.insert(chunk).second) one_per_chunk.insert(r);
  }
  ASSERT_GE(one_per_chunk.size(), 3u);
  void* highest = *one_per_chunk.rbegin();
  for (void* r : one_per_chunk) pool.deallocate(r);
  EXPECT_TRUE(pool.has_lower_room(highest));
  EXPECT_FALSE(pool.has_lower_room(*one_per_chunk.begin()));
  void* lowest_chunk_record = pool.allocate();
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(lowest_chunk_record) / fixed_pool::chunk_bytes,
            reinterpret_cast<std::uintptr_t>(*one_per_chunk.begin()) / fixed_pool::chunk_bytes);
  pool.check_invariants();
  pool.deallocate(lowest_chunk_record);
  for (void* r : records) {
    if (one_per_chunk.count(r) == 0) pool.deallocate(r);
  }
  EXPECT_EQ(pool.live(), 0u);
}

}  // namespace
