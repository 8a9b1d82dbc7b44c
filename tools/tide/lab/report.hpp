// report.html: the lab's results for a browser, self-contained (inline CSS and SVG, no scripts,
// nothing fetched). Charts: memory over time per map for each scenario (bytes the map holds and
// the process's RSS), the insert-latency distribution of the grow scenario on log axes, and
// bytes per entry as the map grows; then the table. See docs/lab.md ("report.html").
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace tide_lab {

std::string format_report(const nlohmann::json& results);

}  // namespace tide_lab
