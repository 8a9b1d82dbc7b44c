// Environment knobs. See environment.hpp.
#include "environment.hpp"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>

#include <fcntl.h>
#include <unistd.h>

#include "tide/heap.hpp"
#include "tide/memstats.hpp"
#include "stats_reporter.hpp"
#include "trace.hpp"

namespace tide::heap::detail {

namespace {

// Digits, then the rest of the text: the number and its unit.
std::optional<std::pair<std::uint64_t, std::string_view>> leading_number(std::string_view text) {
  std::uint64_t value = 0;
  std::size_t i = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    const auto digit = static_cast<std::uint64_t>(text[i] - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  if (i == 0) return std::nullopt;
  return std::pair{value, text.substr(i)};
}

void warn(const char* name, const char* value, const char* expected) noexcept {
  write_stderr_line("tide: ignoring %s=\"%.80s\": expected %s", name, value, expected);
}

void print_stats_at_exit() noexcept {
  const memstats s = read_memstats();
  constexpr double mib = 1 << 20;
  write_stderr_line(
      "tide: memstats at exit: live %.1f MiB in %llu objects; %llu mallocs, %llu frees; "
      "pages in use %.1f MiB, idle %.1f MiB, released %.1f MiB of %.1f MiB of arenas; "
      "metadata %.1f MiB; %zu thread caches holding %.1f MiB; released ever %.1f MiB",
      static_cast<double>(s.live_bytes) / mib, static_cast<unsigned long long>(s.live_objects),
      static_cast<unsigned long long>(s.mallocs), static_cast<unsigned long long>(s.frees),
      static_cast<double>(s.in_use_bytes) / mib, static_cast<double>(s.idle_bytes) / mib,
      static_cast<double>(s.released_bytes) / mib, static_cast<double>(s.arena_bytes) / mib,
      static_cast<double>(s.metadata_bytes) / mib, s.thread_caches,
      static_cast<double>(s.cached_bytes) / mib,
      static_cast<double>(s.released_total_bytes) / mib);
}

// TIDE_PROFILE's path, and the process that set it (a forked child writes path.<its pid>).
char profile_path[4096];
pid_t profile_owner = 0;

void write_profile_at_exit() noexcept {
  char path[sizeof profile_path + 16];
  if (::getpid() == profile_owner) {
    std::snprintf(path, sizeof path, "%s", profile_path);
  } else {
    std::snprintf(path, sizeof path, "%s.%d", profile_path, static_cast<int>(::getpid()));
  }
  try {
    write_heap_profile(path);
  } catch (const std::exception& e) {
    write_stderr_line("tide: TIDE_PROFILE: %s", e.what());
  }
}

// TIDE_PROFILE=path: sample at TIDE_PROFILE_RATE (default 512 KiB) and write the profile at
// exit. TIDE_PROFILE_RATE alone: sample, for write_heap_profile().
void apply_profile_environment() noexcept {
  const char* path = std::getenv("TIDE_PROFILE");
  const char* rate_text = std::getenv("TIDE_PROFILE_RATE");
  std::size_t rate = default_profile_rate;
  if (rate_text != nullptr) {
    if (const auto bytes = parse_bytes(rate_text)) {
      rate = *bytes;
    } else {
      warn("TIDE_PROFILE_RATE", rate_text, "bytes per sample, e.g. 524288 or 512KiB");
    }
  }
  if (path != nullptr && path[0] != '\0') {
    if (std::strlen(path) >= sizeof profile_path) {
      warn("TIDE_PROFILE", path, "a path shorter than 4096 bytes");
      return;
    }
    std::strcpy(profile_path, path);
    profile_owner = ::getpid();
    std::atexit(write_profile_at_exit);
  } else if (rate_text == nullptr) {
    return;
  }
  set_heap_profile_rate(rate);
}

// TIDE_STATS_FD=n (a descriptor number, no unit), TIDE_STATS_INTERVAL: tide stats' stream.
void apply_stats_stream_environment() noexcept {
  const char* v = std::getenv("TIDE_STATS_FD");
  if (v == nullptr) return;
  std::chrono::milliseconds interval{200};
  if (const char* i = std::getenv("TIDE_STATS_INTERVAL"); i != nullptr) {
    const auto ms = parse_milliseconds(i);
    if (ms && *ms > 0 && *ms < std::numeric_limits<std::uint32_t>::max()) {
      interval = std::chrono::milliseconds(*ms);
    } else {
      warn("TIDE_STATS_INTERVAL", i, "milliseconds, e.g. 200 or 1s");
    }
  }
  const auto fd = leading_number(v);
  if (fd && fd->second.empty() && fd->first <= std::numeric_limits<int>::max() &&
      ::fcntl(static_cast<int>(fd->first), F_GETFD) != -1) {
    start_stats_stream(static_cast<int>(fd->first), interval);
  } else {
    warn("TIDE_STATS_FD", v, "an open file descriptor");
  }
}

}  // namespace

std::optional<std::size_t> parse_bytes(std::string_view text) noexcept {
  const auto number = leading_number(text);
  if (!number) return std::nullopt;
  auto [value, unit] = *number;
  int shift = 0;
  if (unit == "" || unit == "B") {
    shift = 0;
  } else if (unit == "K" || unit == "KiB" || unit == "k") {
    shift = 10;
  } else if (unit == "M" || unit == "MiB") {
    shift = 20;
  } else if (unit == "G" || unit == "GiB") {
    shift = 30;
  } else {
    return std::nullopt;
  }
  if (value > (std::numeric_limits<std::size_t>::max() >> shift)) return std::nullopt;
  return static_cast<std::size_t>(value << shift);
}

std::optional<std::size_t> parse_milliseconds(std::string_view text) noexcept {
  if (text == "off") return std::numeric_limits<std::size_t>::max();
  const auto number = leading_number(text);
  if (!number) return std::nullopt;
  auto [value, unit] = *number;
  if (unit == "" || unit == "ms") return static_cast<std::size_t>(value);
  if (unit == "s" && value <= std::numeric_limits<std::uint32_t>::max()) {
    return static_cast<std::size_t>(value * 1000);
  }
  return std::nullopt;
}

std::optional<bool> parse_switch(std::string_view text) noexcept {
  if (text == "1" || text == "on" || text == "true") return true;
  if (text == "0" || text == "off" || text == "false" || text.empty()) return false;
  return std::nullopt;
}

void apply_environment() noexcept {
  if (const char* v = std::getenv("TIDE_TRACE"); v != nullptr) {
    if (const auto on = parse_switch(v)) {
      tracing_on.store(*on, std::memory_order_relaxed);
    } else {
      warn("TIDE_TRACE", v, "1 or 0");
    }
  }
  if (const char* v = std::getenv("TIDE_MEMORY_LIMIT"); v != nullptr) {
    if (const auto bytes = parse_bytes(v)) {
      set_memory_limit(*bytes);
    } else {
      warn("TIDE_MEMORY_LIMIT", v, "bytes, e.g. 536870912, 512MiB or 2G");
    }
  }
  if (const char* v = std::getenv("TIDE_RELEASE_DELAY"); v != nullptr) {
    const auto ms = parse_milliseconds(v);
    if (!ms) {
      warn("TIDE_RELEASE_DELAY", v, "milliseconds, e.g. 500, 500ms or 2s, or off");
    } else if (*ms == std::numeric_limits<std::size_t>::max()) {
      set_background_release(false);
    } else {
      set_release_delay(std::chrono::milliseconds(*ms));
    }
  }
  apply_profile_environment();
  apply_stats_stream_environment();
  if (const char* v = std::getenv("TIDE_STATS_ON_EXIT"); v != nullptr) {
    const auto on = parse_switch(v);
    if (!on) {
      warn("TIDE_STATS_ON_EXIT", v, "1 or 0");
    } else if (*on) {
      std::atexit(print_stats_at_exit);
    }
  }
}

}  // namespace tide::heap::detail
