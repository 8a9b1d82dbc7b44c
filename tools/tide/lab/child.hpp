// The child side of the lab: runs one scenario for one map and writes the result to a file
// descriptor. The parent (runner.hpp) starts one child process per (scenario, map), so each
// map's RSS is its own. See docs/lab.md ("How it runs").
#pragma once

#include <nlohmann/json.hpp>

#include "lab/request.hpp"

namespace tide_lab {

// Runs `req` in this process. Throws std::invalid_argument for an unknown scenario or map.
nlohmann::json run_in_this_process(const run_request& req);

// The hidden `tide lab-child` command: runs `req`, writes its JSON to `fd`. Returns the exit
// status (0, or 1 with a message on stderr).
int child_main(const run_request& req, int fd);

}  // namespace tide_lab
