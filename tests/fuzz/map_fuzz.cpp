// See map_fuzz.hpp for the input format.
#include "fuzz/map_fuzz.hpp"

#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <string>
#include <unordered_map>
#include <vector>

#include <tide/detail/test_peer.hpp>
#include <tide/map.hpp>

#include "support/describe.hpp"
#include "fuzz/fuzz_reader.hpp"
#include "support/random.hpp"

namespace tide_test {
namespace {

// Keep each input fast (thousands of executions per second under ASan): the map never
// exceeds kMaxSize entries (still several tables), and an input stops once its operations
// have touched kBudget elements (an O(size) operation costs size).
constexpr std::size_t kMaxSize = 3000;
constexpr std::size_t kBudget = 2000;

[[noreturn]] void mismatch(const std::string& what) { throw fuzz_mismatch(what); }

template <class K>
K make_key(std::uint32_t i) {
  if constexpr (std::is_same_v<K, std::string>) {
    return string_key(i);
  } else {
    return static_cast<K>(i) * 0x9e3779b97f4a7c15ull;  // spread, but distinct for distinct i
  }
}

// A 128-byte value: tide sizes tables in bytes, so big slots make small tables, and a few
// hundred entries already split the map into several tables and merge them back.
struct fat_value {
  std::uint64_t v;
  std::uint64_t pad[15];
  fat_value() : fat_value(0) {}
  fat_value(std::uint64_t x) : v(x) {  // NOLINT: implicit, to mirror a uint64_t
    for (std::uint64_t& p : pad) p = ~x;
  }
  operator std::uint64_t() const {
    for (std::uint64_t p : pad)
      if (p != ~v) throw fuzz_mismatch("a fat value's padding was corrupted");
    return v;
  }
  std::uint64_t get() const { return v; }
};

template <class K, class V>
void run(fuzz_reader& in) {
  using M = tide::map<K, V>;
  M m;
  std::unordered_map<K, std::uint64_t> ref;
  std::uint64_t step = 0;
  std::size_t work = 0;
  while (!in.done() && work < kBudget) {
    ++step;
    ++work;
    const std::uint8_t opcode = in.byte();
    const std::uint32_t ki = (opcode & 0x10) ? in.u16() : in.byte();
    const std::uint8_t arg = in.byte();
    const K k = make_key<K>(ki);
    const std::uint64_t v = step * 256 + arg;
    // The failure message prefix, built only on failure.
    const auto at = [&] {
      return "step " + std::to_string(step) + " op " + std::to_string(opcode & 15) + " key " +
             describe(k) + ": ";
    };
    switch (opcode & 15) {
      case 0: {  // insert
        const bool want = ref.emplace(k, v).second;
        const auto r = m.insert({k, v});
        if (r.second != want) mismatch(at() + "insert reported " + describe(r.second));
        if (r.first->second != ref[k]) mismatch(at() + "insert: value " + describe(r.first->second));
        break;
      }
      case 1: {  // emplace
        const bool want = ref.emplace(k, v).second;
        if (m.emplace(k, v).second != want) mismatch(at() + "emplace reported the wrong result");
        break;
      }
      case 2: {  // try_emplace
        const bool want = ref.try_emplace(k, v).second;
        const auto r = m.try_emplace(k, v);
        if (r.second != want || r.first->second != ref[k]) mismatch(at() + "try_emplace");
        break;
      }
      case 3: {  // operator[]
        auto rit = ref.find(k);
        const std::uint64_t old = rit == ref.end() ? 0 : rit->second;
        V& slot = m[k];
        if (slot != old) mismatch(at() + "operator[] got " + describe(slot) + " want " + describe(old));
        slot = v;
        ref[k] = v;
        break;
      }
      case 4: {  // insert_or_assign
        const bool want = ref.insert_or_assign(k, v).second;
        const auto r = m.insert_or_assign(k, v);
        if (r.second != want || r.first->second != v) mismatch(at() + "insert_or_assign");
        break;
      }
      case 5: {  // erase(key)
        const std::size_t want = ref.erase(k);
        const std::size_t got = m.erase(k);
        if (got != want) mismatch(at() + "erase got " + describe(got) + " want " + describe(want));
        break;
      }
      case 6: {  // erase(iterator) of the found key
        auto it = m.find(k);
        if ((it != m.end()) != (ref.count(k) != 0)) mismatch(at() + "find before erase(iterator)");
        if (it != m.end()) {
          const auto next = std::next(it);
          if (m.erase(it) != next) mismatch(at() + "erase(iterator) did not return the next one");
          ref.erase(k);
        }
        break;
      }
      case 7: {  // find
        auto it = m.find(k);
        auto rit = ref.find(k);
        if (rit == ref.end() ? it != m.end() : (it == m.end() || it->second != rit->second))
          mismatch(at() + "find got " + (it == m.end() ? std::string("end()") : describe(it->second)));
        if (m.contains(k) != (rit != ref.end())) mismatch(at() + "contains");
        break;
      }
      case 8: {  // insert a run of keys
        const std::uint32_t n = arg * 4u;
        work += n;
        for (std::uint32_t i = 0; i < n && m.size() < kMaxSize; ++i) {
          const K rk = make_key<K>(ki + i);
          if (m.emplace(rk, v).second != ref.emplace(rk, v).second)
            mismatch(at() + "emplace in a run at " + describe(rk));
        }
        break;
      }
      case 9: {  // erase a run of keys by key
        const std::uint32_t n = arg * 4u;
        work += n;
        for (std::uint32_t i = 0; i < n; ++i) {
          const K rk = make_key<K>(ki + i);
          if (m.erase(rk) != ref.erase(rk)) mismatch(at() + "erase in a run at " + describe(rk));
        }
        break;
      }
      case 10: {  // the erase-while-iterating idiom
        work += m.size();
        const std::uint64_t mod = 1 + arg % 8;
        for (auto it = m.begin(); it != m.end();) {
          if (it->second % mod == 0) {
            ref.erase(it->first);
            it = m.erase(it);
          } else {
            ++it;
          }
        }
        break;
      }
      case 11:  // clear, rarely: only with this argument
        if (arg % 4 == 0) {
          m.clear();
          ref.clear();
        }
        break;
      case 12:  // reserve / rehash / shrink_to_fit
        work += m.size() + ki % 4096;
        if (arg % 3 == 0) m.reserve(ki % 4096);
        if (arg % 3 == 1) m.rehash(arg & 8 ? 0 : ki % 4096);
        if (arg % 3 == 2) m.shrink_to_fit();
        break;
      case 13: {  // copy, move and swap
        work += 2 * m.size();
        M copy(m);
        if (copy.size() != m.size()) mismatch(at() + "a copy has a different size");
        for (const auto& kv : m) {
          auto cit = copy.find(kv.first);
          if (cit == copy.end() || std::uint64_t(cit->second) != std::uint64_t(kv.second))
            mismatch(at() + "a copy differs at " + describe(kv.first));
        }
        M moved(std::move(copy));
        m.swap(moved);
        break;
      }
      case 14: {  // erase(first, last) from the found key
        auto first = m.find(k);
        auto last = first;
        std::vector<K> doomed;
        for (int i = 0; i < arg % 16 && last != m.end(); ++i) doomed.push_back((last++)->first);
        m.erase(first, last);
        for (const K& d : doomed) ref.erase(d);
        break;
      }
      case 15: {  // erase_if
        work += 2 * m.size();
        const std::uint64_t mod = 2 + arg % 16;
        const std::size_t want =
            std::erase_if(ref, [mod](const auto& kv) { return kv.second % mod == 1; });
        const std::size_t got = tide::erase_if(m, [&](const auto& kv) { return kv.second % mod == 1; });
        if (got != want) mismatch(at() + "erase_if got " + describe(got) + " want " + describe(want));
        break;
      }
    }
    if (m.size() != ref.size())
      mismatch(at() + "size() got " + describe(m.size()) + " want " + describe(ref.size()));
  }
  // Full comparison: every reference entry found with its value, and one iteration of m
  // visiting exactly the reference's keys.
  for (const auto& [rk, rv] : ref) {
    auto it = m.find(rk);
    if (it == m.end()) mismatch("at the end: find(" + describe(rk) + ") got end() want " + describe(rv));
    if (it->second != rv)
      mismatch("at the end: find(" + describe(rk) + ") got " + describe(it->second) + " want " + describe(rv));
  }
  std::size_t visited = 0;
  for (const auto& kv : m) {
    ++visited;
    if (ref.count(kv.first) == 0) mismatch("at the end: iteration visited " + describe(kv.first));
  }
  if (visited != ref.size())
    mismatch("at the end: iteration visited " + describe(visited) + " want " + describe(ref.size()));
  tide::detail::test_peer::check_invariants(m);
}

}  // namespace

void run_map_fuzz(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return;
  fuzz_reader in(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0: run<std::uint64_t, std::uint64_t>(in); break;
    case 1: run<std::string, std::uint64_t>(in); break;
    case 2: run<std::uint64_t, fat_value>(in); break;
  }
}

}  // namespace tide_test

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    tide_test::run_map_fuzz(data, size);
  } catch (const tide_test::fuzz_mismatch& e) {
    std::fprintf(stderr, "tide map_fuzz: tide::map differs from std::unordered_map: %s\n", e.what());
    std::abort();
  }
  return 0;
}
