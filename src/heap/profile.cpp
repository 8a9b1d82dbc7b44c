// The heap profile's tables. See profile.hpp for the design and invariants.
#include "profile.hpp"

#include <execinfo.h>

#include <new>

#include "misuse.hpp"
#include "os.hpp"
#include "thread_cache.hpp"
#include "tide/heap.hpp"

namespace tide::heap::detail {

namespace {

constinit thread_local bool tls_in_profile __attribute__((tls_model("initial-exec"))) = false;

std::uint64_t mix(std::uint64_t h, std::uint64_t v) noexcept {
  h ^= v + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
  h *= 0xBF58476D1CE4E5B9ULL;
  return h ^ (h >> 31);
}

std::uint64_t address_hash(std::uintptr_t address) noexcept { return mix(0, address); }

template <class T>
T* reserve_array(std::size_t count) noexcept {
  const std::size_t bytes = (count * sizeof(T) + os_page_bytes - 1) & ~(os_page_bytes - 1);
  return static_cast<T*>(os_reserve(bytes, os_page_bytes));  // zero-filled, touched lazily
}

}  // namespace

heap_profile& the_heap_profile() noexcept {
  alignas(heap_profile) static unsigned char storage[sizeof(heap_profile)];
  static heap_profile* instance = ::new (storage) heap_profile();
  return *instance;
}

bool heap_profile::thread_inside() noexcept { return tls_in_profile; }

heap_profile::thread_inside_scope::thread_inside_scope() noexcept : was_inside_(tls_in_profile) {
  tls_in_profile = true;
}
heap_profile::thread_inside_scope::~thread_inside_scope() { tls_in_profile = was_inside_; }

bool heap_profile::reserve_storage() noexcept {
  if (live_ != nullptr) return true;
  stack_records_ = reserve_array<stack_record>(max_stacks);
  stack_index_ = reserve_array<std::uint32_t>(stack_slots);
  live_ = reserve_array<live_sample>(live_slots);
  return stack_records_ != nullptr && stack_index_ != nullptr && live_ != nullptr;
}

void heap_profile::record_allocation(const void* p, std::size_t size) noexcept {
  if (tls_in_profile) return;
  thread_inside_scope inside;
  void* frames[max_frames + 1];
  // The first frame is this function's: the writer starts from its caller.
  const int got = backtrace(frames, max_frames + 1);
  const auto depth = static_cast<std::uint32_t>(got > 1 ? got - 1 : 0);
  std::uintptr_t pcs[max_frames];
  std::uint64_t hash = depth;
  for (std::uint32_t i = 0; i < depth; ++i) {
    pcs[i] = reinterpret_cast<std::uintptr_t>(frames[i + 1]);
    hash = mix(hash, pcs[i]);
  }

  std::lock_guard lock(mu_);
  if (live_count_.load(std::memory_order_relaxed) >= max_live_samples || !reserve_storage()) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const std::uint32_t stack = find_or_add_stack(pcs, depth, hash);
  if (stack == no_stack) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  TIDE_ASSERT(find_live(address) == nullptr, "heap profile: a live block sampled again");
  std::size_t slot = address_hash(address) & (live_slots - 1);
  while (live_[slot].address != 0) slot = (slot + 1) & (live_slots - 1);
  live_[slot] = live_sample{address, stack, size};
  live_count_.fetch_add(1, std::memory_order_relaxed);
  stack_record& record = stack_records_[stack];
  ++record.allocs;
  record.alloc_bytes += size;
  if constexpr (::tide::detail::invariant_checks) check_invariants();
}

void heap_profile::record_free(const void* p) noexcept {
  std::lock_guard lock(mu_);
  live_sample* slot = find_live(reinterpret_cast<std::uintptr_t>(p));
  if (slot == nullptr) return;
  stack_record& record = stack_records_[slot->stack];
  ++record.frees;
  record.free_bytes += slot->size;
  erase_live(slot);
  live_count_.fetch_sub(1, std::memory_order_relaxed);
  if constexpr (::tide::detail::invariant_checks) check_invariants();
}

std::vector<heap_profile::stack_record> heap_profile::stacks() const {
  thread_inside_scope inside;
  std::vector<stack_record> copy;
  for (;;) {
    std::size_t wanted = 0;
    {
      std::lock_guard lock(mu_);
      if (copy.capacity() >= stack_count_) {
        copy.assign(stack_records_, stack_records_ + stack_count_);
        return copy;
      }
      wanted = stack_count_;
    }
    copy.reserve(wanted + 64);  // outside the lock: the reserve may free a sampled block
  }
}

std::uint32_t heap_profile::find_or_add_stack(const std::uintptr_t* frames, std::uint32_t depth,
                                              std::uint64_t hash) noexcept {
  std::size_t slot = hash & (stack_slots - 1);
  for (; stack_index_[slot] != 0; slot = (slot + 1) & (stack_slots - 1)) {
    const std::uint32_t index = stack_index_[slot] - 1;
    const stack_record& record = stack_records_[index];
    if (record.hash != hash || record.depth != depth) continue;
    bool same = true;
    for (std::uint32_t i = 0; i < depth && same; ++i) same = record.frames[i] == frames[i];
    if (same) return index;
  }
  if (stack_count_ == max_stacks) return no_stack;
  const auto index = static_cast<std::uint32_t>(stack_count_++);
  stack_record& record = stack_records_[index];
  record.hash = hash;
  record.depth = depth;
  for (std::uint32_t i = 0; i < depth; ++i) record.frames[i] = frames[i];
  stack_index_[slot] = index + 1;
  return index;
}

heap_profile::live_sample* heap_profile::find_live(std::uintptr_t address) noexcept {
  if (live_ == nullptr) return nullptr;
  for (std::size_t slot = address_hash(address) & (live_slots - 1); live_[slot].address != 0;
       slot = (slot + 1) & (live_slots - 1)) {
    if (live_[slot].address == address) return &live_[slot];
  }
  return nullptr;
}

// Backward-shift deletion: the entries after the hole that probed past it move into it, so
// probe sequences never cross an empty slot and no tombstones are needed.
void heap_profile::erase_live(live_sample* slot) noexcept {
  std::size_t hole = static_cast<std::size_t>(slot - live_);
  for (std::size_t next = (hole + 1) & (live_slots - 1); live_[next].address != 0;
       next = (next + 1) & (live_slots - 1)) {
    const std::size_t home = address_hash(live_[next].address) & (live_slots - 1);
    // Move it if its home is not in (hole, next] (cyclically).
    const bool home_after_hole = ((next - home) & (live_slots - 1)) < ((next - hole) & (live_slots - 1));
    if (home_after_hole) continue;
    live_[hole] = live_[next];
    hole = next;
  }
  live_[hole] = live_sample{};
}

void heap_profile::check_invariants() const noexcept {
  // The stacks only: a scan of the live table would touch all of its reserved pages.
  for (std::size_t i = 0; i < stack_count_; ++i) {
    const stack_record& record = stack_records_[i];
    TIDE_CHECK(record.frees <= record.allocs && record.free_bytes <= record.alloc_bytes,
               "heap profile: a stack freed more than it allocated");
  }
}

}  // namespace tide::heap::detail

namespace tide {

void set_heap_profile_rate(std::size_t bytes) noexcept {
  heap::detail::the_heap_profile().set_rate(bytes);
  if (heap::detail::thread_cache* tc = heap::detail::tls_thread_cache; tc != nullptr) {
    tc->sampler.restart(bytes);
  }
}

std::size_t heap_profile_rate() noexcept { return heap::detail::the_heap_profile().rate(); }

void write_heap_profile(const std::string& path) {
  heap::detail::write_profile_file(heap::detail::the_heap_profile(), path.c_str());
}

}  // namespace tide
