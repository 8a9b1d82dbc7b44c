// give_back: a map that gives memory back after erase, next to one that does not.
//
// Inserts 1M uint64 keys into tide::map and into std::unordered_map, each on its own
// tide::counting_allocator, erases every key, and prints the bytes each still holds.
// std::unordered_map frees its nodes on erase but keeps its bucket array; absl's and
// boost's flat maps (and Go's map, issue 20135) keep everything. tide::map shrinks as
// it empties, without a call to shrink_to_fit().
//
//   usage: give_back [N]        (default N = 1000000)

#include <fmt/core.h>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <tide/counting_allocator.hpp>
#include <tide/hash.hpp>
#include <tide/map.hpp>
#include <unordered_map>
#include <utility>
#include <vector>

namespace {

using value_type = std::pair<const std::uint64_t, std::uint64_t>;
using allocator = tide::counting_allocator<value_type>;

// "34.72 MiB", or exact bytes below 1 MiB ("272 B"), so a nearly empty map does not read as 0.
std::string mib(std::size_t bytes) {
  if (bytes < 1024 * 1024) return fmt::format("{:>12} B", bytes);
  return fmt::format("{:>10.2f} MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

std::vector<std::uint64_t> random_keys(std::size_t n) {
  std::mt19937_64 rng(20135);  // Go issue 20135: "runtime: maps do not shrink"
  std::vector<std::uint64_t> keys(n);
  for (auto& k : keys) k = rng();
  return keys;
}

void print_tide_memory(const char* when, const tide::map_memory& m) {
  fmt::print(
      "    memory() {:<13} bytes={} tables={} groups={} capacity={} size={} global_depth={}\n",
      when, m.bytes, m.tables, m.groups, m.capacity, m.size, m.global_depth);
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
  const std::vector<std::uint64_t> keys = random_keys(n);

  fmt::print("give_back: insert {} random uint64 keys, then erase every one\n\n", n);
  fmt::print("{:<22} {:>14} {:>14} {:>14}\n", "map", "after insert", "after erase", "peak");

  // tide::map
  {
    tide::allocation_counter counter;
    tide::map<std::uint64_t, std::uint64_t, tide::hash<std::uint64_t>, std::equal_to<>, allocator>
        m{allocator(counter)};
    for (std::uint64_t k : keys) m.emplace(k, k);
    const std::size_t full = counter.bytes_in_use();
    const tide::map_memory full_memory = m.memory();
    for (std::uint64_t k : keys) m.erase(k);
    const std::size_t empty = counter.bytes_in_use();
    const tide::map_memory empty_memory = m.memory();
    fmt::print("{:<22} {} {} {}\n", "tide::map", mib(full), mib(empty), mib(counter.peak_bytes()));
    print_tide_memory("after insert", full_memory);
    print_tide_memory("after erase", empty_memory);
    fmt::print("    stats()  splits={} merges={} directory_doublings={} directory_halvings={}\n",
               m.stats().splits, m.stats().merges, m.stats().directory_doublings,
               m.stats().directory_halvings);
  }

  // std::unordered_map
  {
    tide::allocation_counter counter;
    std::unordered_map<std::uint64_t, std::uint64_t, std::hash<std::uint64_t>,
                       std::equal_to<std::uint64_t>, allocator>
        m{0, std::hash<std::uint64_t>{}, std::equal_to<std::uint64_t>{}, allocator(counter)};
    for (std::uint64_t k : keys) m.emplace(k, k);
    const std::size_t full = counter.bytes_in_use();
    for (std::uint64_t k : keys) m.erase(k);
    const std::size_t empty = counter.bytes_in_use();
    fmt::print("{:<22} {} {} {}\n", "std::unordered_map", mib(full), mib(empty),
               mib(counter.peak_bytes()));
    fmt::print("    bucket_count() after erase = {} (the bucket array is kept)\n",
               m.bucket_count());
  }
  return 0;
}
