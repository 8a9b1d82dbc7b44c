// tide::concurrent_map against tbb::concurrent_hash_map, libcuckoo's cuckoohash_map,
// std::shared_mutex over absl::flat_hash_map and striped mutexes over tide::map: operations per
// second at 1, 2, 4 and 8 threads for 99%, 90% and 50% reads. See docs/PERFORMANCE.md.
//
// A plain program (not Google Benchmark: every run needs its threads started together and
// stopped by one clock; the maps take turns within each repetition). Each map is filled with --keys
// random u64 keys (values = keys); the key space is twice that, so about half the reads hit. A
// thread draws from its own fixed-seed stream: a read is find(key) (the value is summed); a write
// is insert_or_assign or erase with equal odds, so the size stays near --keys. Threads run for
// --seconds, then each reports its count; the figure is the median of --reps runs, in million
// operations per second (Mops/s).
//
//   concurrent_bench [--keys=N] [--seconds=S] [--reps=R] [--threads=T] [--reads=P] [--memory]
//
// --threads and --reads run only that thread count (1, 2, 4 or 8) or read share (99, 90 or 50).
//
// --memory instead measures bytes held (each map on a tide::counting_allocator, so the figures
// are bytes requested from the allocator): after inserting --keys entries on one thread, after
// erasing 90% of them, and after erasing the rest (tide::concurrent_map after reclaim(), so
// nothing waits for readers).
#include <absl/container/flat_hash_map.h>
#include <tbb/concurrent_hash_map.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <latch>
#include <libcuckoo/cuckoohash_map.hh>
#include <memory>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <string>
#include <thread>
#include <tide/concurrent_map.hpp>
#include <tide/counting_allocator.hpp>
#include <tide/map.hpp>
#include <vector>

#include "bench_cli.hpp"

namespace {

using u64 = std::uint64_t;

// ---- The competitors, one interface: find (returns whether found, adds the value to sum),
// assign (insert_or_assign) and erase. ----

struct tide_concurrent {
  static constexpr const char* name = "tide::concurrent_map";
  tide::concurrent_map<u64, u64> map;
  bool find(u64 k, u64& sum) {
    return map.visit(k, [&](const u64& v) { sum += v; });
  }
  void assign(u64 k, u64 v) { map.insert_or_assign(k, v); }
  void erase(u64 k) { map.erase(k); }
};

struct tbb_map {
  static constexpr const char* name = "tbb::concurrent_hash_map";
  tbb::concurrent_hash_map<u64, u64> map;
  bool find(u64 k, u64& sum) {
    tbb::concurrent_hash_map<u64, u64>::const_accessor a;
    if (!map.find(a, k)) return false;
    sum += a->second;
    return true;
  }
  void assign(u64 k, u64 v) {
    tbb::concurrent_hash_map<u64, u64>::accessor a;
    map.insert(a, k);
    a->second = v;
  }
  void erase(u64 k) { map.erase(k); }
};

struct cuckoo_map {
  static constexpr const char* name = "libcuckoo";
  libcuckoo::cuckoohash_map<u64, u64> map;
  bool find(u64 k, u64& sum) {
    return map.find_fn(k, [&](const u64& v) { sum += v; });
  }
  void assign(u64 k, u64 v) { map.insert_or_assign(k, v); }
  void erase(u64 k) { map.erase(k); }
};

struct shared_mutex_absl {
  static constexpr const char* name = "shared_mutex+absl";
  std::shared_mutex mutex;
  absl::flat_hash_map<u64, u64> map;
  bool find(u64 k, u64& sum) {
    std::shared_lock lock(mutex);
    const auto it = map.find(k);
    if (it == map.end()) return false;
    sum += it->second;
    return true;
  }
  void assign(u64 k, u64 v) {
    std::unique_lock lock(mutex);
    map.insert_or_assign(k, v);
  }
  void erase(u64 k) {
    std::unique_lock lock(mutex);
    map.erase(k);
  }
};

// 64 stripes, each a mutex and a tide::map on its own cache lines, chosen by the hash's top bits.
struct striped_tide {
  static constexpr const char* name = "striped mutex+tide::map";
  struct alignas(64) stripe {
    std::mutex mutex;
    tide::map<u64, u64> map;
  };
  std::array<stripe, 64> stripes;
  stripe& of(u64 k) { return stripes[tide::hash<u64>{}(k) >> 58]; }
  bool find(u64 k, u64& sum) {
    stripe& s = of(k);
    std::lock_guard lock(s.mutex);
    const auto it = s.map.find(k);
    if (it == s.map.end()) return false;
    sum += it->second;
    return true;
  }
  void assign(u64 k, u64 v) {
    stripe& s = of(k);
    std::lock_guard lock(s.mutex);
    s.map.insert_or_assign(k, v);
  }
  void erase(u64 k) {
    stripe& s = of(k);
    std::lock_guard lock(s.mutex);
    s.map.erase(k);
  }
};

struct options {
  std::size_t keys = 100'000;
  double seconds = 0.4;
  int reps = 3;
  int threads = 0;       // 0: 1, 2, 4 and 8
  int read_percent = 0;  // 0: 99, 90 and 50
  bool memory = false;
};

// ---- --memory: bytes held after fill, after erasing 90%, after erasing everything ----

using counted_alloc = tide::counting_allocator<std::pair<const u64, u64>>;

struct memory_row {
  const char* name;
  std::size_t full, after_90, after_all;
};

// Fills a map with keys, erases 90% and then the rest, reading the counter after each step.
// `erase(map, key)` erases one key; `settle(map)` runs before each reading.
template <class Map, class Make, class Insert, class Erase, class Settle>
memory_row measure_memory(const char* name, const std::vector<u64>& keys, Make make, Insert insert,
                          Erase erase, Settle settle) {
  tide::allocation_counter counter;
  memory_row row{name, 0, 0, 0};
  {
    std::unique_ptr<Map> m = make(counter);
    for (u64 k : keys) insert(*m, k);
    settle(*m);
    row.full = counter.bytes_in_use();
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (i % 10 != 0) erase(*m, keys[i]);
    }
    settle(*m);
    row.after_90 = counter.bytes_in_use();
    for (std::size_t i = 0; i < keys.size(); i += 10) erase(*m, keys[i]);
    settle(*m);
    row.after_all = counter.bytes_in_use();
  }
  return row;
}

void memory_report(const std::vector<u64>& key_space, const options& opt) {
  const std::vector<u64> keys(key_space.begin(),
                              key_space.begin() + static_cast<std::ptrdiff_t>(opt.keys));
  const auto nothing = [](auto&) {};
  using tide_map =
      tide::concurrent_map<u64, u64, tide::hash<u64>, std::equal_to<u64>, counted_alloc>;
  using tbb_type = tbb::concurrent_hash_map<u64, u64, tbb::tbb_hash_compare<u64>, counted_alloc>;
  using cuckoo_type =
      libcuckoo::cuckoohash_map<u64, u64, std::hash<u64>, std::equal_to<u64>, counted_alloc>;
  using absl_type =
      absl::flat_hash_map<u64, u64, absl::Hash<u64>, std::equal_to<u64>, counted_alloc>;
  using stripe_map = tide::map<u64, u64, tide::hash<u64>, std::equal_to<u64>, counted_alloc>;
  const memory_row rows[] = {
      measure_memory<tide_map>(
          tide_concurrent::name, keys,
          [](tide::allocation_counter& c) {
            return std::make_unique<tide_map>(tide::hash<u64>{}, std::equal_to<u64>{},
                                              counted_alloc(c));
          },
          [](tide_map& m, u64 k) { m.insert_or_assign(k, k); },
          [](tide_map& m, u64 k) { m.erase(k); }, [](tide_map& m) { m.reclaim(); }),
      measure_memory<tbb_type>(
          tbb_map::name, keys,
          [](tide::allocation_counter& c) { return std::make_unique<tbb_type>(counted_alloc(c)); },
          [](tbb_type& m, u64 k) {
            m.insert({k, k});
          },
          [](tbb_type& m, u64 k) { m.erase(k); }, nothing),
      measure_memory<cuckoo_type>(
          cuckoo_map::name, keys,
          [](tide::allocation_counter& c) {
            return std::make_unique<cuckoo_type>(libcuckoo::DEFAULT_SIZE, std::hash<u64>{},
                                                 std::equal_to<u64>{}, counted_alloc(c));
          },
          [](cuckoo_type& m, u64 k) { m.insert_or_assign(k, k); },
          [](cuckoo_type& m, u64 k) { m.erase(k); }, nothing),
      measure_memory<absl_type>(
          shared_mutex_absl::name, keys,
          [](tide::allocation_counter& c) { return std::make_unique<absl_type>(counted_alloc(c)); },
          [](absl_type& m, u64 k) { m.insert_or_assign(k, k); },
          [](absl_type& m, u64 k) { m.erase(k); }, nothing),
      measure_memory<std::vector<stripe_map>>(
          striped_tide::name, keys,
          [](tide::allocation_counter& c) {
            auto stripes = std::make_unique<std::vector<stripe_map>>();
            for (int i = 0; i < 64; ++i) stripes->emplace_back(counted_alloc(c));
            return stripes;
          },
          [](std::vector<stripe_map>& m, u64 k) {
            m[tide::hash<u64>{}(k) >> 58].insert_or_assign(k, k);
          },
          [](std::vector<stripe_map>& m, u64 k) { m[tide::hash<u64>{}(k) >> 58].erase(k); },
          nothing),
  };
  std::printf(
      "concurrent_bench --memory: %zu u64 -> u64 entries; bytes requested from the "
      "allocator (the stripes' std::vector of 64 maps not counted)\n",
      opt.keys);
  std::printf("%-26s %14s %14s %14s\n", "map", "full", "erased 90%", "erased all");
  for (const memory_row& r : rows) {
    std::printf("%-26s %14zu %14zu %14zu\n", r.name, r.full, r.after_90, r.after_all);
  }
}

// One timed run: `threads` threads, `read_percent` reads. Returns operations per second.
template <class Map>
double run_once(const std::vector<u64>& key_space, const options& opt, int threads,
                int read_percent) {
  auto m = std::make_unique<Map>();
  for (std::size_t i = 0; i < opt.keys; ++i) m->assign(key_space[i], key_space[i]);

  std::atomic<bool> stop{false};
  std::latch ready(threads + 1);
  std::vector<u64> counts(static_cast<std::size_t>(threads) * 8, 0);  // a cache line apart
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::mt19937_64 rng(7919 * static_cast<u64>(t + 1));
      const u64 space = key_space.size();
      u64 sum = 0;
      u64 ops = 0;
      ready.arrive_and_wait();
      while (!stop.load(std::memory_order_relaxed)) {
        for (int i = 0; i < 64; ++i) {  // check the flag every 64 operations
          const u64 r = rng();
          const u64 k = key_space[(r >> 16) % space];
          const int dice = static_cast<int>((r & 0xFFFF) % 100);
          if (dice < read_percent) {
            m->find(k, sum);
          } else if (dice % 2 == 0) {
            m->assign(k, r);
          } else {
            m->erase(k);
          }
        }
        ops += 64;
      }
      counts[static_cast<std::size_t>(t) * 8] = ops + (sum == 42 ? 1 : 0);
    });
  }
  ready.arrive_and_wait();
  const auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(opt.seconds));
  stop.store(true);
  for (auto& th : pool) th.join();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  u64 total = 0;
  for (u64 c : counts) total += c;
  return static_cast<double>(total) / elapsed;
}

double median(std::vector<double> runs) {
  std::sort(runs.begin(), runs.end());
  return runs[runs.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  options opt;
  CLI::App app{
      "concurrent_bench: operations per second of tide::concurrent_map and four other "
      "concurrent maps at 1, 2, 4 and 8 threads. See docs/PERFORMANCE.md."};
  app.add_option("--keys", opt.keys, "Entries in each map")
      ->capture_default_str()
      ->check(tide_bench::non_negative);
  app.add_option("--seconds", opt.seconds, "Seconds per run")->capture_default_str();
  app.add_option("--reps", opt.reps, "Runs per cell; the median is shown (at least 1)")
      ->capture_default_str();
  app.add_option("--threads", opt.threads, "Run this thread count only (default: all)")
      ->check(CLI::IsMember({1, 2, 4, 8}));
  app.add_option("--reads", opt.read_percent, "Run this read percentage only (default: all)")
      ->check(CLI::IsMember({99, 90, 50}));
  app.add_flag("--memory", opt.memory,
               "Measure bytes held instead: after fill, after erasing 90%, after erasing all");
  CLI11_PARSE(app, argc, argv);
  opt.reps = std::max(1, opt.reps);
  std::vector<u64> key_space(2 * opt.keys);
  std::mt19937_64 rng(2026);
  for (u64& k : key_space) k = rng();
  if (opt.memory) {
    memory_report(key_space, opt);
    return 0;
  }

  std::printf(
      "concurrent_bench: %zu keys (key space %zu), %.2f s per run, median of %d; %u "
      "hardware threads (more threads than that are oversubscribed)\n",
      opt.keys, key_space.size(), opt.seconds, opt.reps, std::thread::hardware_concurrency());
  std::printf("columns: %s | %s | %s | %s | %s\n", tide_concurrent::name, tbb_map::name,
              cuckoo_map::name, shared_mutex_absl::name, striped_tide::name);
  std::printf("%-6s %-8s %14s %14s %14s %14s %14s   %s\n", "reads", "threads", "tide", "tbb",
              "libcuckoo", "shmutex+absl", "striped+tide", "tide / best other");
  for (int reads : {99, 90, 50}) {
    if (opt.read_percent != 0 && reads != opt.read_percent) continue;
    for (int threads : {1, 2, 4, 8}) {
      if (opt.threads != 0 && threads != opt.threads) continue;
      // The maps take turns within each repetition, so a change in the machine's load between
      // repetitions reaches every map alike.
      std::vector<double> runs[5];
      for (int r = 0; r < opt.reps; ++r) {
        runs[0].push_back(run_once<tide_concurrent>(key_space, opt, threads, reads));
        runs[1].push_back(run_once<tbb_map>(key_space, opt, threads, reads));
        runs[2].push_back(run_once<cuckoo_map>(key_space, opt, threads, reads));
        runs[3].push_back(run_once<shared_mutex_absl>(key_space, opt, threads, reads));
        runs[4].push_back(run_once<striped_tide>(key_space, opt, threads, reads));
      }
      double results[5];
      for (int m = 0; m < 5; ++m) results[m] = median(runs[m]);
      const double best_other = *std::max_element(std::begin(results) + 1, std::end(results));
      std::printf("%-6d %-8d", reads, threads);
      for (double r : results) std::printf(" %9.2f Mop/s", r / 1e6);
      std::printf("   %.2fx\n", results[0] / best_other);
      std::fflush(stdout);
    }
  }
  return 0;
}
