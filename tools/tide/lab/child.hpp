// The child side of the lab: runs one scenario for one map and writes the result to a file
// descriptor. The parent (runner.hpp) starts one child process per (scenario, map), so each
// map's RSS is its own. See docs/lab.md ("How it runs").
#pragma once

#include "lab/request.hpp"

namespace tide_lab {

// The hidden `tide lab-child` command: runs `req`, writes its JSON to `fd`. Returns the exit
// status (0, or 1 with a message on stderr).
int child_main(const run_request& req, int fd);

}  // namespace tide_lab
