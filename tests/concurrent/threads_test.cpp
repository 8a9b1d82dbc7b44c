// tide::concurrent_map on 2-8 threads: stress with a differential check against a locked
// std::unordered_map, reclamation while readers hold values, and linearizability of small
// recorded histories. Fixed seeds; sizes scale with TIDE_TEST_SCALE (smaller under sanitizers).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <latch>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <tide/concurrent_map.hpp>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "support/boxed.hpp"
#include "support/scale.hpp"

namespace {

// Runs body(thread_index) on `threads` threads released together.
void run_threads(int threads, const std::function<void(int)>& body) {
  std::latch start(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      start.arrive_and_wait();
      body(t);
    });
  }
  for (auto& th : pool) th.join();
}

// Values carry their key, so a reader can tell a value that belongs to another key (or to
// freed memory) from the right one: value = key * value_stride + version.
constexpr std::uint64_t value_stride = 1'000'003;

class ConcurrentMapThreads : public ::testing::TestWithParam<int> {};

using boxed_u64 = tide_test::boxed<std::uint64_t>;  // values in nodes (support/boxed.hpp)

// Each thread writes only keys k with k % threads == t, mirrors each write into a shared
// mutex-protected std::unordered_map, and checks every result on its own keys against it (its
// keys change only under its own hand, so they behave as on one thread). Every thread reads
// every key and checks that the value it sees belongs to that key. At the end the two maps
// hold the same entries.

template <class Value>
void stress_against_locked_map(int threads) {
  tide::concurrent_map<std::uint64_t, Value> m(8, {}, {}, {});
  std::mutex ref_mutex;
  std::unordered_map<std::uint64_t, std::uint64_t> ref;
  const std::uint64_t keys = 512;
  const std::size_t ops = tide_test::scaled(200000, 4000) / static_cast<std::size_t>(threads);

  run_threads(threads, [&](int t) {
    std::mt19937_64 rng(1234 + static_cast<std::uint64_t>(t));
    auto own_key = [&] {
      return (rng() % (keys / static_cast<std::uint64_t>(threads))) *
                 static_cast<std::uint64_t>(threads) +
             static_cast<std::uint64_t>(t);
    };
    for (std::size_t i = 0; i < ops; ++i) {
      const std::uint64_t value_version = i;
      switch (rng() % 8) {
        case 0: {
          const std::uint64_t k = own_key();
          const bool inserted = m.insert({k, k * value_stride + value_version});
          std::lock_guard lock(ref_mutex);
          ASSERT_EQ(inserted, ref.emplace(k, k * value_stride + value_version).second)
              << "insert(" << k << ")";
          break;
        }
        case 1: {
          const std::uint64_t k = own_key();
          const bool inserted = m.insert_or_assign(k, k * value_stride + value_version);
          std::lock_guard lock(ref_mutex);
          ASSERT_EQ(inserted, ref.insert_or_assign(k, k * value_stride + value_version).second);
          break;
        }
        case 2: {
          const std::uint64_t k = own_key();
          const std::size_t erased = m.erase(k);
          std::lock_guard lock(ref_mutex);
          ASSERT_EQ(erased, ref.erase(k)) << "erase(" << k << ")";
          break;
        }
        case 3: {
          const std::uint64_t k = own_key();
          const auto got = m.find(k);
          std::lock_guard lock(ref_mutex);
          const auto it = ref.find(k);
          ASSERT_EQ(got.has_value(), it != ref.end()) << "find(" << k << ") on own key";
          if (got) {
            ASSERT_EQ(std::uint64_t(*got), it->second) << "find(" << k << ") value";
          }
          break;
        }
        case 4: {
          std::uint64_t seen = 0;
          m.visit_all([&](const std::uint64_t& k, const Value& v) {
            ++seen;
            ASSERT_EQ(std::uint64_t(v) / value_stride, k) << "visit_all: value of another key";
          });
          ASSERT_LE(seen, keys);
          break;
        }
        default: {
          const std::uint64_t k = rng() % keys;
          m.visit(k, [&](const Value& v) {
            ASSERT_EQ(std::uint64_t(v) / value_stride, k)
                << "visit(" << k << "): value of another key";
          });
        }
      }
    }
  });

  m.check_invariants();
  EXPECT_EQ(m.size(), ref.size());
  for (const auto& [k, v] : ref) {
    const auto got = m.find(k);
    EXPECT_TRUE(got.has_value() && std::uint64_t(*got) == v) << "find(" << k << ") at the end";
  }
  m.reclaim();
  EXPECT_EQ(m.memory().retired_objects, 0u) << "backlog after quiescence";
}

TEST_P(ConcurrentMapThreads, StressMatchesLockedUnorderedMapInline) {
  stress_against_locked_map<std::uint64_t>(GetParam());
}
TEST_P(ConcurrentMapThreads, StressMatchesLockedUnorderedMapNodes) {
  stress_against_locked_map<boxed_u64>(GetParam());
}

INSTANTIATE_TEST_SUITE_P(Threads, ConcurrentMapThreads, ::testing::Values(2, 4, 8));

// A value on the heap that a use after free would corrupt (and ASan would report): the text of
// its key, long enough not to fit a small-string buffer. Constructions and destructions are
// counted, so a value freed twice or never shows at the end.
std::atomic<std::int64_t> live_values{0};

class key_text {
 public:
  explicit key_text(std::uint64_t key) : text_(std::string(40, 'k') + std::to_string(key)) {
    live_values.fetch_add(1, std::memory_order_relaxed);
  }
  key_text(const key_text& other) : text_(other.text_) {
    live_values.fetch_add(1, std::memory_order_relaxed);
  }
  key_text& operator=(const key_text&) = delete;
  ~key_text() { live_values.fetch_sub(1, std::memory_order_relaxed); }
  bool holds(std::uint64_t key) const {
    return text_ == std::string(40, 'k') + std::to_string(key);
  }

 private:
  std::string text_;
};

// Writers erase, replace and re-insert a few hot keys as fast as they can while readers hold
// the values inside visit() and read them slowly: every value a reader sees must still be the
// one for its key. Shrinks and rebuilds happen all the time (the hot set empties and refills).
TEST(ConcurrentMapReclamation, ErasedWhileReadersHoldValues) {
  {
    tide::concurrent_map<std::uint64_t, key_text> m(2, {}, {}, {});
    constexpr std::uint64_t hot_keys = 16;
    const std::size_t writer_ops = tide_test::scaled(200000, 4000);
    std::atomic<bool> writers_done{false};
    std::atomic<std::uint64_t> wrong_values{0};
    std::atomic<std::uint64_t> visits{0};
    std::atomic<int> readers_started{0};
    run_threads(4, [&](int t) {
      std::mt19937_64 rng(99 + static_cast<std::uint64_t>(t));
      if (t < 2) {  // writers, once both readers run (a small scaled run could end first)
        while (readers_started.load() < 2) std::this_thread::yield();
        for (std::size_t i = 0; i < writer_ops; ++i) {
          const std::uint64_t k = rng() % hot_keys;
          switch (rng() % 3) {
            case 0:
              m.erase(k);
              break;
            case 1:
              m.insert_or_assign(k, key_text(k));
              break;
            default:
              m.try_emplace(k, k);
          }
        }
        writers_done.store(true);
        return;
      }
      readers_started.fetch_add(1);
      do {  // readers
        const std::uint64_t k = rng() % hot_keys;
        m.visit(k, [&](const key_text& v) {
          std::this_thread::yield();  // hold the value while writers run
          if (!v.holds(k)) wrong_values.fetch_add(1);
        });
        m.visit_all([&](const std::uint64_t& key, const key_text& v) {
          if (!v.holds(key)) wrong_values.fetch_add(1);
        });
        visits.fetch_add(1, std::memory_order_relaxed);
      } while (!writers_done.load());
    });
    EXPECT_EQ(wrong_values.load(), 0u);
    EXPECT_GT(visits.load(), 0u);
    m.check_invariants();
    m.reclaim();
    const auto mem = m.memory();
    EXPECT_EQ(mem.retired_objects, 0u);
    EXPECT_EQ(live_values.load(), static_cast<std::int64_t>(mem.size))
        << "live values other than the map's entries: freed twice or never";
  }
  EXPECT_EQ(live_values.load(), 0);
}

// ---- linearizability ----------------------------------------------------------------------
//
// Threads run a few operations each on a few keys and record, for each, the logical time of
// its invocation and of its response (a shared counter: no clocks). A history is linearizable
// if the operations can be put in an order that respects real time (an operation that
// responded before another was invoked comes first) in which each result is what a sequential
// map would answer. A map is a set of independent registers (one per key) and linearizability
// is local, so each key's sub-history is checked alone, by Wing & Gong's search: repeatedly
// pick an operation no pending operation must precede, apply it to the model, backtrack on a
// wrong result; (done set, model state) pairs already explored are memoized.

enum class op_kind { insert, insert_or_assign, erase, find, load_or_store };

struct recorded_op {
  op_kind kind;
  std::uint64_t key;
  std::int64_t argument;  // the value written (unique per operation)
  std::int64_t result;    // find / load_or_store: the value seen, -1 for none
  bool flag;  // insert, insert_or_assign: inserted; erase: erased; load_or_store: loaded
  std::uint64_t invoked;
  std::uint64_t responded;
};

// The sequential map, one key: -1 when absent. Returns whether op's recorded result is what the
// model answers from `state`, and sets `state` to the state after op.
bool apply(const recorded_op& op, std::int64_t& state) {
  const bool present = state != -1;
  switch (op.kind) {
    case op_kind::insert:
      if (op.flag != !present) return false;
      if (!present) state = op.argument;
      return true;
    case op_kind::insert_or_assign:
      if (op.flag != !present) return false;
      state = op.argument;
      return true;
    case op_kind::erase:
      if (op.flag != present) return false;
      state = -1;
      return true;
    case op_kind::find:
      return op.result == state;
    case op_kind::load_or_store:
      if (op.flag != present) return false;
      if (op.result != (present ? state : op.argument)) return false;
      if (!present) state = op.argument;
      return true;
  }
  return false;
}

bool linearizable(const std::vector<recorded_op>& ops) {
  const std::size_t n = ops.size();
  if (n == 0) return true;
  EXPECT_LE(n, 63u) << "history too long for the search's bitmask";
  std::unordered_set<std::string> explored;
  std::function<bool(std::uint64_t, std::int64_t)> search = [&](std::uint64_t done,
                                                                std::int64_t state) {
    if (done == (std::uint64_t{1} << n) - 1) return true;
    if (!explored.insert(std::to_string(done) + ":" + std::to_string(state)).second) return false;
    std::uint64_t earliest_response = UINT64_MAX;
    for (std::size_t i = 0; i < n; ++i) {
      if ((done >> i & 1) == 0) earliest_response = std::min(earliest_response, ops[i].responded);
    }
    for (std::size_t i = 0; i < n; ++i) {
      if ((done >> i & 1) != 0 || ops[i].invoked > earliest_response) continue;
      std::int64_t next = state;
      if (apply(ops[i], next) && search(done | std::uint64_t{1} << i, next)) return true;
    }
    return false;
  };
  return search(0, -1);
}

std::string describe(const std::vector<recorded_op>& ops) {
  static const char* names[] = {"insert", "insert_or_assign", "erase", "find", "load_or_store"};
  std::string out;
  for (const auto& op : ops) {
    out += std::string("  [") + std::to_string(op.invoked) + ", " + std::to_string(op.responded) +
           "] " + names[static_cast<int>(op.kind)] + "(" + std::to_string(op.argument) +
           ") -> result " + std::to_string(op.result) + " flag " + std::to_string(op.flag) + "\n";
  }
  return out;
}

// The sequential model itself must reject a wrong history, or the test could not fail.
TEST(ConcurrentMapLinearizability, CheckerRejectsAStaleRead) {
  // erase(1) of the entry 5 responds at 3; find invoked at 4 still sees 5.
  const std::vector<recorded_op> stale = {
      {op_kind::insert, 1, 5, -1, true, 0, 1},
      {op_kind::erase, 1, 0, -1, true, 2, 3},
      {op_kind::find, 1, 0, 5, false, 4, 5},
  };
  EXPECT_FALSE(linearizable(stale));
  std::vector<recorded_op> overlapping = stale;
  overlapping[2].invoked = 2;  // the find overlaps the erase: it may come first
  EXPECT_TRUE(linearizable(overlapping));
}

using boxed_i64 = tide_test::boxed<std::int64_t>;  // values in nodes (support/boxed.hpp)

template <class Value>
void check_small_histories() {
  constexpr int threads = 3;
  constexpr std::uint64_t keys_per_round = 2;
  constexpr int ops_per_thread = 6;
  const std::size_t rounds = tide_test::scaled(2000, 100);
  // Two shards and a key set that moves every round: tables grow, shrink and are rebuilt while
  // the recorded operations run. The threads meet before each round, spinning (not sleeping
  // at a barrier, whose wake-ups come one by one), so their operations overlap; every history
  // is checked after the run.
  tide::concurrent_map<std::uint64_t, Value> m(2, {}, {}, {});
  std::atomic<std::uint64_t> clock{0};
  std::vector<std::vector<recorded_op>> logs(threads);
  std::atomic<std::size_t> arrivals{0};

  run_threads(threads, [&](int t) {
    std::mt19937_64 rng(31 + static_cast<std::uint64_t>(t));
    std::vector<recorded_op>& log = logs[static_cast<std::size_t>(t)];
    for (std::size_t round = 0; round < rounds; ++round) {
      arrivals.fetch_add(1);
      while (arrivals.load() < (round + 1) * threads) std::this_thread::yield();
      for (int i = 0; i < ops_per_thread; ++i) {
        recorded_op op{};
        op.kind = static_cast<op_kind>(rng() % 5);
        op.key = round * keys_per_round + rng() % keys_per_round;
        op.argument = static_cast<std::int64_t>(t * 1000 + i);
        op.result = -1;
        op.invoked = clock.fetch_add(1);
        // A quarter of the calls yield between invocation and the call itself, so the other
        // threads' operations fall inside their interval even when the machine is busy and
        // threads would otherwise run their rounds one after another.
        if (rng() % 4 == 0) std::this_thread::yield();
        switch (op.kind) {
          case op_kind::insert:
            op.flag = m.insert({op.key, Value(op.argument)});
            break;
          case op_kind::insert_or_assign:
            op.flag = m.insert_or_assign(op.key, op.argument);
            break;
          case op_kind::erase:
            op.flag = m.erase(op.key) == 1;
            break;
          case op_kind::find:
            op.result = m.find(op.key).value_or(Value(-1));
            break;
          case op_kind::load_or_store: {
            const auto [value, loaded] = m.load_or_store(op.key, Value(op.argument));
            op.result = value;
            op.flag = loaded;
          }
        }
        op.responded = clock.fetch_add(1);
        log.push_back(op);
      }
    }
  });

  std::vector<std::vector<recorded_op>> histories(rounds * keys_per_round);
  for (const auto& log : logs) {
    for (const auto& op : log) histories[op.key].push_back(op);
  }
  std::size_t overlapping = 0;  // operations invoked before another thread's op responded
  for (std::size_t key = 0; key < histories.size(); ++key) {
    const auto& history = histories[key];
    for (const auto& a : history) {
      for (const auto& b : history) {
        if (&a != &b && a.invoked < b.responded && b.invoked < a.responded) {
          ++overlapping;
          break;
        }
      }
    }
    ASSERT_TRUE(linearizable(history)) << "key " << key << " is not linearizable:\n"
                                       << describe(history);
  }
  EXPECT_GT(overlapping, 0u) << "no two operations overlapped: the check checked nothing";
  std::printf("linearizability: %zu of %zu operations overlapped another\n", overlapping,
              rounds * threads * ops_per_thread);
  m.check_invariants();
}

TEST(ConcurrentMapLinearizability, SmallHistoriesAreLinearizableInline) {
  check_small_histories<std::int64_t>();
}
TEST(ConcurrentMapLinearizability, SmallHistoriesAreLinearizableNodes) {
  check_small_histories<boxed_i64>();
}

// ---- erase_if(key, f) under contention -----------------------------------------------------
//
// A few counters, each a key whose value is its count, incremented by a lock protocol built
// from erase_if(key, f) alone: a thread reads the value v, takes the counter with
// erase_if(k, value == v) (which succeeds for one thread only), and puts back v + 1 with
// try_emplace. If erase_if did not test f and erase as one step, two threads could take the
// same v (the second erasing the first's v + 1), and an increment would be lost: the final
// counts would fall short of the increments made.
template <class Value>
void check_erase_if_key_counters(int threads) {
  tide::concurrent_map<std::uint64_t, Value> m(2, {}, {}, {});
  constexpr std::uint64_t counters = 2;
  for (std::uint64_t k = 0; k < counters; ++k) m.insert({k, 0});
  const std::size_t increments = tide_test::scaled(20000, 500) / static_cast<std::size_t>(threads);
  std::atomic<std::uint64_t> refused{0};
  std::atomic<std::uint64_t> failed_puts{0};

  // On a loaded machine the threads may happen to run one after another, taking no counter
  // while another holds it; the round is then repeated (up to 20 times) so that the check below
  // that takes did race is not left to the scheduler.
  std::size_t rounds = 0;
  do {
    run_threads(threads, [&](int t) {
      std::mt19937_64 rng(5 + rounds * 131 + static_cast<std::uint64_t>(t));
      for (std::size_t i = 0; i < increments; ++i) {
        const std::uint64_t k = rng() % counters;
        for (;;) {
          const std::optional<Value> seen = m.find(k);
          if (!seen) {  // another thread holds it
            std::this_thread::yield();
            continue;
          }
          const std::uint64_t v = *seen;
          // Yield now and then between the read and the take, so other threads' takes of the
          // same counter fall in between even when the threads would otherwise run one by one.
          if (rng() % 4 == 0) std::this_thread::yield();
          if (m.erase_if(k, [v](const Value& now) { return std::uint64_t(now) == v; }) == 1) {
            if (!m.try_emplace(k, v + 1)) failed_puts.fetch_add(1);
            break;
          }
          refused.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
    ++rounds;
  } while (refused.load() == 0 && rounds < 20);

  EXPECT_GT(refused.load(), 0u) << "no two takes of a counter raced: the check checked nothing";
  EXPECT_EQ(failed_puts.load(), 0u) << "a counter was present while its taker held it";
  std::uint64_t total = 0;
  for (std::uint64_t k = 0; k < counters; ++k) {
    const auto got = m.find(k);
    ASSERT_TRUE(got.has_value()) << "find(" << k << ") got nullopt at the end";
    total += std::uint64_t(*got);
  }
  EXPECT_EQ(total, rounds * increments * static_cast<std::size_t>(threads)) << "lost increments";
  std::printf("erase_if(key, f) counters: %llu refused takes\n",
              static_cast<unsigned long long>(refused.load()));
  m.check_invariants();
  m.reclaim();
  EXPECT_EQ(m.memory().retired_objects, 0u);
}

TEST(ConcurrentMapEraseIfKey, CountersLoseNoIncrementInline) {
  check_erase_if_key_counters<std::uint64_t>(4);
}
TEST(ConcurrentMapEraseIfKey, CountersLoseNoIncrementNodes) {
  check_erase_if_key_counters<boxed_u64>(4);
}

}  // namespace

namespace {

// Inline tables give an erased lane to the next key that lands on it (a rekey, inside the
// group's seqlock). Writers churn a few keys of one small table, so erased lanes are retaken by
// other keys all the time, while readers look keys up and walk the map: every value a reader
// sees, by visit or visit_all, must be its own key's (value = key * value_stride + n), never
// the key a lane held before with the value of the key that took it.
TEST(ConcurrentMapRekey, ReadersNeverPairAKeyWithAnotherKeysValue) {
  tide::concurrent_map<std::uint64_t, std::uint64_t> m(1, {}, {}, {});
  constexpr std::uint64_t keys = 12;  // one table of a few groups
  const int rounds = tide_test::scaled(1000000, 50000);
  std::atomic<int> writers_done{0};
  std::atomic<std::uint64_t> mismatches{0};
  std::atomic<std::uint64_t> values_seen{0};
  constexpr int writers = 2;
  run_threads(4, [&](int t) {
    if (t < writers) {
      std::mt19937_64 rng(static_cast<std::uint64_t>(t) + 1);
      for (int i = 0; i < rounds; ++i) {
        const std::uint64_t k = rng() % keys;
        if (rng() % 2 == 0) {
          m.erase(k);
        } else {
          m.insert_or_assign(k, k * value_stride + static_cast<std::uint64_t>(i));
        }
      }
      writers_done.fetch_add(1);
      return;
    }
    std::mt19937_64 rng(static_cast<std::uint64_t>(t) + 100);
    auto check = [&](std::uint64_t k, std::uint64_t v) {
      values_seen.fetch_add(1, std::memory_order_relaxed);
      if (v / value_stride != k) mismatches.fetch_add(1, std::memory_order_relaxed);
    };
    do {
      for (int i = 0; i < 64; ++i) {
        const std::uint64_t k = rng() % keys;
        m.visit(k, [&](const std::uint64_t& v) { check(k, v); });
      }
      m.visit_all([&](const std::uint64_t& k, const std::uint64_t& v) { check(k, v); });
    } while (writers_done.load() < writers);
  });
  EXPECT_GT(values_seen.load(), 0u);
  EXPECT_EQ(mismatches.load(), 0u) << "a reader saw a value of another key";
  m.check_invariants();
}

}  // namespace
