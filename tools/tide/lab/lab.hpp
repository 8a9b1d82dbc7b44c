// `tide lab`: runs the planned scenarios for the planned maps, one child process each, and
// writes results.json and report.html into --out; prints a table or the JSON. See docs/lab.md.
#pragma once

#include <nlohmann/json.hpp>

#include "lab/options.hpp"

namespace tide_lab {

// Version of results.json's layout (docs/lab.md); raised when a field changes meaning.
inline constexpr int results_schema_version = 2;

// Runs the lab. Returns the exit status: 0, or 1 after printing one message to stderr.
int run_lab(const lab_plan& plan);

}  // namespace tide_lab
