// The parent side of the lab: runs one request in a child process (this program re-executed as
// the hidden `tide lab-child`), so that each map's RSS is its own, and reads the child's JSON
// from a pipe. See docs/lab.md ("How it runs").
#pragma once

#include <nlohmann/json.hpp>

#include "lab/progress.hpp"
#include "lab/request.hpp"

namespace tide_lab {

// Runs `req` in a child process and returns its result; redraws `bar` while it waits. Throws
// std::runtime_error with the message to show if the child fails or its output is not JSON, or
// "interrupted" after SIGINT or SIGTERM (the child is then stopped at once).
nlohmann::json run_in_child(const run_request& req, progress_bar& bar);

// From now on SIGINT and SIGTERM only set a flag that run_in_child acts on, so the lab can fail
// with a message and remove its temporary directory.
void catch_interrupts();

}  // namespace tide_lab
