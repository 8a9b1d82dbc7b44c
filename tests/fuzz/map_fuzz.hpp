// The differential fuzz body for tide::map: operations decoded from bytes, mirrored into
// std::unordered_map, a cheap check after each operation and a full comparison plus
// check_invariants() at the end. Run by libFuzzer (map_fuzz, TIDE_FUZZ=ON) and replayed over
// the checked-in corpus by a GoogleTest (map_fuzz_replay_test).
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace tide_test {

// Thrown by run_map_fuzz when tide::map and the reference disagree.
struct fuzz_mismatch : std::runtime_error {
  explicit fuzz_mismatch(const std::string& what) : std::runtime_error(what) {}
};

// Input format: byte 0 picks the map (% 3 == 0: uint64_t -> uint64_t, 1: std::string ->
// uint64_t, 2: uint64_t -> a 128-byte value, whose small tables split early). Then a sequence
// of operations, each an op byte (low 4 bits: the operation; bit 4: a wide 16-bit key instead
// of an 8-bit one) followed by its key (1 or 2 bytes) and one argument byte. A truncated
// tail reads as zeros. The operations are listed in make_map_fuzz_corpus.py; map_fuzz.cpp
// caps the size and the work per input so the fuzzer runs thousands of inputs a second.
void run_map_fuzz(const std::uint8_t* data, std::size_t size);

}  // namespace tide_test
