// Releasing memory now: the calling thread's cache back to the central lists, then every
// free page back to the OS. tide::release_memory() and memory pressure both do this. See
// docs/heap.md ("Giving memory back").
#pragma once

#include <cstddef>

namespace tide::heap::detail {

// Returns the bytes released to the OS by this call. `why` names the caller in the trace.
std::size_t release_all(const char* why) noexcept;

}  // namespace tide::heap::detail
