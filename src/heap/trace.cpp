// The heap's event trace. See trace.hpp.
#include "trace.hpp"

#include <unistd.h>

#include <cstdarg>
#include <cstdio>

namespace tide::heap::detail {

void write_stderr_line(const char* format, ...) noexcept {
  char line[512];
  va_list args;
  va_start(args, format);
  const int n = std::vsnprintf(line, sizeof line - 1, format, args);
  va_end(args);
  if (n < 0) return;
  std::size_t length = static_cast<std::size_t>(n) < sizeof line - 1 ? static_cast<std::size_t>(n)
                                                                       : sizeof line - 2;
  line[length++] = '\n';
  [[maybe_unused]] const ssize_t written = ::write(STDERR_FILENO, line, length);
}

void trace_heap_event(const trace_totals& totals, const char* format, ...) noexcept {
  char event[256];
  va_list args;
  va_start(args, format);
  std::vsnprintf(event, sizeof event, format, args);
  va_end(args);
  constexpr double mib = 1 << 20;
  write_stderr_line("tide: heap: %s [arenas %.1f MiB: in use %.1f, idle %.1f, released %.1f MiB]",
                    event, static_cast<double>(totals.arena) / mib,
                    static_cast<double>(totals.in_use) / mib, static_cast<double>(totals.idle) / mib,
                    static_cast<double>(totals.released) / mib);
}

}  // namespace tide::heap::detail
