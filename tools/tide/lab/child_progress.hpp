// How far a lab child is into its run, told to the parent while it runs so that the progress
// bar moves within a run. The child writes it on its result descriptor, ahead of the result:
// zero or more lines "progress F\n" (F: the fraction of the run done, 0 to 1), then the run's
// JSON, which starts with '{'. See docs/lab.md ("How it runs").
//
//   progress_sender  the child side: at most one line per interval (50 ms: 20 a second)
//   child_output     the parent side: splits what it reads into progress and the result
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <fmt/core.h>
#include <string>
#include <string_view>

namespace tide_lab {

inline constexpr std::string_view progress_prefix = "progress ";
inline constexpr std::chrono::milliseconds default_progress_interval{50};

class progress_sender {
 public:
  progress_sender(int fd, std::chrono::milliseconds interval) : fd_(fd), interval_(interval) {}

  // `done` of `total` operations are done: sends the fraction unless the last line went out
  // less than an interval ago. The fraction sent never decreases, though `total` is an estimate
  // that a run may revise. A failed write is left to the result's own write to report.
  void send(std::uint64_t done, std::uint64_t total) {
    const auto now = std::chrono::steady_clock::now();
    if (sent_any_ && now - last_ < interval_) return;
    const double fraction =
        total == 0 ? 1.0 : std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
    sent_fraction_ = std::max(sent_fraction_, fraction);
    const std::string line = fmt::format("{}{:.4f}\n", progress_prefix, sent_fraction_);
    ssize_t written;
    do {
      written = write(fd_, line.data(), line.size());
    } while (written < 0 && errno == EINTR);
    last_ = now;
    sent_any_ = true;
  }

 private:
  int fd_;
  std::chrono::milliseconds interval_;
  std::chrono::steady_clock::time_point last_{};
  bool sent_any_ = false;
  double sent_fraction_ = 0;
};

// The child's sender while it runs a scenario with progress asked for (`tide lab-child
// --progress`); null otherwise. recorder::tick sends through it.
inline progress_sender* active_progress_sender = nullptr;

class child_output {
 public:
  // Takes the next bytes read from the child; calls on_progress(fraction) for each progress
  // line they complete, in order (fractions never go back).
  template <class OnProgress>
  void feed(std::string_view bytes, OnProgress&& on_progress) {
    if (in_result_) {
      result_.append(bytes);
      return;
    }
    pending_.append(bytes);
    for (;;) {
      const std::string_view head(pending_);
      const std::size_t compared = std::min(head.size(), progress_prefix.size());
      if (head.substr(0, compared) != progress_prefix.substr(0, compared)) {
        in_result_ = true;  // not a progress line: the result starts here
        result_ = std::move(pending_);
        return;
      }
      const std::size_t end = head.find('\n');
      if (end == std::string_view::npos) return;  // a line not complete yet
      const std::string_view number =
          head.substr(progress_prefix.size(), end - progress_prefix.size());
      double fraction = 0;
      const auto [ptr, error] =
          std::from_chars(number.data(), number.data() + number.size(), fraction);
      if (error == std::errc() && ptr == number.data() + number.size()) {
        fraction_ = std::clamp(fraction, fraction_, 1.0);
        on_progress(fraction_);
      }
      pending_.erase(0, end + 1);
    }
  }

  // What followed the progress lines: the run's JSON once the child is done.
  const std::string& result() const noexcept { return result_; }

 private:
  std::string pending_;  // the start of a line not complete yet
  std::string result_;
  double fraction_ = 0;  // the largest the child has reported
  bool in_result_ = false;
};

}  // namespace tide_lab
