// The consumer tests' user program: what a project that installed, vendored or fetched tide
// writes first. It uses a header (tide::map, with XXH3 string hashing from libxxhash) and the
// compiled library (tide::heap, memstats, and the Prometheus text, which the library formats
// with fmt), so a missing include directory or link dependency fails the build, and it prints
// one line the tests match, ending in "ok" only if every check held.
#include <tide/heap.hpp>
#include <tide/map.hpp>
#include <tide/memstats.hpp>

#include <cstdio>
#include <string>

int main() {
  tide::map<std::string, int> m;
  for (int i = 0; i < 1000; ++i) m.emplace("key-" + std::to_string(i), i);
  long sum = 0;
  for (const auto& [key, value] : m) sum += value;
  const bool found = m.at("key-999") == 999 && !m.contains("key-1000");

  void* p = tide::heap::allocate(100'000);
  const tide::memstats stats = tide::read_memstats();
  const bool counted = stats.live_bytes >= 100'000 && stats.mallocs >= 1;
  tide::heap::deallocate(p, 100'000);
  const bool exposed = tide::memstats_prometheus().find("tide_heap_") != std::string::npos;

  const bool ok = m.size() == 1000 && sum == 499'500 && found && counted && exposed;
  std::printf("tide-consumer: map %zu entries sum %ld lookups %s, heap %s, prometheus %s: %s\n",
              m.size(), sum, found ? "right" : "WRONG", counted ? "counted" : "NOT COUNTED",
              exposed ? "exposed" : "MISSING", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
