// The heap profile: the call stacks of sampled allocations, and which of them are still live
// (Go's memory profile, tcmalloc's heap profile). See docs/heap.md ("Heap profiles").
//
// allocate() asks its thread cache's allocation_sampler whether an allocation is sampled;
// a sampled allocation gets a span of its own (a small one is served as a large block), so
// deallocate meets it on the large path and only large frees look in the profile's table of
// live samples, and only while it is not empty. Per sampled allocation the profile keeps
// the stack (backtrace(3)) and counts, per distinct stack, the allocations and bytes sampled
// and those of them freed. profile_writer.cpp turns the counts into pprof's format.
//
// Invariants (under mu_):
//   - every live sample's stack index names a stack record; a block is live at most once;
//   - for each stack, frees <= allocs and free_bytes <= alloc_bytes;
//   - live_count_ == the number of live samples (check_invariants() checks the stacks).
// Storage is reserved from the OS once, on the first sample, and touched as it fills: at most
// max_stacks distinct stacks and max_live_samples live samples (further samples are counted
// in dropped_samples and not recorded).
//
// Re-entry: backtrace(3) may allocate on its first use (glibc loads libgcc_s), and the writer
// allocates while it builds the file; a thread already inside the profile is never sampled
// again (tls_in_profile) and takes mu_ only when it holds no allocation of its own under it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace tide::heap::detail {

class heap_profile {
 public:
  static constexpr int max_frames = 48;
  static constexpr std::size_t max_stacks = std::size_t{1} << 16;
  static constexpr std::size_t max_live_samples = std::size_t{1} << 20;

  struct stack_record {
    std::uint64_t hash = 0;
    std::uint32_t depth = 0;
    std::uintptr_t frames[max_frames] = {};  // return addresses, innermost first
    std::uint64_t allocs = 0;
    std::uint64_t alloc_bytes = 0;
    std::uint64_t frees = 0;
    std::uint64_t free_bytes = 0;
  };

  // 0 turns sampling off; samples already taken stay in the profile.
  void set_rate(std::size_t bytes) noexcept {
    rate_.store(bytes, std::memory_order_relaxed);
    if (bytes != 0) sampled_rate_.store(bytes, std::memory_order_relaxed);
  }
  std::size_t rate() const noexcept { return rate_.load(std::memory_order_relaxed); }
  // The last rate other than 0: the one the writer scales the samples by.
  std::size_t sampled_rate() const noexcept {
    return sampled_rate_.load(std::memory_order_relaxed);
  }

  // Records the sampled block p (`size` bytes asked for) with the calling thread's stack.
  void record_allocation(const void* p, std::size_t size) noexcept;

  // If p is a live sample, records its free. Call before p's pages can be reused.
  void record_free(const void* p) noexcept;
  bool has_live_samples() const noexcept {
    return live_count_.load(std::memory_order_relaxed) != 0;
  }

  // A copy of every stack record (allocates: call with no heap lock held).
  std::vector<stack_record> stacks() const;
  std::uint64_t dropped_samples() const noexcept {
    return dropped_.load(std::memory_order_relaxed);
  }

  // The calling thread is inside the profile (or its writer): its allocations are not sampled.
  static bool thread_inside() noexcept;
  class thread_inside_scope {
   public:
    thread_inside_scope() noexcept;
    ~thread_inside_scope();
    thread_inside_scope(const thread_inside_scope&) = delete;
    thread_inside_scope& operator=(const thread_inside_scope&) = delete;

   private:
    bool was_inside_;
  };

  void lock_for_fork() noexcept { mu_.lock(); }
  void unlock_after_fork() noexcept { mu_.unlock(); }

  void check_invariants() const noexcept;  // call with mu_ held

 private:
  struct live_sample {
    std::uintptr_t address = 0;  // 0: an empty slot
    std::uint32_t stack = 0;
    std::uint64_t size = 0;
  };
  static constexpr std::uint32_t no_stack = ~std::uint32_t{0};
  static constexpr std::size_t stack_slots = max_stacks * 2;       // of stack_index_
  static constexpr std::size_t live_slots = max_live_samples * 2;  // of live_

  bool reserve_storage() noexcept;
  std::uint32_t find_or_add_stack(const std::uintptr_t* frames, std::uint32_t depth,
                                  std::uint64_t hash) noexcept;
  live_sample* find_live(std::uintptr_t address) noexcept;
  void erase_live(live_sample* slot) noexcept;

  std::atomic<std::size_t> rate_{0};
  std::atomic<std::size_t> sampled_rate_{0};
  std::atomic<std::size_t> live_count_{0};
  std::atomic<std::uint64_t> dropped_{0};
  mutable std::mutex mu_;
  stack_record* stack_records_ = nullptr;  // [max_stacks], the first stack_count_ in use
  std::uint32_t* stack_index_ = nullptr;   // [stack_slots] open addressing: record + 1, 0 empty
  live_sample* live_ = nullptr;            // [live_slots] open addressing, linear probing
  std::size_t stack_count_ = 0;
};

// The process's profile (created on first use, never destroyed).
heap_profile& the_heap_profile() noexcept;

// Writes the profile in pprof's format (gzip-compressed profile.proto) to `path`, through a
// temporary file renamed into place. Throws std::system_error if it cannot.
void write_profile_file(const heap_profile& profile, const char* path);

}  // namespace tide::heap::detail
