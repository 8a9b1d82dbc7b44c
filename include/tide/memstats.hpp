// tide::memstats: where tide::heap's memory is, read in one consistent snapshot. See
// docs/heap.md ("Memstats").
//
//   tide::memstats s = tide::read_memstats();
//   std::printf("%zu live bytes in %zu B from the OS\n", s.live_bytes, s.os_bytes);
//   std::string text = tide::memstats_prometheus();  // Prometheus text exposition format
//
// The page figures (os, in use, idle, released, metadata, spans) come from one read of the
// page heap under its lock: in_use + idle + released == arena bytes exactly. The object
// counters are per thread and are read without stopping the threads; every free counted is
// counted after its malloc, so live objects never go negative, and with no other thread
// allocating the figures are exact. Reading costs O(threads + size classes): fine every second.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace tide {

/// Size classes (index 1..67) plus index 0 for large allocations (whole pages).
inline constexpr int memstats_size_classes = 68;

/// One size class's counters in tide::memstats::by_class.
struct size_class_stats {
  std::size_t object_bytes = 0;  ///< the class's object size (0 for large allocations)
  std::uint64_t mallocs = 0;     ///< allocations ever made
  std::uint64_t frees = 0;       ///< frees ever made
  /// mallocs - frees: objects of the class allocated and not freed.
  std::uint64_t live_objects() const noexcept { return mallocs - frees; }
};

/// Where tide::heap's memory is: one snapshot, taken by tide::read_memstats().
///
/// The page figures come from one read of the page heap under its lock, so
/// `in_use_bytes + idle_bytes + released_bytes == arena_bytes` exactly. The object counters
/// are summed over the thread caches without stopping the threads: `live_objects` never goes
/// negative, and with no other thread allocating the figures are exact. docs/guide.md
/// ("Reading memstats") explains every field.
struct memstats {
  /// \name Pages
  /// Pages (8 KiB) of the arenas: in_use_bytes + idle_bytes + released_bytes == arena_bytes.
  ///@{
  std::size_t arena_bytes = 0;     ///< address space reserved for objects
  std::size_t in_use_bytes = 0;    ///< pages in spans holding objects or large allocations
  std::size_t idle_bytes = 0;      ///< free pages still resident (waiting for reuse or release)
  std::size_t released_bytes = 0;  ///< free pages returned to the OS
  std::size_t metadata_bytes = 0;  ///< span records, bitmaps, thread caches, page map entries
  std::size_t os_bytes = 0;        ///< arena_bytes + metadata_bytes: all the heap took from the OS
  std::size_t footprint_bytes = 0;  ///< in_use + idle: what the memory limit counts

  ///@}
  /// \name Objects
  ///@{
  std::size_t live_bytes = 0;     ///< allocated and not freed, at class size (large: whole pages)
  std::uint64_t live_objects = 0;  ///< objects allocated and not freed (mallocs - frees)
  std::uint64_t mallocs = 0;      ///< all allocations ever made
  std::uint64_t frees = 0;        ///< all frees ever made
  std::size_t cached_bytes = 0;   ///< free objects held in thread caches

  ///@}
  /// \name Spans and threads
  ///@{
  std::size_t small_spans = 0;     ///< spans cut into objects
  std::size_t large_spans = 0;     ///< spans holding one large allocation
  std::size_t free_spans = 0;      ///< idle runs in the page heap
  std::size_t released_spans = 0;  ///< released runs in the page heap
  std::size_t thread_caches = 0;   ///< threads with a cache (alive)

  ///@}
  /// \name Release and limit
  ///@{
  std::uint64_t released_total_bytes = 0;  ///< returned to the OS ever (release_memory, scavenger, pressure)
  std::size_t memory_limit = 0;            ///< 0: none
  std::uint64_t pressure_events = 0;       ///< times the pressure callbacks were run

  ///@}

  std::array<size_class_stats, memstats_size_classes> by_class{};  ///< [0]: large allocations
};

/// A snapshot of tide::heap. Never allocates from tide::heap. O(threads + size classes).
memstats read_memstats();

/// The snapshot as a JSON object (field names as above; by_class as an array of objects with
/// class, object_bytes, mallocs, frees, live_objects; classes never used are left out).
std::string memstats_json(const memstats& stats = read_memstats());

/// The snapshot in the Prometheus text exposition format (version 0.0.4): gauges and counters
/// named tide_heap_*, per-class series labelled {class="N",object_bytes="B"}.
std::string memstats_prometheus(const memstats& stats = read_memstats());

}  // namespace tide
