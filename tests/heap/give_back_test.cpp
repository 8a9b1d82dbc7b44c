// Give-back: allocate 256 MiB as small objects, free them all, release the free pages, and
// RSS (from /proc/self/statm) is back within 5% or 4 MiB, whichever is larger, of its value
// before. The 4 MiB allowance covers what the heap keeps: span records (about 80 B per 8 KiB
// span, 2.5 MiB for 256 MiB) and page map entries (8 B per page, 256 KiB). 64 MiB under
// sanitizers (TIDE_TEST_SCALE scales it).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "global_heap.hpp"
#include "os.hpp"
#include "support/random.hpp"
#include "support/scale.hpp"
#include "tide/heap.hpp"

namespace {

using tide::heap::detail::os_resident_bytes;

TEST(HeapGiveBack, FreeingEverythingAndReleasingReturnsRss) {
  const std::size_t target = tide_test::scaled(std::size_t{256} << 20, std::size_t{16} << 20);
  tide_test::rng rng(3);
  // The bookkeeping is allocated and touched before the first measurement.
  std::vector<std::pair<void*, std::uint32_t>> objects(target / 16);
  std::fill(objects.begin(), objects.end(), std::pair<void*, std::uint32_t>{nullptr, 0});
  const std::size_t before = os_resident_bytes();
  ASSERT_GT(before, 0u) << "/proc/self/statm is unreadable";

  std::size_t bytes = 0;
  std::size_t count = 0;
  while (bytes < target) {
    const auto size = static_cast<std::uint32_t>(16 + rng.below(1024 - 16));
    auto* p = static_cast<unsigned char*>(tide::heap::allocate(size));
    p[0] = 1;  // touch: the object's pages become resident
    p[size - 1] = 2;
    objects[count++] = {p, size};
    bytes += size;
  }
  const std::size_t peak = os_resident_bytes();
  EXPECT_GE(peak, before + target / 2) << "the objects should have made RSS grow";

  for (std::size_t i = 0; i < count; ++i)
    tide::heap::deallocate(objects[i].first, objects[i].second);
  const std::size_t released = tide::heap::detail::release_free_pages();
  const std::size_t after = os_resident_bytes();
  const std::size_t allowance = std::max(before / 20, std::size_t{4} << 20);
  EXPECT_GE(released, target) << "released " << released << " B";
  EXPECT_LE(after, before + allowance)
      << "RSS before " << before << " B, at peak " << peak << " B, after release " << after << " B";
  tide::heap::detail::the_heap().pages.check_invariants();
}

}  // namespace
