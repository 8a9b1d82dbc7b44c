// tide::bloom (blocked: one cache line per key) against a classic unblocked Bloom filter
// sized for the same target rate. See docs/PERFORMANCE.md ("bloom").
//
// Benchmarks are named BM_<Op>/<filter>/<N>/<1/rate>. One iteration is a batch of N
// operations timed by hand (UseManualTime); ns_per_op is the figure to compare. Counters:
// bits_per_key (the filter's size over N) and measured_fpr (over the Miss batch).
//
//   Insert  N inserts of keys splitmix64(0 .. N-1) into an empty filter sized for N
//   Hit     N queries of the inserted keys, in another order (splitmix64(N-1 .. 0))
//   Miss    N queries of keys never inserted (splitmix64(N .. 2N-1))
//
// Keys are computed in the loop (a few cycles, the same for both filters) rather than read
// from arrays, so that N = 50M (filters of 60 MB, past this machine's 32 MiB L3) needs no
// gigabytes of keys.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <tide/bloom.hpp>
#include <vector>

#include "bench_common.hpp"

namespace tide_bench {
namespace {

// The textbook filter, here only as the baseline: m = -n ln p / (ln 2)^2 bits,
// k = round(-log2 p) probes anywhere in the array (so up to k cache misses per key), the
// probes by double hashing h1 + i * h2 (Kirsch and Mitzenmacher) from one 64-bit hash.
class classic_bloom {
 public:
  classic_bloom(std::size_t n, double p)
      : bits_(static_cast<std::uint64_t>(
            std::ceil(static_cast<double>(n) * -std::log(p) / (std::log(2.0) * std::log(2.0))))),
        k_(std::max(1u, static_cast<unsigned>(std::lround(-std::log2(p))))),
        words_((bits_ + 63) / 64, 0) {}

  void insert(std::uint64_t key) {
    probe(key, [&](std::uint64_t bit) { words_[bit >> 6] |= std::uint64_t{1} << (bit & 63); });
  }
  bool contains(std::uint64_t key) const {
    bool all = true;
    probe(key, [&](std::uint64_t bit) { all &= (words_[bit >> 6] >> (bit & 63)) & 1; });
    return all;
  }
  std::size_t size_in_bytes() const { return words_.size() * 8; }

 private:
  template <class F>
  void probe(std::uint64_t key, F f) const {
    const std::uint64_t h = tide::hash<std::uint64_t>{}(key);
    const std::uint64_t h2 = splitmix64(h) | 1;
    std::uint64_t x = h;
    for (unsigned i = 0; i < k_; ++i, x += h2)
      f(static_cast<std::uint64_t>((static_cast<__uint128_t>(x) * bits_) >> 64));
  }

  std::uint64_t bits_;
  unsigned k_;
  std::vector<std::uint64_t> words_;
};

struct blocked_kind {
  static std::unique_ptr<tide::bloom<std::uint64_t>> make(std::size_t n, double p) {
    return std::make_unique<tide::bloom<std::uint64_t>>(n, p);
  }
};
struct classic_kind {
  static std::unique_ptr<classic_bloom> make(std::size_t n, double p) {
    return std::make_unique<classic_bloom>(n, p);
  }
};

void report(benchmark::State& state, const pass_times& times, std::size_t n, std::size_t bytes) {
  times.report(state, n);
  state.counters["bits_per_key"] = static_cast<double>(bytes * 8) / static_cast<double>(n);
}

double rate_of(const benchmark::State& state) { return 1.0 / static_cast<double>(state.range(1)); }

template <class Kind>
void BM_Insert(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  pass_times times;
  std::size_t bytes = 0;
  for (auto _ : state) {
    auto f = Kind::make(n, rate_of(state));
    times.time(state, [&] {
      for (std::uint64_t i = 0; i < n; ++i) f->insert(splitmix64(i));
    });
    benchmark::DoNotOptimize(f->contains(1));
    bytes = f->size_in_bytes();
  }
  report(state, times, n, bytes);
}

template <class Kind, bool Hit>
void BM_Query(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto f = Kind::make(n, rate_of(state));
  for (std::uint64_t i = 0; i < n; ++i) f->insert(splitmix64(i));
  pass_times times;
  std::size_t positives = 0;
  for (auto _ : state) {
    positives = 0;
    times.time(state, [&] {
      for (std::uint64_t i = n; i-- > 0;) positives += f->contains(splitmix64(Hit ? i : n + i));
    });
    benchmark::DoNotOptimize(positives);
  }
  if (Hit && positives != n) state.SkipWithError("false negative");
  report(state, times, n, f->size_in_bytes());
  if (!Hit)
    state.counters["measured_fpr"] = static_cast<double>(positives) / static_cast<double>(n);
}

void sizes(benchmark::internal::Benchmark* b) {
  for (std::int64_t n : {1'000'000, 10'000'000})
    for (std::int64_t inverse_rate : {100, 10'000}) b->Args({n, inverse_rate});
  b->Args({50'000'000, 100});
  b->UseManualTime()->Unit(benchmark::kMillisecond);
}

BENCHMARK(BM_Insert<blocked_kind>)->Name("BM_Insert/tide_blocked")->Apply(sizes);
BENCHMARK(BM_Insert<classic_kind>)->Name("BM_Insert/classic")->Apply(sizes);
BENCHMARK(BM_Query<blocked_kind, true>)->Name("BM_Hit/tide_blocked")->Apply(sizes);
BENCHMARK(BM_Query<classic_kind, true>)->Name("BM_Hit/classic")->Apply(sizes);
BENCHMARK(BM_Query<blocked_kind, false>)->Name("BM_Miss/tide_blocked")->Apply(sizes);
BENCHMARK(BM_Query<classic_kind, false>)->Name("BM_Miss/classic")->Apply(sizes);

}  // namespace
}  // namespace tide_bench

BENCHMARK_MAIN();
