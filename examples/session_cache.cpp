// session_cache: a session table that grows through a traffic peak and gives the memory back
// when the sessions expire.
//
// A web service keeps its sessions in a tide::heap_map (tide::map on tide::heap) keyed by
// session id. Traffic is simulated in ticks (one tick = one second): a quiet baseline, a peak
// of new sessions, then the baseline again. A session lives for `ttl` ticks after its last
// request; every tick the expired ones are erased with tide::erase_if. The program prints
// what the map holds (memory()) and what the heap holds (tide::read_memstats()) before the
// peak, at the peak, after the sessions expired, and after tide::release_memory().
//
// With std::unordered_map, absl::flat_hash_map or Go's map the table would keep its peak
// size until rebuilt by hand; tide::map shrinks as it empties, and tide::heap returns the
// freed pages to the OS (by itself after its release delay, or at once on release_memory()).
//
//   usage: session_cache [PEAK_RATE]     new sessions per tick at the peak (1000 to 1000000,
//                                         default 10000)
//
// It checks its own result and exits with 1 if the map or the heap did not shrink.

#include <fmt/core.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <tide/hash.hpp>
#include <tide/heap.hpp>
#include <tide/heap_map.hpp>
#include <tide/memstats.hpp>

namespace {

using session_id = std::uint64_t;

struct session {
  std::uint64_t user_id = 0;
  std::uint32_t created = 0;    // tick
  std::uint32_t last_seen = 0;  // tick of the last request
  std::array<char, 32> csrf_token{};
};

// tide::map<session_id, session, tide::hash<session_id>, std::equal_to<session_id>,
//           tide::heap_allocator<std::pair<const session_id, session>>>
using session_table = tide::heap_map<session_id, session>;

std::string mib(std::size_t bytes) {
  if (bytes < 1024 * 1024) return fmt::format("{} B", bytes);
  return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

struct snapshot {
  std::size_t sessions;
  std::size_t map_bytes;
  std::size_t tables;
  tide::memstats heap;
};

snapshot take(const session_table& sessions) {
  const tide::map_memory m = sessions.memory();
  return {sessions.size(), m.bytes, m.tables, tide::read_memstats()};
}

void print_row(const char* when, const snapshot& s) {
  fmt::print("{:<22} {:>9} {:>11} {:>11} {:>11} {:>11}\n", when, s.sessions, mib(s.map_bytes),
             mib(s.heap.live_bytes), mib(s.heap.footprint_bytes), mib(s.heap.released_bytes));
}

// New sessions per tick: baseline, a peak from tick 20 to tick 50, baseline again.
std::uint32_t arrivals(std::uint32_t tick, std::uint32_t peak_rate) {
  constexpr std::uint32_t baseline = 50;
  return tick >= 20 && tick < 50 ? peak_rate : baseline;
}

}  // namespace

int main(int argc, char** argv) {
  const unsigned long peak_arg = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 10000;
  if (peak_arg < 1000 || peak_arg > 1000000) {
    // Below 1000 the peak is hardly above the baseline (50 a tick): nothing to give back.
    fmt::print(stderr, "usage: session_cache [PEAK_RATE]   (1000 to 1000000, default 10000)\n");
    return 2;
  }
  const auto peak_rate = static_cast<std::uint32_t>(peak_arg);
  constexpr std::uint32_t ttl = 30;          // ticks a session lives after its last request
  constexpr std::uint32_t last_tick = 120;   // the peak's sessions are gone by tick 80
  // The example shows what the map and release_memory() do; keep the scavenger from releasing
  // pages in the middle of the printout (a service would leave it on).
  tide::set_background_release(false);

  std::mt19937_64 rng(42);
  session_table sessions;
  snapshot before{}, peak{}, expired{};

  fmt::print("session_cache: sessions live {} ticks after their last request; {} new per tick "
             "at the peak (ticks 20-49)\n\n",
             ttl, peak_rate);
  // map bytes: what the table holds (memory().bytes); heap live: every object allocated on
  // tide::heap and not freed; footprint: the heap's resident pages (in use + idle), what
  // a memory limit counts; released: arena pages handed back to the OS.
  fmt::print("{:<22} {:>9} {:>11} {:>11} {:>11} {:>11}\n", "", "sessions", "map bytes",
             "heap live", "footprint", "released");

  for (std::uint32_t now = 0; now < last_tick; ++now) {
    // Requests on existing sessions: a few random ids, the ones that exist are touched.
    for (int i = 0; i < 200; ++i) {
      if (auto it = sessions.find(rng()); it != sessions.end()) it->second.last_seen = now;
    }
    // New sessions.
    for (std::uint32_t i = arrivals(now, peak_rate); i > 0; --i) {
      const session_id id = rng();
      session& s = sessions[id];
      s.user_id = rng() % 100000;
      s.created = now;
      s.last_seen = now;
      s.csrf_token.fill(static_cast<char>('a' + id % 26));
    }
    // Expiry: erase_if compacts the tables it emptied before it returns.
    tide::erase_if(sessions, [now](const auto& entry) { return now - entry.second.last_seen >= ttl; });

    if (now == 19) before = take(sessions);
    if (now == 49) peak = take(sessions);
  }
  expired = take(sessions);
  print_row("before the peak", before);
  print_row("at the peak", peak);
  print_row("after expiry", expired);
  const std::size_t released = tide::release_memory();
  const snapshot after_release = take(sessions);
  print_row("after release_memory()", after_release);

  fmt::print("\nrelease_memory() returned {} to the OS. The map's tables (memory().tables): {} "
             "before the peak, {} at the peak, {} after expiry.\n",
             mib(released), before.tables, peak.tables, expired.tables);

  // The example's own check: the table shrank back near its size before the peak, and the heap
  // gave the pages back.
  bool ok = true;
  if (expired.map_bytes * 4 > peak.map_bytes) {
    fmt::print(stderr, "session_cache: the map holds {} after expiry, {} at the peak: it did not shrink\n",
               expired.map_bytes, peak.map_bytes);
    ok = false;
  }
  if (after_release.heap.footprint_bytes * 2 > peak.heap.footprint_bytes) {
    fmt::print(stderr, "session_cache: heap footprint {} after release, {} at the peak\n",
               after_release.heap.footprint_bytes, peak.heap.footprint_bytes);
    ok = false;
  }
  return ok ? 0 : 1;
}
