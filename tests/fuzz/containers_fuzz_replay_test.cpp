// Replays every input in tests/fuzz/corpus/containers_fuzz/ through the containers' fuzz body,
// so the corpus runs in every build, with any compiler.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include <gtest/gtest.h>

#include "fuzz/containers_fuzz.hpp"

#ifndef TIDE_CONTAINERS_FUZZ_CORPUS
#error "TIDE_CONTAINERS_FUZZ_CORPUS must name the corpus directory (set by tests/CMakeLists.txt)"
#endif

namespace {

TEST(ContainersFuzzReplay, EveryCorpusInputAgreesWithTheModels) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(TIDE_CONTAINERS_FUZZ_CORPUS)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 8u) << "the corpus in " << TIDE_CONTAINERS_FUZZ_CORPUS << " is missing";
  for (const auto& path : files) {
    std::ifstream in(path, std::ios::binary);
    const std::vector<char> bytes{std::istreambuf_iterator<char>(in), {}};
    try {
      tide_test::run_containers_fuzz(reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                     bytes.size());
    } catch (const tide_test::containers_fuzz_mismatch& e) {
      ADD_FAILURE() << path.filename().string() << ": " << e.what();
    }
  }
}

TEST(ContainersFuzzReplay, EmptyAndTinyInputsAreHarmless) {
  tide_test::run_containers_fuzz(nullptr, 0);
  const std::uint8_t one[] = {6};
  tide_test::run_containers_fuzz(one, sizeof one);
}

}  // namespace
