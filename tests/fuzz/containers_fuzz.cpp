// See containers_fuzz.hpp for the input format.
#include "fuzz/containers_fuzz.hpp"

#include <array>
#include <cstdio>
#include <iterator>
#include <map>
#include <vector>

#include <tide/bloom.hpp>
#include <tide/dense_map.hpp>
#include <tide/persistent_map.hpp>

#include "fuzz/fuzz_reader.hpp"

namespace tide_test {
namespace {

constexpr std::size_t kMaxOps = 2048;
constexpr std::size_t kKept = 8;

using pmap = tide::persistent_map<std::uint16_t, std::uint32_t>;
using model = std::map<std::uint16_t, std::uint32_t>;

[[noreturn]] void mismatch(const char* what, unsigned key = 0) {
  char text[160];
  std::snprintf(text, sizeof text, "%s (key %u)", what, key);
  throw containers_fuzz_mismatch(text);
}

struct version {
  pmap map;
  model expected;
};

void check_version(const version& v) {
  v.map.check_invariants();
  if (v.map.size() != v.expected.size()) mismatch("persistent_map: size differs from the model");
  for (const auto& [key, value] : v.expected) {
    const std::uint32_t* found = v.map.find(key);
    if (found == nullptr || *found != value) mismatch("persistent_map: a model entry is missing", key);
  }
  std::size_t seen = 0;
  for (const auto& [key, value] : v.map) {
    const auto it = v.expected.find(key);
    if (it == v.expected.end() || it->second != value) mismatch("persistent_map: iterated an entry not in the model", key);
    ++seen;
  }
  if (seen != v.expected.size()) mismatch("persistent_map: iteration count differs from size");
}

void check_dense(const tide::dense_map<std::uint32_t>& dense, const model& expected) {
  dense.check_invariants();
  if (dense.size() != expected.size()) mismatch("dense_map: size differs from the model");
  auto want = expected.begin();
  for (const auto& entry : dense) {
    if (want == expected.end() || entry.first != want->first || entry.second != want->second) {
      mismatch("dense_map: iteration differs from the model (key order)", static_cast<unsigned>(entry.first));
    }
    ++want;
  }
  if (want != expected.end()) mismatch("dense_map: iteration ended early");
  // Memory follows the highest key: an empty map holds nothing.
  if (expected.empty() && dense.memory().bytes != 0) mismatch("dense_map: an empty map holds memory");
}

}  // namespace

void run_containers_fuzz(const std::uint8_t* data, std::size_t size) {
  fuzz_reader in(data, size);
  version current;
  std::array<version, kKept> kept;
  tide::dense_map<std::uint32_t> dense;
  model dense_model;
  // Sizing a filter takes milliseconds (the occupancy model): one per process, cleared.
  static tide::bloom<std::uint16_t> filter(4096, 0.01);
  filter.clear();
  std::vector<std::uint16_t> in_filter;

  for (std::size_t n = 0; n < kMaxOps && !in.done(); ++n) {
    const std::uint8_t op = in.byte();
    const auto key = static_cast<std::uint16_t>(in.u16());
    const unsigned x = op >> 4;
    switch (op & 15) {
      case 0:
        current.map = current.map.set(key, x);
        current.expected[key] = x;
        break;
      case 1:
        current.map = current.map.erase(key);
        current.expected.erase(key);
        break;
      case 2: {
        current.map = current.map.update(key, [x](const std::uint32_t* v) { return v ? *v + 1 : x; });
        auto [it, added] = current.expected.try_emplace(key, x);
        if (!added) ++it->second;
        break;
      }
      case 3:
        current = kept[x % kKept];
        break;
      case 4:
        kept[x % kKept] = current;
        break;
      case 5: {
        auto builder = current.map.transient();
        for (unsigned i = 0; i <= x; ++i) {
          const auto k = static_cast<std::uint16_t>(key + i);
          if ((k + x) % 3 == 0) {
            builder.erase(k);
            current.expected.erase(k);
          } else {
            builder.set(k, k + x);
            current.expected[k] = k + x;
          }
        }
        current.map = builder.persistent();
        break;
      }
      case 6: {
        check_version(current);
        for (const version& v : kept) check_version(v);
        const version& a = kept[x % kKept];
        const version& b = kept[key % kKept];
        if ((a.map == b.map) != (a.expected == b.expected)) mismatch("persistent_map: == differs from the models'");
        break;
      }
      case 7:
        dense.insert_or_assign(key, x);
        dense_model[key] = x;
        break;
      case 8:
        if (dense.erase(key) != dense_model.erase(key)) mismatch("dense_map: erase(key) count", key);
        break;
      case 9:
        if (dense.try_emplace(key, x).second != dense_model.try_emplace(key, x).second) {
          mismatch("dense_map: try_emplace said otherwise than the model", key);
        }
        break;
      case 10: {
        // Erase up to x + 1 entries from the first at or after key, in both.
        auto first = dense.begin();
        while (first != dense.end() && first->first < key) ++first;
        auto last = first;
        for (unsigned i = 0; i <= x && last != dense.end(); ++i) ++last;
        auto model_first = dense_model.lower_bound(key);
        auto model_last = model_first;
        for (unsigned i = 0; i <= x && model_last != dense_model.end(); ++i) ++model_last;
        dense.erase(first, last);
        dense_model.erase(model_first, model_last);
        break;
      }
      case 11:
        dense.shrink_to_fit();
        check_dense(dense, dense_model);
        break;
      case 12:
        filter.insert(key);
        in_filter.push_back(key);
        break;
      case 13:
        for (const std::uint16_t k : in_filter) {
          if (!filter.contains(k)) mismatch("bloom: a false negative", k);
        }
        break;
      case 14:
        dense[key] += x;
        dense_model[key] += x;
        break;
      case 15:
        if (x == 15) {
          dense.clear();
          dense_model.clear();
        }
        break;
    }
  }
  check_version(current);
  for (const version& v : kept) check_version(v);
  check_dense(dense, dense_model);
}

}  // namespace tide_test

#if defined(TIDE_CONTAINERS_FUZZ_LIBFUZZER)
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    tide_test::run_containers_fuzz(data, size);
  } catch (const tide_test::containers_fuzz_mismatch& e) {
    std::fprintf(stderr, "tide containers_fuzz: %s\n", e.what());
    std::abort();
  }
  return 0;
}
#endif
