// What the lab reads about the process's memory, and how it asks an allocator to give memory
// back. See docs/lab.md ("Figures").
//
//   rss                 resident bytes (/proc/self/statm), read without allocating
//   allocator figures   tide::heap: tide::read_memstats(); glibc malloc: mallinfo2()
//   release             tide::release_memory() (and malloc_trim(0), see below) or malloc_trim(0)
#pragma once

#include <cstddef>

#include "common/process_memory.hpp"

namespace tide_lab {

// Resident bytes of this process now; 0 if /proc/self/statm cannot be read.
using tide_tools::resident_bytes;

// One allocator's view of its memory.
struct allocator_figures {
  // Bytes handed out and not freed: tide::heap live_bytes; glibc uordblks + hblkhd.
  std::size_t allocated_bytes = 0;
  // Bytes taken from the OS and not given back: tide::heap footprint_bytes (pages in use plus
  // idle resident pages, what the memory limit counts); glibc arena + hblkhd (glibc returns
  // pages inside its arena with madvise on malloc_trim, which mallinfo2 does not show: RSS does).
  std::size_t held_bytes = 0;
};

allocator_figures read_allocator(bool tide_heap);

// Asks the allocator to give its free memory to the OS now. For tide::heap also glibc's: the
// keys' own buffers (std::string, --keys string) come from malloc whatever the map's allocator.
void release_allocator(bool tide_heap);

}  // namespace tide_lab
