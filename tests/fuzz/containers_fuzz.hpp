// The fuzz body for the containers beside tide::map: tide::persistent_map (every version kept
// and checked against its own std::map copy), tide::dense_map (against std::map) and
// tide::bloom (never a false negative), driven by one operation sequence decoded from bytes.
// Run by libFuzzer (containers_fuzz, TIDE_FUZZ=ON) and replayed over the checked-in corpus by
// a GoogleTest (containers_fuzz_replay_test).
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace tide_test {

// Thrown by run_containers_fuzz when a container disagrees with its model.
struct containers_fuzz_mismatch : std::runtime_error {
  explicit containers_fuzz_mismatch(const std::string& what) : std::runtime_error(what) {}
};

// Input format: operations of three bytes [op][key lo][key hi] (a truncated tail reads as
// zeros). The op byte's low 4 bits pick the operation, its high 4 bits are its argument x;
// keys are 16-bit, so collisions of keys (and, through the tide::hash seed, of hash bits)
// are common. Operations:
//   0 persistent: set key -> x on the current version (a new version)
//   1 persistent: erase key                 2 persistent: update key (value + 1, or x)
//   3 persistent: go back to kept version x % 8 (it becomes current)
//   4 persistent: keep the current version in slot x % 8
//   5 persistent: a transient from the current version, then x + 1 sets/erases of keys
//     key, key + 1, ..., frozen into a new current version
//   6 persistent: check every kept version against its model; == of two versions
//   7 dense_map: insert_or_assign key -> x      8 dense_map: erase key
//   9 dense_map: try_emplace key -> x           10 dense_map: erase [lower_bound(key), +x)
//   11 dense_map: shrink_to_fit, then check contents, order and memory
//   12 bloom: insert key                        13 bloom: every inserted key must be found
//   14 dense_map: operator[] key += x           15 dense_map: clear (only if x == 15)
// make_containers_fuzz_corpus.py writes seeds in this format.
void run_containers_fuzz(const std::uint8_t* data, std::size_t size);

}  // namespace tide_test
