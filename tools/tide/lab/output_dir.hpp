// The lab's --out directory, written all at once: files go into a fresh temporary directory
// next to it, which replaces it by rename() at the end. Until commit() nothing at --out
// changes, and an error or an interrupted run leaves no half-written report. See docs/lab.md.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace tide_lab {

class output_dir {
 public:
  // Makes the temporary directory. Throws std::runtime_error with the message to show if
  // `target` cannot be written: its parent is missing or not writable, or `target` exists and
  // is not a directory holding an earlier report (tide lab replaces only its own reports).
  explicit output_dir(std::filesystem::path target);
  output_dir(const output_dir&) = delete;
  output_dir& operator=(const output_dir&) = delete;
  // Removes the temporary directory unless committed.
  ~output_dir();

  // Writes `name` into the temporary directory. Throws std::runtime_error on failure.
  void write(std::string_view name, std::string_view contents) const;
  // Replaces the target with the temporary directory. Throws std::runtime_error on failure.
  void commit();

 private:
  std::filesystem::path target_;
  std::filesystem::path temp_;
  bool committed_ = false;
};

}  // namespace tide_lab
