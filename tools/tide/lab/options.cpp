// Checks of the lab's options. See options.hpp.
#include "lab/options.hpp"

#include <algorithm>
#include <fmt/core.h>
#include <fstream>
#include <limits>
#include <stdexcept>

namespace tide_lab {
namespace {

template <std::size_t M>
std::vector<std::string> checked_list(const std::vector<std::string>& given,
                                      const std::string_view (&known)[M], std::string_view what) {
  std::vector<std::string> out;
  for (std::string_view k : known) {
    if (given.empty() || std::find(given.begin(), given.end(), k) != given.end()) out.emplace_back(k);
  }
  for (const std::string& g : given) {
    if (std::find(std::begin(known), std::end(known), g) == std::end(known)) {
      std::string names;
      for (std::string_view k : known) names += (names.empty() ? "" : ", ") + std::string(k);
      throw std::invalid_argument(
          fmt::format("unknown {} '{}' (known: {})", what, g, names));
    }
  }
  return out;
}

}  // namespace

std::size_t bytes_needed(std::size_t n, key_kind keys) {
  // Per entry, at the worst moment of the worst run: the pressure scenario's, where the map
  // and the ballast (twice the map's peak bytes) live together: measured 93 B per u64 entry
  // and 270 B per string entry (std::unordered_map's nodes and buckets, the strings' own heap
  // buffers). With a margin, and 64 MiB for the program itself.
  const std::size_t per_entry = keys == key_kind::u64 ? 128 : 320;
  if (n > std::numeric_limits<std::size_t>::max() / per_entry) {
    return std::numeric_limits<std::size_t>::max();
  }
  return n * per_entry + (64u << 20);  // + the program itself
}

std::size_t available_memory_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  std::size_t value = 0;
  std::string unit;
  while (meminfo >> key >> value) {
    std::getline(meminfo, unit);
    if (key == "MemAvailable:") return value * 1024;
  }
  return std::numeric_limits<std::size_t>::max();  // unknown: do not refuse
}

std::string human_count(std::size_t n) {
  if (n >= 1'000'000 && n % 100'000 == 0) return fmt::format("{:g}M", static_cast<double>(n) / 1e6);
  if (n >= 10'000 && n % 1'000 == 0) return fmt::format("{}k", n / 1'000);
  return std::to_string(n);
}

std::string human_bytes(double bytes) {
  if (bytes < 1024) return fmt::format("{:.0f} B", bytes);
  if (bytes < 1024.0 * 1024) return fmt::format("{:.1f} KiB", bytes / 1024);
  if (bytes < 1024.0 * 1024 * 1024) return fmt::format("{:.1f} MiB", bytes / (1024.0 * 1024));
  if (bytes < 1024.0 * 1024 * 1024 * 1024) return fmt::format("{:.1f} GiB", bytes / (1024.0 * 1024 * 1024));
  return fmt::format("{:.1f} TiB", bytes / (1024.0 * 1024 * 1024 * 1024));
}

std::size_t default_n_for(std::string_view scenario) {
  return scenario == "grow" ? default_grow_n : default_n;
}

lab_plan make_plan(const lab_options& options, bool stderr_is_terminal) {
  lab_plan plan;
  const std::vector<std::string> scenarios =
      checked_list(options.scenarios, all_scenarios, "scenario");
  plan.maps = checked_list(options.maps, all_maps, "map");
  if (options.keys == "u64") {
    plan.keys = key_kind::u64;
  } else if (options.keys == "string") {
    plan.keys = key_kind::string;
  } else {
    throw std::invalid_argument(fmt::format("unknown key type '{}' (known: u64, string)", options.keys));
  }
  if (options.n && *options.n <= 0) {
    throw std::invalid_argument(
        fmt::format("--n must be a positive number of entries; got {}", *options.n));
  }
  const std::size_t available = available_memory_bytes();
  for (const std::string& name : scenarios) {
    const std::size_t n = options.n ? static_cast<std::size_t>(*options.n) : default_n_for(name);
    const std::size_t needed = bytes_needed(n, plan.keys);
    if (needed > available) {
      throw std::invalid_argument(fmt::format(
          "{} with N = {} needs about {} of memory for {} keys; this machine has {} available "
          "(--n sets a smaller N)",
          name, n, human_bytes(static_cast<double>(needed)), key_kind_name(plan.keys),
          human_bytes(static_cast<double>(available))));
    }
    plan.scenarios.push_back({name, n});
  }
  if (options.rounds == 0) throw std::invalid_argument("--rounds must be at least 1");
  plan.rounds = options.rounds;
  if (options.out.empty()) throw std::invalid_argument("--out must name a directory");
  plan.out = options.out;
  plan.json = options.json;
  plan.progress = stderr_is_terminal && !options.no_progress;
  return plan;
}

}  // namespace tide_lab
