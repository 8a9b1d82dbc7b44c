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
//   batch              --live blocks (default 10000) of --size bytes allocated one after
//                      another, then all freed; --ops rounds (default 100).   ns per pair
//   random             --live objects (default 10000) of 8 B - 32 KiB, skewed to small
//                      (alloc_workloads.hpp); --ops times (default 5M) free a random one and
//                      allocate a new size in its place.                       ns per pair
//   prodcons           --ops blocks (default 2M) of --size bytes allocated on one thread,
//                      freed on another.                                       ns per block
//   map-u64            tide::map<uint64_t, uint64_t> built to --ops entries (default 1M), then
//                      erased; std::allocator or tide::heap_map.              ns per entry
//   map-string         the same with string values of 20-40 characters.       ns per entry
//   fragmented         --mib MiB (default 512) of 256 KiB blocks written, every other one
//                      freed; then --ops (default 16) blocks of 8 MiB allocated.  us, slowest
//   give-back          --mib MiB (default 512) of 16 B - 1 KiB objects allocated and freed;
//                      RSS sampled every 10 ms for 3 s (give_back.hpp).       ms until back
//   give-back-release  the same, asking the allocator to give memory back after the frees
//                      (glibc: malloc_trim(0); tide: tide::release_memory()).
//
// Every line has "time" (null when RSS never came back), "unit", "start_rss" (bytes resident
// when main() began) and "peak_rss" (ru_maxrss, in bytes).

#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <cstddef>
#include <exception>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "alloc_backends.hpp"
#include "alloc_workloads.hpp"
#include "bench_cli.hpp"
#include "give_back.hpp"
#include "common/process_memory.hpp"

namespace tide_bench {
namespace {

struct options {
  std::string allocator;
  std::string workload;
  std::size_t size = 64;
  std::size_t live = 10'000;
  std::size_t ops = 0;  // 0: the workload's default
  std::size_t mib = 512;
};

using json = nlohmann::ordered_json;

std::size_t ops_or(const options& o, std::size_t fallback) { return o.ops != 0 ? o.ops : fallback; }

// The workload's figures: "case", "time", "unit" and extras.
// Precondition: o.workload is one of the names main() accepts.
template <class Backend>
json run(const options& o) {
  const auto timed = [](const std::string& label, double time, std::string_view unit) {
    return json{{"case", label}, {"time", rounded(time, 3)}, {"unit", unit}};
  };
  const std::string_view w = o.workload;
  if (w == "churn") {
    return timed(fmt::format("churn {} B, {} live", o.size, o.live),
                 churn<Backend>(o.size, o.live, ops_or(o, 10'000'000)), "ns/pair");
  }
  if (w == "batch") {
    return timed(fmt::format("batch {} B, {} at a time", o.size, o.live),
                 batches<Backend>(o.size, o.live, ops_or(o, 100)), "ns/pair");
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
    json figures = timed(fmt::format("{} {}", w, entries), t.insert_ns + t.erase_ns,
                         "ns/entry (insert+erase)");
    figures["insert_ns"] = rounded(t.insert_ns, 3);
    figures["erase_ns"] = rounded(t.erase_ns, 3);
    return figures;
  }
  if (w == "fragmented") {
    const large_allocation_times t = large_after_fragmentation<Backend>(o.mib, ops_or(o, 16));
    json figures = timed(fmt::format("8 MiB after {} MiB in 256 KiB pieces, half freed", o.mib),
                         t.max_us, "us, slowest allocation");
    figures["mean_us"] = rounded(t.mean_us, 3);
    return figures;
  }
  // give-back and give-back-release
  const bool explicit_release = w == "give-back-release";
  const give_back_result r = give_back<Backend>(o.mib << 20, explicit_release);
  return json{{"case", fmt::format("{} {} MiB", w, o.mib)},
              {"time", r.ms_to_return ? json(rounded(*r.ms_to_return, 1)) : json(nullptr)},
              {"unit", "ms to return"},
              {"rss_before", r.rss_before},
              {"rss_full", r.rss_full},
              {"rss_after_free", r.rss_after_free},
              {"rss_end", r.rss_end}};
}

}  // namespace
}  // namespace tide_bench

int main(int argc, char** argv) {
  using namespace tide_bench;
  const std::size_t start_rss = tide_tools::resident_bytes();
  options o;
  CLI::App app{
      "alloc_bench: one allocation workload on one allocator, one JSON line of results. "
      "bench/run_alloc_compare.sh runs it; see docs/PERFORMANCE.md (\"Allocators\")."};
  app.add_option("--allocator", o.allocator,
                 "tide: tide::heap; system: malloc (glibc, or the allocator in LD_PRELOAD)")
      ->required()
      ->check(CLI::IsMember({"system", "tide"}));
  app.add_option("--workload", o.workload, "The workload (see the top of alloc_bench.cpp)")
      ->required()
      ->check(CLI::IsMember({"churn", "batch", "random", "prodcons", "map-u64", "map-string",
                             "fragmented", "give-back", "give-back-release"}));
  app.add_option("--size", o.size, "Bytes per object (churn, batch, prodcons)")
      ->capture_default_str()
      ->check(positive);
  app.add_option("--live", o.live, "Live objects (churn, batch, random)")
      ->capture_default_str()
      ->check(positive);
  app.add_option("--ops", o.ops,
                 "Operations, blocks, rounds or map entries (default: the workload's)")
      ->check(positive);
  app.add_option("--mib", o.mib, "MiB allocated and freed (fragmented, give-back)")
      ->capture_default_str()
      ->check(positive);
  CLI11_PARSE(app, argc, argv);
  try {
    json line = {{"workload", o.workload}, {"allocator", o.allocator}};
    line.update(o.allocator == "tide" ? run<tide_backend>(o) : run<system_backend>(o));
    line["start_rss"] = start_rss;
    line["peak_rss"] = tide_tools::peak_resident_bytes();
    fmt::print("{}\n", line.dump());
  } catch (const std::exception& e) {
    fmt::print(stderr, "alloc_bench: {}\n", e.what());
    return 1;
  }
  return 0;
}
