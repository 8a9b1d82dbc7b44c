// memstats as JSON (nlohmann::json) and as the Prometheus text exposition format 0.0.4. See
// <tide/memstats.hpp>.
#include <fmt/format.h>

#include <array>
#include <cstdint>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "tide/memstats.hpp"

namespace tide {

namespace {

// One field of memstats: its name, what it is, whether it only grows, and its value.
struct field {
  const char* name;
  const char* help;
  bool counter;
  std::uint64_t value;
};

// The scalar fields, in the order of the struct.
std::array<field, 20> fields_of(const memstats& s) {
  return {{
      {"arena_bytes", "Address space reserved for objects.", false, s.arena_bytes},
      {"in_use_bytes", "Pages in spans holding objects or large allocations.", false,
       s.in_use_bytes},
      {"idle_bytes", "Free pages still resident.", false, s.idle_bytes},
      {"released_bytes", "Free pages returned to the OS.", false, s.released_bytes},
      {"metadata_bytes", "Span records, bitmaps, thread caches and page map entries.", false,
       s.metadata_bytes},
      {"os_bytes", "All the heap took from the OS: arenas plus metadata.", false, s.os_bytes},
      {"footprint_bytes", "Pages in use plus idle pages: what the memory limit counts.", false,
       s.footprint_bytes},
      {"live_bytes", "Allocated and not freed, at class size.", false, s.live_bytes},
      {"live_objects", "Objects allocated and not freed.", false, s.live_objects},
      {"mallocs", "Allocations ever made.", true, s.mallocs},
      {"frees", "Frees ever made.", true, s.frees},
      {"cached_bytes", "Free objects held in thread caches.", false, s.cached_bytes},
      {"small_spans", "Spans cut into objects.", false, s.small_spans},
      {"large_spans", "Spans holding one large allocation.", false, s.large_spans},
      {"free_spans", "Idle runs of pages.", false, s.free_spans},
      {"released_spans", "Released runs of pages.", false, s.released_spans},
      {"thread_caches", "Threads with a cache.", false, s.thread_caches},
      {"released_total_bytes", "Bytes returned to the OS ever.", true, s.released_total_bytes},
      {"memory_limit", "The soft memory limit in bytes (0: none).", false, s.memory_limit},
      {"pressure_events", "Times the memory pressure callbacks ran.", true, s.pressure_events},
  }};
}

}  // namespace

std::string memstats_json(const memstats& stats) {
  nlohmann::ordered_json out;
  for (const field& f : fields_of(stats)) out[f.name] = f.value;
  nlohmann::ordered_json classes = nlohmann::ordered_json::array();
  for (std::size_t c = 0; c < stats.by_class.size(); ++c) {
    const size_class_stats& cs = stats.by_class[c];
    if (cs.mallocs == 0) continue;
    classes.push_back({{"class", c},
                       {"object_bytes", cs.object_bytes},
                       {"mallocs", cs.mallocs},
                       {"frees", cs.frees},
                       {"live_objects", cs.live_objects()}});
  }
  out["by_class"] = std::move(classes);
  return out.dump();
}

std::string memstats_prometheus(const memstats& stats) {
  std::string out;
  auto it = std::back_inserter(out);
  for (const field& f : fields_of(stats)) {
    const char* suffix = f.counter ? "_total" : "";
    fmt::format_to(it, "# HELP tide_heap_{}{} {}\n# TYPE tide_heap_{}{} {}\ntide_heap_{}{} {}\n",
                   f.name, suffix, f.help, f.name, suffix, f.counter ? "counter" : "gauge",
                   f.name, suffix, f.value);
  }
  struct per_class {
    const char* name;
    const char* help;
    bool counter;
    std::uint64_t (*value)(const size_class_stats&);
  };
  const per_class series[] = {
      {"class_mallocs", "Allocations ever made in a size class (class 0: large).", true,
       [](const size_class_stats& c) { return c.mallocs; }},
      {"class_frees", "Frees ever made in a size class (class 0: large).", true,
       [](const size_class_stats& c) { return c.frees; }},
      {"class_live_objects", "Objects of a size class allocated and not freed.", false,
       [](const size_class_stats& c) { return c.live_objects(); }},
  };
  for (const per_class& p : series) {
    const char* suffix = p.counter ? "_total" : "";
    fmt::format_to(it, "# HELP tide_heap_{}{} {}\n# TYPE tide_heap_{}{} {}\n", p.name, suffix,
                   p.help, p.name, suffix, p.counter ? "counter" : "gauge");
    for (std::size_t c = 0; c < stats.by_class.size(); ++c) {
      const size_class_stats& cs = stats.by_class[c];
      if (cs.mallocs == 0) continue;
      fmt::format_to(it, "tide_heap_{}{}{{class=\"{}\",object_bytes=\"{}\"}} {}\n", p.name, suffix,
                     c, cs.object_bytes, p.value(cs));
    }
  }
  return out;
}

}  // namespace tide
