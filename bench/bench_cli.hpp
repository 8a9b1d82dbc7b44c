// Shared by the command lines (CLI11) of tide's plain bench programs.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <limits>

namespace tide_bench {

// Checks for unsigned options, made on the text read as a signed number: CLI11 2.1 reads "-3"
// into an unsigned option as 2^64 - 3. (CLI::NonNegativeNumber and CLI::PositiveNumber reject
// it too, but their error messages print DBL_MAX in full.)
inline const CLI::Range non_negative{std::int64_t{0}, std::numeric_limits<std::int64_t>::max(),
                                     "NONNEGATIVE"};
inline const CLI::Range positive{std::int64_t{1}, std::numeric_limits<std::int64_t>::max(),
                                 "POSITIVE"};

}  // namespace tide_bench
