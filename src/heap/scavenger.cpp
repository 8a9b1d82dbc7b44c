// The scavenger. See scavenger.hpp for the design.
#include "scavenger.hpp"

#include <algorithm>
#include <new>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "global_heap.hpp"
#include "os.hpp"
#include "tide/heap.hpp"

namespace tide::heap::detail {

scavenger& the_scavenger() noexcept {
  alignas(scavenger) static unsigned char storage[sizeof(scavenger)];
  static scavenger* instance = ::new (storage) scavenger(the_heap().pages);
  return *instance;
}

void scavenger::start() noexcept {
  std::lock_guard lock(mu_);
  if (started_.load(std::memory_order_relaxed)) return;
  started_.store(true, std::memory_order_release);  // once: a failed start is not retried
  try {
    std::thread([this] { run(); }).detach();
  } catch (const std::exception&) {  // std::system_error, std::bad_alloc
    // No thread: release_memory() and memory pressure still release pages.
  }
}

void scavenger::run() noexcept {
  std::unique_lock lock(mu_);
  for (;;) {
    if (!enabled_) {
      wake_.wait(lock, [&] { return enabled_; });
      continue;
    }
    const std::chrono::milliseconds delay = delay_;
    if (wake_.wait_for(lock, std::max(delay / 4, std::chrono::milliseconds{1})) ==
        std::cv_status::no_timeout) {
      continue;  // the settings changed: start over with them
    }
    if (!enabled_) continue;
    lock.unlock();
    const std::uint64_t now = os_monotonic_ms();
    const auto delay_ms = static_cast<std::uint64_t>(delay.count());
    pages_.release_idle_pages(now > delay_ms ? now - delay_ms : 0);
    lock.lock();
  }
}

void scavenger::set_delay(std::chrono::milliseconds delay) {
  if (delay.count() < 0) throw std::invalid_argument("tide::set_release_delay: delay < 0");
  {
    std::lock_guard lock(mu_);
    delay_ = delay;
  }
  wake_.notify_all();
}

std::chrono::milliseconds scavenger::delay() const noexcept {
  std::lock_guard lock(mu_);
  return delay_;
}

void scavenger::set_enabled(bool enabled) {
  {
    std::lock_guard lock(mu_);
    enabled_ = enabled;
  }
  wake_.notify_all();
}

bool scavenger::enabled() const noexcept {
  std::lock_guard lock(mu_);
  return enabled_;
}

}  // namespace tide::heap::detail

namespace tide {

void set_release_delay(std::chrono::milliseconds delay) {
  heap::detail::the_scavenger().set_delay(delay);
}
std::chrono::milliseconds release_delay() noexcept { return heap::detail::the_scavenger().delay(); }
void set_background_release(bool enabled) { heap::detail::the_scavenger().set_enabled(enabled); }
bool background_release() noexcept { return heap::detail::the_scavenger().enabled(); }

}  // namespace tide
