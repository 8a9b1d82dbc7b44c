// growth_bench: what growing a map to N entries costs, one insert at a time.
// See docs/PERFORMANCE.md for the method and the figures.
//
// For every map (tide, absl, boost, std), on a tide::counting_allocator:
//   - the latency of every single insert while growing from empty to N (no reserve), timed with
//     std::chrono::steady_clock: the maximum and the 99.9th percentile of each run, repeated R
//     times. The headline is the minimum over runs of each run's maximum: one stall in every run
//     is the map's; a stall in one run only is the machine's. Next to it, the same figures for an
//     empty timing loop (two clock reads and nothing between), each run as long as tide's
//     fastest: the machine's own noise floor over the same time.
//   - each insert's best of the R runs, and the slowest of those: max over i of min over runs of
//     insert i's latency. The runs insert the same keys in the same order with the same hash
//     seed (one per process), so an insert that splits a table in one run splits it in every
//     run and keeps its cost here, while a stall lands on a given insert in every run only if
//     it is the map's. The program checks that tide's structural steps fell on the same
//     inserts in every run and says so. The empty loop's figure is the same over its first N
//     iterations of each run: what is left of the machine's noise after this filter. Without
//     --prefault, the C library gives its free pages back to the kernel after each run
//     (malloc_trim), so that every run grows into fresh memory and the filter keeps the cost of
//     first writes; the page faults of each run are counted to show it.
//   - for maps that count their structural work (tide's stats()): the same latency figures for
//     the inserts that split, rebuilt or merged a table or resized the directory, read from the
//     counters around each insert. Their maximum is the map's own worst step; a larger overall
//     maximum on inserts that did no such work is the machine's. The same again for each kind
//     of step, with its median: the typical cost of a split, of a directory doubling.
//   - the machine's cost of a first write to a fresh 4 KiB page (64 MiB mapped and written one
//     byte per page, the best of three): every new table's pages cost this once, and on a VM it
//     can be ten times what it is on bare metal.
//   - peak bytes held during growth / bytes held at the end (from the counting allocator).
//   - bytes per entry at log-spaced sizes from 1K to N (D per decade, default 8): the allocator's
//     bytes in use when the map reaches each size. Average and worst over those sizes. Every map
//     steps its memory up at its own sizes, so the average depends on where the samples fall
//     (at 8 per decade a map is lucky or unlucky at a few sizes); a larger D averages that out.
// Bytes are what the map asked its allocator for; the map object itself is not counted.
//
// With --prefault MiB, the C library's heap is first grown by that much, touched, freed and
// kept (no trimming, blocks up to 32 MiB from the heap): the maps then grow into memory
// the process already owns, as in a long-running service, and the latencies show the maps'
// own steps without the operating system's first-touch page faults (a VM's can take
// hundreds of microseconds). absl's and boost's arrays above 32 MiB still come from mmap.
//
//   usage: growth_bench [N] [--runs R] [--json] [--prefault MiB] [--per-decade D]
//          (defaults: N = 10000000, R = 5, D = 8)

#include <fmt/core.h>
#include <malloc.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <tide/map_memory.hpp>
#include <vector>

#include "bench_cli.hpp"
#include "bench_common.hpp"
#include "latency.hpp"

namespace tide_bench {
namespace {

struct options {
  std::size_t n = 10'000'000;
  int runs = 5;
  bool json = false;
  std::size_t prefault_mib = 0;
  int per_decade = 8;
};

// Grows the heap by `mib` MiB of touched pages and keeps them (see the top of this file).
void prefault_heap(std::size_t mib) {
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 64 << 20);
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  std::vector<void*> blocks;
  for (std::size_t i = 0; i < mib; ++i) {
    void* p = std::malloc(1 << 20);
    if (p == nullptr) break;
    std::memset(p, 1, 1 << 20);
    blocks.push_back(p);
  }
  for (void* p : blocks) std::free(p);
}

// Sizes at which bytes per entry is sampled: 1000 * 10^(i/per_decade), up to and including n.
std::vector<std::size_t> checkpoints(std::size_t n, int per_decade) {
  std::vector<std::size_t> points;
  for (int i = 0;; ++i) {
    const auto p = static_cast<std::size_t>(
        std::llround(1000.0 * std::pow(10.0, static_cast<double>(i) / per_decade)));
    if (p >= n) break;
    if (points.empty() || p != points.back()) points.push_back(p);
  }
  points.push_back(n);
  return points;
}

// One operation: which (0-based) and its latency.
struct operation_time {
  std::size_t index = 0;
  std::uint64_t ns = 0;
};

// Each operation's best latency over runs (see the top of this file), and the slowest of them.
class best_of_runs {
 public:
  explicit best_of_runs(std::size_t n) : best_ns_(n, UINT64_MAX) {}
  void record(std::size_t i, std::uint64_t ns) { best_ns_[i] = std::min(best_ns_[i], ns); }
  // The operation whose best latency is the largest.
  operation_time slowest() const {
    const auto it = std::max_element(best_ns_.begin(), best_ns_.end());
    return {static_cast<std::size_t>(it - best_ns_.begin()), *it};
  }

 private:
  std::vector<std::uint64_t> best_ns_;
};

struct result {
  std::string name;
  std::vector<latency_summary> runs;             // one per run
  operation_time slowest_best;                   // the insert whose best of runs is the largest
  std::size_t slowest_best_kind = step_kinds;    // its structural step (step_kinds: none)
  bool same_steps_every_run = true;              // structural steps fell on the same inserts
  std::vector<long> page_faults;                 // minor page faults while growing, per run
  std::size_t peak_bytes = 0;                    // first run
  std::size_t final_bytes = 0;                   // first run
  std::vector<double> bytes_per_entry;           // at each checkpoint, first run
  bool has_structural = false;                   // the map reports structural work (stats())
  std::vector<latency_summary> structural_runs;  // inserts that did structural work, per run
  std::size_t structural_count = 0;              // how many such inserts, first run
  // The same per kind of step (indexed by step): summaries of runs that had any, first run's count.
  std::array<std::vector<latency_summary>, step_kinds> step_runs;
  std::array<std::size_t, step_kinds> step_count{};

  std::uint64_t min_of_max() const { return min_over(runs, max_of); }
  std::uint64_t max_of_max() const { return max_over(runs, max_of); }
  std::uint64_t min_p999() const { return min_over(runs, p999_of); }
  std::uint64_t structural_min_of_max() const { return min_over(structural_runs, max_of); }
  double min_mean() const {
    double v = 1e300;
    for (const auto& r : runs) v = std::min(v, r.mean_ns);
    return v;
  }
};

// The machine's cost of a first write to a fresh page, in ns per 4 KiB page (0 if the mapping
// fails): the best of three passes over 64 MiB.
double first_touch_ns_per_page() {
  constexpr std::size_t bytes = std::size_t{64} << 20, page = 4096;
  double best = 0;
  for (int pass = 0; pass < 3; ++pass) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return 0;
    volatile char* bytes_at = static_cast<char*>(p);
    const auto t0 = bench_clock::now();
    for (std::size_t i = 0; i < bytes; i += page) bytes_at[i] = 1;
    const auto t1 = bench_clock::now();
    munmap(p, bytes);
    const double ns = static_cast<double>(ns_between(t0, t1)) / (bytes / page);
    best = pass == 0 ? ns : std::min(best, ns);
  }
  return best;
}

// The empty timing loop: the same clock reads with nothing between them, in passes of N
// iterations until each run has lasted at least run_ns (the machine's stalls come at some rate,
// so a run as long as a map's meets as many). A run's max is over all its passes; its other
// figures are its last pass's.
result measure_noise(const options& opt, std::vector<std::uint64_t>& ns, double run_ns) {
  result res;
  res.name = "(empty loop)";
  best_of_runs best(opt.n);
  for (int r = 0; r < opt.runs; ++r) {
    std::uint64_t max_ns = 0;
    const auto start = bench_clock::now();
    bool first_pass = true;
    do {
      for (std::size_t i = 0; i < opt.n; ++i) {
        const auto t0 = bench_clock::now();
        asm volatile("" ::: "memory");
        const auto t1 = bench_clock::now();
        ns[i] = ns_between(t0, t1);
        max_ns = std::max(max_ns, ns[i]);
      }
      if (first_pass) {
        for (std::size_t i = 0; i < opt.n; ++i) best.record(i, ns[i]);
        first_pass = false;
      }
    } while (static_cast<double>(ns_between(start, bench_clock::now())) < run_ns);
    res.runs.push_back(summarize(ns));
    res.runs.back().max_ns = max_ns;
  }
  res.slowest_best = best.slowest();
  return res;
}

// The process's minor page faults so far (first writes to fresh pages among them).
long minor_page_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

template <class Kind>
result measure(const options& opt, const std::vector<std::uint64_t>& keys,
               const std::vector<std::size_t>& points, std::vector<std::uint64_t>& ns) {
  using map_type = counted_map<Kind, std::uint64_t, std::uint64_t>;
  result res;
  res.name = std::string(Kind::name);
  best_of_runs best(opt.n);
  // The structural step of each insert in the first run, to check the others against.
  std::vector<std::uint8_t> first_run_kind(reports_structural_work<map_type> ? opt.n : 0);
  for (int r = 0; r < opt.runs; ++r) {
    tide::allocation_counter counter;
    {
      map_type m = make_counted<map_type>(counter);
      std::size_t next_point = 0;
      std::vector<std::uint64_t> structural_ns;
      std::array<std::vector<std::uint64_t>, step_kinds> step_ns;
      const long faults_before = minor_page_faults();
      for (std::size_t i = 0; i < opt.n; ++i) {
        [[maybe_unused]] tide::map_stats before{};
        if constexpr (reports_structural_work<map_type>) before = m.stats();
        const auto t0 = bench_clock::now();
        m.emplace(keys[i], value_for(i));
        const auto t1 = bench_clock::now();
        ns[i] = ns_between(t0, t1);
        best.record(i, ns[i]);
        if constexpr (reports_structural_work<map_type>) {
          const std::size_t kind = step_between(before, m.stats());
          if (kind != step_kinds) {
            structural_ns.push_back(ns[i]);
            step_ns[kind].push_back(ns[i]);
          }
          if (r == 0) {
            first_run_kind[i] = static_cast<std::uint8_t>(kind);
          } else if (first_run_kind[i] != kind) {
            res.same_steps_every_run = false;
          }
        }
        if (r == 0 && next_point < points.size() && i + 1 == points[next_point]) {
          res.bytes_per_entry.push_back(static_cast<double>(counter.bytes_in_use()) /
                                        static_cast<double>(m.size()));
          ++next_point;
        }
      }
      res.page_faults.push_back(minor_page_faults() - faults_before);
      if constexpr (reports_structural_work<map_type>) {
        res.has_structural = true;
        if (r == 0) res.structural_count = structural_ns.size();
        res.structural_runs.push_back(summarize(structural_ns));
        for (std::size_t k = 0; k < step_kinds; ++k) {
          if (r == 0) res.step_count[k] = step_ns[k].size();
          if (!step_ns[k].empty()) res.step_runs[k].push_back(summarize(step_ns[k]));
        }
      }
      if (r == 0) {
        res.peak_bytes = counter.peak_bytes();
        res.final_bytes = counter.bytes_in_use();
      }
    }
    if (opt.prefault_mib == 0) malloc_trim(0);
    res.runs.push_back(summarize(ns));
  }
  res.slowest_best = best.slowest();
  if (!first_run_kind.empty()) res.slowest_best_kind = first_run_kind[res.slowest_best.index];
  return res;
}

std::string us(std::uint64_t ns) { return fmt::format("{:.1f}", static_cast<double>(ns) / 1000.0); }

void print_tables(const options& opt, const result& noise, double first_touch_ns,
                  const std::vector<result>& results, const std::vector<std::size_t>& points) {
  fmt::print("growth_bench: grow to N = {} uint64->uint64 entries, {} runs each{}\n\n", opt.n,
             opt.runs,
             opt.prefault_mib > 0
                 ? fmt::format(", into {} MiB of heap touched beforehand", opt.prefault_mib)
                 : std::string());
  fmt::print(
      "Single-insert latency while growing (max (min) = minimum over runs of each run's max)\n");
  fmt::print("{:<14} {:>12} {:>16} {:>14} {:>12}\n", "map", "max us (min)", "max us (worst)",
             "p99.9 ns (min)", "mean ns");
  for (const result* r : [&] {
         std::vector<const result*> all{&noise};
         for (const auto& x : results) all.push_back(&x);
         return all;
       }()) {
    fmt::print("{:<14} {:>12} {:>16} {:>14} {:>12.1f}\n", r->name, us(r->min_of_max()),
               us(r->max_of_max()), r->min_p999(), r->min_mean());
  }

  for (const auto& r : results) {
    if (!r.has_structural) continue;
    fmt::print(
        "{:<14} {:>12} {:>16} {:>14} {:>12}   ({} inserts that split, rebuilt or merged a table "
        "or resized the directory)\n",
        r.name + " struct.", us(r.structural_min_of_max()),
        us(max_over(r.structural_runs, max_of)),
        min_over(r.structural_runs, p999_of), "",
        r.structural_count);
  }
  fmt::print("first write to a fresh 4 KiB page: {:.2f} us (the machine's page fault)\n",
             first_touch_ns / 1000.0);

  fmt::print("\nSlowest insert, each insert's best of {} runs (max over inserts of the min over "
             "runs)\n",
             opt.runs);
  fmt::print("{:<14} {:>12} {:>12} {:>22}  {}\n", "map", "ns", "insert #",
             "page faults per run", "its structural step");
  fmt::print("{:<14} {:>12} {:>12} {:>22}  {}\n", noise.name, noise.slowest_best.ns,
             noise.slowest_best.index + 1, "-", "-");
  for (const auto& r : results) {
    const auto [fewest, most] = std::minmax_element(r.page_faults.begin(), r.page_faults.end());
    fmt::print("{:<14} {:>12} {:>12} {:>22}  {}\n", r.name, r.slowest_best.ns,
               r.slowest_best.index + 1, fmt::format("{}-{}", *fewest, *most),
               r.has_structural ? step_name(r.slowest_best_kind) : "-");
  }
  for (const auto& r : results) {
    if (!r.has_structural) continue;
    fmt::print("{}'s structural steps fell on the same inserts in every run: {}\n", r.name,
               r.same_steps_every_run ? "yes" : "NO (its best-of-runs figure does not hold)");
  }

  for (const auto& r : results) {
    if (!r.has_structural) continue;
    fmt::print("\n{}'s structural inserts by kind (count in the first run; median and max: the "
               "minimum over runs)\n",
               r.name);
    fmt::print("{:<20} {:>8} {:>12} {:>12}\n", "step", "count", "median us", "max us");
    for (std::size_t k = 0; k < step_kinds; ++k) {
      if (r.step_runs[k].empty()) continue;
      fmt::print("{:<20} {:>8} {:>12} {:>12}\n", step_names[k], r.step_count[k],
                 us(min_over(r.step_runs[k], median_of)), us(min_over(r.step_runs[k], max_of)));
    }
  }

  fmt::print("\nBytes held while growing (counting allocator, first run)\n");
  fmt::print("{:<14} {:>16} {:>16} {:>12}\n", "map", "peak bytes", "final bytes", "peak/final");
  for (const auto& r : results) {
    fmt::print("{:<14} {:>16} {:>16} {:>12.3f}\n", r.name, r.peak_bytes, r.final_bytes,
               static_cast<double>(r.peak_bytes) /
                   static_cast<double>(std::max<std::size_t>(1, r.final_bytes)));
  }

  fmt::print("\nBytes per entry at log-spaced N (physical floor for uint64->uint64: 17)\n");
  fmt::print("{:>10}", "N");
  for (const auto& r : results) fmt::print(" {:>9}", r.name);
  fmt::print("\n");
  for (std::size_t i = 0; i < points.size(); ++i) {
    fmt::print("{:>10}", points[i]);
    for (const auto& r : results) fmt::print(" {:>9.2f}", r.bytes_per_entry[i]);
    fmt::print("\n");
  }
  for (const char* label : {"average", "worst"}) {
    fmt::print("{:>10}", label);
    for (const auto& r : results) {
      double avg = 0, worst = 0;
      for (double b : r.bytes_per_entry) avg += b, worst = std::max(worst, b);
      avg /= static_cast<double>(r.bytes_per_entry.size());
      fmt::print(" {:>9.2f}", std::strcmp(label, "average") == 0 ? avg : worst);
    }
    fmt::print("\n");
  }
}

// The figures of the tables as one JSON document, keys in the order the tables show them.
void print_json(const options& opt, const result& noise, double first_touch_ns,
                const std::vector<result>& results, const std::vector<std::size_t>& points) {
  using json = nlohmann::ordered_json;
  const auto latency_json = [](const result& r) {
    json runs = json::array();
    for (const auto& x : r.runs) {
      runs.push_back(
          {{"max_ns", x.max_ns}, {"p999_ns", x.p999_ns}, {"mean_ns", rounded(x.mean_ns, 2)}});
    }
    return json{{"min_of_max_ns", r.min_of_max()},
                {"min_p999_ns", r.min_p999()},
                {"runs", runs},
                {"slowest_best_ns", r.slowest_best.ns}};
  };
  json maps = json::array();
  for (const auto& r : results) {
    json map = {{"map", r.name}};
    map.update(latency_json(r));
    map["slowest_best_insert"] = r.slowest_best.index + 1;
    map["page_faults_per_run"] = r.page_faults;
    if (r.has_structural) {
      map["slowest_best_step"] = step_name(r.slowest_best_kind);
      map["same_steps_every_run"] = r.same_steps_every_run;
    }
    map["peak_bytes"] = r.peak_bytes;
    map["final_bytes"] = r.final_bytes;
    json bytes_per_entry = json::array();
    for (std::size_t i = 0; i < points.size(); ++i) {
      bytes_per_entry.push_back({points[i], rounded(r.bytes_per_entry[i], 3)});
    }
    map["bytes_per_entry"] = bytes_per_entry;
    if (r.has_structural) {
      json runs = json::array();
      for (const auto& x : r.structural_runs) {
        runs.push_back({{"max_ns", x.max_ns}, {"p999_ns", x.p999_ns}});
      }
      json steps = json::object();
      for (std::size_t k = 0; k < step_kinds; ++k) {
        if (r.step_runs[k].empty()) continue;
        steps[step_names[k]] = {{"count", r.step_count[k]},
                                {"min_median_ns", min_over(r.step_runs[k], median_of)},
                                {"min_of_max_ns", min_over(r.step_runs[k], max_of)}};
      }
      map["structural"] = {{"count", r.structural_count},
                           {"min_of_max_ns", r.structural_min_of_max()},
                           {"runs", runs},
                           {"by_kind", steps}};
    }
    maps.push_back(map);
  }
  const json doc = {{"n", opt.n},
                    {"runs", opt.runs},
                    {"noise", latency_json(noise)},
                    {"first_touch_ns_per_page", rounded(first_touch_ns, 1)},
                    {"maps", maps}};
  fmt::print("{}\n", doc.dump(2));
}

int run(const options& opt) {
  if (opt.prefault_mib > 0) prefault_heap(opt.prefault_mib);
  const std::vector<std::uint64_t> keys = make_key_set<std::uint64_t>(opt.n).present;
  const std::vector<std::size_t> points = checkpoints(opt.n, opt.per_decade);
  std::vector<std::uint64_t> ns(opt.n);  // touched here, before any timing

  std::vector<result> results;
  for_each_kind([&]<class Kind>() {
    fmt::print(stderr, "growth_bench: {} ...\n", Kind::name);
    results.push_back(measure<Kind>(opt, keys, points, ns));
  });
  // The empty loop runs as long as tide's fastest run (tide is the first kind).
  const double tide_run_ns = results.front().min_mean() * static_cast<double>(opt.n);
  fmt::print(stderr, "growth_bench: empty loop ...\n");
  const result noise = measure_noise(opt, ns, tide_run_ns);
  const double first_touch_ns = first_touch_ns_per_page();

  if (opt.json) {
    print_json(opt, noise, first_touch_ns, results, points);
  } else {
    print_tables(opt, noise, first_touch_ns, results, points);
  }
  return 0;
}

}  // namespace
}  // namespace tide_bench

int main(int argc, char** argv) {
  tide_bench::options opt;
  CLI::App app{
      "growth_bench: single-insert latency and bytes held while each map grows from "
      "empty to N entries. See docs/PERFORMANCE.md."};
  tide_bench::add_entries_argument(app, opt.n, "Entries to grow to (at least 1)");
  app.add_option("--runs", opt.runs, "Runs per map (at least 1)")->capture_default_str();
  app.add_flag("--json", opt.json, "Print JSON instead of the tables");
  app.add_option("--prefault", opt.prefault_mib,
                 "MiB of C heap to touch and keep before growing (0: none)")
      ->capture_default_str()
      ->check(tide_bench::non_negative);
  app.add_option("--per-decade", opt.per_decade,
                 "Sizes per decade at which bytes per entry is sampled")
      ->capture_default_str()
      ->transform(CLI::Bound(1, 1000));
  CLI11_PARSE(app, argc, argv);
  opt.n = std::max<std::size_t>(1, opt.n);
  opt.runs = std::max(1, opt.runs);
  return tide_bench::run(opt);
}
