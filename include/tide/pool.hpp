// tide::pool<T> — an object pool in the manner of Go's sync.Pool, bounded and with a TTL:
// objects are reused through per-thread caches, idle objects are freed after a while, and
// everything cached is dropped under memory pressure. See docs/pool.md.
//
//   tide::pool<std::string> strings({.max_per_thread = 32},
//                                   [] { return std::string(); },        // factory
//                                   [](std::string& s) { s.clear(); });  // reset, run on put
//   {
//     auto s = strings.get();   // a handle: std::unique_ptr<std::string, pool::returner>
//     s->append("...");
//   }                           // the handle's destructor puts the string back
//   std::string* raw = strings.take();   // the raw pair: take() / put()
//   strings.put(raw);
//
// Vocabulary. An *object* is a T the pool constructed with the factory; it lives in a *node*
// (a header followed by the T, one tide::heap block). A cached object is *idle*; it is *out*
// between get()/take() and put(). Each thread that uses a pool has its own *thread cache* for
// it; a *shared list* takes what thread caches spill and what exiting threads leave behind.
// The *budget* is the pool-wide bound on cached objects and bytes.
//
//   pool<T> ── shared_ptr ──► pool_core ◄── shared_ptr ── thread A's pool_thread_state entry
//                              │ mu_: shared list, cache list (intrusive), counters
//                              │ budget_count_/budget_bytes_ (atomics: quota handed out)
//                              ▼
//                  thread cache A ⇄ thread cache B ...   (spin lock each; LIFO node lists)
//
// Invariants:
//   - An object is in exactly one place: out with a user, in one thread cache, in the shared
//     list, or in a local list about to move or be destroyed.
//   - Quota: budget_count_ == Σ thread cache quota + shared list count (+ nodes moving
//     between them), and likewise for bytes; a thread cache holds at least as much quota as
//     it caches. So cached objects ≤ max_total and cached bytes ≤ max_bytes_total at all
//     times. Thread caches take quota in batches (a quarter of the per-thread bound) so the
//     fast path touches no shared cache line; surplus is given back on get and on trim.
//   - Lock order: pool_core::mu_, then a thread cache's lock. A thread never takes mu_ while
//     holding its own cache's lock, and no lock is held while allocating, constructing,
//     resetting or destroying an object — so a memory-pressure callback (which runs inside an
//     allocation, see <tide/heap.hpp>) can take every lock.
//   - Lifetimes, in both orders: the pool and every thread that used it share the core. A
//     pool destroyed while threads live frees every cached object and marks the core closed;
//     the threads drop their entries when they exit or next miss their one-entry lookup
//     cache. A thread that exits while the pool lives moves its cache to the shared list.
//     Pools are told apart by a 64-bit id that is never reused (addresses are).
//
// TTL: every put stamps the node with Clock::now(). Expired nodes (idle for ≥ ttl) are freed
// by trim(), by a put or a get that misses once every ttl/2 (so an idle object lives at most
// about 1.5 ttl while the pool is in use), and, when background_trim is set, by a pool-owned
// thread every ttl/2. The default clock is the coarse monotonic clock (a few ns to read,
// resolution of a few ms, plenty for TTLs in seconds); tests pass a fake clock.
#pragma once

#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <stop_token>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "tide/detail/config.hpp"
#include "tide/heap.hpp"

namespace tide {

// CLOCK_MONOTONIC_COARSE: read from the vDSO without a syscall or rdtsc (~5 ns here), in
// steps of the kernel tick. The pool's default clock.
struct coarse_steady_clock {
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<coarse_steady_clock>;
  static constexpr bool is_steady = true;
  static time_point now() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return time_point(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
  }
};

// Bounds and timing of a pool. Every bound must be > 0, a per-thread bound may not exceed
// its pool-wide one, and ttl must be > 0 (no_ttl: objects never expire); the pool constructor
// throws std::invalid_argument naming the field otherwise. An object's bytes are sizeof(T),
// or what the pool's bytes_of function says (a buffer's capacity, say).
struct pool_options {
  static constexpr std::chrono::nanoseconds no_ttl = std::chrono::nanoseconds::max();

  std::size_t max_per_thread = 64;                          // objects in one thread's cache
  std::size_t max_bytes_per_thread = 1 << 20;               // bytes in one thread's cache
  std::size_t max_total = 4096;                             // objects cached, whole pool
  std::size_t max_bytes_total = 64 << 20;                   // bytes cached, whole pool
  std::chrono::nanoseconds ttl = std::chrono::seconds(60);  // idle longer: freed
  bool background_trim = false;                             // a pool-owned thread trims every ttl/2
  bool drop_on_memory_pressure = true;  // tide::on_memory_pressure drops everything cached
};

// What stats() reports. Counters count since the pool was built.
struct pool_stats {
  std::size_t cached_objects = 0;  // idle, in thread caches and the shared list
  std::size_t cached_bytes = 0;
  std::uint64_t hits = 0;      // get()/take() served from a cache
  std::uint64_t misses = 0;    // get()/take() that ran the factory
  std::uint64_t dropped = 0;   // put() that destroyed the object: a bound was reached
  std::uint64_t expired = 0;   // freed by the TTL
  std::uint64_t released = 0;  // freed by clear() or memory pressure
  std::size_t threads = 0;     // thread caches attached to the pool
};

namespace detail {

// The header in front of every pooled object. `newer`/`older` link it into one node_list.
struct pool_node {
  pool_node* newer = nullptr;
  pool_node* older = nullptr;
  std::int64_t idle_since = 0;  // Clock time (ns) of the put that cached it
  std::size_t bytes = 0;        // the bytes it counts for against the bounds
};

// A doubly linked list of nodes, newest first; count and bytes of what it holds.
struct pool_node_list {
  pool_node* newest = nullptr;
  pool_node* oldest = nullptr;
  std::size_t count = 0;
  std::size_t bytes = 0;

  bool empty() const noexcept { return newest == nullptr; }

  void push_newest(pool_node* n) noexcept {
    n->newer = nullptr;
    n->older = newest;
    if (newest != nullptr)
      newest->newer = n;
    else
      oldest = n;
    newest = n;
    ++count;
    bytes += n->bytes;
  }

  void unlink(pool_node* n) noexcept {
    if (n->newer != nullptr)
      n->newer->older = n->older;
    else
      newest = n->older;
    if (n->older != nullptr)
      n->older->newer = n->newer;
    else
      oldest = n->newer;
    --count;
    bytes -= n->bytes;
  }

  void push_oldest(pool_node* n) noexcept {
    n->older = nullptr;
    n->newer = oldest;
    if (oldest != nullptr)
      oldest->older = n;
    else
      newest = n;
    oldest = n;
    ++count;
    bytes += n->bytes;
  }

  pool_node* pop_newest() noexcept {
    pool_node* n = newest;
    if (n != nullptr) unlink(n);
    return n;
  }

  pool_node* pop_oldest() noexcept {
    pool_node* n = oldest;
    if (n != nullptr) unlink(n);
    return n;
  }

  // Moves every node of `other` in front of this list's newest.
  void splice(pool_node_list& other) noexcept {
    while (pool_node* n = other.pop_oldest()) push_newest(n);
  }

  // Moves the nodes idle since before `deadline` into `out`.
  void move_expired(std::int64_t deadline, pool_node_list& out) noexcept {
    for (pool_node* n = oldest; n != nullptr;) {
      pool_node* newer_node = n->newer;
      if (n->idle_since <= deadline) {
        unlink(n);
        out.push_newest(n);
      }
      n = newer_node;
    }
  }
};

// A test-and-set lock. Its owner thread takes it on every get/put (uncontended: one xchg on
// a line it already holds); other threads only during trim, clear and stats.
class pool_spin_lock {
 public:
  void lock() noexcept {
    while (locked_.exchange(true, std::memory_order_acquire)) {
      while (locked_.load(std::memory_order_relaxed)) std::this_thread::yield();
    }
  }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

// One thread's cache for one pool. Everything but the cache-list links is guarded by lock_;
// the links by the core's mu_.
struct pool_thread_cache {
  pool_spin_lock lock;
  pool_node_list nodes;
  std::size_t quota_count = 0;  // ≥ nodes.count: budget this cache holds
  std::size_t quota_bytes = 0;  // ≥ nodes.bytes
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t dropped = 0;
  pool_thread_cache* prev = nullptr;
  pool_thread_cache* next = nullptr;
};

// The shared state of one pool: type-erased (objects are pool_nodes; destroy_ frees one), so
// this code is compiled once, not once per T.
class pool_core {
 public:
  using destroy_fn = void (*)(pool_node*) noexcept;

  pool_core(const pool_options& o, destroy_fn destroy)
      : opts_(o),
        destroy_(destroy),
        batch_count_(std::max<std::size_t>(1, o.max_per_thread / 4)),
        batch_bytes_(std::max<std::size_t>(1, o.max_bytes_per_thread / 4)),
        id_(next_id()) {}
  pool_core(const pool_core&) = delete;
  pool_core& operator=(const pool_core&) = delete;

  std::uint64_t id() const noexcept { return id_; }
  const pool_options& options() const noexcept { return opts_; }
  bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }

  void attach(pool_thread_cache* c) noexcept {
    std::lock_guard g(mu_);
    c->next = caches_;
    if (caches_ != nullptr) caches_->prev = c;
    caches_ = c;
    ++thread_count_;
  }

  // A thread exits (or prunes its entry): its cache goes to the shared list, its counters to
  // the core's. Nothing to do once the pool is closed (close() emptied and unlinked it).
  void retire(pool_thread_cache* c) noexcept {
    std::lock_guard g(mu_);
    if (closed()) return;
    c->lock.lock();
    budget_release(c->quota_count - c->nodes.count, c->quota_bytes - c->nodes.bytes);
    shared_.splice(c->nodes);
    c->quota_count = c->quota_bytes = 0;
    retired_hits_ += c->hits;
    retired_misses_ += c->misses;
    retired_dropped_ += c->dropped;
    c->lock.unlock();
    if (c->prev != nullptr)
      c->prev->next = c->next;
    else
      caches_ = c->next;
    if (c->next != nullptr) c->next->prev = c->prev;
    --thread_count_;
  }

  // A cached node for the calling thread (its cache, else a batch from the shared list), or
  // nullptr on a miss. `c` is nullptr for a thread whose thread-locals are gone.
  pool_node* take(pool_thread_cache* c) noexcept {
    if (c != nullptr) {
      c->lock.lock();
      if (pool_node* n = c->nodes.pop_newest()) {
        ++c->hits;
        give_back_surplus_locked(*c);
        c->lock.unlock();
        return n;
      }
      c->lock.unlock();
    }
    // The newest node for the caller; for its cache, up to a batch more that fits in its
    // byte bound (its cache is empty, and nodes may be as big as that bound).
    pool_node* n = nullptr;
    pool_node_list batch;
    {
      std::lock_guard g(mu_);
      n = shared_.pop_newest();
      if (c == nullptr) {
        ++(n != nullptr ? retired_hits_ : retired_misses_);
      } else if (n != nullptr) {
        while (batch.count + 1 < batch_count_ && !shared_.empty() &&
               batch.bytes + shared_.newest->bytes <= opts_.max_bytes_per_thread) {
          batch.push_oldest(shared_.pop_newest());
        }
      }
    }
    if (n != nullptr) budget_release(1, n->bytes);
    if (c == nullptr) return n;
    c->lock.lock();
    ++(n != nullptr ? c->hits : c->misses);
    c->quota_count += batch.count;
    c->quota_bytes += batch.bytes;
    c->nodes.splice(batch);
    c->lock.unlock();
    return n;
  }

  // Caches `n` (its bytes and idle_since already set) or destroys it when a bound says no.
  void put(pool_thread_cache* c, pool_node* n) noexcept {
    if (c == nullptr || n->bytes > opts_.max_bytes_per_thread) {
      put_shared(c, n);
      return;
    }
    pool_node_list spill;
    c->lock.lock();
    pool_node_list& nodes = c->nodes;
    if (nodes.count + 1 > opts_.max_per_thread ||
        nodes.bytes + n->bytes > opts_.max_bytes_per_thread) {
      // Full: the older half goes to the shared list, with its quota.
      const std::size_t keep_count = opts_.max_per_thread / 2;
      const std::size_t keep_bytes = opts_.max_bytes_per_thread / 2;
      while (!nodes.empty() && (nodes.count + 1 > std::max<std::size_t>(1, keep_count) ||
                                nodes.bytes + n->bytes > std::max(keep_bytes, n->bytes))) {
        spill.push_newest(nodes.pop_oldest());
      }
      c->quota_count -= spill.count;
      c->quota_bytes -= spill.bytes;
    }
    const bool cached = reserve_for_locked(*c, n->bytes);
    if (cached)
      nodes.push_newest(n);
    else
      ++c->dropped;
    c->lock.unlock();
    if (!spill.empty()) {
      std::lock_guard g(mu_);
      shared_.splice(spill);
    }
    if (!cached) destroy_(n);
  }

  // Frees every node idle since `now_ns - ttl` or earlier; quota cached by no one goes back.
  void trim(std::int64_t now_ns) noexcept {
    const std::int64_t ttl = opts_.ttl.count();
    if (now_ns < std::numeric_limits<std::int64_t>::min() + ttl) return;  // nothing that old
    const std::int64_t deadline = now_ns - ttl;
    pool_node_list dead;
    {
      std::lock_guard g(mu_);
      for (pool_thread_cache* c = caches_; c != nullptr; c = c->next) {
        c->lock.lock();
        pool_node_list expired;
        c->nodes.move_expired(deadline, expired);
        budget_release(c->quota_count - c->nodes.count, c->quota_bytes - c->nodes.bytes);
        c->quota_count = c->nodes.count;
        c->quota_bytes = c->nodes.bytes;
        c->lock.unlock();
        dead.splice(expired);
      }
      const std::size_t shared_before = dead.count;
      const std::size_t shared_bytes_before = dead.bytes;
      shared_.move_expired(deadline, dead);
      budget_release(dead.count - shared_before, dead.bytes - shared_bytes_before);
      expired_ += dead.count;
    }
    destroy_all(dead);
  }

  // Trims if ttl/2 has passed since the last trim; one thread of those that see it does.
  void maybe_trim(std::int64_t now_ns) noexcept {
    std::int64_t next = next_trim_.load(std::memory_order_relaxed);
    if (now_ns < next) return;
    const std::int64_t period = trim_period().count();
    const std::int64_t after = now_ns > std::numeric_limits<std::int64_t>::max() - period
                                   ? std::numeric_limits<std::int64_t>::max()
                                   : now_ns + period;
    if (next_trim_.compare_exchange_strong(next, after, std::memory_order_relaxed)) {
      trim(now_ns);
    }
  }

  // no_ttl: never (the period is no_ttl too, and trim() finds nothing that old).
  std::chrono::nanoseconds trim_period() const noexcept {
    if (opts_.ttl == pool_options::no_ttl) return opts_.ttl;
    return std::max(opts_.ttl / 2, std::chrono::nanoseconds(1));
  }

  // Frees every cached node (clear(), memory pressure).
  void clear() noexcept {
    pool_node_list dead;
    {
      std::lock_guard g(mu_);
      take_everything_locked(dead);
      released_ += dead.count;
    }
    destroy_all(dead);
  }

  // The pool is being destroyed: free everything and unlink the thread caches (their
  // threads free them when they exit or prune).
  void close() noexcept {
    pool_node_list dead;
    {
      std::lock_guard g(mu_);
      take_everything_locked(dead);
      caches_ = nullptr;
      closed_.store(true, std::memory_order_release);
    }
    destroy_all(dead);
  }

  pool_stats stats() const noexcept {
    pool_stats s;
    std::lock_guard g(mu_);
    s.cached_objects = shared_.count;
    s.cached_bytes = shared_.bytes;
    s.hits = retired_hits_;
    s.misses = retired_misses_;
    s.dropped = retired_dropped_;
    s.expired = expired_;
    s.released = released_;
    s.threads = thread_count_;
    for (pool_thread_cache* c = caches_; c != nullptr; c = c->next) {
      c->lock.lock();
      s.cached_objects += c->nodes.count;
      s.cached_bytes += c->nodes.bytes;
      s.hits += c->hits;
      s.misses += c->misses;
      s.dropped += c->dropped;
      c->lock.unlock();
    }
    return s;
  }

  // Recomputes the quota invariant and checks the bounds from scratch; aborts naming what is
  // broken. Preconditions: no other thread uses the pool.
  void check_invariants() const noexcept {
    std::lock_guard g(mu_);
    std::size_t count = shared_.count;
    std::size_t bytes = shared_.bytes;
    for (pool_thread_cache* c = caches_; c != nullptr; c = c->next) {
      TIDE_CHECK(c->quota_count >= c->nodes.count && c->quota_bytes >= c->nodes.bytes,
                 "pool: a thread cache holds less quota than it caches");
      TIDE_CHECK(
          c->nodes.count <= opts_.max_per_thread && c->nodes.bytes <= opts_.max_bytes_per_thread,
          "pool: a thread cache above max_per_thread / max_bytes_per_thread");
      count += c->quota_count;
      bytes += c->quota_bytes;
    }
    TIDE_CHECK(count == budget_count_.load() && bytes == budget_bytes_.load(),
               "pool: budget != thread cache quota + shared list");
    TIDE_CHECK(count <= opts_.max_total && bytes <= opts_.max_bytes_total,
               "pool: budget above max_total / max_bytes_total");
  }

 private:
  static std::uint64_t next_id() noexcept {
    static std::atomic<std::uint64_t> ids{0};
    return ids.fetch_add(1, std::memory_order_relaxed) + 1;
  }

  static void budget_take(std::atomic<std::size_t>& budget, std::size_t n, std::size_t max,
                          bool& ok) noexcept {
    std::size_t cur = budget.load(std::memory_order_relaxed);
    do {
      if (n > max - cur) {
        ok = false;
        return;
      }
    } while (!budget.compare_exchange_weak(cur, cur + n, std::memory_order_relaxed));
    ok = true;
  }

  bool budget_reserve(std::size_t count, std::size_t bytes) noexcept {
    bool ok = false;
    budget_take(budget_count_, count, opts_.max_total, ok);
    if (!ok) return false;
    budget_take(budget_bytes_, bytes, opts_.max_bytes_total, ok);
    if (!ok) budget_count_.fetch_sub(count, std::memory_order_relaxed);
    return ok;
  }

  void budget_release(std::size_t count, std::size_t bytes) noexcept {
    budget_count_.fetch_sub(count, std::memory_order_relaxed);
    budget_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
  }

  // Makes the cache's quota cover one more node of `bytes`: a batch if the budget has it,
  // else just what is needed. Preconditions: c.lock held.
  bool reserve_for_locked(pool_thread_cache& c, std::size_t bytes) noexcept {
    const std::size_t need_count =
        c.nodes.count + 1 > c.quota_count ? c.nodes.count + 1 - c.quota_count : 0;
    const std::size_t need_bytes =
        c.nodes.bytes + bytes > c.quota_bytes ? c.nodes.bytes + bytes - c.quota_bytes : 0;
    if (need_count == 0 && need_bytes == 0) return true;
    std::size_t want_count = need_count == 0 ? 0 : std::max(need_count, batch_count_);
    std::size_t want_bytes = need_bytes == 0 ? 0 : std::max(need_bytes, batch_bytes_);
    if (!budget_reserve(want_count, want_bytes)) {
      want_count = need_count;
      want_bytes = need_bytes;
      if (!budget_reserve(want_count, want_bytes)) return false;
    }
    c.quota_count += want_count;
    c.quota_bytes += want_bytes;
    return true;
  }

  // Gives back quota beyond a batch above what the cache holds. Preconditions: c.lock held.
  void give_back_surplus_locked(pool_thread_cache& c) noexcept {
    const std::size_t spare_count = c.quota_count - c.nodes.count;
    const std::size_t spare_bytes = c.quota_bytes - c.nodes.bytes;
    if (spare_count <= 2 * batch_count_ && spare_bytes <= 2 * batch_bytes_) return;
    const std::size_t back_count = spare_count > batch_count_ ? spare_count - batch_count_ : 0;
    const std::size_t back_bytes = spare_bytes > batch_bytes_ ? spare_bytes - batch_bytes_ : 0;
    budget_release(back_count, back_bytes);
    c.quota_count -= back_count;
    c.quota_bytes -= back_bytes;
  }

  // To the shared list with exact quota, for threads without a usable cache and objects too
  // big for one; destroyed if the budget says no.
  void put_shared(pool_thread_cache* c, pool_node* n) noexcept {
    if (n->bytes <= opts_.max_bytes_total && budget_reserve(1, n->bytes)) {
      std::lock_guard g(mu_);
      shared_.push_newest(n);
      return;
    }
    if (c != nullptr) {
      c->lock.lock();
      ++c->dropped;
      c->lock.unlock();
    } else {
      std::lock_guard g(mu_);
      ++retired_dropped_;
    }
    destroy_(n);
  }

  // Preconditions: mu_ held.
  void take_everything_locked(pool_node_list& out) noexcept {
    for (pool_thread_cache* c = caches_; c != nullptr; c = c->next) {
      c->lock.lock();
      budget_release(c->quota_count, c->quota_bytes);
      c->quota_count = c->quota_bytes = 0;
      out.splice(c->nodes);
      c->lock.unlock();
    }
    budget_release(shared_.count, shared_.bytes);
    out.splice(shared_);
  }

  void destroy_all(pool_node_list& dead) noexcept {
    while (pool_node* n = dead.pop_oldest()) destroy_(n);
  }

  const pool_options opts_;
  const destroy_fn destroy_;
  const std::size_t batch_count_;  // quota a thread cache takes at once: 1/4 of its bound
  const std::size_t batch_bytes_;
  const std::uint64_t id_;
  std::atomic<bool> closed_{false};
  std::atomic<std::size_t> budget_count_{0};
  std::atomic<std::size_t> budget_bytes_{0};
  std::atomic<std::int64_t> next_trim_{std::numeric_limits<std::int64_t>::min()};

  mutable std::mutex mu_;
  pool_node_list shared_;                // guarded by mu_
  pool_thread_cache* caches_ = nullptr;  // guarded by mu_
  std::size_t thread_count_ = 0;         // guarded by mu_
  std::uint64_t retired_hits_ = 0;       // guarded by mu_: exited threads and no-cache ops
  std::uint64_t retired_misses_ = 0;     // guarded by mu_
  std::uint64_t retired_dropped_ = 0;    // guarded by mu_
  std::uint64_t expired_ = 0;            // guarded by mu_
  std::uint64_t released_ = 0;           // guarded by mu_
};

// The lookup cache in front of pool_thread_state: the id of the pool this thread used last
// and its cache (0: none, or the thread's state is gone). Trivially destructible thread-locals
// cost a plain load, where a thread-local with a destructor costs a call to its init guard, so
// the common case is one compare without touching pool_threads.
inline thread_local std::uint64_t pool_last_id = 0;  // pool ids start at 1
inline thread_local pool_thread_cache* pool_last_cache = nullptr;

// Set when the calling thread's pool_thread_state is destroyed (thread exit; for the main
// thread, before static destructors): pools then use the shared list directly.
inline thread_local bool pool_thread_state_gone = false;

// A thread's caches, one per pool it used.
class pool_thread_state {
 public:
  pool_thread_state() = default;
  pool_thread_state(const pool_thread_state&) = delete;
  pool_thread_state& operator=(const pool_thread_state&) = delete;
  ~pool_thread_state() {
    pool_thread_state_gone = true;
    pool_last_id = 0;
    for (entry& e : entries_) e.core->retire(e.cache.get());
  }

  // The calling thread's cache for `core`, attached on first use; becomes the lookup cache.
  pool_thread_cache* find_or_attach(const std::shared_ptr<pool_core>& core) {
    // Entries of destroyed pools go first; their caches are unlinked and empty.
    std::erase_if(entries_, [](const entry& e) { return e.core->closed(); });
    pool_thread_cache* found = nullptr;
    for (entry& e : entries_) {
      if (e.id == core->id()) found = e.cache.get();
    }
    if (found == nullptr) {
      entries_.push_back(entry{core->id(), core, std::make_unique<pool_thread_cache>()});
      found = entries_.back().cache.get();
      core->attach(found);
    }
    pool_last_id = core->id();
    pool_last_cache = found;
    return found;
  }

 private:
  struct entry {
    std::uint64_t id;
    std::shared_ptr<pool_core> core;
    std::unique_ptr<pool_thread_cache> cache;
  };

  std::vector<entry> entries_;
};

inline thread_local pool_thread_state pool_threads;

// nullptr once the thread's state is gone. Throws std::bad_alloc on a first use that cannot
// allocate the thread's entry.
inline pool_thread_cache* pool_cache_for(std::uint64_t id, const std::shared_ptr<pool_core>& core) {
  if (pool_last_id == id) return pool_last_cache;
  if (pool_thread_state_gone) return nullptr;
  return pool_threads.find_or_attach(core);
}

}  // namespace detail

template <class T, class Clock = coarse_steady_clock>
class pool {
 public:
  using value_type = T;
  using factory_type = std::function<T()>;
  using reset_type = std::function<void(T&)>;
  using bytes_of_type = std::function<std::size_t(const T&)>;

  // The deleter of a handle: puts the object back into its pool.
  struct returner {
    pool* owner = nullptr;
    void operator()(T* p) const noexcept { owner->put(p); }
  };
  using handle = std::unique_ptr<T, returner>;

  // factory builds a new object on a miss (default: T{}); reset runs on every put, before the
  // object is cached (default: nothing); bytes_of says what an object counts for against
  // the byte bounds (default: sizeof(T)). Throws std::invalid_argument (naming the field)
  // for options that bound nothing or contradict each other, and for a max_bytes_total
  // that no object fits in (with the default bytes_of).
  explicit pool(pool_options options = {}, factory_type factory = nullptr,
                reset_type reset = nullptr, bytes_of_type bytes_of = nullptr)
      : factory_(std::move(factory)), reset_(std::move(reset)), bytes_of_(std::move(bytes_of)) {
    validate(options);
    if (!bytes_of_ && sizeof(T) > options.max_bytes_total) {
      throw std::invalid_argument("tide::pool: max_bytes_total is smaller than one object");
    }
    if (!factory_) {
      if constexpr (std::is_default_constructible_v<T>) {
        factory_ = [] { return T{}; };
      } else {
        throw std::invalid_argument(
            "tide::pool: factory is required: T is not default-constructible");
      }
    }
    core_ = std::make_shared<detail::pool_core>(options, &destroy_node);
    id_ = core_->id();
    if (options.drop_on_memory_pressure) {
      detail::pool_core* core = core_.get();
      pressure_ = on_memory_pressure([core](const memory_pressure&) { core->clear(); });
    }
    if (options.background_trim && options.ttl != pool_options::no_ttl) {
      trimmer_ = std::jthread([this](std::stop_token stop) { trim_in_background(stop); });
    }
  }

  pool(const pool&) = delete;
  pool& operator=(const pool&) = delete;

  // Preconditions: every object taken from this pool has been put back or destroyed by
  // hand, and no other thread is using the pool.
  ~pool() {
    pressure_.reset();
    if (trimmer_.joinable()) {
      trimmer_.request_stop();
      trimmer_.join();
    }
    core_->close();
  }

  // A cached object, or a new one from the factory (whose exceptions propagate). The handle
  // puts it back when destroyed; it must not outlive the pool.
  [[nodiscard]] handle get() { return handle(take(), returner{this}); }

  // The raw form of get(): the object must come back through put() or discard() (it was not
  // allocated with new).
  [[nodiscard]] T* take() {
    detail::pool_thread_cache* cache = detail::pool_cache_for(id_, core_);
    if (detail::pool_node* n = core_->take(cache)) return object_of(n);
    core_->maybe_trim(now_ns());
    void* block = heap::allocate(node_size, node_align);
    try {
      auto* n = ::new (block) detail::pool_node();
      return ::new (static_cast<void*>(reinterpret_cast<unsigned char*>(n) + object_offset))
          T(factory_());
    } catch (...) {
      heap::deallocate(block, node_size);
      throw;
    }
  }

  // Runs the reset hook and caches `p`, or destroys it if a bound is reached or the hook
  // throws. Preconditions: p came from take()/get() of this pool. nullptr is ignored.
  void put(T* p) noexcept {
    if (p == nullptr) return;
    detail::pool_node* n = node_of(p);
    try {
      if (reset_) reset_(*p);
      n->bytes = bytes_of_ ? bytes_of_(*p) : sizeof(T);
    } catch (...) {
      destroy_node(n);
      return;
    }
    const std::int64_t now = now_ns();
    n->idle_since = now;
    detail::pool_thread_cache* cache = pool_cache_for_put();
    core_->put(cache, n);
    core_->maybe_trim(now);
  }

  // Destroys `p` without caching it (an object left in a bad state). Preconditions: p came
  // from take()/get() of this pool. nullptr is ignored.
  void discard(T* p) noexcept {
    if (p != nullptr) destroy_node(node_of(p));
  }

  // Frees every object idle for ttl or longer now.
  void trim() noexcept { core_->trim(now_ns()); }

  // Frees every cached object (what memory pressure does).
  void clear() noexcept { core_->clear(); }

  pool_stats stats() const noexcept { return core_->stats(); }
  const pool_options& options() const noexcept { return core_->options(); }

  // Aborts naming the broken invariant. Preconditions: no other thread uses the pool.
  void check_invariants() const noexcept { core_->check_invariants(); }

 private:
  static constexpr std::size_t object_offset =
      (sizeof(detail::pool_node) + alignof(T) - 1) / alignof(T) * alignof(T);
  static constexpr std::size_t node_size = object_offset + sizeof(T);
  static constexpr std::size_t node_align = std::max(alignof(T), alignof(detail::pool_node));

  static T* object_of(detail::pool_node* n) noexcept {
    return std::launder(reinterpret_cast<T*>(reinterpret_cast<unsigned char*>(n) + object_offset));
  }
  static detail::pool_node* node_of(T* p) noexcept {
    return reinterpret_cast<detail::pool_node*>(reinterpret_cast<unsigned char*>(p) -
                                                object_offset);
  }
  static void destroy_node(detail::pool_node* n) noexcept {
    object_of(n)->~T();
    n->~pool_node();
    heap::deallocate(n, node_size);
  }

  static std::int64_t now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
        .count();
  }

  // put() is noexcept: a thread whose first use of the pool is a put (the object came from
  // another thread) and cannot allocate its entry uses the shared list.
  detail::pool_thread_cache* pool_cache_for_put() noexcept {
    try {
      return detail::pool_cache_for(id_, core_);
    } catch (...) {
      return nullptr;
    }
  }

  static void validate(const pool_options& o) {
    auto fail = [](const char* what) { throw std::invalid_argument(what); };
    if (o.max_per_thread == 0) fail("tide::pool: max_per_thread must be > 0");
    if (o.max_bytes_per_thread == 0) fail("tide::pool: max_bytes_per_thread must be > 0");
    if (o.max_total == 0) fail("tide::pool: max_total must be > 0");
    if (o.max_bytes_total == 0) fail("tide::pool: max_bytes_total must be > 0");
    if (o.max_per_thread > o.max_total) fail("tide::pool: max_per_thread exceeds max_total");
    if (o.max_bytes_per_thread > o.max_bytes_total) {
      fail("tide::pool: max_bytes_per_thread exceeds max_bytes_total");
    }
    if (o.ttl <= std::chrono::nanoseconds::zero()) fail("tide::pool: ttl must be > 0");
  }

  // Real time between rounds (trim_period, at most a minute so a stop is seen), the pool's
  // clock for what has expired.
  void trim_in_background(std::stop_token stop) {
    std::mutex mu;
    std::condition_variable_any wake;
    const auto period =
        std::min<std::chrono::nanoseconds>(core_->trim_period(), std::chrono::minutes(1));
    std::unique_lock lock(mu);
    while (!wake.wait_for(lock, stop, period, [] { return false; })) {
      if (stop.stop_requested()) return;
      trim();
    }
  }

  factory_type factory_;
  reset_type reset_;
  bytes_of_type bytes_of_;
  std::shared_ptr<detail::pool_core> core_;
  std::uint64_t id_ = 0;  // core_->id(), kept here for the thread-local lookup
  pressure_registration pressure_;
  std::jthread trimmer_;
};

}  // namespace tide
