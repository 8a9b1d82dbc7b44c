// The memstats stream. See stats_reporter.hpp.
#include "stats_reporter.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "os.hpp"
#include "tide/memstats.hpp"

namespace tide::heap::detail {

namespace {

int stream_fd = -1;
std::uint64_t started_ms = 0;
// The periodic thread runs on while the process exits, so the final line must keep it from
// writing after it. The final writer sets final_written, then waits while a periodic write of
// this process is in progress; a periodic writer claims periodic_writer (with its pid) and only
// then checks final_written. Both are seq_cst, so one of them sees the other. The pid, not a
// flag, marks the write in progress: a child forked during one inherits the parent's pid
// there and does not wait for a thread it does not have.
std::atomic<bool> final_written{false};
std::atomic<int> periodic_writer{0};

void write_line(bool final) noexcept {
  const memstats s = read_memstats();
  char line[1024];
  const int n = std::snprintf(
      line, sizeof line,
      "{\"pid\":%d,\"ms\":%llu,\"final\":%s,\"live_bytes\":%zu,\"live_objects\":%llu,"
      "\"mallocs\":%llu,\"frees\":%llu,\"in_use_bytes\":%zu,\"idle_bytes\":%zu,"
      "\"released_bytes\":%zu,\"arena_bytes\":%zu,\"metadata_bytes\":%zu,\"os_bytes\":%zu,"
      "\"footprint_bytes\":%zu,\"cached_bytes\":%zu,\"thread_caches\":%zu,"
      "\"released_total_bytes\":%llu,\"memory_limit\":%zu,\"pressure_events\":%llu,"
      "\"resident_bytes\":%zu}\n",
      static_cast<int>(::getpid()),
      static_cast<unsigned long long>(os_monotonic_ms() - started_ms), final ? "true" : "false",
      s.live_bytes, static_cast<unsigned long long>(s.live_objects),
      static_cast<unsigned long long>(s.mallocs), static_cast<unsigned long long>(s.frees),
      s.in_use_bytes, s.idle_bytes, s.released_bytes, s.arena_bytes, s.metadata_bytes,
      s.os_bytes, s.footprint_bytes, s.cached_bytes, s.thread_caches,
      static_cast<unsigned long long>(s.released_total_bytes), s.memory_limit,
      static_cast<unsigned long long>(s.pressure_events), os_resident_bytes());
  if (n <= 0 || static_cast<std::size_t>(n) >= sizeof line) return;
  for (;;) {  // one write: a pipe takes up to PIPE_BUF bytes whole
    const ssize_t written = ::write(stream_fd, line, static_cast<std::size_t>(n));
    if (written >= 0 || errno != EINTR) return;
  }
}

void write_periodic_line() noexcept {
  int idle = 0;
  if (!periodic_writer.compare_exchange_strong(idle, static_cast<int>(::getpid()))) return;
  if (!final_written.load()) write_line(false);
  periodic_writer.store(0);
}

void write_final_line() noexcept {
  final_written.store(true);
  while (periodic_writer.load() == static_cast<int>(::getpid())) std::this_thread::yield();
  write_line(true);
}

}  // namespace

void start_stats_stream(int fd, std::chrono::milliseconds interval) noexcept {
  stream_fd = fd;
  started_ms = os_monotonic_ms();
  std::atexit(write_final_line);
  try {
    std::thread([interval] {
      for (;;) {
        std::this_thread::sleep_for(interval);
        write_periodic_line();
      }
    }).detach();
  } catch (const std::exception&) {  // std::system_error: no thread; the final line remains
  }
}

}  // namespace tide::heap::detail
