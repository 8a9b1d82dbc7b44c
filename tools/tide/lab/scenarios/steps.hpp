// Steps the scenarios share: inserting or erasing the entries of a range of indices (entry i
// is key_at(i) -> i), one recorder tick per operation.
#pragma once

#include <cstdint>

#include "lab/keys.hpp"
#include "lab/recorder.hpp"

namespace tide_lab {

// The defaults of the steps: every entry of the range, nothing after each operation.
struct every_entry {
  bool operator()(std::uint64_t) const noexcept { return true; }
};
struct nothing_after {
  void operator()() const noexcept {}
};

// Inserts entries first .. last-1 into m; calls after() after each insert.
template <class K, class Map, class After = nothing_after>
void insert_entries(Map& m, recorder& rec, std::uint64_t first, std::uint64_t last,
                    After after = {}) {
  for (std::uint64_t i = first; i < last; ++i) {
    m.emplace(key_at<K>(i), i);
    rec.tick(m.size());
    after();
  }
}

// Erases by key the entries i of first .. last-1 for which chosen(i); calls after() after each
// erase.
template <class K, class Map, class Chosen = every_entry, class After = nothing_after>
void erase_entries(Map& m, recorder& rec, std::uint64_t first, std::uint64_t last,
                   Chosen chosen = {}, After after = {}) {
  for (std::uint64_t i = first; i < last; ++i) {
    if (!chosen(i)) continue;
    m.erase(key_at<K>(i));
    rec.tick(m.size());
    after();
  }
}

}  // namespace tide_lab
