// `tide stats`: see stats.hpp.
#include "stats/stats.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fmt/core.h>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

extern char** environ;

namespace tide_stats {

namespace {

constexpr double mib = 1 << 20;

// One process's lines, in the order they came.
struct process_record {
  std::vector<nlohmann::json> samples;
  std::uint64_t peak_live = 0;
  std::uint64_t peak_footprint = 0;
  std::uint64_t peak_resident = 0;
};

std::uint64_t field(const nlohmann::json& line, const char* name) {
  return line.value(name, std::uint64_t{0});
}

// The environment for the program: this one, with libtide_malloc.so preloaded first and the
// stats stream's descriptor and interval.
std::vector<std::string> program_environment(const std::string& library, int fd,
                                             std::chrono::milliseconds interval) {
  std::vector<std::string> env;
  std::string preload = "LD_PRELOAD=" + library;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    if (entry.starts_with("LD_PRELOAD=")) {
      if (entry.size() > 11) preload += ":" + std::string(entry.substr(11));
    } else if (!entry.starts_with("TIDE_STATS_FD=") && !entry.starts_with("TIDE_STATS_INTERVAL=")) {
      env.emplace_back(entry);
    }
  }
  env.push_back(preload);
  env.push_back(fmt::format("TIDE_STATS_FD={}", fd));
  env.push_back(fmt::format("TIDE_STATS_INTERVAL={}", interval.count()));
  return env;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

std::string describe(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return fmt::format("was killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  }
  return "stopped";
}

void print_timeline_header() {
  fmt::print(stderr, "tide stats: {:>7} {:>8} {:>10} {:>11} {:>10} {:>10} {:>9} {:>9}\n", "time s",
             "pid", "live MiB", "objects", "in use MiB", "idle MiB", "rel. MiB", "RSS MiB");
}

void print_timeline_row(double seconds, const nlohmann::json& line) {
  fmt::print(stderr, "tide stats: {:>7.1f} {:>8} {:>10.1f} {:>11} {:>10.1f} {:>10.1f} {:>9.1f} {:>9.1f}\n",
             seconds, field(line, "pid"), double(field(line, "live_bytes")) / mib,
             field(line, "live_objects"), double(field(line, "in_use_bytes")) / mib,
             double(field(line, "idle_bytes")) / mib, double(field(line, "released_bytes")) / mib,
             double(field(line, "resident_bytes")) / mib);
}

// Memstats read at exit must add up: objects live = mallocs - frees.
std::string consistency(const nlohmann::json& last) {
  if (field(last, "mallocs") < field(last, "frees") ||
      field(last, "live_objects") != field(last, "mallocs") - field(last, "frees")) {
    return " INCONSISTENT (live objects != mallocs - frees)";
  }
  return "";
}

void print_summary(const std::map<int, process_record>& processes, pid_t root, int status,
                   double seconds) {
  fmt::print(stderr, "tide stats: the program {} after {:.1f} s; {} process{} on tide::heap\n",
             describe(status), seconds, processes.size(), processes.size() == 1 ? "" : "es");
  // The root first, then the others by peak footprint.
  std::vector<std::pair<int, const process_record*>> order;
  for (const auto& [pid, record] : processes) order.emplace_back(pid, &record);
  std::stable_sort(order.begin(), order.end(), [root](const auto& a, const auto& b) {
    if ((a.first == root) != (b.first == root)) return a.first == root;
    return a.second->peak_footprint > b.second->peak_footprint;
  });
  constexpr std::size_t shown = 10;
  for (std::size_t i = 0; i < order.size() && i < shown; ++i) {
    const auto& [pid, record] = order[i];
    const nlohmann::json& last = record->samples.back();
    fmt::print(stderr,
               "tide stats: pid {}{}: peak live {:.1f} MiB, peak footprint {:.1f} MiB, peak RSS "
               "{:.1f} MiB; at {} live {:.1f} MiB in {} objects; {} mallocs, {} frees; {:.1f} MiB "
               "released to the OS{}\n",
               pid, pid == root ? " (the program)" : "", double(record->peak_live) / mib,
               double(record->peak_footprint) / mib, double(record->peak_resident) / mib,
               last.value("final", false) ? "exit" : "its last report",
               double(field(last, "live_bytes")) / mib, field(last, "live_objects"),
               field(last, "mallocs"), field(last, "frees"),
               double(field(last, "released_total_bytes")) / mib, consistency(last));
  }
  if (order.size() > shown) {
    fmt::print(stderr, "tide stats: ... and {} more processes\n", order.size() - shown);
  }
}

void write_json(const std::string& path, const stats_options& options,
                const std::map<int, process_record>& processes, pid_t root, int status) {
  nlohmann::json out;
  out["command"] = options.command;
  out["exit_status"] = exit_code(status);
  out["root_pid"] = root;
  out["interval_ms"] = options.interval.count();
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [pid, record] : processes) {
    list.push_back({{"pid", pid},
                    {"peak_live_bytes", record.peak_live},
                    {"peak_footprint_bytes", record.peak_footprint},
                    {"peak_resident_bytes", record.peak_resident},
                    {"samples", record.samples}});
  }
  out["processes"] = std::move(list);
  std::ofstream file(path);
  file << out.dump(2) << '\n';
  if (!file) throw std::runtime_error(fmt::format("cannot write {}", path));
}

}  // namespace

std::string find_malloc_library(const std::string& requested) {
  namespace fs = std::filesystem;
  std::vector<fs::path> tried;
  auto usable = [&](const fs::path& p) {
    tried.push_back(p);
    return access(p.c_str(), R_OK) == 0;
  };
  if (!requested.empty()) {
    if (usable(requested)) return fs::absolute(requested).string();
  } else if (const char* env = std::getenv("TIDE_MALLOC_LIB"); env != nullptr && *env != '\0') {
    if (usable(env)) return fs::absolute(env).string();
  } else {
    std::error_code error;
    const fs::path exe_dir = fs::read_symlink("/proc/self/exe", error).parent_path();
    for (const fs::path& candidate : {exe_dir / ".." / TIDE_INSTALL_LIBDIR / "libtide_malloc.so",
                                      exe_dir / ".." / ".." / "libtide_malloc.so"}) {
      if (usable(candidate)) return fs::weakly_canonical(candidate).string();
    }
  }
  std::string places;
  for (const fs::path& p : tried) places += (places.empty() ? "" : ", ") + p.string();
  throw std::invalid_argument(fmt::format(
      "cannot find libtide_malloc.so (tried {}); give it with --lib or TIDE_MALLOC_LIB", places));
}

int run_stats(const stats_options& options) {
  const std::string library = find_malloc_library(options.library);
  if (!options.json_path.empty()) {
    std::ofstream probe(options.json_path);  // fail before the program runs, not after
    if (!probe) throw std::invalid_argument(fmt::format("cannot write {}", options.json_path));
  }

  int stream[2];
  int exec_error[2];  // the child reports a failed exec through it (close-on-exec: EOF if not)
  if (pipe2(stream, O_CLOEXEC) != 0 || pipe2(exec_error, O_CLOEXEC) != 0) {
    throw std::runtime_error(fmt::format("cannot make a pipe: {}", std::strerror(errno)));
  }
  // The program's end of the stream stays open across exec (and in its children).
  fcntl(stream[1], F_SETFD, 0);
  std::vector<std::string> env = program_environment(library, stream[1], options.interval);
  std::vector<std::string> args = options.command;
  std::vector<char*> envp = c_strings(env);
  std::vector<char*> argv = c_strings(args);

  // Like time(1): Ctrl-C and Ctrl-\ are for the program; tide stats waits and reports.
  struct sigaction ignore {}, old_int {}, old_quit {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGINT, &ignore, &old_int);
  sigaction(SIGQUIT, &ignore, &old_quit);

  const auto start = std::chrono::steady_clock::now();
  const pid_t root = fork();
  if (root < 0) throw std::runtime_error(fmt::format("cannot fork: {}", std::strerror(errno)));
  if (root == 0) {
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGQUIT, &old_quit, nullptr);
    close(stream[0]);
    close(exec_error[0]);
    execvpe(argv[0], argv.data(), envp.data());
    const int error = errno;
    [[maybe_unused]] ssize_t n = write(exec_error[1], &error, sizeof error);
    _exit(127);
  }
  close(stream[1]);
  close(exec_error[1]);
  int error = 0;
  ssize_t got = 0;
  while ((got = read(exec_error[0], &error, sizeof error)) < 0 && errno == EINTR) {
  }
  close(exec_error[0]);
  if (got == static_cast<ssize_t>(sizeof error)) {
    close(stream[0]);
    int status = 0;
    while (waitpid(root, &status, 0) < 0 && errno == EINTR) {
    }
    fmt::print(stderr, "tide stats: cannot run {}: {}\n", options.command[0], std::strerror(error));
    return 127;
  }

  auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  std::map<int, process_record> processes;
  std::string pending;
  bool header_printed = false;
  int status = 0;
  bool root_done = false;
  std::chrono::steady_clock::time_point root_done_at;
  char buffer[65536];
  for (;;) {
    if (!root_done && waitpid(root, &status, WNOHANG) == root) {
      root_done = true;
      root_done_at = std::chrono::steady_clock::now();
    }
    // The program's children may keep the pipe open after it exits: wait a little for them.
    if (root_done && std::chrono::steady_clock::now() - root_done_at > std::chrono::seconds(1)) break;
    pollfd p{stream[0], POLLIN, 0};
    const int ready = poll(&p, 1, 100);
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    const ssize_t n = read(stream[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // every writer has gone
    pending.append(buffer, static_cast<std::size_t>(n));
    for (std::size_t eol; (eol = pending.find('\n')) != std::string::npos; pending.erase(0, eol + 1)) {
      nlohmann::json line = nlohmann::json::parse(pending.substr(0, eol), nullptr, false);
      if (line.is_discarded() || !line.contains("pid")) continue;
      const int pid = line["pid"].get<int>();
      process_record& record = processes[pid];
      record.peak_live = std::max(record.peak_live, field(line, "live_bytes"));
      record.peak_footprint = std::max(record.peak_footprint, field(line, "footprint_bytes"));
      record.peak_resident = std::max(record.peak_resident, field(line, "resident_bytes"));
      if (!options.quiet && pid == root && !line.value("final", false)) {
        if (!header_printed) print_timeline_header();
        header_printed = true;
        print_timeline_row(seconds(), line);
      }
      record.samples.push_back(std::move(line));
    }
  }
  close(stream[0]);
  if (!root_done) {
    while (waitpid(root, &status, 0) < 0 && errno == EINTR) {
    }
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGQUIT, &old_quit, nullptr);

  if (processes.empty()) {
    fmt::print(stderr,
               "tide stats: the program {} and reported no memstats (it never allocated, is "
               "statically linked, or closed file descriptor {})\n",
               describe(status), stream[1]);
  } else {
    print_summary(processes, root, status, seconds());
  }
  if (!options.json_path.empty()) write_json(options.json_path, options, processes, root, status);
  return exit_code(status);
}

}  // namespace tide_stats
