// Child processes for the lab. See runner.hpp.
#include "lab/runner.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fmt/core.h>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "lab/child_progress.hpp"

namespace tide_lab {
namespace {

// The descriptor the child writes its result to.
constexpr int result_fd = 3;

volatile sig_atomic_t interrupted = 0;
void note_interrupt(int) { interrupted = 1; }

std::vector<std::string> child_arguments(const run_request& req) {
  std::vector<std::string> args = {"tide",        "lab-child",
                                   "--scenario",  req.scenario,
                                   "--map",       req.map,
                                   "--keys",      std::string(key_kind_name(req.keys)),
                                   "--n",         std::to_string(req.n),
                                   "--rounds",    std::to_string(req.rounds),
                                   "--limit",     std::to_string(req.limit_bytes),
                                   "--ballast",   std::to_string(req.ballast_bytes),
                                   "--result-fd", std::to_string(result_fd)};
  if (req.progress) args.emplace_back("--progress");
  return args;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    return fmt::format("was killed by signal {} ({}){}", sig, strsignal(sig),
                       sig == SIGKILL ? ", perhaps out of memory: try a smaller --n" : "");
  }
  return "stopped";
}

}  // namespace

nlohmann::json run_in_child(const run_request& req, progress_bar& bar) {
  const std::vector<std::string> args = child_arguments(req);
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    throw std::runtime_error(fmt::format("cannot make a pipe: {}", std::strerror(errno)));
  }
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    throw std::runtime_error(fmt::format("cannot start a child process: {}", std::strerror(errno)));
  }
  if (pid == 0) {
    // The child: only async-signal-safe calls until exec. dup2 clears FD_CLOEXEC on the copy.
    if (dup2(fds[1], result_fd) < 0) _exit(127);
    execv("/proc/self/exe", argv.data());
    _exit(127);
  }
  close(fds[1]);

  child_output output;
  char buffer[65536];
  for (bool stopped = false;;) {
    if (interrupted && !stopped) {
      kill(pid, SIGKILL);
      stopped = true;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int ready = poll(&p, 1, 200);
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) {
      bar.redraw();
      continue;
    }
    const ssize_t n = read(fds[0], buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    output.feed(std::string_view(buffer, static_cast<std::size_t>(n)),
                [&](double fraction) { bar.advance(fraction); });
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (interrupted) throw std::runtime_error("interrupted");
  const std::string what = fmt::format("scenario {} for map {}", req.scenario, req.map);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error(fmt::format("the child process running {} {}", what, describe_status(status)));
  }
  try {
    return nlohmann::json::parse(output.result());
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(fmt::format("the child process running {} wrote no valid result: {}", what, e.what()));
  }
}

void catch_interrupts() {
  struct sigaction action {};
  action.sa_handler = note_interrupt;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

}  // namespace tide_lab
