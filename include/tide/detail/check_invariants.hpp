// raw_hash::check_invariants: recomputes from scratch what the directory and the tables
// cache, and aborts naming the first invariant that does not hold. See directory.hpp for
// the invariants themselves.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <type_traits>

#include "tide/detail/directory.hpp"

namespace tide::detail {

[[noreturn]] inline void invariant_failed(const char* what, std::size_t a, std::size_t b) {
  std::fprintf(stderr, "tide: invariant broken: %s (%zu vs %zu)\n", what, a, b);
  std::abort();
}

template <class Policy, class Hash, class Eq, class Alloc>
void raw_hash<Policy, Hash, Eq, Alloc>::check_invariants() const {
  auto expect = [](bool ok, const char* what, std::size_t a, std::size_t b) {
    if (!ok) invariant_failed(what, a, b);
  };
  if (is_empty_table(dir_[0])) {
    expect(global_depth_ == 0, "the empty map has a one-entry directory", global_depth_, 0);
    expect(size_ == 0 && table_count_ == 0 && table_bytes_ == 0, "the empty map holds nothing",
           size_, table_bytes_);
    return;
  }
  expect((dir_ == &inline_dir_) == (global_depth_ == 0),
         "the directory is inline exactly at depth 0", global_depth_, 0);
  std::size_t entries = 0, tables = 0, at_global = 0, bytes = 0, flagged = 0;
  for (std::size_t di = 0; di < dir_size();) {
    const table_ref t = dir_[di];
    const table_header& hdr = t.header();
    expect(!is_empty_table(t), "no directory entry names the empty table once a table exists", di,
           0);
    expect(hdr.local_depth <= global_depth_, "local depth <= global depth", hdr.local_depth,
           global_depth_);
    const std::size_t len = run_length(t);
    expect(di % len == 0, "a table's run is aligned to its length", di, len);
    for (std::size_t j = di; j < di + len; ++j) {
      expect(dir_[j] == t, "every entry of a run names the run's table", j, di);
    }
    // Counts against the ctrl bytes.
    std::size_t used = 0;
    for (std::size_t g = 0; g < t.groups; ++g) {
      used += static_cast<std::size_t>(group(t.ctrl + g * group_width).match_full().count());
    }
    expect(used == hdr.used, "header.used matches the full ctrl bytes", hdr.used, used);
    expect(hdr.shrink_below == shrink_point(t.groups), "header.shrink_below matches the groups",
           hdr.shrink_below, shrink_point(t.groups));
    expect(used + hdr.tombstones + hdr.growth_left <= max_load(t.capacity()),
           "used + tombstones + growth_left <= max load", used + hdr.tombstones + hdr.growth_left,
           max_load(t.capacity()));
    // Every entry belongs here, has its tag, and is found by a probe. Checks run inside
    // noexcept paths, so a hash that may throw is not called here.
    if constexpr (std::is_nothrow_invocable_v<const Hash&, const key_type&>) {
      slot_type* slots = layout::slots(t);
      for_each_full(t, [&](std::size_t p) {
        const std::size_t h = hash_of(Policy::key(slots[slot_index(p)]));
        expect(t.ctrl[p] == tag_of(h), "a full ctrl byte holds its entry's tag", p, t.ctrl[p]);
        expect(dir_index(h) / len == di / len, "an entry's top hash bits name its table's run",
               dir_index(h), di);
        std::size_t g = start_group(h, t.groups);
        for (std::size_t n = 0; g != p / group_width; ++n, g = next_group(g, t.groups)) {
          expect(n < t.groups && overflowed(t.ctrl + g * group_width, t.ctrl[p]),
                 "groups before an entry's own on its probe path overflowed for its tag", g, p);
        }
      });
    }
    entries += used;
    ++tables;
    at_global += hdr.local_depth == global_depth_;
    bytes += layout::bytes(t.groups);
    flagged += hdr.needs_compaction;
    di += len;
  }
  expect(entries == size_, "size() is the sum of the tables' entries", size_, entries);
  expect(tables == table_count_, "table count", table_count_, tables);
  expect(at_global == tables_at_global_depth_, "tables at global depth", tables_at_global_depth_,
         at_global);
  expect(bytes == table_bytes_, "table bytes", table_bytes_, bytes);
  expect(flagged == tables_needing_compaction_, "tables flagged for compaction",
         tables_needing_compaction_, flagged);
  if (next_dir_ != nullptr) {
    expect(next_built_ <= dir_size(), "the next directory is built at most to the end",
           next_built_, dir_size());
    for (std::size_t i = 0; i < next_built_; ++i) {
      expect(next_dir_[2 * i] == dir_[i] && next_dir_[2 * i + 1] == dir_[i],
             "the next directory mirrors the entries built so far", i, next_built_);
    }
  }
}

}  // namespace tide::detail
