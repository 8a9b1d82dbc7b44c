// trace_program: makes every kind of traced event happen once or more, for the trace test
// (tests/trace/check_trace.sh runs it with TIDE_TRACE=1 and checks the lines on stderr):
// a tide::map grows, splits, shrinks and merges; the heap grows an arena, releases pages on
// release_memory(), crosses a memory limit and runs a pressure callback.
#include <cstdint>
#include <cstdio>
#include <vector>

#include "tide/heap.hpp"
#include "tide/map.hpp"

int main() {
  {
    tide::map<std::uint64_t, std::uint64_t> m;
    for (std::uint64_t i = 0; i < 20000; ++i) m.emplace(i, i);
    for (std::uint64_t i = 0; i < 20000; ++i) m.erase(i);
  }
  std::vector<void*> blocks;
  for (int i = 0; i < 2000; ++i) blocks.push_back(tide::heap::allocate(4000));
  for (void* p : blocks) tide::heap::deallocate(p);
  tide::release_memory();

  std::vector<void*> cache;  // what the pressure callback gives back
  auto registration = tide::on_memory_pressure([&](const tide::memory_pressure&) {
    for (void* p : cache) tide::heap::deallocate(p);
    cache.clear();
  });
  tide::set_memory_limit(std::size_t{16} << 20);
  for (int i = 0; i < 5000; ++i) cache.push_back(tide::heap::allocate(8000));
  tide::set_memory_limit(0);
  for (void* p : cache) tide::heap::deallocate(p);
  std::puts("trace_program: done");
}
