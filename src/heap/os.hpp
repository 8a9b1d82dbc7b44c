// The OS layer: the only code in tide that calls mmap, munmap, madvise and mincore. See
// docs/heap.md.
//
// Memory states, as Go's mem.go names them, for a range of address space:
//   reserved  mapped read-write with MAP_NORESERVE: no RSS until touched, when the kernel
//             commits it page by page (so "committed lazily");
//   resident  touched since it was reserved or last released: counted in RSS;
//   released  handed back with madvise(MADV_DONTNEED): not in RSS; reads as zeros and is
//             committed again on the next touch.
// Preconditions for every function: addresses and sizes are multiples of os_page_bytes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tide::heap::detail {

inline constexpr std::size_t os_page_bytes = 4096;

// Reserves `bytes` of address space aligned to `align` (a power of two, a multiple of
// os_page_bytes). Returns nullptr if the OS refuses.
void* os_reserve(std::size_t bytes, std::size_t align) noexcept;

// Returns a reservation to the OS.
void os_unreserve(void* start, std::size_t bytes) noexcept;

// Drops the range's physical pages (resident -> released). The range stays reserved.
void os_release(void* start, std::size_t bytes) noexcept;

// Milliseconds of a coarse monotonic clock (CLOCK_MONOTONIC_COARSE: a few ns to read).
std::uint64_t os_monotonic_ms() noexcept;

// The process's resident set size in bytes, from /proc/self/statm (0 if unreadable).
std::size_t os_resident_bytes() noexcept;

// The bytes of [start, start + bytes) that are resident, from mincore(2): the heap's own
// share of RSS, which sanitizers' shadow memory does not blur.
std::size_t os_resident_bytes_in(const void* start, std::size_t bytes) noexcept;

}  // namespace tide::heap::detail
