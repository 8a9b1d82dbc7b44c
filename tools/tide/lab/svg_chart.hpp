// A line chart as inline SVG, for the lab's report: linear or log axes, one polyline per series,
// a legend. No scripts, no external files: the markup is the chart. See docs/lab.md ("report.html").
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tide_lab {

struct chart_series {
  std::string name;
  std::string color;  // any CSS colour
  std::vector<std::pair<double, double>> points;  // (x, y); on a log axis, values <= 0 are skipped
  bool dashed = false;
};

struct chart_spec {
  std::string title;
  std::string x_label;
  std::string y_label;
  bool x_log = false;
  bool y_log = false;
  bool y_from_zero = true;  // linear y axis: start at 0 rather than at the smallest value
  bool y_bytes = false;     // linear y axis of bytes: ticks at round KiB, MiB or GiB
  std::function<std::string(double)> x_format;  // tick labels (default: compact numbers)
  std::function<std::string(double)> y_format;
};

// The chart as an <svg> element (class "chart"; each series a <polyline class="series">).
std::string svg_line_chart(const chart_spec& spec, const std::vector<chart_series>& series);

// Text made safe inside HTML or SVG markup and attribute values (&, <, >, ").
std::string html_escape(std::string_view s);

}  // namespace tide_lab
