// The OS layer. See os.hpp for the memory states.
#include "os.hpp"

#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>

#include "tide/detail/config.hpp"

namespace tide::heap::detail {

std::uint64_t os_monotonic_ms() noexcept {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1000 +
         static_cast<std::uint64_t>(now.tv_nsec) / 1000000;
}

void* os_reserve(std::size_t bytes, std::size_t align) noexcept {
  TIDE_ASSERT(bytes % os_page_bytes == 0 && align % os_page_bytes == 0,
              "os_reserve: sizes must be whole OS pages");
  // A mapping of exactly `bytes` is often aligned already (the kernel places it right below
  // the previous one, commonly an earlier reservation of whole pages): keep it if so, since
  // a munmap can cost tens of microseconds (a TLB shootdown once other threads have run).
  // Worth trying only when the odds are good, os_page_bytes / align at the least.
  if (align <= 2 * os_page_bytes) {
    void* exact = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (exact == MAP_FAILED) return nullptr;
    if (reinterpret_cast<std::uintptr_t>(exact) % align == 0) return exact;
    ::munmap(exact, bytes);
  }
  // Over-reserve by `align` and trim both ends, so the start is aligned.
  const std::size_t padded = bytes + align;
  if (padded < bytes) return nullptr;
  void* raw = ::mmap(nullptr, padded, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const auto base = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t start = (base + align - 1) & ~(std::uintptr_t{align} - 1);
  if (start > base) ::munmap(raw, start - base);
  const std::uintptr_t end = start + bytes;
  if (base + padded > end) ::munmap(reinterpret_cast<void*>(end), base + padded - end);
  return reinterpret_cast<void*>(start);
}

void os_unreserve(void* start, std::size_t bytes) noexcept { ::munmap(start, bytes); }

void os_release(void* start, std::size_t bytes) noexcept {
  TIDE_ASSERT(
      reinterpret_cast<std::uintptr_t>(start) % os_page_bytes == 0 && bytes % os_page_bytes == 0,
      "os_release: range must be whole OS pages");
  const int rc = ::madvise(start, bytes, MADV_DONTNEED);
  TIDE_CHECK(rc == 0, "madvise(MADV_DONTNEED) failed on heap memory");
}

std::size_t os_resident_bytes() noexcept {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0;
  unsigned long resident = 0;
  const int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  if (n != 2) return 0;
  return static_cast<std::size_t>(resident) * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

std::size_t os_resident_bytes_in(const void* start, std::size_t bytes) noexcept {
  constexpr std::size_t batch_pages = 1024;  // mincore() fills one byte per OS page
  unsigned char vec[batch_pages];
  std::size_t resident = 0;
  auto* p = static_cast<unsigned char*>(const_cast<void*>(start));
  for (std::size_t done = 0; done < bytes;) {
    const std::size_t n = std::min(batch_pages * os_page_bytes, bytes - done);
    if (::mincore(p + done, n, vec) != 0) return resident;
    for (std::size_t i = 0; i < n / os_page_bytes; ++i) resident += (vec[i] & 1) * os_page_bytes;
    done += n;
  }
  return resident;
}

}  // namespace tide::heap::detail
