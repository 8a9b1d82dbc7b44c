// What the parent asks one child to run: one scenario for one map. See docs/lab.md.
#pragma once

#include <cstddef>
#include <string>

#include "lab/keys.hpp"

namespace tide_lab {

struct run_request {
  std::string scenario;       // delete-all, shrink, churn, grow, pressure
  std::string map;            // a map id (maps.hpp)
  key_kind keys = key_kind::u64;
  std::size_t n = 0;
  std::size_t rounds = 20;        // churn: rounds
  std::size_t limit_bytes = 0;    // pressure: the memory limit (0: the unmanaged calibration run)
  std::size_t ballast_bytes = 0;  // pressure: other data the process allocates (0: twice the map's peak bytes)
  bool progress = false;          // report progress lines ahead of the result (child_progress.hpp)
};

}  // namespace tide_lab
