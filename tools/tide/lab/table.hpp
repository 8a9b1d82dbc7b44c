// The lab's table for the terminal: one section per scenario, one row per map. See docs/lab.md
// ("The table").
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace tide_lab {

// The table for a results.json document.
std::string format_table(const nlohmann::json& results);

}  // namespace tide_lab
