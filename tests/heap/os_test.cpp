// The OS layer's reservations: aligned, writable, apart, whichever way os_reserve gets them.
#include "os.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

namespace {

using namespace tide::heap::detail;

// os_reserve keeps an exact mapping when the kernel happens to align it and trims a padded one
// otherwise; one-page reservations in between shift where the next mapping lands, so over the
// rounds both ways are taken for the small alignments (the large ones are always padded).
TEST(OS, ReservationsAreAlignedWritableAndApart) {
  for (const std::size_t align : {os_page_bytes, 2 * os_page_bytes, std::size_t{64} << 10,
                                  std::size_t{2} << 20}) {
    SCOPED_TRACE(::testing::Message() << "align " << align);
    std::vector<std::pair<void*, std::size_t>> reserved;
    for (std::size_t round = 0; round < 16; ++round) {
      const std::size_t bytes = (round % 4 + 1) * 2 * os_page_bytes;
      void* p = os_reserve(bytes, align);
      ASSERT_NE(p, nullptr);
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % align, 0u);
      std::memset(p, 0x5a, bytes);
      reserved.emplace_back(p, bytes);
      if (round % 3 == 0) {
        void* shift = os_reserve(os_page_bytes, os_page_bytes);
        ASSERT_NE(shift, nullptr);
        reserved.emplace_back(shift, os_page_bytes);
      }
    }
    for (std::size_t i = 0; i < reserved.size(); ++i) {
      const auto a = reinterpret_cast<std::uintptr_t>(reserved[i].first);
      for (std::size_t j = i + 1; j < reserved.size(); ++j) {
        const auto b = reinterpret_cast<std::uintptr_t>(reserved[j].first);
        EXPECT_TRUE(a + reserved[i].second <= b || b + reserved[j].second <= a)
            << "reservations " << i << " and " << j << " overlap";
      }
    }
    for (const auto& [p, bytes] : reserved) os_unreserve(p, bytes);
  }
}

}  // namespace
