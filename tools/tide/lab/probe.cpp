// Process and allocator memory figures for the lab. See probe.hpp.
#include "lab/probe.hpp"

#include <malloc.h>

#include <tide/heap.hpp>
#include <tide/memstats.hpp>

namespace tide_lab {

allocator_figures read_allocator(bool tide_heap) {
  allocator_figures f;
  if (tide_heap) {
    const tide::memstats s = tide::read_memstats();
    f.allocated_bytes = s.live_bytes;
    f.held_bytes = s.footprint_bytes;
  } else {
    const struct mallinfo2 m = mallinfo2();
    f.allocated_bytes = m.uordblks + m.hblkhd;
    f.held_bytes = m.arena + m.hblkhd;
  }
  return f;
}

void release_allocator(bool tide_heap) {
  if (tide_heap) tide::release_memory();
  malloc_trim(0);
}

}  // namespace tide_lab
