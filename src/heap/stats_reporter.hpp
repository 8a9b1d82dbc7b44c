// The memstats stream that `tide stats -- COMMAND` reads (tools/tide/stats). See docs/heap.md
// ("Trace and environment").
//
// With TIDE_STATS_FD=n in the environment (tide stats sets it, with LD_PRELOAD), the heap
// starts a thread that writes one line of memstats to file descriptor n every
// TIDE_STATS_INTERVAL (default 200 ms), and the process writes a last line at exit:
//
//   {"pid":4242,"ms":1200,"final":false,"live_bytes":...,"mallocs":...,...}
//
// Lines are formatted on the stack (no allocation) and written with one write(2) each, well
// under PIPE_BUF: the processes of a pipeline or a shell script, which inherit the variable
// and the descriptor, can share one pipe without their lines interleaving.
#pragma once

#include <chrono>

namespace tide::heap::detail {

// Starts the stream on `fd`. Call once; a failure to start the thread is ignored (the final
// line is still written at exit).
void start_stats_stream(int fd, std::chrono::milliseconds interval) noexcept;

}  // namespace tide::heap::detail
