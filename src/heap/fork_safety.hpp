// fork(2) safety: pthread_atfork handlers that take every lock of tide::heap before a fork and
// release them after it, in the parent and in the child. See docs/heap.md ("fork").
//
// Lock order, the one every path takes them in: pressure monitor, scavenger, thread cache
// registry, central lists (by class), page heap; then the heap profile's, a leaf (nothing is
// locked under it). In the child only the forking thread exists:
// the scavenger is restarted on demand, and the caches of the parent's other threads stay
// registered with what they held (at most 2 MiB each), as their threads are gone.
#pragma once

namespace tide::heap::detail {

// Registers the handlers; called once, after the heap exists.
void register_fork_handlers() noexcept;

}  // namespace tide::heap::detail
