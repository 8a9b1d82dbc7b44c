// The options of `tide lab`, their defaults, and the checks made before anything runs. See
// docs/lab.md ("Options").
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lab/keys.hpp"

namespace tide_lab {

inline constexpr std::string_view all_scenarios[] = {"delete-all", "shrink", "churn", "grow",
                                                     "pressure"};
inline constexpr std::string_view all_maps[] = {"tide", "tide-heap", "std", "absl", "boost"};

// N of the default run, by scenario (DESIGN.md: grow to 10M timing each insert, everything in
// about a minute on 2 cores). --n sets every scenario's N.
inline constexpr std::size_t default_n = 3'000'000;
inline constexpr std::size_t default_grow_n = 10'000'000;
inline constexpr std::size_t default_rounds = 20;

struct lab_options {
  std::vector<std::string> scenarios;  // empty: all
  std::vector<std::string> maps;       // empty: all
  std::optional<long long> n;          // not given: default_n_for(scenario)
  std::size_t rounds = default_rounds;
  std::string keys = "u64";
  std::string out = "tide-lab-report";
  bool json = false;
  bool no_progress = false;
};

// A scenario to run and its N.
struct planned_scenario {
  std::string name;
  std::size_t n = 0;
};

// The options after the checks: lists filled in and in the lab's order, N per scenario.
struct lab_plan {
  std::vector<planned_scenario> scenarios;
  std::vector<std::string> maps;
  std::size_t rounds = 0;
  key_kind keys = key_kind::u64;
  std::string out;
  bool json = false;
  bool progress = false;
};

// N of `scenario` when --n is not given.
std::size_t default_n_for(std::string_view scenario);

// Checks the options; throws std::invalid_argument with the message to show (one line) for
// an unknown scenario, map or key type, N <= 0, or an N this machine's memory cannot hold.
lab_plan make_plan(const lab_options& options, bool stderr_is_terminal);

// Bytes a run of N entries may need at most (the largest map at its peak, its keys, the grow
// scenario's latency array, the pressure scenario's ballast), by key type.
std::size_t bytes_needed(std::size_t n, key_kind keys);

// Bytes this machine can give a new process now (MemAvailable in /proc/meminfo).
std::size_t available_memory_bytes();

// "10M", "2.5M", "300k", "3000": an entry count, short when it is round.
std::string human_count(std::size_t n);

// "272 B", "12.5 KiB", "33.6 MiB", "1.2 GiB".
std::string human_bytes(double bytes);

}  // namespace tide_lab
