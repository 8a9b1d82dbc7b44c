// tide::read_memstats / memstats_json / memstats_prometheus: the accounting identities the
// header states (in_use + idle + released == arena, os == arena + metadata, footprint ==
// in_use + idle), live bytes and objects moving by exactly what the test allocates
// and frees, per-class counters, release_memory() moving idle pages to released, and both
// text forms (JSON parsed with nlohmann::json; Prometheus checked line by line against the
// 0.0.4 exposition format). Single-threaded: the header says the figures are then exact.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <iterator>
#include <cstdint>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tide/heap.hpp"
#include "tide/memstats.hpp"

namespace {

constexpr std::size_t kib = 1024;

// The identities every snapshot satisfies, whatever the heap is doing.
::testing::AssertionResult consistent(const tide::memstats& s) {
  auto failure = [&](const std::string& what) {
    return ::testing::AssertionFailure()
           << what << " (arena " << s.arena_bytes << ", in use " << s.in_use_bytes << ", idle "
           << s.idle_bytes << ", released " << s.released_bytes << ", metadata "
           << s.metadata_bytes << ", os " << s.os_bytes << ", footprint " << s.footprint_bytes
           << ")";
  };
  if (s.in_use_bytes + s.idle_bytes + s.released_bytes != s.arena_bytes)
    return failure("in_use + idle + released != arena");
  if (s.arena_bytes + s.metadata_bytes != s.os_bytes) return failure("arena + metadata != os");
  if (s.in_use_bytes + s.idle_bytes != s.footprint_bytes) return failure("in_use + idle != footprint");
  if (s.mallocs < s.frees) return failure("frees > mallocs");
  if (s.live_objects != s.mallocs - s.frees)
    return failure("live_objects " + std::to_string(s.live_objects) + " != mallocs - frees " +
                   std::to_string(s.mallocs - s.frees));
  std::uint64_t class_mallocs = 0;
  std::uint64_t class_frees = 0;
  for (const auto& c : s.by_class) {
    if (c.frees > c.mallocs) return failure("a class has frees > mallocs");
    class_mallocs += c.mallocs;
    class_frees += c.frees;
  }
  if (class_mallocs != s.mallocs || class_frees != s.frees)
    return failure("the per-class mallocs/frees do not add up to the totals (" +
                   std::to_string(class_mallocs) + "/" + std::to_string(class_frees) + " vs " +
                   std::to_string(s.mallocs) + "/" + std::to_string(s.frees) + ")");
  if (s.memory_limit != tide::memory_limit()) return failure("memory_limit differs from tide::memory_limit()");
  return ::testing::AssertionSuccess();
}

// Counters only ever grow.
void expect_monotonic(const tide::memstats& before, const tide::memstats& after) {
  EXPECT_GE(after.mallocs, before.mallocs);
  EXPECT_GE(after.frees, before.frees);
  EXPECT_GE(after.released_total_bytes, before.released_total_bytes);
  EXPECT_GE(after.pressure_events, before.pressure_events);
  for (int c = 0; c < tide::memstats_size_classes; ++c) {
    EXPECT_GE(after.by_class[c].mallocs, before.by_class[c].mallocs) << "class " << c;
    EXPECT_GE(after.by_class[c].frees, before.by_class[c].frees) << "class " << c;
  }
}

// Requests whose size class (or page run) is known from src/heap/size_classes.inc, not from
// the heap: {size asked, alignment, size class, bytes the block holds}.
struct known_block {
  std::size_t size;
  std::size_t align;
  int size_class;
  std::size_t bytes;
};
constexpr std::size_t page = 8 * kib;
const known_block known_blocks[] = {
    {0, 8, 1, 8},                        // allocate(0): a unique object of the first class
    {1, 8, 1, 8},
    {8, 8, 1, 8},
    {1, 16, 2, 16},                      // aligned to 16: the first class that is a multiple
    {9, 16, 2, 16},
    {100, 16, 8, 112},                   // the header's example: 100 B is a 112 B object
    {112, 16, 8, 112},
    {113, 16, 9, 128},
    {100, 64, 9, 128},                   // the first class >= 100 that is a multiple of 64
    {1000, 16, 32, 1024},
    {1025, 16, 33, 1152},
    {4096, 16, 46, 4096},
    {100, 8192, 53, 8192},               // aligned to a page: the 8 KiB class
    {30000, 16, 67, 32768},              // class 66 is 28672 B
    {32768, 16, 67, 32768},
    {32769, 16, 0, 5 * page},            // large: whole pages
    {100000, 16, 0, 13 * page},
    {std::size_t{1} << 20, 16, 0, std::size_t{1} << 20},
};

TEST(Memstats, KnownBlocksMoveLiveBytesByTheirClassSizes) {
  tide::release_memory();
  const tide::memstats before = tide::read_memstats();
  ASSERT_TRUE(consistent(before));

  constexpr int copies = 3;  // several objects per class, so per-class counts are not just 0/1
  std::vector<void*> blocks;
  std::size_t usable_sum = 0;
  std::size_t known_sum = 0;
  std::map<int, std::uint64_t> per_class;
  for (int copy = 0; copy < copies; ++copy) {
    for (const known_block& k : known_blocks) {
      void* p = tide::heap::allocate(k.size, k.align);
      blocks.push_back(p);
      const std::size_t usable = tide::heap::usable_size(p);
      EXPECT_GE(usable, k.size);
      const std::size_t want = k.bytes;
      EXPECT_EQ(usable, want) << "usable_size of allocate(" << k.size << ", " << k.align << ")";
      usable_sum += usable;
      known_sum += want;
      ++per_class[k.size_class];
    }
  }
  EXPECT_EQ(usable_sum, known_sum);

  const tide::memstats during = tide::read_memstats();
  ASSERT_TRUE(consistent(during));
  expect_monotonic(before, during);
  EXPECT_EQ(during.live_bytes - before.live_bytes, usable_sum)
      << "live bytes grow by the sum of the blocks' class sizes";
  EXPECT_EQ(during.live_objects - before.live_objects, blocks.size());
  EXPECT_EQ(during.mallocs - before.mallocs, blocks.size());
  EXPECT_EQ(during.frees, before.frees);
  for (int c = 0; c < tide::memstats_size_classes; ++c) {
    const std::uint64_t want = per_class.count(c) ? per_class[c] : 0;
    EXPECT_EQ(during.by_class[c].mallocs - before.by_class[c].mallocs, want) << "class " << c;
    EXPECT_EQ(during.by_class[c].live_objects() - before.by_class[c].live_objects(), want)
        << "class " << c;
  }
  // Each class knows its object size; class 0 (large) has none.
  EXPECT_EQ(during.by_class[0].object_bytes, 0u);
  EXPECT_EQ(during.by_class[1].object_bytes, 8u);
  EXPECT_EQ(during.by_class[8].object_bytes, 112u);
  EXPECT_EQ(during.by_class[9].object_bytes, 128u);
  EXPECT_EQ(during.by_class[53].object_bytes, 8192u);
  EXPECT_EQ(during.by_class[67].object_bytes, 32768u);
  for (int c = 2; c < tide::memstats_size_classes; ++c) {
    EXPECT_GT(during.by_class[c].object_bytes, during.by_class[c - 1].object_bytes)
        << "class sizes increase with the class, at class " << c;
  }
  // The blocks' spans are in use: at least their bytes.
  EXPECT_GE(during.in_use_bytes, before.in_use_bytes + usable_sum / 2);

  // Free them all, half sized and half unsized.
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const known_block& k = known_blocks[i % std::size(known_blocks)];
    if (i % 2 == 0) {
      tide::heap::deallocate(blocks[i], k.size);
    } else {
      tide::heap::deallocate(blocks[i]);
    }
  }
  const tide::memstats after = tide::read_memstats();
  ASSERT_TRUE(consistent(after));
  expect_monotonic(during, after);
  EXPECT_EQ(after.live_bytes, before.live_bytes);
  EXPECT_EQ(after.live_objects, before.live_objects);
  EXPECT_EQ(after.mallocs, during.mallocs);
  EXPECT_EQ(after.frees - before.frees, blocks.size());
  for (int c = 0; c < tide::memstats_size_classes; ++c) {
    const std::uint64_t want = per_class.count(c) ? per_class[c] : 0;
    EXPECT_EQ(after.by_class[c].frees - before.by_class[c].frees, want) << "class " << c;
    EXPECT_EQ(after.by_class[c].live_objects(), before.by_class[c].live_objects()) << "class " << c;
  }
}

TEST(Memstats, UsableSizeOfEverySmallSizeIsItsClassAndIsWritable) {
  // The class of every size 1..32 KiB is the smallest that fits with rounding waste within
  // the table's bounds (12.5% of the class, or 15 B below 128 B); usable_size reports it.
  std::size_t prev = 0;
  for (std::size_t size = 1; size <= 32768; size += (size < 2048 ? 1 : 17)) {
    void* p = tide::heap::allocate(size);
    const std::size_t usable = tide::heap::usable_size(p);
    ASSERT_GE(usable, size) << "size " << size;
    if (usable < 128) {
      ASSERT_LE(usable - size, 15u) << "size " << size << " usable " << usable;
    } else {
      ASSERT_LE(usable - size, usable / 8) << "size " << size << " usable " << usable;
    }
    ASSERT_GE(usable, prev) << "a larger request got a smaller class, size " << size;
    prev = usable;
    std::memset(p, 0xa5, usable);  // every usable byte is the caller's
    tide::heap::deallocate(p, size);
  }
}

TEST(Memstats, ReleaseMemoryMovesIdlePagesToReleased) {
  const bool background = tide::background_release();
  tide::set_background_release(false);  // only release_memory() releases during this test
  tide::release_memory();

  std::vector<void*> blocks;
  for (int i = 0; i < 32; ++i) blocks.push_back(tide::heap::allocate(256 * kib));  // 8 MiB
  for (int i = 0; i < 2000; ++i) blocks.push_back(tide::heap::allocate(200));      // ~60 spans
  const tide::memstats held = tide::read_memstats();
  ASSERT_TRUE(consistent(held));
  for (void* p : blocks) tide::heap::deallocate(p);

  const tide::memstats idle = tide::read_memstats();
  ASSERT_TRUE(consistent(idle));
  expect_monotonic(held, idle);
  EXPECT_GE(idle.idle_bytes, std::size_t{8} << 20) << "the freed large blocks' pages are idle";
  EXPECT_LE(idle.in_use_bytes, held.in_use_bytes - (std::size_t{8} << 20));

  const std::size_t released = tide::release_memory();
  const tide::memstats after = tide::read_memstats();
  ASSERT_TRUE(consistent(after));
  expect_monotonic(idle, after);
  EXPECT_GE(released, idle.idle_bytes) << "every idle page (and any the cache flush freed)";
  EXPECT_EQ(after.idle_bytes, 0u) << "release_memory() returns every free page";
  EXPECT_EQ(after.released_bytes, idle.released_bytes + released);
  EXPECT_EQ(after.released_total_bytes, idle.released_total_bytes + released);
  EXPECT_EQ(after.arena_bytes, idle.arena_bytes) << "releasing does not unmap arenas";
  EXPECT_EQ(after.live_objects, held.live_objects - blocks.size());
  EXPECT_EQ(after.cached_bytes, 0u) << "release_memory() flushes the calling thread's cache";
  EXPECT_EQ(tide::release_memory(), 0u) << "nothing left to release";

  tide::set_background_release(background);
}

TEST(Memstats, ScavengerSwitchesRoundTrip) {
  const bool background = tide::background_release();
  const std::chrono::milliseconds delay = tide::release_delay();
  EXPECT_EQ(delay, std::chrono::milliseconds(500)) << "the default release delay is 500 ms";
  tide::set_background_release(false);
  EXPECT_FALSE(tide::background_release());
  tide::set_background_release(true);
  EXPECT_TRUE(tide::background_release());
  tide::set_release_delay(std::chrono::milliseconds(250));
  EXPECT_EQ(tide::release_delay(), std::chrono::milliseconds(250));
  tide::set_release_delay(delay);
  tide::set_background_release(background);
}

TEST(Memstats, JsonHasEveryFieldOfTheSnapshot) {
  // Give a few classes and the large class some live objects, so by_class is not empty.
  void* a = tide::heap::allocate(100);
  void* b = tide::heap::allocate(5000);
  void* c = tide::heap::allocate(100000);
  const tide::memstats s = tide::read_memstats();
  const std::string text = tide::memstats_json(s);
  tide::heap::deallocate(a);
  tide::heap::deallocate(b);
  tide::heap::deallocate(c);

  nlohmann::json j;
  ASSERT_NO_THROW(j = nlohmann::json::parse(text)) << text;
  ASSERT_TRUE(j.is_object()) << text;
  const std::pair<const char*, std::uint64_t> fields[] = {
      {"arena_bytes", s.arena_bytes},
      {"in_use_bytes", s.in_use_bytes},
      {"idle_bytes", s.idle_bytes},
      {"released_bytes", s.released_bytes},
      {"metadata_bytes", s.metadata_bytes},
      {"os_bytes", s.os_bytes},
      {"footprint_bytes", s.footprint_bytes},
      {"live_bytes", s.live_bytes},
      {"live_objects", s.live_objects},
      {"mallocs", s.mallocs},
      {"frees", s.frees},
      {"cached_bytes", s.cached_bytes},
      {"small_spans", s.small_spans},
      {"large_spans", s.large_spans},
      {"free_spans", s.free_spans},
      {"released_spans", s.released_spans},
      {"thread_caches", s.thread_caches},
      {"released_total_bytes", s.released_total_bytes},
      {"memory_limit", s.memory_limit},
      {"pressure_events", s.pressure_events},
  };
  for (const auto& [name, value] : fields) {
    ASSERT_TRUE(j.contains(name)) << "no field " << name << " in " << text;
    ASSERT_TRUE(j[name].is_number_unsigned()) << name << " is " << j[name].dump();
    EXPECT_EQ(j[name].get<std::uint64_t>(), value) << name;
  }

  ASSERT_TRUE(j.contains("by_class")) << text;
  ASSERT_TRUE(j["by_class"].is_array()) << text;
  std::set<int> listed;
  for (const auto& e : j["by_class"]) {
    for (const char* key : {"class", "object_bytes", "mallocs", "frees", "live_objects"}) {
      ASSERT_TRUE(e.contains(key)) << "a by_class entry has no " << key << ": " << e.dump();
      ASSERT_TRUE(e[key].is_number_unsigned()) << e.dump();
    }
    const int c = e["class"].get<int>();
    ASSERT_GE(c, 0);
    ASSERT_LT(c, tide::memstats_size_classes);
    EXPECT_TRUE(listed.insert(c).second) << "class " << c << " listed twice";
    const tide::size_class_stats& want = s.by_class[c];
    EXPECT_EQ(e["object_bytes"].get<std::uint64_t>(), want.object_bytes) << "class " << c;
    EXPECT_EQ(e["mallocs"].get<std::uint64_t>(), want.mallocs) << "class " << c;
    EXPECT_EQ(e["frees"].get<std::uint64_t>(), want.frees) << "class " << c;
    EXPECT_EQ(e["live_objects"].get<std::uint64_t>(), want.live_objects()) << "class " << c;
  }
  for (int c = 0; c < tide::memstats_size_classes; ++c) {
    EXPECT_EQ(listed.count(c) == 1, s.by_class[c].mallocs != 0)
        << "class " << c << " with " << s.by_class[c].mallocs
        << " mallocs: used classes are listed, unused ones left out";
  }
  EXPECT_TRUE(listed.count(8) && listed.count(48) && listed.count(0))
      << "the classes of 100 B, 5000 B and a large block are listed";

  // The default argument is a fresh snapshot: it parses too.
  EXPECT_TRUE(nlohmann::json::parse(tide::memstats_json()).is_object());
}

// One line of the text exposition format, split up.
struct sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

TEST(Memstats, PrometheusIsValidExpositionFormat) {
  void* a = tide::heap::allocate(100);
  void* b = tide::heap::allocate(100000);
  const tide::memstats s = tide::read_memstats();
  const std::string text = tide::memstats_prometheus(s);
  tide::heap::deallocate(a);
  tide::heap::deallocate(b);

  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n') << "the exposition ends with a line feed";

  const std::regex help_re(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+))");
  const std::regex type_re(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped))");
  const std::regex sample_re(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? ([-+]?([0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?|NaN|[-+]Inf))( -?[0-9]+)?)");
  const std::regex label_re(R"(([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)\"(,|$))");

  std::map<std::string, std::string> help;
  std::map<std::string, std::string> type;
  std::set<std::string> finished;  // families whose samples are over (all lines of one family are together)
  std::string current;
  std::set<std::string> series;
  std::vector<sample> samples;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    SCOPED_TRACE("line " + std::to_string(n) + ": " + line);
    ASSERT_FALSE(line.empty()) << "no blank lines";
    std::smatch m;
    std::string family;
    if (line[0] == '#') {
      if (std::regex_match(line, m, help_re)) {
        family = m[1];
        EXPECT_TRUE(help.emplace(family, m[2]).second) << "a second HELP for " << family;
      } else if (std::regex_match(line, m, type_re)) {
        family = m[1];
        EXPECT_TRUE(type.emplace(family, m[2]).second) << "a second TYPE for " << family;
        EXPECT_TRUE(std::none_of(samples.begin(), samples.end(),
                                 [&](const sample& x) { return x.name == family; }))
            << "TYPE must come before the family's samples";
      } else {
        continue;  // any other comment is allowed
      }
    } else {
      ASSERT_TRUE(std::regex_match(line, m, sample_re)) << "not `name{labels} value` or `name value`";
      sample x;
      x.name = m[1];
      x.value = std::stod(m[4]);
      const std::string labels = m[3];
      for (auto it = std::sregex_iterator(labels.begin(), labels.end(), label_re);
           it != std::sregex_iterator(); ++it) {
        EXPECT_TRUE(x.labels.emplace((*it)[1], (*it)[2]).second) << "a label repeated";
      }
      std::string rebuilt;
      for (auto it = std::sregex_iterator(labels.begin(), labels.end(), label_re);
           it != std::sregex_iterator(); ++it) {
        rebuilt += it->str();
      }
      EXPECT_EQ(rebuilt, labels) << "labels must be name=\"value\" pairs separated by commas";
      EXPECT_TRUE(series.insert(x.name + "{" + labels + "}").second) << "a series repeated";
      family = x.name;
      EXPECT_TRUE(help.count(family)) << "no # HELP before the samples of " << family;
      EXPECT_TRUE(type.count(family)) << "no # TYPE before the samples of " << family;
      EXPECT_FALSE(std::isnan(x.value));
      samples.push_back(std::move(x));
    }
    if (family != current) {
      EXPECT_FALSE(finished.count(family)) << "the lines of " << family << " are not together";
      if (!current.empty()) finished.insert(current);
      current = family;
    }
  }
  ASSERT_FALSE(samples.empty());
  for (const auto& [family, kind] : type) {
    EXPECT_EQ(family.rfind("tide_heap_", 0), 0u) << family << " is not named tide_heap_*";
    EXPECT_TRUE(help.count(family)) << family << " has a TYPE but no HELP";
    const bool total = family.size() > 6 && family.compare(family.size() - 6, 6, "_total") == 0;
    if (kind == "counter") {
      EXPECT_TRUE(total) << "counter " << family << " does not end in _total";
    }
    const std::string& name = family;  // a structured binding cannot be captured (clang 14)
    EXPECT_TRUE(std::any_of(samples.begin(), samples.end(),
                            [&](const sample& x) { return x.name == name; }))
        << family << " has no samples";
  }
  for (const auto& [family, text_help] : help) {
    EXPECT_TRUE(type.count(family)) << family << " has a HELP but no TYPE";
  }
  for (const sample& x : samples) {
    if (type.count(x.name) && type[x.name] == "counter") {
      EXPECT_GE(x.value, 0) << x.name;
    }
  }

  // Per-class series: every class in use appears, labelled with its object size.
  for (int c = 0; c < tide::memstats_size_classes; ++c) {
    if (s.by_class[c].mallocs == 0) continue;
    const bool found = std::any_of(samples.begin(), samples.end(), [&](const sample& x) {
      auto cl = x.labels.find("class");
      auto ob = x.labels.find("object_bytes");
      return cl != x.labels.end() && cl->second == std::to_string(c) && ob != x.labels.end() &&
             ob->second == std::to_string(s.by_class[c].object_bytes);
    });
    EXPECT_TRUE(found) << "no series labelled {class=\"" << c << "\",object_bytes=\""
                       << s.by_class[c].object_bytes << "\"}";
  }
  // Some gauge reports the live objects of the snapshot, and some counter its mallocs.
  EXPECT_TRUE(std::any_of(samples.begin(), samples.end(), [&](const sample& x) {
    return x.labels.empty() && x.name.find("live_objects") != std::string::npos &&
           x.value == static_cast<double>(s.live_objects);
  })) << "no unlabelled *live_objects* series with the snapshot's value " << s.live_objects;
  EXPECT_TRUE(std::any_of(samples.begin(), samples.end(), [&](const sample& x) {
    return x.labels.empty() && x.name.find("mallocs") != std::string::npos &&
           x.value == static_cast<double>(s.mallocs);
  })) << "no unlabelled *mallocs* series with the snapshot's value " << s.mallocs;
}

}  // namespace
