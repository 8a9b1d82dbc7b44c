// Memory pressure. See pressure.hpp for the design and invariants.
#include "pressure.hpp"

#include <new>
#include <stdexcept>

#include "global_heap.hpp"
#include "release.hpp"

namespace tide::heap::detail {

pressure_monitor& the_pressure_monitor() noexcept {
  alignas(pressure_monitor) static unsigned char storage[sizeof(pressure_monitor)];
  static pressure_monitor* instance = ::new (storage) pressure_monitor(the_heap().pages);
  return *instance;
}

void pressure_monitor::set_limit(std::size_t bytes) noexcept {
  limit_.store(bytes, std::memory_order_relaxed);
  next_run_.store(0, std::memory_order_relaxed);
  check(pages_.footprint_bytes());
}

std::size_t pressure_monitor::add(callback fn) {
  if (!fn) throw std::invalid_argument("tide::on_memory_pressure: empty callback");
  std::lock_guard lock(mu_);
  const std::size_t id = next_id_++;
  callbacks_.push_back(std::make_shared<entry>(entry{id, std::move(fn)}));
  return id;
}

void pressure_monitor::remove(std::size_t id) noexcept {
  std::lock_guard lock(mu_);  // waits for a run on another thread to finish
  for (auto it = callbacks_.begin(); it != callbacks_.end(); ++it) {
    if ((*it)->id == id) {
      (*it)->removed = true;
      callbacks_.erase(it);
      return;
    }
  }
}

void pressure_monitor::on_crossing(std::size_t footprint) noexcept {
  std::unique_lock lock(mu_, std::try_to_lock);
  if (!lock.owns_lock() || running_) return;  // a run is in progress, here or elsewhere
  const std::size_t limit = limit_.load(std::memory_order_relaxed);
  if (limit == 0) return;
  running_ = true;
  if (tracing()) {
    trace_heap_event(pages_.totals(), "memory limit crossed: footprint %zu KiB > limit %zu KiB",
                     footprint >> 10, limit >> 10);
  }
  release_all("memory limit");
  footprint = pages_.footprint_bytes();
  if (footprint > limit) {
    try {
      const std::vector<std::shared_ptr<entry>> snapshot = callbacks_;
      const memory_pressure event{limit, footprint};
      for (const std::shared_ptr<entry>& e : snapshot) {
        if (e->removed) continue;
        try {
          e->fn(event);
        } catch (...) {
          // A callback's failure is its own: the others still run, the allocation goes on.
        }
      }
    } catch (const std::bad_alloc&) {
      // No memory for the snapshot: skip this run.
    }
    runs_.fetch_add(1, std::memory_order_relaxed);
    release_all("memory limit, after the callbacks");
    footprint = pages_.footprint_bytes();
    if (tracing()) {
      trace_heap_event(pages_.totals(), "pressure callbacks run: footprint %zu KiB, limit %zu KiB",
                       footprint >> 10, limit >> 10);
    }
  }
  next_run_.store(footprint + limit / 8, std::memory_order_relaxed);
  pages_.reset_footprint_low_water();
  running_ = false;
}

}  // namespace tide::heap::detail

namespace tide {

void set_memory_limit(std::size_t bytes) noexcept {
  heap::detail::the_pressure_monitor().set_limit(bytes);
}

std::size_t memory_limit() noexcept { return heap::detail::the_pressure_monitor().limit(); }

pressure_registration& pressure_registration::operator=(pressure_registration&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    other.id_ = 0;
  }
  return *this;
}

void pressure_registration::reset() noexcept {
  if (id_ != 0) heap::detail::the_pressure_monitor().remove(id_);
  id_ = 0;
}

pressure_registration on_memory_pressure(std::function<void(const memory_pressure&)> fn) {
  return pressure_registration(heap::detail::the_pressure_monitor().add(std::move(fn)));
}

}  // namespace tide
