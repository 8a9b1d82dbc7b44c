// The process's memory as the kernel counts it: resident bytes now (/proc/self/statm) and the
// peak resident bytes so far (getrusage). Shared by the benchmarks (bench/) and the lab
// (tools/tide).
#pragma once

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>

namespace tide_tools {

// Resident bytes now; 0 if /proc/self/statm cannot be read. Reads with system calls into a
// stack buffer, never malloc: sampling must not call into the allocator under test, or an
// allocator that returns memory only from inside malloc/free would be woken by the sampling.
inline std::size_t resident_bytes() noexcept {
  const int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char text[128];
  const ssize_t n = read(fd, text, sizeof(text) - 1);
  close(fd);
  if (n <= 0) return 0;
  text[n] = '\0';
  char* end = nullptr;
  std::strtoul(text, &end, 10);  // the first field: total program size
  const unsigned long resident_pages = std::strtoul(end, &end, 10);
  return static_cast<std::size_t>(resident_pages) * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

// The largest resident set of the process so far (ru_maxrss, which Linux counts in KiB).
inline std::size_t peak_resident_bytes() noexcept {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::size_t>(usage.ru_maxrss) * 1024;
}

}  // namespace tide_tools
