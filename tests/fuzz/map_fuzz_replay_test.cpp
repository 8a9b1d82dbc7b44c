// Replays every input in tests/fuzz/corpus/map_fuzz/ through the map fuzz body, so the
// corpus (seeds and anything the fuzzer found) runs in every build, with any compiler.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fuzz/map_fuzz.hpp"

#ifndef TIDE_MAP_FUZZ_CORPUS
#error "TIDE_MAP_FUZZ_CORPUS must name the corpus directory (set by tests/CMakeLists.txt)"
#endif

namespace {

std::vector<std::filesystem::path> corpus_files() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(TIDE_MAP_FUZZ_CORPUS))
    if (entry.is_regular_file()) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

TEST(MapFuzzReplay, EveryCorpusInputMatchesTheReference) {
  const auto files = corpus_files();
  ASSERT_GE(files.size(), 20u) << "the corpus in " << TIDE_MAP_FUZZ_CORPUS << " is missing";
  for (const auto& path : files) {
    std::ifstream in(path, std::ios::binary);
    const std::vector<char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    try {
      tide_test::run_map_fuzz(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    } catch (const tide_test::fuzz_mismatch& e) {
      ADD_FAILURE() << path.filename().string() << ": " << e.what();
    }
  }
}

TEST(MapFuzzReplay, EmptyAndTinyInputsAreHarmless) {
  tide_test::run_map_fuzz(nullptr, 0);
  const std::uint8_t one[] = {1};
  tide_test::run_map_fuzz(one, 1);
  const std::uint8_t few[] = {0, 8, 3, 200, 5, 3, 1};
  tide_test::run_map_fuzz(few, sizeof few);
}

}  // namespace
