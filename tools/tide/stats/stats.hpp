// `tide stats -- COMMAND ARGS...`: runs a program on tide::heap (LD_PRELOAD=libtide_malloc.so)
// and shows its memstats while it runs and a summary when it ends. See docs/heap.md ("tide
// stats").
//
// The program's heap writes a line of memstats to a pipe every interval and at exit
// (TIDE_STATS_FD, src/heap/stats_reporter.hpp); so do its children, which inherit
// LD_PRELOAD and the pipe. tide stats prints the root process's lines as a timeline on stderr
// (the program's stdout and stderr are left alone), then one summary line per process, and
// exits with the program's exit status (128 + N if signal N ended it; 127 if it could not be
// started).
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace tide_stats {

struct stats_options {
  std::vector<std::string> command;
  std::chrono::milliseconds interval{200};
  std::string json_path;  // empty: no JSON file
  std::string library;    // empty: found next to the tide executable
  bool quiet = false;     // no timeline, only the summary
};

// Runs the command; returns the exit status tide stats should exit with. Throws
// std::invalid_argument for bad options (no libtide_malloc.so, an unwritable --json path).
int run_stats(const stats_options& options);

// The libtide_malloc.so to preload: `requested` if given, else $TIDE_MALLOC_LIB, else the one
// installed beside this executable (../<libdir>/) or built beside it (the build tree). Throws
// std::invalid_argument naming the places tried.
std::string find_malloc_library(const std::string& requested);

}  // namespace tide_stats
