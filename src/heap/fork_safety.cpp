// fork(2) safety. See fork_safety.hpp for the lock order.
#include "fork_safety.hpp"

#include <pthread.h>

#include "global_heap.hpp"
#include "pressure.hpp"
#include "profile.hpp"
#include "scavenger.hpp"

namespace tide::heap::detail {

namespace {

void lock_all() noexcept {
  global_heap& heap = the_heap();
  the_pressure_monitor().lock_for_fork();
  the_scavenger().lock_for_fork();
  heap.caches.lock_for_fork();
  for (int c = 1; c < size_class_count; ++c) heap.central[c].lock_for_fork();
  heap.pages.lock_for_fork();
  the_heap_profile().lock_for_fork();  // a leaf: no heap lock is taken under it
}

// The locks below the pressure monitor's, in reverse order.
void unlock_heap() noexcept {
  global_heap& heap = the_heap();
  the_heap_profile().unlock_after_fork();
  heap.pages.unlock_after_fork();
  for (int c = size_class_count - 1; c >= 1; --c) heap.central[c].unlock_after_fork();
  heap.caches.unlock_after_fork();
  the_scavenger().unlock_after_fork();
}

void unlock_all_in_parent() noexcept {
  unlock_heap();
  the_pressure_monitor().unlock_after_fork();
}

void unlock_all_in_child() noexcept {
  unlock_heap();
  the_pressure_monitor().reset_after_fork_in_child();
  the_scavenger().after_fork_in_child();
}

}  // namespace

void register_fork_handlers() noexcept {
  pthread_atfork(&lock_all, &unlock_all_in_parent, &unlock_all_in_child);
}

}  // namespace tide::heap::detail
