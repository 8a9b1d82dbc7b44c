// The heap's event trace (TIDE_TRACE=1, the equivalent of Go's GODEBUG=gctrace=1): one line on
// stderr per heap event, with the heap's totals. See docs/heap.md ("Trace and environment").
//
//   tide: heap: arena grown by 64 MiB [arenas 64 MiB: in use 0.1, idle 0.0, released 63.9 MiB]
//
// Lines are formatted on the stack and written with one write(2): no allocation, so the heap
// can trace from inside itself, under its own locks.
#pragma once

#include <atomic>
#include <cstddef>

namespace tide::heap::detail {

inline constinit std::atomic<bool> tracing_on{false};

inline bool tracing() noexcept { return tracing_on.load(std::memory_order_relaxed); }

// The page heap's totals, in bytes, for the bracket at the end of a line.
struct trace_totals {
  std::size_t arena;
  std::size_t in_use;
  std::size_t idle;
  std::size_t released;
};

// Formats one line (printf; the newline is added, a line too long is cut) on the stack and
// writes it to stderr with one write(2). Every message the heap prints goes through here.
void write_stderr_line(const char* format, ...) noexcept __attribute__((format(printf, 1, 2)));

// Writes "tide: heap: <printf-formatted event> [totals]\n" to stderr.
void trace_heap_event(const trace_totals& totals, const char* format, ...) noexcept
    __attribute__((format(printf, 2, 3)));

}  // namespace tide::heap::detail
