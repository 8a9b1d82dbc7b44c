// The `tide` command: `tide lab` (the memory lab, docs/lab.md), the hidden `tide lab-child`
// that the lab starts once per run, and `tide stats -- COMMAND` (memstats of any program run
// on tide::heap, docs/heap.md).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <chrono>
#include <stdexcept>
#include <string>

#include "lab/child.hpp"
#include "lab/lab.hpp"
#include "lab/options.hpp"
#include "stats/stats.hpp"

namespace {

std::string joined(const auto& names) {
  std::string s;
  for (std::string_view n : names) s += (s.empty() ? "" : ", ") + std::string(n);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tide: hash maps that give memory back, on an allocator that returns freed pages"};
  app.require_subcommand(1);

  tide_lab::lab_options options;
  CLI::App* lab = app.add_subcommand(
      "lab",
      "The memory lab: runs each scenario for each map in its own process and shows bytes, RSS, "
      "latency and a report with charts.\n"
      "Scenarios:\n"
      "  delete-all  insert N keys, erase them all; bytes and RSS before/after, and after release\n"
      "  shrink      erase a random 90%; next to a fresh map holding the survivors\n"
      "  churn       rounds of insert 10% new / erase 10% oldest at constant size\n"
      "  grow        insert N keys timing each insert: p50/p99/p99.9/max, peak and final bytes\n"
      "  pressure    under tide::set_memory_limit: tide::heap_map compacts, the others are shown\n"
      "Maps: tide (tide::map), tide-heap (tide::heap_map on tide::heap), std "
      "(std::unordered_map), absl (absl::flat_hash_map), boost (boost::unordered_flat_map)");
  lab->add_option("--scenario", options.scenarios,
                  "Scenarios to run, comma-separated (default: all): " + joined(tide_lab::all_scenarios))
      ->delimiter(',');
  lab->add_option("--maps", options.maps,
                  "Maps to compare, comma-separated (default: all): " + joined(tide_lab::all_maps))
      ->delimiter(',');
  lab->add_option("--n", options.n,
                  fmt::format("Entries per map, for every scenario (default: {} for grow, {} for "
                              "the others)",
                              tide_lab::default_grow_n, tide_lab::default_n));
  lab->add_option("--keys", options.keys, "Key type: u64 or string (16-32 characters)")
      ->capture_default_str();
  lab->add_option("--rounds", options.rounds, "Rounds of the churn scenario")->capture_default_str();
  lab->add_option("--out", options.out, "Directory for report.html and results.json")
      ->capture_default_str();
  lab->add_flag("--json", options.json, "Print results.json to stdout instead of the table");
  lab->add_flag("--no-progress", options.no_progress, "No progress bar on stderr");

  tide_lab::run_request child;
  std::string child_keys = "u64";
  int result_fd = -1;
  CLI::App* lab_child = app.add_subcommand("lab-child", "")->group("");  // hidden: one run
  lab_child->add_option("--scenario", child.scenario)->required();
  lab_child->add_option("--map", child.map)->required();
  lab_child->add_option("--keys", child_keys)->check(CLI::IsMember({"u64", "string"}));
  lab_child->add_option("--n", child.n)->required();
  lab_child->add_option("--rounds", child.rounds);
  lab_child->add_option("--limit", child.limit_bytes);
  lab_child->add_option("--ballast", child.ballast_bytes);
  lab_child->add_option("--result-fd", result_fd)->required();
  lab_child->add_flag("--progress", child.progress);

  tide_stats::stats_options stats_options;
  int interval_ms = 200;
  CLI::App* stats = app.add_subcommand(
      "stats",
      "Runs COMMAND on tide::heap (LD_PRELOAD=libtide_malloc.so) and prints its memstats while "
      "it runs (on stderr) and a summary per process at the end; exits with COMMAND's status.\n"
      "Usage: tide stats [OPTIONS] -- COMMAND [ARGS...]");
  stats->add_option("--interval", interval_ms, "Milliseconds between reports")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600 * 1000));
  stats->add_option("--json", stats_options.json_path,
                    "Also write every report and the summary to this JSON file");
  stats->add_option("--lib", stats_options.library,
                    "libtide_malloc.so to preload (default: $TIDE_MALLOC_LIB, or the one "
                    "installed or built beside this tide)");
  stats->add_flag("--quiet", stats_options.quiet, "No timeline, only the summary");
  stats->add_option("command", stats_options.command, "The program to run, and its arguments")
      ->required();
  stats->positionals_at_end();

  CLI11_PARSE(app, argc, argv);

  if (stats->parsed()) {
    stats_options.interval = std::chrono::milliseconds(interval_ms);
    try {
      return tide_stats::run_stats(stats_options);
    } catch (const std::exception& e) {
      fmt::print(stderr, "tide stats: {}\n", e.what());
      return 2;
    }
  }

  if (lab_child->parsed()) {
    child.keys = child_keys == "u64" ? tide_lab::key_kind::u64 : tide_lab::key_kind::string;
    return tide_lab::child_main(child, result_fd);
  }
  tide_lab::lab_plan plan;
  try {
    plan = tide_lab::make_plan(options, isatty(STDERR_FILENO) != 0);
  } catch (const std::invalid_argument& e) {
    fmt::print(stderr, "tide lab: {}\n", e.what());
    return 2;
  }
  return tide_lab::run_lab(plan);
}
