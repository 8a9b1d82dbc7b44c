// The progress bar. See progress.hpp.
#include "lab/progress.hpp"

#include <algorithm>
#include <fmt/core.h>

namespace tide_lab {

void progress_bar::start(std::string label) {
  label_ = std::move(label);
  run_fraction_ = 0;
  redraw();
}

void progress_bar::advance(double fraction) {
  run_fraction_ = fraction;
  redraw();
}

void progress_bar::redraw() {
  if (!enabled_) return;
  constexpr std::size_t width = 30;
  const std::size_t filled =
      total_ == 0
          ? width
          : std::min(width, static_cast<std::size_t>((static_cast<double>(done_) + run_fraction_) *
                                                     width / static_cast<double>(total_)));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  fmt::print(stderr, "\r\x1b[2K[{}{}] {}/{} {:5.1f}s  {} {:3.0f}%", std::string(filled, '#'),
             std::string(width - filled, '-'), done_, total_, seconds, label_, 100 * run_fraction_);
  std::fflush(stderr);
  drawn_ = true;
}

void progress_bar::done() {
  ++done_;
  run_fraction_ = 0;
  redraw();
}

void progress_bar::finish() {
  if (!enabled_ || !drawn_) return;
  fmt::print(stderr, "\r\x1b[2K");
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace tide_lab
