// What a tide::map or tide::set holds, and what it has done. See docs/map.md.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tide {

/// A snapshot of the memory a container holds (tide::map::memory()). O(number of tables) to
/// take.
struct map_memory {
  std::size_t bytes = 0;            ///< everything held from the allocator
  std::size_t directory_bytes = 0;  ///< the directory (0 while it has one entry)
  std::size_t table_bytes = 0;      ///< the tables: headers, ctrl bytes, slots
  std::size_t tables = 0;           ///< tables (several directory entries may name one)
  std::size_t groups = 0;           ///< groups of 15 slots, over all tables
  std::size_t capacity = 0;         ///< slots
  std::size_t size = 0;             ///< entries
  std::size_t tombstones = 0;       ///< erased slots not given back to growth until their table is rebuilt
  std::size_t global_depth = 0;     ///< log2 of the directory's entries
  double load_factor = 0;           ///< size / capacity (0 when capacity is 0)
};

/// Counts of the structural work a container has done (tide::map::stats()). Updated only on
/// the rebuild paths, never on find or on an insert that finds room.
struct map_stats {
  std::uint64_t rebuilds = 0;             ///< a table rebuilt at a new size (grow, shrink, clean)
  std::uint64_t splits = 0;               ///< a table split in two
  std::uint64_t merges = 0;               ///< two buddy tables merged into one
  std::uint64_t directory_doublings = 0;  ///< the directory doubled (a split of a table as deep as it)
  std::uint64_t directory_halvings = 0;   ///< the directory halved (no table as deep as it any more)
  std::uint64_t slots_moved = 0;          ///< entries moved by all of the above
  std::uint64_t max_slots_moved = 0;      ///< the most entries moved by a single operation
  /// The most directory entries one doubling copied (the rest were built ahead).
  std::uint64_t max_directory_entries_copied = 0;
};

}  // namespace tide
