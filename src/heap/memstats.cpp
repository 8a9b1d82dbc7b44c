// tide::read_memstats: the page heap's figures from one read under its lock, the object
// counters summed over the thread caches (thread_cache_registry::totals). See
// <tide/memstats.hpp> for what is consistent with what.
#include "tide/memstats.hpp"

#include "global_heap.hpp"
#include "pressure.hpp"

namespace tide {

static_assert(memstats_size_classes == heap::detail::size_class_count,
              "memstats has one slot per size class");

memstats read_memstats() {
  using namespace heap::detail;
  global_heap& heap = the_heap();
  memstats s;
  class_totals totals[size_class_count];
  s.thread_caches = heap.caches.totals(totals);
  const page_heap_stats pages = heap.pages.stats();

  s.arena_bytes = pages.arena_bytes;
  s.in_use_bytes = pages.in_use_bytes;
  s.idle_bytes = pages.free_bytes;
  s.released_bytes = pages.released_bytes;
  s.metadata_bytes = pages.metadata_bytes + heap.caches.record_bytes();
  s.os_bytes = s.arena_bytes + s.metadata_bytes;
  s.footprint_bytes = s.in_use_bytes + s.idle_bytes;

  s.by_class[0] = {0, pages.large_mallocs, pages.large_frees};
  s.live_bytes = pages.large_live_bytes;
  for (int c = 1; c < size_class_count; ++c) {
    s.by_class[c] = {class_object_bytes[c], totals[c].mallocs, totals[c].frees};
    s.live_bytes += s.by_class[c].live_objects() * class_object_bytes[c];
    s.cached_bytes += totals[c].cached_objects * class_object_bytes[c];
  }
  for (const size_class_stats& c : s.by_class) {
    s.mallocs += c.mallocs;
    s.frees += c.frees;
  }
  s.live_objects = s.mallocs - s.frees;

  s.small_spans = pages.small_spans;
  s.large_spans = pages.large_spans;
  s.free_spans = pages.free_spans;
  s.released_spans = pages.released_spans;
  s.released_total_bytes = pages.released_total_bytes;
  s.memory_limit = the_pressure_monitor().limit();
  s.pressure_events = the_pressure_monitor().runs();
  return s;
}

}  // namespace tide
