// config_store: hot configuration that many threads read while one thread reloads it.
//
// The configuration is a tide::persistent_map<string, string>; the store holds the current
// version in a tide::snapshot. Readers call view() and get a shared_ptr to one immutable
// version — no lock, and a reload never changes a version a reader already holds. The writer
// builds each new version with a transient (one copy of each touched path, not of the map)
// and publishes it; the previous version is freed when its last reader lets go.
//
// Each reload bumps "generation" and sets every "limits.*" key to the same new value, so a
// reader can check that it never sees a half-applied reload. Prints what it did and exits 0
// when every read was consistent.
//
//   usage: config_store [reloads] [readers]     (defaults 200 and 4)

#include <fmt/core.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <tide/persistent_map.hpp>
#include <tide/snapshot.hpp>
#include <utility>
#include <vector>

namespace {

// std::equal_to<> with tide::hash (transparent): readers look keys up by string literal or
// std::string_view without building a std::string per lookup.
using config =
    tide::persistent_map<std::string, std::string, tide::hash<std::string>, std::equal_to<>>;

constexpr int limit_keys = 16;
constexpr int service_keys = 1000;

std::string limit_key(int i) { return "limits." + std::to_string(i); }

class config_store {
 public:
  explicit config_store(config initial)
      : current_(std::make_shared<const config>(std::move(initial))) {}

  // The current version; the caller may keep it as long as it likes.
  std::shared_ptr<const config> view() const { return current_.load(); }

  // Applies `changes` on top of the current version and publishes the result. The update
  // retries if another writer published first, so concurrent reloads lose nothing.
  std::shared_ptr<const config> reload(
      const std::vector<std::pair<std::string, std::string>>& changes) {
    return current_.update([&](const config& now) {
      auto builder = now.transient();
      for (const auto& [key, value] : changes) builder.set(key, value);
      return builder.persistent();
    });
  }

 private:
  tide::snapshot<config> current_;
};

config initial_config() {
  auto builder = config().transient();
  builder.set("generation", "0");
  for (int i = 0; i < limit_keys; ++i) builder.set(limit_key(i), "0");
  for (int i = 0; i < service_keys; ++i) {
    builder.set("service." + std::to_string(i) + ".endpoint",
                "10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ":8080");
  }
  return builder.persistent();
}

// Parses argv[index] as a positive count, or returns `fallback`.
int count_arg(int argc, char** argv, int index, int fallback) {
  if (argc <= index) return fallback;
  const long value = std::strtol(argv[index], nullptr, 10);
  return value > 0 ? static_cast<int>(value) : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const int reloads = count_arg(argc, argv, 1, 200);
  const int readers = count_arg(argc, argv, 2, 4);

  config_store store(initial_config());
  const std::shared_ptr<const config> first = store.view();

  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> loads{0};
  std::atomic<std::uint64_t> inconsistent{0};
  std::atomic<std::uint64_t> generations_seen{0};
  std::vector<std::thread> threads;
  for (int r = 0; r < readers; ++r) {
    threads.emplace_back([&] {
      std::uint64_t my_loads = 0;
      std::uint64_t my_generations = 0;
      std::string last_generation;
      while (!done.load(std::memory_order_acquire)) {
        const std::shared_ptr<const config> view = store.view();
        const std::string& generation = *view->find("generation");
        for (int i = 0; i < limit_keys; ++i) {
          if (*view->find(limit_key(i)) != generation) inconsistent.fetch_add(1);
        }
        if (generation != last_generation) ++my_generations;
        last_generation = generation;
        ++my_loads;
      }
      loads.fetch_add(my_loads);
      generations_seen.fetch_add(my_generations);
    });
  }

  for (int g = 1; g <= reloads; ++g) {
    std::vector<std::pair<std::string, std::string>> changes{{"generation", std::to_string(g)}};
    for (int i = 0; i < limit_keys; ++i) changes.emplace_back(limit_key(i), std::to_string(g));
    store.reload(changes);
    std::this_thread::yield();
  }
  done.store(true, std::memory_order_release);
  for (auto& t : threads) t.join();

  const std::shared_ptr<const config> last = store.view();
  const tide::persistent_map_memory total = last->memory();
  const tide::persistent_map_memory shared = last->shared_with(*first);
  fmt::print(
      "config_store: {} readers made {} loads and saw {} generation changes; "
      "{} inconsistent reads\n",
      readers, loads.load(), generations_seen.load(), inconsistent.load());
  fmt::print(
      "config_store: the writer published {} reloads of {} keys each; the config has {} "
      "keys\n",
      reloads, limit_keys + 1, last->size());
  fmt::print(
      "config_store: the last version holds {} bytes in {} nodes, {} bytes of them shared "
      "with the first version\n",
      total.bytes, total.nodes, shared.bytes);
  const bool ok = inconsistent.load() == 0 && *last->find("generation") == std::to_string(reloads);
  fmt::print("config_store: {}\n", ok ? "ok" : "FAILED");
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
