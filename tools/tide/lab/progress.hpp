// The lab's progress bar on stderr: runs done out of all, the time since the start, the run in
// progress and how far it is (its child reports that, child_progress.hpp). Drawn only when
// enabled (stderr is a terminal and no --no-progress).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace tide_lab {

class progress_bar {
 public:
  progress_bar(bool enabled, std::size_t total) : enabled_(enabled), total_(total) {}
  ~progress_bar() { finish(); }
  progress_bar(const progress_bar&) = delete;
  progress_bar& operator=(const progress_bar&) = delete;

  // Starts the next run: `label` says what it is.
  void start(std::string label);
  // Redraws (the clock moves while a run goes on).
  void redraw();
  // The current run is `fraction` (0 to 1) done.
  void advance(double fraction);
  // The current run is done.
  void done();
  // Clears the bar so the next output starts on a clean line.
  void finish();

 private:
  bool enabled_;
  bool drawn_ = false;
  std::size_t total_;
  std::size_t done_ = 0;
  double run_fraction_ = 0;  // of the current run
  std::string label_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace tide_lab
