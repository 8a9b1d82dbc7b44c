// Replays every input in tests/fuzz/corpus/heap_fuzz/ through the heap fuzz body, so the
// corpus (seeds and anything the fuzzer found) runs in every build, with any compiler.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fuzz/heap_fuzz.hpp"

#ifndef TIDE_HEAP_FUZZ_CORPUS
#error "TIDE_HEAP_FUZZ_CORPUS must name the corpus directory (set by tests/CMakeLists.txt)"
#endif

namespace {

std::vector<std::filesystem::path> corpus_files() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(TIDE_HEAP_FUZZ_CORPUS))
    if (entry.is_regular_file()) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

TEST(HeapFuzzReplay, EveryCorpusInputKeepsItsBlocksAndItsCounts) {
  const auto files = corpus_files();
  ASSERT_GE(files.size(), 12u) << "the corpus in " << TIDE_HEAP_FUZZ_CORPUS << " is missing";
  for (const auto& path : files) {
    std::ifstream in(path, std::ios::binary);
    const std::vector<char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    try {
      tide_test::run_heap_fuzz(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    } catch (const tide_test::heap_fuzz_mismatch& e) {
      ADD_FAILURE() << path.filename().string() << ": " << e.what();
    }
  }
}

TEST(HeapFuzzReplay, EmptyAndTinyInputsAreHarmless) {
  tide_test::run_heap_fuzz(nullptr, 0);
  const std::uint8_t one[] = {0};
  tide_test::run_heap_fuzz(one, 1);
  const std::uint8_t few[] = {0, 3, 100, 0, 3, 3, 5, 0, 1, 3};
  tide_test::run_heap_fuzz(few, sizeof few);
}

// Each single-slot operation once, by hand.
TEST(HeapFuzzReplay, AllocateUsableSizeCheckAndFree) {
  // allocate slot 7 (100 B), usable_size of it, memstats check, free it sized, check again.
  const std::uint8_t ops[] = {0, 7, 100, 0, 3, 7, 5, 0, 1, 7, 5, 0};
  EXPECT_NO_THROW(tide_test::run_heap_fuzz(ops, sizeof ops));
}

}  // namespace
