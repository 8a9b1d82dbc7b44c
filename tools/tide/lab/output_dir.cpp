// The all-at-once output directory. See output_dir.hpp.
#include "lab/output_dir.hpp"

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <fmt/core.h>
#include <fstream>
#include <stdexcept>
#include <system_error>

namespace tide_lab {
namespace {

namespace fs = std::filesystem;

// The files a report holds: a directory holding anything else is not replaced.
bool is_lab_report(const fs::path& dir) {
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name != "report.html" && name != "results.json") return false;
  }
  return !ec;
}

std::runtime_error out_error(const fs::path& target, std::string_view why) {
  return std::runtime_error(fmt::format("cannot write --out {}: {}", target.string(), why));
}

}  // namespace

output_dir::output_dir(fs::path target) : target_(std::move(target)) {
  std::error_code ec;
  const fs::file_status status = fs::symlink_status(target_, ec);
  if (fs::exists(status)) {
    if (!fs::is_directory(status)) throw out_error(target_, "it exists and is not a directory");
    if (!is_lab_report(target_)) {
      throw out_error(target_, "it is a directory holding files other than a tide lab report");
    }
  }
  fs::path parent = fs::absolute(target_, ec).parent_path();
  if (ec) throw out_error(target_, ec.message());
  std::string pattern =
      (parent / ("." + target_.filename().string() + ".tmp-XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) throw out_error(target_, std::strerror(errno));
  temp_ = pattern;
}

output_dir::~output_dir() {
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(temp_, ec);
}

void output_dir::write(std::string_view name, std::string_view contents) const {
  const fs::path path = temp_ / name;
  std::ofstream file(path, std::ios::binary);
  file.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  file.close();
  if (!file) throw out_error(target_, fmt::format("writing {} failed", name));
}

void output_dir::commit() {
  std::error_code ec;
  if (fs::exists(fs::symlink_status(target_, ec))) {
    // An earlier report: move it aside, move the new one in, then delete the old one.
    std::string aside =
        (fs::absolute(target_).parent_path() / ("." + target_.filename().string() + ".old-XXXXXX")).string();
    if (mkdtemp(aside.data()) == nullptr) throw out_error(target_, std::strerror(errno));
    fs::remove(aside, ec);
    fs::rename(target_, aside, ec);
    if (ec) throw out_error(target_, ec.message());
    fs::rename(temp_, target_, ec);
    if (ec) {
      std::error_code back;
      fs::rename(aside, target_, back);
      throw out_error(target_, ec.message());
    }
    fs::remove_all(aside, ec);
  } else {
    fs::rename(temp_, target_, ec);
    if (ec) throw out_error(target_, ec.message());
  }
  fs::permissions(target_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                               fs::perms::others_read | fs::perms::others_exec, ec);
  committed_ = true;
}

}  // namespace tide_lab
