// Memory pressure: the soft memory limit and the callbacks run when the heap crosses it. See
// docs/heap.md ("Memory limit").
//
// check(footprint) runs after every step that grows the page heap's footprint (a span taken
// for a central list, a large allocation). Above the limit it frees what the heap holds idle
// (the calling thread's cache, then every free page) and, if the footprint is still above,
// runs the callbacks in registration order on the calling thread.
//
// Invariants:
//   - callbacks run one crossing at a time (mu_), never re-entrantly on one thread (a
//     callback that allocates past the limit does not start another run);
//   - after a run, the next one needs the footprint to have been at or under the limit in
//     between (the page heap's low-water mark, reset by each run) or to have grown by limit/8
//     since: a limit the callbacks cannot meet does not make every allocation run them.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

#include "page_heap.hpp"
#include "trace.hpp"
#include "tide/heap.hpp"

namespace tide::heap::detail {

class pressure_monitor {
 public:
  using callback = std::function<void(const memory_pressure&)>;

  explicit pressure_monitor(page_heap& pages) noexcept : pages_(pages) {}

  TIDE_ALWAYS_INLINE void check(std::size_t footprint) noexcept {
    const std::size_t limit = limit_.load(std::memory_order_relaxed);
    if (limit == 0 || footprint <= limit) return;
    if (footprint < next_run_.load(std::memory_order_relaxed) &&
        pages_.footprint_low_water_bytes() > limit) {
      return;
    }
    on_crossing(footprint);
  }

  void set_limit(std::size_t bytes) noexcept;
  std::size_t limit() const noexcept { return limit_.load(std::memory_order_relaxed); }
  std::uint64_t runs() const noexcept { return runs_.load(std::memory_order_relaxed); }

  // See central_list::lock_for_fork. In the child the forking thread has a new thread id, and
  // a recursive mutex checks its owner on unlock: the child gets a fresh mutex instead.
  void lock_for_fork() noexcept { mu_.lock(); }
  void unlock_after_fork() noexcept { mu_.unlock(); }
  void reset_after_fork_in_child() noexcept { ::new (&mu_) std::recursive_mutex(); }

  std::size_t add(callback fn);
  void remove(std::size_t id) noexcept;

 private:
  struct entry {
    std::size_t id;
    callback fn;
    bool removed = false;  // unregistered during a run that holds a snapshot
  };

  void on_crossing(std::size_t footprint) noexcept;

  page_heap& pages_;
  std::atomic<std::size_t> limit_{0};
  std::atomic<std::size_t> next_run_{0};  // after a run the limit could not be met: run again at
  std::atomic<std::uint64_t> runs_{0};
  std::recursive_mutex mu_;  // the callbacks and a run in progress
  std::vector<std::shared_ptr<entry>> callbacks_;
  std::size_t next_id_ = 1;
  bool running_ = false;
};

pressure_monitor& the_pressure_monitor() noexcept;

}  // namespace tide::heap::detail
