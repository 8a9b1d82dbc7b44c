// tide::map's part of the event trace (TIDE_TRACE=1, see docs/heap.md "Trace and
// environment"): a line on stderr for each table grown, shrunk, cleaned, split or merged,
// with the map's totals. Off unless the environment variable is set when a map first
// rebuilds a table; the check is one load on paths that already move entries.
#pragma once

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace tide::detail {

inline bool map_tracing() noexcept {
  static const bool on = [] {
    const char* v = std::getenv("TIDE_TRACE");
    return v != nullptr && (std::strcmp(v, "1") == 0 || std::strcmp(v, "on") == 0 ||
                            std::strcmp(v, "true") == 0);
  }();
  return on;
}

// "tide: map <map>: <event> [<tables> tables, <entries> entries, <KiB> KiB of tables]"
inline void trace_map_event(const void* map, std::size_t tables, std::size_t entries,
                            std::size_t table_bytes, const char* format, ...) noexcept
    __attribute__((format(printf, 5, 6)));

inline void trace_map_event(const void* map, std::size_t tables, std::size_t entries,
                            std::size_t table_bytes, const char* format, ...) noexcept {
  char event[160];
  va_list args;
  va_start(args, format);
  std::vsnprintf(event, sizeof event, format, args);
  va_end(args);
  std::fprintf(stderr, "tide: map %p: %s [%zu tables, %zu entries, %zu KiB of tables]\n", map,
               event, tables, entries, table_bytes >> 10);
}

}  // namespace tide::detail
