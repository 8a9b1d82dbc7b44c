// Shared by the command lines (CLI11) of tide's plain bench programs.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <limits>
#include <string>

namespace tide_bench {

// Checks for unsigned options, made on the text read as a signed number: CLI11 2.1 reads "-3"
// into an unsigned option as 2^64 - 3. (CLI::NonNegativeNumber and CLI::PositiveNumber reject
// it too, but their error messages print DBL_MAX in full.)
inline const CLI::Range non_negative{std::int64_t{0}, std::numeric_limits<std::int64_t>::max(),
                                     "NONNEGATIVE"};
inline const CLI::Range positive{std::int64_t{1}, std::numeric_limits<std::int64_t>::max(),
                                 "POSITIVE"};

// The positional N of the plain programs that fill maps (growth_bench, shrink_bench,
// memory_bench): a count of entries, shown with its default.
inline CLI::Option* add_entries_argument(CLI::App& app, std::size_t& n, const std::string& what) {
  return app.add_option("N", n, what)->capture_default_str()->check(non_negative);
}

}  // namespace tide_bench
