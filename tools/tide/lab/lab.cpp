// The lab's driver. See lab.hpp.
#include "lab/lab.hpp"

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fmt/core.h>
#include <stdexcept>
#include <string>
#include <vector>

#include "lab/output_dir.hpp"
#include "lab/progress.hpp"
#include "lab/report.hpp"
#include "lab/runner.hpp"
#include "lab/table.hpp"

namespace tide_lab {
namespace {

using json = nlohmann::json;

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

json machine() {
  return {{"cpus", sysconf(_SC_NPROCESSORS_ONLN)},
          {"page_size", sysconf(_SC_PAGESIZE)},
          {"memory_bytes", static_cast<std::size_t>(sysconf(_SC_PHYS_PAGES)) *
                               static_cast<std::size_t>(sysconf(_SC_PAGESIZE))}};
}

// The pressure limit from the calibration run (scenarios/pressure.hpp): halfway between the
// footprint the heap reaches by releasing its idle pages (R) and the one it reaches when the map
// compacts too (C).
std::size_t pressure_limit(const json& calibration) {
  const std::size_t released = calibration["released_held_bytes"];
  const std::size_t compacted = calibration["compacted_held_bytes"];
  return compacted < released ? compacted + (released - compacted) / 2 : released;
}

std::size_t planned_runs(const lab_plan& plan) {
  std::size_t runs = 0;
  for (const planned_scenario& s : plan.scenarios) {
    runs += plan.maps.size() + (s.name == "pressure" ? 1 : 0);
  }
  return runs;
}

}  // namespace

int run_lab(const lab_plan& plan) {
  catch_interrupts();
  try {
    output_dir out(plan.out);
    const auto start = std::chrono::steady_clock::now();
    json scenarios = json::array(), n_by_scenario = json::object();
    for (const planned_scenario& s : plan.scenarios) {
      scenarios.push_back(s.name);
      n_by_scenario[s.name] = s.n;
    }
    json results = {{"schema_version", results_schema_version},
                    {"started_at", utc_now()},
                    {"options",
                     {{"scenarios", scenarios},
                      {"maps", plan.maps},
                      {"n", n_by_scenario},
                      {"keys", key_kind_name(plan.keys)},
                      {"rounds", plan.rounds}}},
                    {"machine", machine()},
                    {"runs", json::array()}};
    progress_bar bar(plan.progress, planned_runs(plan));
    auto run = [&](run_request req, std::string_view role) {
      bar.start(fmt::format("{} {}{}", req.scenario, req.map, role == "run" ? "" : " (calibration)"));
      json r = run_in_child(req, bar);
      r["role"] = role;
      results["runs"].push_back(r);
      bar.done();
      return r;
    };
    for (const planned_scenario& scenario : plan.scenarios) {
      run_request req{scenario.name, "", plan.keys, scenario.n, plan.rounds, 0, 0, plan.progress};
      if (scenario.name == "pressure") {
        req.map = "tide-heap";
        const json calibration = run(req, "calibration");
        req.limit_bytes = pressure_limit(calibration);
        req.ballast_bytes = calibration["ballast_bytes"];
      }
      for (const std::string& map : plan.maps) {
        req.map = map;
        run(req, "run");
      }
    }
    bar.finish();
    results["duration_s"] =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    out.write("results.json", results.dump(2) + "\n");
    out.write("report.html", format_report(results));
    out.commit();
    if (plan.json) {
      fmt::print("{}\n", results.dump(2));
    } else {
      fmt::print("{}\nReport: {}/report.html (data: results.json)\n", format_table(results), plan.out);
    }
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "tide lab: {}\n", e.what());
    return 1;
  }
}

}  // namespace tide_lab
