// The heap's event trace. See trace.hpp.
#include "trace.hpp"

#include <unistd.h>

#include <cstdarg>
#include <cstdio>

namespace tide::heap::detail {

void trace_heap_event(const trace_totals& totals, const char* format, ...) noexcept {
  char line[256];
  int n = std::snprintf(line, sizeof line, "tide: heap: ");
  va_list args;
  va_start(args, format);
  n += std::vsnprintf(line + n, sizeof line - static_cast<std::size_t>(n), format, args);
  va_end(args);
  if (n < static_cast<int>(sizeof line)) {
    constexpr double mib = 1 << 20;
    n += std::snprintf(line + n, sizeof line - static_cast<std::size_t>(n),
                       " [arenas %.1f MiB: in use %.1f, idle %.1f, released %.1f MiB]\n",
                       static_cast<double>(totals.arena) / mib,
                       static_cast<double>(totals.in_use) / mib,
                       static_cast<double>(totals.idle) / mib,
                       static_cast<double>(totals.released) / mib);
  }
  const auto length = n < static_cast<int>(sizeof line) ? static_cast<std::size_t>(n) : sizeof line - 1;
  if (length == sizeof line - 1) line[length - 1] = '\n';
  [[maybe_unused]] const ssize_t written = ::write(STDERR_FILENO, line, length);
}

}  // namespace tide::heap::detail
