// tide::heap: a size-class allocator in the manner of Go's runtime and tcmalloc, which gives
// freed pages back to the OS. See docs/heap.md.
//
//   void* p = tide::heap::allocate(100);        // a 112 B object (size class 8)
//   tide::heap::deallocate(p, 100);             // sized: the size given to allocate
//   void* q = tide::heap::allocate(1 << 20, 4096);
//   tide::heap::deallocate(q);                  // unsized
//   tide::release_memory();                     // free pages back to the OS now
//
// Requests up to 32 KiB are served from size classes through a per-thread cache (no lock, no
// atomic read-modify-write); larger ones in whole 8 KiB pages. Misuse (freeing a pointer
// tide::heap did not return, a double free, an interior pointer) prints what went wrong and
// aborts; docs/heap.md lists which checks every build makes and which only debug builds do.
//
// Memory figures: <tide/memstats.hpp>. Allocators for containers: <tide/heap_allocator.hpp>.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

namespace tide::heap {

// At least `size` bytes aligned to `align` (a power of two; at least alignof(max_align_t)
// for sizes >= 16). Never returns nullptr: throws std::bad_alloc if the size overflows or the
// OS refuses memory (the heap stays usable). allocate(0) returns a unique pointer.
[[nodiscard]] void* allocate(std::size_t size, std::size_t align = alignof(std::max_align_t));

// Frees a pointer allocate() returned. nullptr is ignored.
void deallocate(void* p) noexcept;

// Frees a pointer allocate(size, ...) returned; `size` must be the size asked for.
void deallocate(void* p, std::size_t size) noexcept;

// The bytes usable at p (its size class, or its pages for a large block). Preconditions: p
// was returned by allocate() and not freed.
std::size_t usable_size(const void* p) noexcept;

}  // namespace tide::heap

namespace tide {

// Returns every free page of tide::heap to the OS now (after moving the calling thread's
// cached objects back to their spans). Returns the bytes released by this call.
std::size_t release_memory() noexcept;

// Background release: a scavenger thread returns pages that have been free for longer than
// the release delay (default 500 ms; throws std::invalid_argument if negative). It starts
// with the first thread cache or large allocation; switching it off parks it (pages are then
// released only by release_memory() and memory pressure).
void set_release_delay(std::chrono::milliseconds delay);
std::chrono::milliseconds release_delay() noexcept;
void set_background_release(bool enabled);
bool background_release() noexcept;

// The soft memory limit: 0 (the default) means none. When the heap's footprint (pages in use
// plus idle resident pages: memstats::footprint_bytes; released pages and the ~1% of
// metadata do not count) crosses the limit, tide::heap returns its free pages to the OS and,
// if that is not enough, runs the pressure callbacks on the allocating thread, then goes on
// allocating (the limit is soft). Callbacks run again only once the footprint has been at or
// under the limit since the last run, or has grown by a further eighth of the limit. Setting
// a limit the footprint is already above runs them at once, on the calling thread.
void set_memory_limit(std::size_t bytes) noexcept;
std::size_t memory_limit() noexcept;

// What a pressure callback is told.
struct memory_pressure {
  std::size_t limit;      // the limit crossed
  std::size_t footprint;  // the heap's footprint when it was crossed
};

// A registered pressure callback; unregisters when destroyed (and waits for a run of the
// callback in progress on another thread to finish). Move-only.
class pressure_registration {
 public:
  pressure_registration() noexcept = default;
  pressure_registration(pressure_registration&& other) noexcept : id_(other.id_) { other.id_ = 0; }
  pressure_registration& operator=(pressure_registration&& other) noexcept;
  pressure_registration(const pressure_registration&) = delete;
  pressure_registration& operator=(const pressure_registration&) = delete;
  ~pressure_registration() { reset(); }

  // Unregisters now.
  void reset() noexcept;
  explicit operator bool() const noexcept { return id_ != 0; }

 private:
  friend pressure_registration on_memory_pressure(std::function<void(const memory_pressure&)>);
  explicit pressure_registration(std::size_t id) noexcept : id_(id) {}
  std::size_t id_ = 0;
};

// Registers `fn` to run when the memory limit is crossed (see set_memory_limit). Callbacks run
// in registration order, one crossing at a time; a callback may free memory and allocate, and
// an exception it throws is caught and ignored. Throws std::invalid_argument if fn is empty.
//
// A callback runs on the allocating thread, inside the allocation that crossed the limit,
// which may be inside an operation of a container on that thread (a map growing a table): it
// must not use a container that thread may be in the middle of changing. Free what is not in
// use (a cache's spare blocks, another thread's idle pool), or set a flag and compact the
// container once its current operation has returned, as tide lab's pressure scenario does.
[[nodiscard]] pressure_registration on_memory_pressure(
    std::function<void(const memory_pressure&)> fn);

// Heap profiles (docs/heap.md, "Heap profiles"; Go's runtime.MemProfileRate and
// pprof.WriteHeapProfile). With a rate of R bytes, tide::heap records the call stack of about
// one allocation per R bytes allocated, chosen at random so that every byte has the same
// chance; 0 (the default, unless TIDE_PROFILE or TIDE_PROFILE_RATE is set) records none.
// A sampled allocation takes a run of pages of its own (8 KiB at least): at the suggested
// 512 KiB the cost is well under 2% of the bytes allocated. Other threads pick up a new rate
// within 16 MiB of their own allocation; the calling thread at once.
void set_heap_profile_rate(std::size_t bytes) noexcept;
std::size_t heap_profile_rate() noexcept;

// Writes the samples recorded so far to `path` as a gzip-compressed profile.proto, the format
// `go tool pprof` and `pprof` read, with the sample types alloc_objects, alloc_space,
// inuse_objects and inuse_space (the default), scaled up to estimates of all allocations.
// The file is written to a temporary name and renamed into place. Throws std::system_error
// if it cannot be written.
void write_heap_profile(const std::string& path);

}  // namespace tide
