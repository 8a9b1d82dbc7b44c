// fixed_pool: records distinct and aligned, recycled, and pages without a live record given
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

TEST(FixedPool, PagesWithoutALiveRecordGoBackToTheOSAndAreUsedAgain) {
  fixed_pool pool(record_bytes);
  std::vector<void*> records;
  for (std::size_t i = 0; i < 3 * per_chunk; ++i) records.push_back(pool.allocate());
  for (void* r : records) std::memset(r, 1, record_bytes);
  const std::size_t resident_full = pool.resident_bytes();
  EXPECT_GE(resident_full, records.size() * record_bytes);
  EXPECT_EQ(pool.release_unused_pages(), 0u) << "every page holds a live record";

  // Keep one record in 500: every page but those holding a survivor can go.
  std::vector<void*> survivors;
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (i % 500 == 0) {
      survivors.push_back(records[i]);
    } else {
      pool.deallocate(records[i]);
    }
  }
  pool.check_invariants();
  const std::size_t released = pool.release_unused_pages();
  EXPECT_GE(released, resident_full * 3 / 4) << "released " << released << " of " << resident_full;
  EXPECT_LE(pool.resident_bytes(), resident_full - released);
  EXPECT_EQ(pool.release_unused_pages(), 0u) << "nothing is released twice";
  pool.check_invariants();
  for (void* r : survivors) {
    for (std::size_t k = 0; k < record_bytes; ++k) {
      ASSERT_EQ(static_cast<unsigned char*>(r)[k], 1u) << "a survivor's page was dropped";
    }
  }

  // Records in released pages are handed out again (zero-filled pages, faulted back in).
  std::vector<void*> again;
  for (std::size_t i = 0; i < 2 * per_chunk; ++i) {
    void* r = pool.allocate();
    ASSERT_NE(r, nullptr);
    std::memset(r, 2, record_bytes);
    again.push_back(r);
  }
  std::set<void*> distinct(again.begin(), again.end());
  distinct.insert(survivors.begin(), survivors.end());
  EXPECT_EQ(distinct.size(), again.size() + survivors.size());
  pool.check_invariants();
  for (void* r : again) pool.deallocate(r);
  for (void* r : survivors) pool.deallocate(r);
  EXPECT_EQ(pool.live(), 0u);
  pool.release_unused_pages();
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
