// alloc_bench: one allocation workload on one allocator, one JSON line of results. The runner
// bench/run_alloc_compare.sh runs it once per (allocator, workload, round) in a process of its
// own: on tide::heap (--allocator=tide), and on malloc (--allocator=system) as glibc or under
// LD_PRELOAD of jemalloc, tcmalloc or mimalloc. See docs/PERFORMANCE.md ("Allocators").
//
//   usage: alloc_bench --allocator=system|tide --workload=NAME [--size=B] [--live=K]
//                      [--ops=N] [--mib=M]
//
//   churn              --live objects of --size bytes (default 64 B, 10000 live); --ops times
//                      (default 10M) free the oldest and allocate a new one.   ns per pair
//   random             --live objects (default 10000) of 8 B - 32 KiB, skewed to small
//                      (alloc_workloads.hpp); --ops times (default 5M) free a random one and
//                      allocate a new size in its place.                       ns per pair
//   prodcons           --ops blocks (default 2M) of --size bytes allocated on one thread,
//                      freed on another.                                       ns per block
//   map-u64            tide::map<uint64_t, uint64_t> built to --ops entries (default 1M), then
//                      erased; std::allocator or tide::heap_map.              ns per entry
//   map-string         the same with string values of 20-40 characters.       ns per entry
//   give-back          --mib MiB (default 512) of 16 B - 1 KiB objects allocated and freed;
//                      RSS sampled every 10 ms for 3 s (give_back.hpp).       ms until back
//   give-back-release  the same, asking the allocator to give memory back after the frees
//                      (glibc: malloc_trim(0); tide: tide::release_memory()).
//
// Every line has "time" (null when RSS never came back), "unit", "start_rss" (bytes resident
// when main() began) and "peak_rss" (ru_maxrss, in bytes).

#include <fmt/core.h>

#include <charconv>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <string_view>

#include "alloc_backends.hpp"
#include "alloc_workloads.hpp"
#include "give_back.hpp"
#include "common/process_memory.hpp"

namespace tide_bench {
namespace {

struct options {
  std::string_view allocator;
  std::string_view workload;
  std::size_t size = 64;
  std::size_t live = 10'000;
  std::size_t ops = 0;  // 0: the workload's default
  std::size_t mib = 512;
};

constexpr std::string_view usage =
    "usage: alloc_bench --allocator=system|tide --workload=NAME [--size=B] [--live=K] [--ops=N] "
    "[--mib=M]\n"
    "  workloads: churn random prodcons map-u64 map-string give-back give-back-release\n";

std::optional<std::size_t> parse_count(std::string_view text) {
  std::size_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value == 0) return std::nullopt;
  return value;
}

std::optional<options> parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const std::size_t eq = arg.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    const std::string_view key = arg.substr(0, eq);
    const std::string_view value = arg.substr(eq + 1);
    if (key == "--allocator") {
      o.allocator = value;
      continue;
    }
    if (key == "--workload") {
      o.workload = value;
      continue;
    }
    const std::optional<std::size_t> n = parse_count(value);
    if (!n) return std::nullopt;
    if (key == "--size") {
      o.size = *n;
    } else if (key == "--live") {
      o.live = *n;
    } else if (key == "--ops") {
      o.ops = *n;
    } else if (key == "--mib") {
      o.mib = *n;
    } else {
      return std::nullopt;
    }
  }
  if (o.allocator != "system" && o.allocator != "tide") return std::nullopt;
  return o;
}

std::size_t ops_or(const options& o, std::size_t fallback) { return o.ops != 0 ? o.ops : fallback; }

// The workload's figures as the middle of a JSON object: "case", "time", "unit" and extras.
// Empty if the workload name is unknown.
template <class Backend>
std::string run(const options& o) {
  const auto timed = [](std::string label, double time, std::string_view unit) {
    return fmt::format(R"("case": "{}", "time": {:.3f}, "unit": "{}")", label, time, unit);
  };
  const std::string_view w = o.workload;
  if (w == "churn") {
    return timed(fmt::format("churn {} B, {} live", o.size, o.live),
                 churn<Backend>(o.size, o.live, ops_or(o, 10'000'000)), "ns/pair");
  }
  if (w == "random") {
    return timed(fmt::format("random 8 B-32 KiB, {} live", o.live),
                 random_sizes<Backend>(o.live, ops_or(o, 5'000'000)), "ns/pair");
  }
  if (w == "prodcons") {
    return timed(fmt::format("producer/consumer {} B", o.size),
                 producer_consumer<Backend>(o.size, ops_or(o, 2'000'000)), "ns/block");
  }
  if (w == "map-u64" || w == "map-string") {
    const std::size_t entries = ops_or(o, 1'000'000);
    const map_times t =
        w == "map-u64" ? map_u64<Backend>(entries) : map_string<Backend>(entries);
    return timed(fmt::format("{} {}", w, entries), t.insert_ns + t.erase_ns,
                 "ns/entry (insert+erase)") +
           fmt::format(R"(, "insert_ns": {:.3f}, "erase_ns": {:.3f})", t.insert_ns, t.erase_ns);
  }
  if (w == "give-back" || w == "give-back-release") {
    const bool explicit_release = w == "give-back-release";
    const give_back_result r = give_back<Backend>(o.mib << 20, explicit_release);
    std::string out = fmt::format(
        R"("case": "{} {} MiB", "time": {}, "unit": "ms to return", "rss_before": {}, )"
        R"("rss_full": {}, "rss_after_free": {}, "rss_end": {})",
        w, o.mib, r.ms_to_return ? fmt::format("{:.1f}", *r.ms_to_return) : "null",
        r.rss_before, r.rss_full, r.rss_after_free, r.rss_end);
    return out;
  }
  return {};
}

}  // namespace
}  // namespace tide_bench

int main(int argc, char** argv) {
  using namespace tide_bench;
  const std::size_t start_rss = tide_tools::resident_bytes();
  const std::optional<options> o = parse(argc, argv);
  if (!o) {
    std::fputs(usage.data(), stderr);
    return 2;
  }
  try {
    const std::string figures =
        o->allocator == "tide" ? run<tide_backend>(*o) : run<system_backend>(*o);
    if (figures.empty()) {
      std::fputs(usage.data(), stderr);
      return 2;
    }
    fmt::print(R"({{"workload": "{}", "allocator": "{}", {}, "start_rss": {}, "peak_rss": {}}})"
               "\n",
               o->workload, o->allocator, figures, start_rss, tide_tools::peak_resident_bytes());
  } catch (const std::exception& e) {
    fmt::print(stderr, "alloc_bench: {}\n", e.what());
    return 1;
  }
  return 0;
}
