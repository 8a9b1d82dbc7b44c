// tide::interned against plain std::string, and the cost of interning against a lookup in
// absl::flat_hash_set<std::string>. See docs/PERFORMANCE.md ("intern").
//
//   intern_bench [--n N] [--distinct-percent P]    (defaults: N = 10,000,000, P = 1)
//
// Memory: N strings of which P% are distinct ("session-<8 hex digits>-<counter>", 26-28
// bytes: past libstdc++'s 15-byte small-string buffer, so every std::string allocates), held
// in a std::vector<std::string> and in a std::vector<tide::interned>. Bytes are what each
// holds from its allocators: glibc's (mallinfo2() uordblks + hblkhd, which count malloc's own
// per-chunk headers) and tide::heap's (memstats live_bytes), measured as the difference
// before and after building the vector.
// Time (CPU time of the thread): ns per string to intern each of the N strings (all handles kept,
// as above), against finding each in an absl::flat_hash_set<std::string> of the distinct strings;
// the minimum of 5 interleaved rounds of each.
#include <absl/container/flat_hash_set.h>
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>
#include <thread>
#include <tide/intern.hpp>
#include <tide/memstats.hpp>
#include <vector>

#include "bench_cli.hpp"
#include "bench_common.hpp"

namespace {

// In use in small chunks (uordblks) and in mmapped chunks (hblkhd: a big vector).
std::size_t glibc_bytes() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}
std::size_t tide_bytes() { return tide::read_memstats().live_bytes; }
std::size_t all_bytes() { return glibc_bytes() + tide_bytes(); }

std::string text_of(std::size_t id) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "session-%08zx-%zu", id * 0x9E3779B1u % 0xFFFFFFFFu, id);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t n = 10'000'000;
  std::size_t percent = 1;
  CLI::App app{
      "intern_bench: bytes of N strings as tide::interned against std::string, and "
      "the time to intern against an absl::flat_hash_set lookup. "
      "See docs/PERFORMANCE.md."};
  app.add_option("--n", n, "Strings")->capture_default_str()->check(tide_bench::positive);
  app.add_option("--distinct-percent", percent, "Percent of the strings that are distinct")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  CLI11_PARSE(app, argc, argv);
  const std::size_t distinct = std::max<std::size_t>(1, n * percent / 100);
  // The inputs: string i is distinct string (i * 7919 % distinct), a fixed scattered order.
  std::vector<std::string> inputs;
  inputs.reserve(n);
  for (std::size_t i = 0; i < n; ++i) inputs.push_back(text_of(i * 7919 % distinct));

  std::printf("n %zu, distinct %zu (%zu%%)\n", n, distinct, percent);

  // ---- Memory: the same N strings as std::string and as tide::interned.
  {
    const std::size_t before = all_bytes();
    std::vector<std::string> copies(inputs.begin(), inputs.end());
    const std::size_t bytes = all_bytes() - before;
    std::printf("memory  std::string     %12zu B  %6.1f B/string\n", bytes,
                static_cast<double>(bytes) / static_cast<double>(n));
  }
  std::vector<tide::interned> pinned;  // keeps the entries alive for the timing rounds
  {
    const std::size_t before = all_bytes();
    pinned.reserve(n);
    for (const std::string& s : inputs) pinned.push_back(tide::intern(s));
    const std::size_t bytes = all_bytes() - before;
    const tide::intern_table_stats st = tide::intern_stats();
    std::printf("memory  tide::interned  %12zu B  %6.1f B/string  (table: %zu strings, %zu B)\n",
                bytes, static_cast<double>(bytes) / static_cast<double>(n), st.strings, st.bytes);
  }

  // ---- Time: intern every input (the entries exist: 99% of interns are hits anyway) vs find
  // it in an absl set of the distinct strings; rounds interleaved, the minimum of each.
  absl::flat_hash_set<std::string> set;
  for (std::size_t i = 0; i < distinct; ++i) set.insert(text_of(i));
  constexpr int rounds = 5;
  double intern_ns = 1e300;
  double find_ns = 1e300;
  std::vector<tide::interned> handles;
  handles.reserve(n);
  for (int r = 0; r < rounds; ++r) {
    double t0 = tide_bench::thread_cpu_seconds();
    for (const std::string& s : inputs) handles.push_back(tide::intern(s));
    intern_ns = std::min(intern_ns, (tide_bench::thread_cpu_seconds() - t0) * 1e9 / static_cast<double>(n));
    handles.clear();
    t0 = tide_bench::thread_cpu_seconds();
    std::size_t found = 0;
    for (const std::string& s : inputs) found += set.find(s) != set.end();
    find_ns = std::min(find_ns, (tide_bench::thread_cpu_seconds() - t0) * 1e9 / static_cast<double>(n));
    if (found != n) {
      std::fprintf(stderr, "intern_bench: absl found %zu of %zu\n", found, n);
      return 1;
    }
  }
  std::printf("time    tide::intern (handle kept)   %6.1f ns/string  (min of %d rounds)\n",
              intern_ns, rounds);
  std::printf("time    absl::flat_hash_set::find    %6.1f ns/string\n", find_ns);
  std::printf("ratio   intern / find                %6.2f\n", intern_ns / find_ns);

  // ---- Two threads at once (the machine's two vCPUs), each over all the inputs from its own
  // starting point: the same strings, so interns meet on the same entries (each intern of a
  // present string increments its count: a shared cache line), where absl's finds only read.
  // Per string: the slower thread's CPU time, and the wall time of the pair (which counts
  // other processes on this shared machine).
  struct pair_times {
    double cpu_ns;
    double wall_ns;
  };
  auto two_threads = [&](auto body) {
    double cpu[2] = {0, 0};
    const auto w0 = std::chrono::steady_clock::now();
    std::thread a([&] { cpu[0] = body(std::size_t{0}); });
    std::thread b([&] { cpu[1] = body(n / 2); });
    a.join();
    b.join();
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
    return pair_times{std::max(cpu[0], cpu[1]), wall * 1e9 / static_cast<double>(n)};
  };
  const pair_times intern2 = two_threads([&](std::size_t first) {
    std::vector<tide::interned> mine;
    mine.reserve(n);
    const double t0 = tide_bench::thread_cpu_seconds();
    for (std::size_t i = 0; i < n; ++i) mine.push_back(tide::intern(inputs[(first + i) % n]));
    return (tide_bench::thread_cpu_seconds() - t0) * 1e9 / static_cast<double>(n);
  });
  const pair_times find2 = two_threads([&](std::size_t first) {
    std::size_t found = 0;
    const double t0 = tide_bench::thread_cpu_seconds();
    for (std::size_t i = 0; i < n; ++i) found += set.find(inputs[(first + i) % n]) != set.end();
    const double t = (tide_bench::thread_cpu_seconds() - t0) * 1e9 / static_cast<double>(n);
    return found == n ? t : 1e300;
  });
  std::printf("2 threads (one round), ns/string  cpu: intern %6.1f, absl find %6.1f, ratio %.2f\n",
              intern2.cpu_ns, find2.cpu_ns, intern2.cpu_ns / find2.cpu_ns);
  std::printf("                                 wall: intern %6.1f, absl find %6.1f, ratio %.2f\n",
              intern2.wall_ns, find2.wall_ns, intern2.wall_ns / find2.wall_ns);
  return 0;
}
