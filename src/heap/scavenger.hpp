// The scavenger: a background thread that returns pages idle for longer than the release
// delay to the OS. See docs/heap.md ("Giving memory back").
//
// It starts with the first thread cache or large allocation (so a program that never uses
// tide::heap never gets the thread), wakes every quarter of the delay and asks the page heap
// to release the free spans freed before now - delay. Switched off, it parks until switched
// on again. Its state lives in never-destroyed storage, so the thread may outlive static
// destructors. If the thread cannot be started, pages are released only by release_memory()
// and memory pressure.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "page_heap.hpp"

namespace tide::heap::detail {

class scavenger {
 public:
  static constexpr std::chrono::milliseconds default_delay{500};

  explicit scavenger(page_heap& pages) noexcept : pages_(pages) {}
  scavenger(const scavenger&) = delete;
  scavenger& operator=(const scavenger&) = delete;

  void ensure_started() noexcept {
    if (!started_.load(std::memory_order_acquire)) start();
  }

  void set_delay(std::chrono::milliseconds delay);
  std::chrono::milliseconds delay() const noexcept;
  void set_enabled(bool enabled);
  bool enabled() const noexcept;

 private:
  void start() noexcept;
  [[noreturn]] void run() noexcept;

  page_heap& pages_;
  std::atomic<bool> started_{false};
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::chrono::milliseconds delay_{default_delay};
  bool enabled_ = true;
};

scavenger& the_scavenger() noexcept;

}  // namespace tide::heap::detail
