// Inline SVG line charts. See svg_chart.hpp.
#include "lab/svg_chart.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/core.h>
#include <limits>

namespace tide_lab {
namespace {

constexpr double width = 550, height = 300;
constexpr double left = 70, right = 200, top = 34, bottom = 46;  // right: the legend
constexpr double plot_w = width - left - right, plot_h = height - top - bottom;


struct axis {
  double lo = 0, hi = 1;
  bool log = false;
  double unit = 1;  // linear ticks are round multiples of this

  double map(double v) const {  // to [0, 1]
    if (log) return (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
    return (v - lo) / (hi - lo);
  }

  // The linear tick step: 1, 2 or 5 times a power of ten units, about 5 ticks.
  double linear_step() const {
    const double raw = (hi - lo) / unit / 5;
    const double mag = std::pow(10.0, std::floor(std::log10(raw)));
    for (double m : {1.0, 2.0, 5.0}) {
      if (m * mag >= raw) return m * mag * unit;
    }
    return 10 * mag * unit;
  }

  // Tick values: decades on a log axis, 1/2/5 steps on a linear one.
  std::vector<double> ticks() const {
    std::vector<double> t;
    if (log) {
      for (double d = std::pow(10.0, std::floor(std::log10(lo))); d <= hi * 1.0001; d *= 10) {
        if (d >= lo * 0.9999) t.push_back(d);
      }
      return t;
    }
    const double step = linear_step();
    for (double v = std::ceil(lo / step) * step; v <= hi * 1.0001; v += step) t.push_back(v);
    return t;
  }
};

axis make_axis(double lo, double hi, bool log, bool from_zero, bool bytes) {
  axis a;
  a.log = log;
  if (bytes) {
    for (double u : {1024.0 * 1024 * 1024, 1024.0 * 1024, 1024.0}) {
      if (hi - std::min(lo, 0.0) >= 2 * u) {
        a.unit = u;
        break;
      }
    }
  }
  if (log) {
    lo = std::pow(10.0, std::floor(std::log10(lo)));
    hi = std::pow(10.0, std::ceil(std::log10(hi)));
    if (hi <= lo) hi = lo * 10;
  } else {
    if (from_zero) lo = std::min(lo, 0.0);
    if (hi <= lo) hi = lo + 1;
  }
  a.lo = lo;
  a.hi = hi;
  if (!log) a.hi = std::ceil(hi / a.linear_step() - 1e-9) * a.linear_step();  // end on a tick
  return a;
}

// "950", "12K", "3.5M", "1G": axis labels for counts.
std::string compact_number(double v) {
  const double a = std::fabs(v);
  if (a >= 1e9) return fmt::format("{:g}G", v / 1e9);
  if (a >= 1e6) return fmt::format("{:g}M", v / 1e6);
  if (a >= 1e3) return fmt::format("{:g}K", v / 1e3);
  return fmt::format("{:g}", v);
}

}  // namespace

std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string svg_line_chart(const chart_spec& spec, const std::vector<chart_series>& series) {
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo;
  double y_lo = x_lo, y_hi = -x_lo;
  for (const chart_series& s : series) {
    for (auto [x, y] : s.points) {
      if ((spec.x_log && x <= 0) || (spec.y_log && y <= 0)) continue;
      x_lo = std::min(x_lo, x), x_hi = std::max(x_hi, x);
      y_lo = std::min(y_lo, y), y_hi = std::max(y_hi, y);
    }
  }
  if (x_lo > x_hi) x_lo = spec.x_log ? 1 : 0, x_hi = x_lo * 10 + 1, y_lo = spec.y_log ? 1 : 0, y_hi = y_lo * 10 + 1;
  const axis xa = make_axis(x_lo, x_hi, spec.x_log, false, false);
  const axis ya = make_axis(y_lo, y_hi, spec.y_log, spec.y_from_zero, spec.y_bytes);
  auto px = [&](double x) { return left + xa.map(x) * plot_w; };
  auto py = [&](double y) { return top + (1 - ya.map(y)) * plot_h; };
  const auto fx = spec.x_format ? spec.x_format : compact_number;
  const auto fy = spec.y_format ? spec.y_format : compact_number;

  std::string svg = fmt::format(
      "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {0} {1}\" "
      "width=\"{0}\" height=\"{1}\" role=\"img\" aria-label=\"{2}\">\n"
      "<title>{2}</title>\n<rect x=\"0\" y=\"0\" width=\"{0}\" height=\"{1}\" fill=\"#fff\"/>\n"
      "<text x=\"{3}\" y=\"20\" class=\"chart-title\">{2}</text>\n",
      width, height, html_escape(spec.title), left);
  for (double t : xa.ticks()) {
    const double x = px(t);
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" class=\"grid\"/>"
        "<text x=\"{0:.1f}\" y=\"{3}\" class=\"tick\" text-anchor=\"middle\">{4}</text>\n",
        x, top, top + plot_h, top + plot_h + 16, html_escape(fx(t)));
  }
  for (double t : ya.ticks()) {
    const double y = py(t);
    svg += fmt::format(
        "<line x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\" class=\"grid\"/>"
        "<text x=\"{3}\" y=\"{4:.1f}\" class=\"tick\" text-anchor=\"end\">{5}</text>\n",
        left, y, left + plot_w, left - 6, y + 4, html_escape(fy(t)));
  }
  svg += fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" class=\"frame\"/>\n"
      "<text x=\"{}\" y=\"{}\" class=\"axis-label\" text-anchor=\"middle\">{}</text>\n"
      "<text x=\"14\" y=\"{}\" class=\"axis-label\" text-anchor=\"middle\" "
      "transform=\"rotate(-90 14 {})\">{}</text>\n",
      left, top, plot_w, plot_h, left + plot_w / 2, height - 8,
      html_escape(spec.x_label + (spec.x_log ? " (log)" : "")), top + plot_h / 2, top + plot_h / 2,
      html_escape(spec.y_label + (spec.y_log ? " (log)" : "")));

  double legend_y = top + 6;
  for (const chart_series& s : series) {
    std::string points;
    for (auto [x, y] : s.points) {
      if ((spec.x_log && x <= 0) || (spec.y_log && y <= 0)) continue;
      points += fmt::format("{:.1f},{:.1f} ", px(x), py(y));
    }
    const std::string dash = s.dashed ? " stroke-dasharray=\"6 4\"" : "";
    svg += fmt::format(
        "<polyline class=\"series\" data-name=\"{0}\" fill=\"none\" stroke=\"{1}\" "
        "stroke-width=\"2\"{2} points=\"{3}\"/>\n",
        html_escape(s.name), s.color, dash, points);
    svg += fmt::format(
        "<line x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\" stroke=\"{3}\" "
        "stroke-width=\"3\"{4}/><text x=\"{5}\" y=\"{6:.1f}\" class=\"legend\">{7}</text>\n",
        left + plot_w + 12, legend_y, left + plot_w + 34, s.color, dash, left + plot_w + 40,
        legend_y + 4, html_escape(s.name));
    legend_y += 18;
  }
  return svg + "</svg>\n";
}

}  // namespace tide_lab
