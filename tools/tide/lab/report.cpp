// The HTML report. See report.hpp.
#include "lab/report.hpp"

#include <fmt/core.h>

#include <cmath>
#include <string_view>
#include <vector>

#include "lab/options.hpp"
#include "lab/svg_chart.hpp"
#include "lab/table.hpp"

namespace tide_lab {
namespace {

using json = nlohmann::json;

std::string color_of(const json& run) {
  if (run["role"] == "calibration") return "#64748b";
  const std::string map = run["map"];
  if (map == "tide") return "#2563eb";
  if (map == "tide-heap") return "#16a34a";
  if (map == "std") return "#9333ea";
  if (map == "absl") return "#dc2626";
  return "#ea580c";  // boost
}

std::string label_of(const json& run) {
  std::string name = run["map_name"];
  return run["role"] == "calibration" ? name + " (no limit)" : name;
}

// tide::heap_map is dashed: it often lies exactly on tide::map. So is the pressure calibration.
bool dashed(const json& run) { return run["map"] == "tide-heap"; }

// Axis labels: "50 MiB" rather than "50.0 MiB".
std::string bytes_label(double v) {
  if (v == 0) return "0";
  std::string s = human_bytes(v);
  if (const auto dot = s.find(".0 "); dot != std::string::npos) s.erase(dot, 2);
  return s;
}

const char* scenario_text(std::string_view s) {
  if (s == "delete-all") return "Insert N keys, then erase every one by key; finally the allocator is asked to give memory back.";
  if (s == "shrink") return "Insert N keys, erase a random 90% by key, release, then the library's explicit shrink.";
  if (s == "churn") return "N entries, then rounds of inserting 10% new keys and erasing the 10% oldest.";
  if (s == "grow") return "Insert N keys into an empty map, timing every insert.";
  return "Insert N keys, erase a random 90%, then allocate other data; tide::heap has a memory limit and tide::heap_map compacts when it is crossed.";
}

std::vector<const json*> runs_of(const json& results, std::string_view scenario) {
  std::vector<const json*> runs;
  for (const json& r : results["runs"]) {
    if (r["scenario"] == scenario) runs.push_back(&r);
  }
  return runs;
}

std::string memory_charts(const json& results, std::string_view scenario) {
  const std::vector<const json*> runs = runs_of(results, scenario);
  if (runs.empty()) return {};
  std::vector<chart_series> bytes, rss;
  for (const json* r : runs) {
    chart_series b{label_of(*r), color_of(*r), {}, dashed(*r)};
    chart_series m = b;
    for (const json& t : (*r)["timeline"]) {
      b.points.emplace_back(t["op"].get<double>(), t["map_bytes"].get<double>());
      m.points.emplace_back(t["op"].get<double>(), t["rss_bytes"].get<double>());
    }
    bytes.push_back(std::move(b));
    rss.push_back(std::move(m));
  }
  chart_spec spec;
  spec.x_label = "operations (inserts and erases)";
  spec.y_format = bytes_label;
  spec.y_bytes = true;
  spec.title = fmt::format("{}: bytes held by the map", scenario);
  spec.y_label = "map bytes";
  std::string out = svg_line_chart(spec, bytes);
  spec.title = fmt::format("{}: process RSS", scenario);
  spec.y_label = "RSS";
  return out + svg_line_chart(spec, rss);
}

std::string latency_chart(const json& results) {
  std::vector<chart_series> series;
  for (const json* r : runs_of(results, "grow")) {
    chart_series s{label_of(*r), color_of(*r), {}, dashed(*r)};
    for (const json& b : (*r)["latency_histogram"]) {
      const double mid = std::sqrt(b["lo_ns"].get<double>() * b["hi_ns"].get<double>());
      s.points.emplace_back(mid, b["count"].get<double>());
    }
    series.push_back(std::move(s));
  }
  if (series.empty()) return {};
  chart_spec spec;
  spec.title = "grow: insert latency distribution";
  spec.x_label = "insert latency, ns";
  spec.y_label = "inserts per bucket";
  spec.x_log = spec.y_log = true;
  return svg_line_chart(spec, series);
}

std::string bytes_per_entry_chart(const json& results) {
  std::vector<chart_series> series;
  for (const json* r : runs_of(results, "grow")) {
    chart_series s{label_of(*r), color_of(*r), {}, dashed(*r)};
    for (const json& p : (*r)["bytes_per_entry"]) {
      s.points.emplace_back(p["entries"].get<double>(), p["bytes_per_entry"].get<double>());
    }
    series.push_back(std::move(s));
  }
  if (series.empty()) return {};
  chart_spec spec;
  spec.title = "grow: bytes per entry as the map grows";
  spec.x_label = "entries";
  spec.y_label = "bytes per entry";
  spec.x_log = true;
  return svg_line_chart(spec, series);
}

}  // namespace

std::string format_report(const json& results) {
  const json& o = results["options"];
  std::string html = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<title>tide lab: {0} keys</title>\n<style>\n"
      "body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1160px; color: #1e293b; }}\n"
      "h1 {{ font-size: 1.6em; }} h2 {{ margin-top: 2em; border-bottom: 1px solid #cbd5e1; }}\n"
      "pre {{ background: #f8fafc; padding: 1em; overflow-x: auto; font-size: 0.85em; }}\n"
      ".charts {{ display: flex; flex-wrap: wrap; gap: 12px; }}\n"
      "svg.chart {{ border: 1px solid #e2e8f0; max-width: 100%; height: auto; }}\n"
      "svg .grid {{ stroke: #e2e8f0; }} svg .frame {{ fill: none; stroke: #94a3b8; }}\n"
      "svg .tick, svg .legend {{ font-size: 11px; fill: #334155; }}\n"
      "svg .axis-label {{ font-size: 12px; fill: #334155; }}\n"
      "svg .chart-title {{ font-size: 14px; font-weight: 600; fill: #0f172a; }}\n"
      "</style>\n</head>\n<body>\n"
      "<h1>tide lab</h1>\n<p>{0} keys &rarr; uint64 (N, the entries per map, is in each "
      "scenario's heading), {1} churn rounds. Each scenario ran "
      "for each map in its own child process. Started {2}, took {3:.1f} s on {4} CPUs. Map bytes "
      "are what the map asked its allocator for (a counting allocator); RSS is the child "
      "process's resident memory.</p>\n",
      html_escape(o["keys"].get<std::string>()), o["rounds"].get<std::size_t>(),
      html_escape(results["started_at"].get<std::string>()), results["duration_s"].get<double>(),
      results["machine"]["cpus"].get<long>());

  for (std::string_view s : all_scenarios) {
    const std::string charts = memory_charts(results, s);
    if (charts.empty()) continue;
    html += fmt::format("<h2 id=\"{0}\">{0}, N = {1}</h2>\n<p>{2}</p>\n<div class=\"charts\">\n{3}",
                        s, human_count(o["n"].at(std::string(s))), scenario_text(s), charts);
    if (s == "grow") html += latency_chart(results) + bytes_per_entry_chart(results);
    html += "</div>\n";
  }
  html += fmt::format("<h2 id=\"table\">The table</h2>\n<pre>{}</pre>\n", html_escape(format_table(results)));
  return html + "</body>\n</html>\n";
}

}  // namespace tide_lab
