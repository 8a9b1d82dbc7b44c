// Dispatch of one run to its scenario and map, and the child's result pipe. See child.hpp.
#include "lab/child.hpp"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fmt/core.h>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "lab/child_progress.hpp"
#include "lab/maps.hpp"
#include "lab/scenarios/churn.hpp"
#include "lab/scenarios/delete_all.hpp"
#include "lab/scenarios/grow.hpp"
#include "lab/scenarios/pressure.hpp"
#include "lab/scenarios/shrink.hpp"

namespace tide_lab {
namespace {

template <class Kind, class K>
nlohmann::json run_scenario(const run_request& req) {
  if (req.scenario == "delete-all") return run_delete_all<Kind, K>(req);
  if (req.scenario == "shrink") return run_shrink<Kind, K>(req);
  if (req.scenario == "churn") return run_churn<Kind, K>(req);
  if (req.scenario == "grow") return run_grow<Kind, K>(req);
  if (req.scenario == "pressure") return run_pressure<Kind, K>(req);
  throw std::invalid_argument("unknown scenario '" + req.scenario + "'");
}

bool write_all(int fd, const std::string& text) {
  for (std::size_t done = 0; done < text.size();) {
    const ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// Runs `req` in this process. Throws std::invalid_argument for an unknown scenario or map.
nlohmann::json run_in_this_process(const run_request& req) {
  nlohmann::json result;
  bool found = false;
  for_each_kind([&]<class Kind>() {
    if (found || Kind::id != req.map) return;
    found = true;
    result = req.keys == key_kind::u64 ? run_scenario<Kind, std::uint64_t>(req)
                                       : run_scenario<Kind, std::string>(req);
  });
  if (!found) throw std::invalid_argument("unknown map '" + req.map + "'");
  return result;
}

// The least time between two progress lines: TIDE_LAB_PROGRESS_INTERVAL_MS if set (the tests
// set 0, a line at every look, so that a run of a few milliseconds reports too), else 50 ms.
std::chrono::milliseconds progress_interval() {
  const char* text = std::getenv("TIDE_LAB_PROGRESS_INTERVAL_MS");
  if (text == nullptr) return default_progress_interval;
  return std::chrono::milliseconds(std::strtol(text, nullptr, 10));
}

}  // namespace

int child_main(const run_request& req, int fd) {
  try {
    progress_sender sender(fd, progress_interval());
    if (req.progress) active_progress_sender = &sender;
    const std::string text = run_in_this_process(req).dump();
    active_progress_sender = nullptr;
    if (!write_all(fd, text)) {
      fmt::print(stderr, "tide lab-child: cannot write the result: {}\n", std::strerror(errno));
      return 1;
    }
    close(fd);
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "tide lab-child: {} / {}: {}\n", req.scenario, req.map, e.what());
    return 1;
  }
}

}  // namespace tide_lab
