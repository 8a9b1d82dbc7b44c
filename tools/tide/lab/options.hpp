// The options of `tide lab`, their defaults, and the checks made before anything runs. See
// docs/lab.md ("Options").
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "lab/keys.hpp"

namespace tide_lab {

inline constexpr std::string_view all_scenarios[] = {"delete-all", "shrink", "churn", "grow",
                                                     "pressure"};
inline constexpr std::string_view all_maps[] = {"tide", "tide-heap", "std", "absl", "boost"};

// N of the default run: every scenario and map in 35-50 s on 2 cores (measured: 33, 38, 48 s).
inline constexpr std::size_t default_n = 3'000'000;
inline constexpr std::size_t default_rounds = 20;

struct lab_options {
  std::vector<std::string> scenarios;  // empty: all
  std::vector<std::string> maps;       // empty: all
  long long n = static_cast<long long>(default_n);
  std::size_t rounds = default_rounds;
  std::string keys = "u64";
  std::string out = "tide-lab-report";
  bool json = false;
  bool no_progress = false;
};

// The options after the checks: lists filled in and in the lab's order, N as a size.
struct lab_plan {
  std::vector<std::string> scenarios;
  std::vector<std::string> maps;
  std::size_t n = 0;
  std::size_t rounds = 0;
  key_kind keys = key_kind::u64;
  std::string out;
  bool json = false;
  bool progress = false;
};

// Checks the options; throws std::invalid_argument with the message to show (one line) for
// an unknown scenario, map or key type, N <= 0, or an N this machine's memory cannot hold.
lab_plan make_plan(const lab_options& options, bool stderr_is_terminal);

// Bytes a run of N entries may need at most (the largest map at its peak, its keys, the grow
// scenario's latency array, the pressure scenario's ballast), by key type.
std::size_t bytes_needed(std::size_t n, key_kind keys);

// Bytes this machine can give a new process now (MemAvailable in /proc/meminfo).
std::size_t available_memory_bytes();

// "272 B", "12.5 KiB", "33.6 MiB", "1.2 GiB".
std::string human_bytes(double bytes);

}  // namespace tide_lab
