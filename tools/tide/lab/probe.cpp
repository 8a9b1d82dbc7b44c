// Process and allocator memory figures for the lab. See probe.hpp.
#include "lab/probe.hpp"

#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <cstdlib>
#include <tide/heap.hpp>
#include <tide/memstats.hpp>

namespace tide_lab {

std::size_t resident_bytes() noexcept {
  const int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char text[128];
  const ssize_t n = read(fd, text, sizeof(text) - 1);
  close(fd);
  if (n <= 0) return 0;
  text[n] = '\0';
  char* end = nullptr;
  std::strtoul(text, &end, 10);  // total program size
  const unsigned long resident_pages = std::strtoul(end, &end, 10);
  return static_cast<std::size_t>(resident_pages) * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

allocator_figures read_allocator(bool tide_heap) {
  allocator_figures f;
  if (tide_heap) {
    const tide::memstats s = tide::read_memstats();
    f.allocated_bytes = s.live_bytes;
    f.held_bytes = s.footprint_bytes;
  } else {
    const struct mallinfo2 m = mallinfo2();
    f.allocated_bytes = m.uordblks + m.hblkhd;
    f.held_bytes = m.arena + m.hblkhd;
  }
  return f;
}

void release_allocator(bool tide_heap) {
  if (tide_heap) tide::release_memory();
  malloc_trim(0);
}

}  // namespace tide_lab
