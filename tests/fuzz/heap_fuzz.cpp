// See heap_fuzz.hpp for the input format.
#include "fuzz/heap_fuzz.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <tide/heap.hpp>
#include <tide/memstats.hpp>

#include "global_heap.hpp"
#include "fuzz/fuzz_reader.hpp"
#include "support/random.hpp"

namespace tide_test {
namespace {

// Keep each input fast: at most kMaxLiveBytes asked for at once (an allocation beyond it is
// skipped), and an input stops after kMaxOps operations or once about kBudget bytes of
// pattern have been written and checked.
constexpr std::size_t kMaxLiveBytes = std::size_t{16} << 20;
constexpr std::size_t kMaxOps = 4096;
constexpr std::size_t kBudget = std::size_t{8} << 20;
constexpr std::size_t kPage = 8192;
constexpr std::size_t kMaxSmall = 32768;

[[noreturn]] void mismatch(const std::string& what) { throw heap_fuzz_mismatch(what); }

struct block {
  unsigned char* p = nullptr;
  std::size_t size = 0;     // asked for
  std::size_t align = 0;    // asked for (0: the default)
  std::size_t usable = 0;   // usable_size at allocation
  std::size_t written = 0;  // bytes holding the pattern: size, or usable after op 3
  std::size_t stride = 1;   // pattern_stride(size)
  std::uint64_t id = 0;
};

// The pattern: the 8-byte word at offset 8k is scramble(id) + k * an odd constant, so every
// block and every word in it differ. In blocks up to 4 KiB every word holds it; in larger
// ones every stride-th word (stride = 1 + size / 4 KiB, so ~512 words a block), and the
// first word of the next block catches an overrun. Filling and checking are most of the work
// of an input, so they go a word at a time and are left out of the coverage instrumentation
// (which otherwise traces every comparison in them and makes an input 100 times slower).
#if defined(__clang__)
#define TIDE_FUZZ_NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define TIDE_FUZZ_NO_COVERAGE
#endif

TIDE_FUZZ_NO_COVERAGE std::uint64_t pattern_word(const block& b, std::size_t k) {
  return scramble(b.id, 13) + k * 0x9e3779b97f4a7c15ull;
}

std::size_t pattern_stride(std::size_t size) { return 1 + size / 4096; }

// Applies op(word index, offset, length) to the patterned parts of [from, to).
template <class Op>
TIDE_FUZZ_NO_COVERAGE void for_pattern(const block& b, std::size_t from, std::size_t to, Op op) {
  std::size_t k = from / 8;
  if (k % b.stride != 0) k += b.stride - k % b.stride;
  for (; k * 8 < to; k += b.stride) {
    const std::size_t lo = std::max(k * 8, from);
    const std::size_t hi = std::min(k * 8 + 8, to);
    op(k, lo, hi - lo);
  }
}

// Writes the pattern over [from, to).
TIDE_FUZZ_NO_COVERAGE void fill(const block& b, std::size_t from, std::size_t to) {
  for_pattern(b, from, to, [&](std::size_t k, std::size_t at, std::size_t n) {
    const std::uint64_t w = pattern_word(b, k);
    if (n == 8) {
      std::memcpy(b.p + at, &w, 8);  // a plain store
    } else {
      std::memcpy(b.p + at, reinterpret_cast<const unsigned char*>(&w) + (at - k * 8), n);
    }
  });
}

// Does [0, b.written) hold the pattern?
TIDE_FUZZ_NO_COVERAGE bool intact(const block& b) {
  bool bad = false;
  for_pattern(b, 0, b.written, [&](std::size_t k, std::size_t at, std::size_t n) {
    const std::uint64_t w = pattern_word(b, k);
    if (n == 8) {
      std::uint64_t got;
      std::memcpy(&got, b.p + at, 8);  // a plain load
      bad |= got != w;
    } else {
      bad |= std::memcmp(b.p + at, reinterpret_cast<const unsigned char*>(&w) + (at - k * 8), n) != 0;
    }
  });
  return !bad;
}

class heap_fuzz {
 public:
  heap_fuzz() : start_(tide::read_memstats()) {}

  void run(fuzz_reader& in) {
    std::size_t ops = 0;
    while (!in.done() && ops < kMaxOps && work_ < kBudget) {
      ++ops;
      const std::uint8_t opcode = in.byte();
      const unsigned x = opcode >> 3;
      const std::uint8_t slot = in.byte();
      step_ = ops;
      switch (opcode & 7) {
        case 0: {
          const std::size_t size = std::size_t{in.u16()} * (x & 16 ? 8 : 1);
          const unsigned a = x % 16;
          allocate(slot, size, a < 4 ? 0 : std::size_t{1} << ((a - 4) * 3 / 2));
          break;
        }
        case 1: free(slot, true); break;
        case 2: free(slot, false); break;
        case 3: {
          block& b = slots_[slot];
          if (b.p == nullptr) break;
          const std::size_t usable = tide::heap::usable_size(b.p);
          if (usable != b.usable)
            mismatch(at() + "usable_size changed from " + std::to_string(b.usable) + " to " + std::to_string(usable));
          fill(b, b.written, usable);  // every usable byte is the caller's
          work_ += (usable - b.written) / b.stride;
          b.written = usable;
          break;
        }
        case 4:
          if (x % 4 == 0) tide::release_memory();
          break;
        case 5: check_memstats("op 5"); break;
        case 6: {
          const std::size_t size = in.u16() % 4096 + 1;
          for (unsigned i = 0; i <= x; ++i) allocate(static_cast<std::uint8_t>(slot + i), size, 0);
          break;
        }
        case 7:
          for (unsigned i = 0; i <= x; ++i) free(static_cast<std::uint8_t>(slot + i), i % 2 == 0);
          break;
      }
    }
    step_ = 0;
    check_memstats("the end of the input");
    for (int s = 0; s < 256; ++s) free(static_cast<std::uint8_t>(s), s % 2 == 0);
    const tide::memstats end = tide::read_memstats();
    if (end.live_objects != start_.live_objects || end.live_bytes != start_.live_bytes)
      mismatch("after freeing everything: live objects " + std::to_string(end.live_objects) + " want " +
               std::to_string(start_.live_objects) + ", live bytes " + std::to_string(end.live_bytes) +
               " want " + std::to_string(start_.live_bytes));
    auto& heap = tide::heap::detail::the_heap();
    heap.pages.check_invariants();
    for (int c = 1; c < tide::heap::detail::size_class_count; ++c) heap.central[c].check_invariants();
  }

 private:
  std::string at() const {
    return step_ == 0 ? std::string("at the end: ") : "step " + std::to_string(step_) + ": ";
  }

  void allocate(std::uint8_t slot, std::size_t size, std::size_t align) {
    free(slot, true);
    if (live_bytes_ + size > kMaxLiveBytes) return;
    block& b = slots_[slot];
    b.p = static_cast<unsigned char*>(align == 0 ? tide::heap::allocate(size) : tide::heap::allocate(size, align));
    b.size = size;
    b.align = align;
    b.id = ++allocations_;
    b.written = size;
    b.stride = pattern_stride(size);
    const std::size_t want_align = align == 0 ? alignof(std::max_align_t) : align;
    if (reinterpret_cast<std::uintptr_t>(b.p) % want_align != 0)
      mismatch(at() + "allocate(" + std::to_string(size) + ", " + std::to_string(want_align) +
               ") is not aligned");
    b.usable = tide::heap::usable_size(b.p);
    check_usable(b);
    fill(b, 0, size);
    live_bytes_ += size;
    live_usable_ += b.usable;
    ++live_;
    work_ += size / b.stride;
  }

  // usable_size is at least the size; for requests with at most the default alignment it is
  // the size class (within the table's rounding bound: 15 B below 128 B, else 1/8 of the
  // class) or the request rounded up to whole pages.
  void check_usable(const block& b) const {
    const std::size_t size = b.size == 0 ? 1 : b.size;
    if (b.usable < size)
      mismatch(at() + "usable_size " + std::to_string(b.usable) + " below the size " + std::to_string(b.size));
    if (b.align > alignof(std::max_align_t)) return;
    if (size <= kMaxSmall) {
      const bool ok = b.usable < 128 ? b.usable - size <= 15 : b.usable - size <= b.usable / 8;
      if (!ok) mismatch(at() + "usable_size " + std::to_string(b.usable) + " for " + std::to_string(size) + " B wastes more than the size classes allow");
    } else if (b.usable != (size + kPage - 1) / kPage * kPage) {
      mismatch(at() + "usable_size " + std::to_string(b.usable) + " for a large block of " + std::to_string(size) + " B is not its pages");
    }
  }

  void free(std::uint8_t slot, bool sized) {
    block& b = slots_[slot];
    if (b.p == nullptr) return;
    if (!intact(b))
      mismatch(at() + "block " + std::to_string(b.id) + " of " + std::to_string(b.size) + " B (slot " +
               std::to_string(slot) + ") was overwritten");
    work_ += b.written / b.stride;
    if (sized) {
      tide::heap::deallocate(b.p, b.size);
    } else {
      tide::heap::deallocate(b.p);
    }
    live_bytes_ -= b.size;
    live_usable_ -= b.usable;
    --live_;
    ++frees_;
    b = block{};
  }

  void check_memstats(const char* where) const {
    const tide::memstats s = tide::read_memstats();
    const auto diff = [&](const char* what, std::uint64_t got, std::uint64_t want) {
      if (got != want)
        mismatch(at() + "memstats at " + where + ": " + what + " grew by " + std::to_string(got) +
                 " want " + std::to_string(want));
    };
    diff("live_objects", s.live_objects - start_.live_objects, live_);
    diff("live_bytes", s.live_bytes - start_.live_bytes, live_usable_);
    diff("mallocs", s.mallocs - start_.mallocs, allocations_);
    diff("frees", s.frees - start_.frees, frees_);
    if (s.in_use_bytes + s.idle_bytes + s.released_bytes != s.arena_bytes)
      mismatch(at() + "memstats: in_use + idle + released != arena");
  }

  tide::memstats start_;
  std::array<block, 256> slots_{};
  std::size_t live_bytes_ = 0;   // asked for
  std::size_t live_usable_ = 0;  // usable_size
  std::uint64_t live_ = 0;
  std::uint64_t allocations_ = 0;
  std::uint64_t frees_ = 0;
  std::size_t work_ = 0;
  std::size_t step_ = 0;
};

}  // namespace

void run_heap_fuzz(const std::uint8_t* data, std::size_t size) {
  fuzz_reader in(data, size);
  heap_fuzz fuzz;
  fuzz.run(in);
}

}  // namespace tide_test

#if defined(TIDE_HEAP_FUZZ_LIBFUZZER) && TIDE_HEAP_FUZZ_LIBFUZZER
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    tide_test::run_heap_fuzz(data, size);
  } catch (const tide_test::heap_fuzz_mismatch& e) {
    std::fprintf(stderr, "tide heap_fuzz: %s\n", e.what());
    std::abort();
  }
  return 0;
}
#endif
