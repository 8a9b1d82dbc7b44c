// persistent_bench: what one update of an immutable configuration map costs, structural
// sharing against copy-on-write. See docs/PERFORMANCE.md ("persistent_map") for the figures.
//
// uint64 -> uint64, N entries, every map on a tide::counting_allocator. An update replaces
// the value of one random existing key and keeps the old version alive (a reader may hold it):
//   persistent   tide::persistent_map::set: copies one path of nodes
//   cow-tide     copy the whole tide::map, then insert_or_assign (the seeds' copy-on-write)
//   cow-absl     the same with absl::flat_hash_map
// Reported per update: median and mean time, and the bytes the new version adds while the
// old one lives. Then lookups of random present keys (hit) and absent keys (miss),
// persistent_map against tide::map. Last, tide::snapshot::load() against
// std::atomic<std::shared_ptr>::load() (a lock bit in libstdc++ 12): R reader threads load in
// a loop for 300 ms while one writer publishes a new version in a loop; loads and publishes
// per second. Plain timing with steady_clock, no Google Benchmark: a copy of a 1M map takes
// milliseconds, so few repetitions are possible and the median says more than a mean.
//
//   usage: persistent_bench [--n N] [--updates U] [--copies C] [--lookups L] [--readers R]
//          (defaults N = 1000000, U = 10000, C = 20, L = 2000000, R = 2)

#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <tide/counting_allocator.hpp>
#include <tide/persistent_map.hpp>
#include <tide/snapshot.hpp>
#include <vector>

#include "bench_cli.hpp"
#include "bench_common.hpp"

namespace tide_bench {
namespace {

struct options {
  std::size_t n = 1'000'000;
  std::size_t updates = 10'000;
  std::size_t copies = 20;
  std::size_t lookups = 2'000'000;
  std::size_t readers = 2;
};

using clock_type = std::chrono::steady_clock;
using counting = tide::counting_allocator<std::pair<const std::uint64_t, std::uint64_t>>;
using persistent_type =
    tide::persistent_map<std::uint64_t, std::uint64_t, tide::hash<std::uint64_t>,
                         std::equal_to<std::uint64_t>, counting>;
template <class Kind>
using cow_type = counted_map<Kind, std::uint64_t, std::uint64_t>;

double nanoseconds(clock_type::duration d) {
  return std::chrono::duration<double, std::nano>(d).count();
}

struct update_cost {
  std::string name;
  double median_ns = 0;
  double mean_ns = 0;
  double bytes_per_update = 0;
  std::size_t base_bytes = 0;
};

update_cost summarize(std::string name, std::vector<double> times, double bytes_per_update,
                      std::size_t base_bytes) {
  update_cost cost{std::move(name), 0, 0, bytes_per_update, base_bytes};
  double sum = 0;
  for (double t : times) sum += t;
  cost.mean_ns = sum / static_cast<double>(times.size());
  std::nth_element(times.begin(), times.begin() + static_cast<std::ptrdiff_t>(times.size() / 2),
                   times.end());
  cost.median_ns = times[times.size() / 2];
  return cost;
}

update_cost measure_persistent(const options& opt, const std::vector<std::uint64_t>& keys) {
  tide::allocation_counter counter;
  auto builder = persistent_type(counting(counter)).transient();
  for (std::uint64_t i = 0; i < keys.size(); ++i) builder.set(keys[i], i);
  std::vector<persistent_type> versions{builder.persistent()};
  versions.reserve(opt.updates + 1);
  const std::size_t base = counter.bytes_in_use();
  std::mt19937_64 pick(1);
  std::vector<double> times;
  times.reserve(opt.updates);
  for (std::size_t u = 0; u < opt.updates; ++u) {
    const std::uint64_t key = keys[pick() % keys.size()];
    const auto start = clock_type::now();
    persistent_type next = versions.back().set(key, u);
    times.push_back(nanoseconds(clock_type::now() - start));
    versions.push_back(std::move(next));
  }
  const double added =
      static_cast<double>(counter.bytes_in_use() - base) / static_cast<double>(opt.updates);
  return summarize("persistent", std::move(times), added, base);
}

template <class Kind>
update_cost measure_copy_on_write(const options& opt, const std::vector<std::uint64_t>& keys) {
  tide::allocation_counter counter;
  auto current = make_counted<cow_type<Kind>>(counter);
  for (std::uint64_t i = 0; i < keys.size(); ++i) current.emplace(keys[i], i);
  const std::size_t base = counter.bytes_in_use();
  std::mt19937_64 pick(1);
  std::vector<double> times;
  std::size_t added = 0;
  for (std::size_t u = 0; u < opt.copies; ++u) {
    const std::uint64_t key = keys[pick() % keys.size()];
    const std::size_t before = counter.bytes_in_use();
    const auto start = clock_type::now();
    cow_type<Kind> next = current;  // the old version stays alive until `next` replaces it
    next.insert_or_assign(key, u);
    times.push_back(nanoseconds(clock_type::now() - start));
    added += counter.bytes_in_use() - before;
    current = std::move(next);
  }
  return summarize("cow-" + std::string(Kind::name), std::move(times),
                   static_cast<double>(added) / static_cast<double>(opt.copies), base);
}

// Mean ns per lookup over `probes`, and a checksum so the loop is not optimised away.
template <class Find>
std::pair<double, std::uint64_t> time_lookups(const std::vector<std::uint64_t>& probes,
                                              Find&& find) {
  std::uint64_t checksum = 0;
  const auto start = clock_type::now();
  for (const std::uint64_t key : probes) checksum += find(key);
  return {nanoseconds(clock_type::now() - start) / static_cast<double>(probes.size()), checksum};
}

// std::atomic<std::shared_ptr<const int>> behind the interface of tide::snapshot<int>.
class atomic_shared_ptr_snapshot {
 public:
  explicit atomic_shared_ptr_snapshot(std::shared_ptr<const int> initial)
      : current_(std::move(initial)) {}
  std::shared_ptr<const int> load() const { return current_.load(std::memory_order_acquire); }
  void publish(std::shared_ptr<const int> next) {
    current_.store(std::move(next), std::memory_order_release);
  }

 private:
  std::atomic<std::shared_ptr<const int>> current_;
};

struct contention_result {
  double loads_per_second = 0;
  double publishes_per_second = 0;
};

// `readers` threads load() in a loop while this thread publishes, for `duration`.
template <class Snapshot>
contention_result measure_contention(std::size_t readers, std::chrono::milliseconds duration) {
  Snapshot current(std::make_shared<const int>(0));
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> loads{0};
  std::vector<std::thread> threads;
  for (std::size_t r = 0; r < readers; ++r) {
    threads.emplace_back([&] {
      std::uint64_t my_loads = 0;
      std::uint64_t checksum = 0;
      while (!done.load(std::memory_order_relaxed)) {
        checksum += static_cast<std::uint64_t>(*current.load());
        ++my_loads;
      }
      loads.fetch_add(my_loads + (checksum == 1 ? 1 : 0));
    });
  }
  std::uint64_t publishes = 0;
  const auto start = clock_type::now();
  while (clock_type::now() - start < duration) {
    current.publish(std::make_shared<const int>(static_cast<int>(++publishes)));
  }
  done.store(true);
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  return {static_cast<double>(loads.load()) / seconds, static_cast<double>(publishes) / seconds};
}

}  // namespace
}  // namespace tide_bench

int main(int argc, char** argv) {
  using namespace tide_bench;
  options opt;
  CLI::App app{
      "persistent_bench: one update of tide::persistent_map against copy-on-write, "
      "lookups against tide::map, tide::snapshot against std::atomic<shared_ptr>. "
      "See docs/PERFORMANCE.md."};
  app.add_option("--n", opt.n, "Entries")->capture_default_str()->check(positive);
  app.add_option("--updates", opt.updates, "Persistent updates timed")
      ->capture_default_str()
      ->check(positive);
  app.add_option("--copies", opt.copies, "Copy-on-write updates timed")
      ->capture_default_str()
      ->check(positive);
  app.add_option("--lookups", opt.lookups, "Lookups of present keys, and as many of absent keys")
      ->capture_default_str()
      ->check(positive);
  app.add_option("--readers", opt.readers, "Reader threads for the snapshot loads")
      ->capture_default_str()
      ->check(positive);
  CLI11_PARSE(app, argc, argv);
  std::mt19937_64 random(8);
  std::vector<std::uint64_t> keys(opt.n);
  for (auto& k : keys) k = random();

  fmt::print("persistent_bench: N = {}, {} persistent updates, {} copy-on-write updates\n", opt.n,
             opt.updates, opt.copies);
  fmt::print("{:<12} {:>14} {:>14} {:>18} {:>14}\n", "update", "median ns", "mean ns",
             "bytes added/update", "map bytes");
  const update_cost results[] = {measure_persistent(opt, keys),
                                 measure_copy_on_write<tide_kind>(opt, keys),
                                 measure_copy_on_write<absl_kind>(opt, keys)};
  for (const update_cost& r : results) {
    fmt::print("{:<12} {:>14.0f} {:>14.0f} {:>18.0f} {:>14}\n", r.name, r.median_ns, r.mean_ns,
               r.bytes_per_update, r.base_bytes);
  }
  fmt::print(
      "ratios (copy-on-write / persistent): time tide {:.0f}x absl {:.0f}x, "
      "bytes tide {:.0f}x absl {:.0f}x\n",
      results[1].median_ns / results[0].median_ns, results[2].median_ns / results[0].median_ns,
      results[1].bytes_per_update / results[0].bytes_per_update,
      results[2].bytes_per_update / results[0].bytes_per_update);

  // Lookups: the same entries in both maps, probes in random order.
  auto builder = persistent_type().transient();
  tide::map<std::uint64_t, std::uint64_t> flat;
  for (std::uint64_t i = 0; i < keys.size(); ++i) {
    builder.set(keys[i], i);
    flat.emplace(keys[i], i);
  }
  const persistent_type persistent = builder.persistent();
  std::vector<std::uint64_t> hits(opt.lookups);
  std::vector<std::uint64_t> misses(opt.lookups);
  for (auto& k : hits) k = keys[random() % keys.size()];
  for (auto& k : misses) k = random();  // 64-bit random: absent with overwhelming odds
  const auto persistent_find = [&](std::uint64_t k) {
    const std::uint64_t* v = persistent.find(k);
    return v != nullptr ? *v : 0;
  };
  const auto flat_find = [&](std::uint64_t k) {
    const auto it = flat.find(k);
    return it != flat.end() ? it->second : 0;
  };
  const auto [p_hit, p_sum] = time_lookups(hits, persistent_find);
  const auto [t_hit, t_sum] = time_lookups(hits, flat_find);
  const auto [p_miss, p_miss_sum] = time_lookups(misses, persistent_find);
  const auto [t_miss, t_miss_sum] = time_lookups(misses, flat_find);
  if (p_sum != t_sum || p_miss_sum != t_miss_sum) {
    fmt::print("persistent_bench: the maps disagree\n");
    return EXIT_FAILURE;
  }
  fmt::print("{:<12} {:>14} {:>14}\n", "lookup", "hit ns", "miss ns");
  fmt::print("{:<12} {:>14.1f} {:>14.1f}\n", "persistent", p_hit, p_miss);
  fmt::print("{:<12} {:>14.1f} {:>14.1f}\n", "tide::map", t_hit, t_miss);
  fmt::print("ratios (persistent / tide::map): hit {:.2f}x miss {:.2f}x\n", p_hit / t_hit,
             p_miss / t_miss);

  using namespace std::chrono_literals;
  const contention_result tide_snapshot =
      measure_contention<tide::snapshot<int>>(opt.readers, 300ms);
  const contention_result std_atomic =
      measure_contention<atomic_shared_ptr_snapshot>(opt.readers, 300ms);
  fmt::print("{:<28} {:>16} {:>16}\n", fmt::format("snapshot, {} readers", opt.readers), "loads/s",
             "publishes/s");
  fmt::print("{:<28} {:>16.0f} {:>16.0f}\n", "tide::snapshot", tide_snapshot.loads_per_second,
             tide_snapshot.publishes_per_second);
  fmt::print("{:<28} {:>16.0f} {:>16.0f}\n", "std::atomic<shared_ptr>", std_atomic.loads_per_second,
             std_atomic.publishes_per_second);
  return EXIT_SUCCESS;
}
