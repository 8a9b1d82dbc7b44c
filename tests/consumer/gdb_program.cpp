// The program the pretty-printer test (gdb_printers_test.py) runs under gdb: containers of
// known contents, alive when tide_gdb_stop() is called. squares spans several tables, so the
// printer's walk over the directory is covered, not just one table's groups; it lives on
// tide::heap, so the program loads libtide.so, for which gdb auto-loads the printers, and
// stats is the heap's memstats with squares in it.
#include <tide/heap_map.hpp>
#include <tide/map.hpp>
#include <tide/memstats.hpp>
#include <tide/set.hpp>

#include <string>

extern "C" [[gnu::noinline]] void tide_gdb_stop() { asm volatile(""); }

int main() {
  tide::map<std::string, int> names{{"one", 1}};
  tide::map<int, int> empty;
  tide::set<int> evens;
  for (int i = 0; i < 100; ++i) evens.insert(2 * i);
  tide::heap_map<int, long> squares;
  for (int i = 0; i < 10'000; ++i) squares.emplace(i, long{i} * i);
  const tide::memstats stats = tide::read_memstats();
  tide_gdb_stop();
  return names.size() + empty.size() + evens.size() + squares.size() == 10'102 && stats.live_objects > 0
             ? 0
             : 1;
}
