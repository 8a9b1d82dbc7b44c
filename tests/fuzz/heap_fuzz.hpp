// The fuzz body for tide::heap: a sequence of allocate (size, alignment), deallocate (sized
// and unsized), usable_size, release_memory and memstats checks decoded from bytes. Every live
// block holds a pattern from its id, checked before it is freed; the fuzzer's own count of
// live blocks and their bytes is checked against read_memstats(), and the page heap's and
// central lists' check_invariants() run at the end of each input. Run by libFuzzer (heap_fuzz,
// TIDE_FUZZ=ON) and replayed over the checked-in corpus by a GoogleTest (heap_fuzz_replay_test).
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace tide_test {

// Thrown by run_heap_fuzz when tide::heap breaks a promise: a block overwritten, misaligned
// or smaller than usable_size says, or memstats disagreeing with the fuzzer's count.
struct heap_fuzz_mismatch : std::runtime_error {
  explicit heap_fuzz_mismatch(const std::string& what) : std::runtime_error(what) {}
};

// Input format: a sequence of operations, each an op byte (low 3 bits: the operation; high 5
// bits: its argument x) followed by a slot byte (one of 256 slots for blocks) and, for the
// allocations, a 16-bit little-endian size. A truncated tail reads as zeros. Operations:
//   0 allocate into the slot (freeing what it held): size, or size * 8 if x & 16 (up to
//     512 KiB); alignment the default if x % 16 < 4, else 1 << ((x % 16 - 4) * 3 / 2)
//     (1 B .. 64 KiB)
//   1 deallocate the slot, sized        2 deallocate the slot, unsized
//   3 usable_size of the slot: at least the size; the pattern is rewritten over all of it
//   4 release_memory() (only if x % 4 == 0)
//   5 check read_memstats() against the fuzzer's count
//   6 allocate x + 1 blocks of one size (size % 4096 + 1) into the slots from this one on
//   7 free the slots from this one to this one + x, alternately sized and unsized
// make_heap_fuzz_corpus.py writes seeds in this format; heap_fuzz.cpp caps the live bytes and
// the work per input so the fuzzer runs hundreds of inputs a second.
void run_heap_fuzz(const std::uint8_t* data, std::size_t size);

}  // namespace tide_test
