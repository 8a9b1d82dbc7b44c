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

std::string human_bytes(double bytes) {
  if (bytes < 1024) return fmt::format("{:.0f} B", bytes);
  if (bytes < 1024.0 * 1024) return fmt::format("{:.1f} KiB", bytes / 1024);
  if (bytes < 1024.0 * 1024 * 1024) return fmt::format("{:.1f} MiB", bytes / (1024.0 * 1024));
  if (bytes < 1024.0 * 1024 * 1024 * 1024) return fmt::format("{:.1f} GiB", bytes / (1024.0 * 1024 * 1024));
  return fmt::format("{:.1f} TiB", bytes / (1024.0 * 1024 * 1024 * 1024));
}

lab_plan make_plan(const lab_options& options, bool stderr_is_terminal) {
  lab_plan plan;
  plan.scenarios = checked_list(options.scenarios, all_scenarios, "scenario");
  plan.maps = checked_list(options.maps, all_maps, "map");
  if (options.keys == "u64") {
    plan.keys = key_kind::u64;
  } else if (options.keys == "string") {
    plan.keys = key_kind::string;
  } else {
    throw std::invalid_argument(fmt::format("unknown key type '{}' (known: u64, string)", options.keys));
  }
  if (options.n <= 0) {
    throw std::invalid_argument(fmt::format("--n must be a positive number of entries; got {}", options.n));
  }
  plan.n = static_cast<std::size_t>(options.n);
  const std::size_t needed = bytes_needed(plan.n, plan.keys);
  const std::size_t available = available_memory_bytes();
  if (needed > available) {
    throw std::invalid_argument(fmt::format(
        "--n {} needs about {} of memory for {} keys; this machine has {} available",
        plan.n, human_bytes(static_cast<double>(needed)), key_kind_name(plan.keys),
        human_bytes(static_cast<double>(available))));
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
