// The terminal table. See table.hpp.
#include "lab/table.hpp"

#include <algorithm>
#include <fmt/core.h>
#include <string_view>
#include <vector>

#include "lab/options.hpp"

namespace tide_lab {
namespace {

using json = nlohmann::json;

const json* find_phase(const json& run, std::string_view name) {
  for (const json& p : run["phases"]) {
    if (p["name"] == name) return &p;
  }
  return nullptr;
}

std::string bytes_at(const json& run, std::string_view phase, std::string_view field) {
  const json* p = find_phase(run, phase);
  return p ? human_bytes((*p)[std::string(field)].get<double>()) : "-";
}

std::string ratio(double a, double b) { return b > 0 ? fmt::format("{:.2f}x", a / b) : "-"; }

std::string us(const json& ns) { return fmt::format("{:.2f}", ns.get<double>() / 1000.0); }

// The name shown for a run: the map, marked when it is the pressure calibration.
std::string row_name(const json& run) {
  std::string name = run["map_name"];
  if (run.value("role", "") == "calibration") name += " (no limit)";
  return name;
}

struct table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;

  std::string render() const {
    std::vector<std::size_t> width(header.size());
    for (std::size_t c = 0; c < header.size(); ++c) {
      width[c] = header[c].size();
      for (const auto& r : rows) width[c] = std::max(width[c], r[c].size());
    }
    auto line = [&](const std::vector<std::string>& cells) {
      std::string s;
      for (std::size_t c = 0; c < cells.size(); ++c) {
        s += c == 0 ? fmt::format("{:<{}}", cells[c], width[c])
                    : fmt::format("  {:>{}}", cells[c], width[c]);
      }
      return s + "\n";
    };
    std::string out = line(header);
    for (const auto& r : rows) out += line(r);
    return out;
  }
};

std::string section(const json& results, std::string_view scenario) {
  table t;
  std::string title;
  for (const json& run : results["runs"]) {
    if (run["scenario"] != scenario) continue;
    const std::string name = row_name(run);
    if (scenario == "delete-all") {
      title = "insert N keys, erase every one, release, insert them again";
      t.header = {"map", "bytes full", "after erase", "alloc held", "RSS full", "RSS after erase",
                  "RSS after release", "RSS refilled"};
      t.rows.push_back({name, bytes_at(run, "full", "map_bytes"),
                        bytes_at(run, "after_erase", "map_bytes"),
                        bytes_at(run, "after_erase", "held_bytes"),
                        bytes_at(run, "full", "rss_bytes"), bytes_at(run, "after_erase", "rss_bytes"),
                        bytes_at(run, "after_release", "rss_bytes"),
                        bytes_at(run, "refilled", "rss_bytes")});
    } else if (scenario == "shrink") {
      title = "erase a random 90% (fresh: a new map holding the survivors)";
      t.header = {"map", "after erase", "fresh", "vs fresh", "after shrink", "vs fresh",
                  "RSS after erase", "RSS after release"};
      const double fresh = run["fresh"]["map_bytes"].get<double>();
      t.rows.push_back({name, bytes_at(run, "after_erase", "map_bytes"), human_bytes(fresh),
                        ratio((*find_phase(run, "after_erase"))["map_bytes"].get<double>(), fresh),
                        bytes_at(run, "after_shrink", "map_bytes"),
                        ratio((*find_phase(run, "after_shrink"))["map_bytes"].get<double>(), fresh),
                        bytes_at(run, "after_erase", "rss_bytes"),
                        bytes_at(run, "after_release", "rss_bytes")});
    } else if (scenario == "churn") {
      title = fmt::format("{} rounds of insert 10% new, erase 10% oldest",
                          results["options"]["rounds"].get<std::size_t>());
      t.header = {"map", "round 1", "last round", "max round", "max/round 1", "RSS last round"};
      const json& rounds = run["rounds"];
      double first = rounds.front()["map_bytes"].get<double>(), max = 0;
      for (const json& r : rounds) max = std::max(max, r["map_bytes"].get<double>());
      t.rows.push_back({name, human_bytes(first), human_bytes(rounds.back()["map_bytes"].get<double>()),
                        human_bytes(max), ratio(max, first),
                        human_bytes(rounds.back()["rss_bytes"].get<double>())});
    } else if (scenario == "grow") {
      title = "insert N keys, each insert timed (us)";
      t.header = {"map", "p50", "p99", "p99.9", "max", "peak bytes", "peak/final", "bytes/entry"};
      const json& lat = run["latency_ns"];
      const double final_bytes = run["final_map_bytes"].get<double>();
      t.rows.push_back({name, us(lat["p50"]), us(lat["p99"]), us(lat["p999"]), us(lat["max"]),
                        human_bytes(run["peak_map_bytes"].get<double>()),
                        ratio(run["peak_map_bytes"].get<double>(), final_bytes),
                        fmt::format("{:.1f}", final_bytes / run["n"].get<double>())});
    } else if (scenario == "pressure") {
      title = "fill, erase 90%, allocate other data; limit on tide::heap";
      t.header = {"map", "limit", "peak held", "final held", "under limit", "compactions",
                  "RSS final"};
      const json& under = run["under_limit"];
      t.rows.push_back({name, run["limit_bytes"] == 0 ? "none" : human_bytes(run["limit_bytes"].get<double>()),
                        human_bytes(run["peak_held_bytes"].get<double>()),
                        human_bytes(run["final_held_bytes"].get<double>()),
                        under.is_null() ? "-" : (under.get<bool>() ? "yes" : "no"),
                        run["managed"].get<bool>() ? std::to_string(run["compactions"].get<std::size_t>()) : "-",
                        bytes_at(run, "after_ballast", "rss_bytes")});
    }
  }
  if (t.rows.empty()) return {};
  const std::size_t n = results["options"]["n"].at(std::string(scenario));
  return fmt::format("{}, N = {}: {}\n{}", scenario, human_count(n), title, t.render());
}

}  // namespace

std::string format_table(const json& results) {
  std::string out = fmt::format("tide lab: {} keys -> uint64, one child process per run\n",
                                results["options"]["keys"].get<std::string>());
  for (std::string_view s : all_scenarios) {
    const std::string part = section(results, s);
    if (!part.empty()) out += "\n" + part;
  }
  return out;
}

}  // namespace tide_lab
