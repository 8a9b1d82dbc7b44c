// Environment knobs, read once when the heap is created (so they work for programs linked
// with tide and under LD_PRELOAD=libtide_malloc.so alike). See docs/heap.md ("Trace and
// environment").
//
//   TIDE_MEMORY_LIMIT=512MiB   the soft memory limit (bytes, or with K/M/G, KiB/MiB/GiB)
//   TIDE_RELEASE_DELAY=2s      the scavenger's delay (ms if no unit; ms or s), or "off"
//   TIDE_STATS_ON_EXIT=1       print memstats on stderr when the program exits
//   TIDE_PROFILE=heap.pb.gz    sample allocations and write a pprof heap profile there at exit
//                              (a forked child writes heap.pb.gz.<pid>)
//   TIDE_PROFILE_RATE=512KiB   bytes per sample (default 512 KiB; alone: sample, and let the
//                              program call tide::write_heap_profile)
//   TIDE_STATS_FD=3            a line of memstats to fd 3 every TIDE_STATS_INTERVAL (default
//                              200 ms) and at exit: what `tide stats -- COMMAND` reads
//                              (stats_reporter.hpp)
//   TIDE_TRACE=1               one line on stderr per heap event (trace.hpp) and per tide::map
//                              rebuild (include/tide/detail/trace.hpp)
//
// A malformed value gets a one-line warning on stderr and the default; never a crash.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace tide::heap::detail {

// Go's default MemProfileRate.
inline constexpr std::size_t default_profile_rate = std::size_t{512} << 10;

// Applies the knobs above. Called once, after the heap exists.
void apply_environment() noexcept;

// The parsers, exposed for the tests. nullopt: malformed.
std::optional<std::size_t> parse_bytes(std::string_view text) noexcept;
std::optional<std::size_t> parse_milliseconds(std::string_view text) noexcept;  // "off": SIZE_MAX
std::optional<bool> parse_switch(std::string_view text) noexcept;               // 1/0, on/off

}  // namespace tide::heap::detail
