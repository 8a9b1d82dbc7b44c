// tide::concurrent_map — a hash map for many threads: lock-free reads, writers that never block
// readers, and memory that shrinks after erases. See docs/concurrent_map.md.
//
// Vocabulary:
//   shard       one of a fixed number of independent parts, chosen by the top bits of the
//               hash; it has a writer mutex, a table and a retire list
//   layout      where entries live, chosen by type: *inline* when the key is an integer, enum
//               or pointer compared with std::equal_to and the value is trivially copyable,
//               each at most 8 bytes (the entry's words sit in the group); *node* otherwise
//   group       one cache line: 8 tag bytes and 7 node slots, or 3 inline key/value pairs
//   table       one shard's open-addressing array of groups (a power of two of them),
//               probed slot by slot from the first slot of group hash & (groups - 1),
//               wrapping at the end; one allocation, replaced whole when the shard grows,
//               shrinks or sheds tombstones (a rebuild)
//   slot        node layout: an atomic node pointer (null, a node, or the tombstone marker);
//               inline layout: an atomic key word and an atomic value word
//   tag         one byte per slot: tag_unused (0) while the slot was never used in this
//               table, tag_erased (1) for a tombstone, else tag_of(hash) of the live entry; a
//               probe ends at tag_unused, goes on past tag_erased, and looks at a key (or
//               node) only when the tag matches, so a miss touches no node
//   node        one heap-allocated entry: its hash and a std::pair<const Key, T>; never
//               changed after it is published: insert_or_assign publishes a new node in the
//               same slot and retires the old one
//   retire      unlink a node or a table and hand it to the shard's retire list; it is freed
//               once no reader can still hold it (epoch-based reclamation, detail/epoch.hpp)
//
// Layout:
//
//   shards_ ──> [ shard 0 | shard 1 | ... | shard S-1 ]          S = shard_count(), fixed
//                  │ reader line: atomic<table*> current_    (written only by a rebuild)
//                  │ writer line: mutex, size, tombstones, retire list, memory counters
//                  v
//               table: [ header: capacity, group_mask | group 0 | group 1 | ... ]
//
//               node group (64 bytes):   [ tag 0..6 | pad | slot 0 .. slot 6 ]
//                                                              │
//                                                              v
//                                                 node: { hash, pair<const Key, T> }
//               inline group (64 bytes): [ tag 0..2 | pad | key 0..2 | value 0..2 | pad ]
//
// Readers (visit, find, contains, visit_all, the first look of load_or_store) pin the thread's
// epoch record (its own cache line), load the shard's table and probe it; they take no lock,
// write no shared cache line and never wait for a writer.
// Writers lock one shard. A node reader reads the immutable node in place; an inline reader
// copies the value word: an inline slot's key is written before its tag is published and never
// changes while the table lives (an inline tombstone is reused only by the key it held), and
// its value is replaced whole by one atomic store. A rebuild builds the new table from the old
// one's entries (node pointers or words; nodes stay where they are), publishes it and retires the
// old one. A reader still probing the old table needs no retry: writers stop changing a table when
// its successor is published, so it reads a key's state as of that moment, which lies between the
// reader's load of the table pointer and its probe, inside the reader's call (linearizable).
//
// Invariants, per shard, under its mutex (check_invariants_locked):
//   size_ == live slots in current_; tombstones_ == erased slots in current_
//   size_ + tombstones_ <= 3/4 capacity (max_load), so every probe meets an unused slot
//   current_ == nullptr iff the shard has no entry
//   node layout: a slot's tag is tag_unused iff the slot is null, tag_erased iff it holds the
//     tombstone marker
//   a live slot's tag is tag_of(its entry's hash), and the entry belongs to this shard
//   a key occupies at most one live slot of a table; every live entry sits in its probe run:
//     no unused slot between the first slot of its start group and itself
//   the retire list's epochs are non-decreasing (they are read under the mutex)
//
// Thresholds: a table grows at 3/4 full, counting tombstones; it is rebuilt with room for 1.5x
// its entries (load 1/3..2/3 afterwards, rounded to a power of two of groups). A linear probe's
// expected length grows as 1/(1 - load)^2, but a probe reads whole groups (one cache line each)
// and a smaller table misses the cache less: measured on 100,000 u64 entries, a maximum load of
// 3/4 found 1.1x the time of std::shared_mutex + absl::flat_hash_map per lookup, 1/2 (a table
// twice as large) 1.5x. A table shrinks when its load falls below 1/4 (if that gives fewer
// groups) and is freed when its last entry goes; after erasing 90% a table is at most about 2x
// one built fresh for the survivors. After a rebuild a table is well away from both
// thresholds, so insert/erase churn does not rebuild back and forth.
//
// Costs and limits, honestly: a rebuild copies one shard's slots (n / shard_count() of them),
// so a writer's worst case is O(n / shards), not O(1) as in tide::map; readers never wait for
// it. Hash, equality, Key and T constructors may run concurrently with readers of other entries
// and must be thread-safe as const operations; the allocator is used by writers of different
// shards at once, so it must be thread-safe (std::allocator and tide::heap_allocator are).
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "tide/detail/config.hpp"
#include "tide/detail/directory.hpp"
#include "tide/detail/epoch.hpp"
#include "tide/hash.hpp"

namespace tide {

// A snapshot of what a concurrent_map holds (memory()). Each figure is read without locks, so
// while writers run the figures are each recent but not one consistent state.
struct concurrent_map_memory {
  std::size_t bytes = 0;            // everything below
  std::size_t shard_bytes = 0;      // the shard array (fixed) and the retire lists' storage
  std::size_t table_bytes = 0;      // current tables
  std::size_t node_bytes = 0;       // live entries' nodes
  std::size_t retired_bytes = 0;    // nodes and tables erased or replaced, waiting for readers
  std::size_t retired_objects = 0;  // how many of them
  std::size_t shards = 0;
  std::size_t capacity = 0;  // slots of the current tables
  std::size_t size = 0;
  std::size_t tombstones = 0;
};

namespace detail {

// Entries a concurrent_map stores in its groups instead of in nodes: a key that is an integer,
// enum or pointer compared with std::equal_to (equal exactly when the bits are), and a
// trivially copyable value; each at most one 8-byte word, so a reader copies either with one
// atomic load.
// (clang-format 14 takes the `&&` after a parenthesis for a reference.)
// clang-format off
template <class Key, class T, class KeyEqual>
inline constexpr bool concurrent_inline_entry =
    (std::is_integral_v<Key> || std::is_enum_v<Key> || std::is_pointer_v<Key>) &&
    sizeof(Key) <= 8 && std::is_same_v<KeyEqual, std::equal_to<Key>> &&
    std::is_trivially_copyable_v<T> && sizeof(T) <= 8;
// clang-format on

}  // namespace detail

template <class Key, class T, class Hash = tide::hash<Key>, class KeyEqual = std::equal_to<Key>,
          class Allocator = std::allocator<std::pair<const Key, T>>>
class concurrent_map {
 public:
  using key_type = Key;
  using mapped_type = T;
  using value_type = std::pair<const Key, T>;
  using hasher = Hash;
  using key_equal = KeyEqual;
  using allocator_type = Allocator;
  using size_type = std::size_t;

  // Shards: the smallest power of two at least 4x the hardware threads (at least 16, at most
  // 1024), so two writers rarely meet on one mutex and one shard's rebuild is a small part of
  // the map.
  explicit concurrent_map(const Hash& hash = Hash(), const KeyEqual& equal = KeyEqual(),
                          const Allocator& alloc = Allocator())
      : concurrent_map(default_shard_count(), hash, equal, alloc) {}

  // Precondition: shard_count is a power of two in [1, 2^16].
  concurrent_map(std::size_t shard_count, const Hash& hash, const KeyEqual& equal,
                 const Allocator& alloc)
      : hash_(hash),
        equal_(equal),
        node_alloc_(alloc),
        table_alloc_(alloc),
        shard_alloc_(alloc),
        shard_count_(shard_count),
        shard_shift_(63 - static_cast<unsigned>(std::countr_zero(shard_count))) {
    TIDE_CHECK(std::has_single_bit(shard_count) && shard_count <= (std::size_t{1} << 16),
               "concurrent_map: shard_count must be a power of two <= 65536");
    shards_ = shard_traits::allocate(shard_alloc_, shard_count_);
    for (std::size_t i = 0; i < shard_count_; ++i) {
      ::new (static_cast<void*>(shards_ + i)) shard(retired_allocator(alloc));
    }
  }

  concurrent_map(const concurrent_map&) = delete;
  concurrent_map& operator=(const concurrent_map&) = delete;

  // Precondition: no other thread uses the map any more. Frees everything, retired or not.
  ~concurrent_map() {
    for (std::size_t i = 0; i < shard_count_; ++i) {
      shard& s = shards_[i];
      if (table* t = s.current_.load(std::memory_order_relaxed)) {
        if constexpr (!inline_entries) {
          for (std::size_t p = 0; p < t->capacity; ++p) {
            node* n = node_slot(t, p).load(std::memory_order_relaxed);
            if (is_node(n)) destroy_node(n);
          }
        }
        deallocate_table(t);
      }
      for (const retired& r : s.retired_) free_retired(r);
      s.~shard();
    }
    shard_traits::deallocate(shard_alloc_, shards_, shard_count_);
  }

  // Lookups (visit, find, contains, erase) take any K the hash and equality accept when both
  // are transparent (tide::hash<std::string> with std::equal_to<>: a string_view finds a
  // std::string key without building one); otherwise Key.
  template <class K>
  using key_arg =
      typename detail::key_arg_impl<detail::transparent_lookup<Hash, KeyEqual>>::template type<K,
                                                                                               Key>;

  // ---- readers: lock-free --------------------------------------------------------------

  // Calls f(const T&) with the value of `key` if present, and says whether it was. The value
  // stays valid while f runs, even if another thread erases or replaces it meanwhile (f then
  // sees the value as it was: for node entries the node itself, for inline entries a copy).
  // f runs with the thread's epoch pinned: a long f delays the freeing of every map's retired
  // memory. f may call any member of any concurrent_map.
  template <class K = key_type, class F>
  bool visit(const key_arg<K>& key, F&& f) const {
    const std::size_t h = hash_of(key);
    detail::epoch_guard guard;
    return read(shard_of(h), key, h, std::forward<F>(f));
  }

  template <class K = key_type>
  std::optional<T> find(const key_arg<K>& key) const {
    std::optional<T> result;
    visit<K>(key, [&](const T& value) { result.emplace(value); });
    return result;
  }

  template <class K = key_type>
  bool contains(const key_arg<K>& key) const {
    return visit<K>(key, [](const T&) {});
  }

  // Calls f(const Key&, const T&) for entries of the map, shard by shard. Weakly consistent:
  //   - an entry present for the whole call is visited exactly once;
  //   - an entry inserted or erased during the call is visited at most once (a key erased
  //     and inserted again during the call is two entries, and may be seen twice);
  //   - each value seen is one its key held at some moment during the call.
  // It is not a snapshot: two entries seen may never have been in the map at the same time.
  // Each shard is read from the table current when its turn came (entries changed in that
  // shard after a rebuild during its turn are seen as they were at the rebuild). Lock-free;
  // f may call writers (a write to a shard not yet visited is seen or not).
  template <class F>
  void visit_all(F&& f) const {
    for (std::size_t i = 0; i < shard_count_; ++i) {
      detail::epoch_guard guard;
      const table* t = shards_[i].current_.load(std::memory_order_acquire);
      if (t == nullptr) continue;
      for (std::size_t g = 0; g < t->group_count(); ++g) {
        const group& grp = t->groups()[g];
        for (std::size_t lane = 0; lane < group_slots; ++lane) {
          if (grp.tags[lane].load(std::memory_order_acquire) < first_live_tag) continue;
          if constexpr (inline_entries) {
            const Key key = from_word<Key>(grp.keys[lane].load(std::memory_order_relaxed));
            const T value = from_word<T>(grp.values[lane].load(std::memory_order_acquire));
            f(key, value);
          } else {
            const node* n = grp.slots[lane].load(std::memory_order_acquire);
            if (is_node(n)) f(n->entry.first, std::as_const(n->entry.second));
          }
        }
      }
    }
  }

  // The sum of the shards' sizes, each read once without locks: exact when no writer runs;
  // while writers run, a value the map's size had or will have within the call, give or take
  // the writes that overlap it (shards are read one after another, not at once).
  size_type size() const noexcept {
    std::size_t total = 0;
    for (std::size_t i = 0; i < shard_count_; ++i) {
      total += shards_[i].size_.load(std::memory_order_relaxed);
    }
    return total;
  }
  bool empty() const noexcept { return size() == 0; }

  // ---- writers: one shard's mutex ------------------------------------------------------

  bool insert(const value_type& value) { return try_emplace(value.first, value.second); }
  bool insert(value_type&& value) { return try_emplace(value.first, std::move(value.second)); }

  // Constructs value_type from args (before taking the lock, to learn the key) and inserts it
  // if its key is absent. Returns whether it was inserted.
  template <class... Args>
  bool emplace(Args&&... args) {
    if constexpr (inline_entries) {
      value_type entry(std::forward<Args>(args)...);
      return try_emplace(entry.first, entry.second);
    } else {
      node* fresh = make_node(0, std::forward<Args>(args)...);
      try {
        fresh->hash = hash_of(fresh->entry.first);
        shard& s = shard_of(fresh->hash);
        std::lock_guard lock(s.mutex_);
        if (insert_locked(s, fresh->entry.first, fresh->hash, [&] { return fresh; }).second) {
          return true;
        }
      } catch (...) {
        destroy_node(fresh);
        throw;
      }
      destroy_node(fresh);
      return false;
    }
  }

  // Inserts (key, T(args...)) if key is absent; constructs nothing otherwise.
  template <class K = Key, class... Args>
  bool try_emplace(K&& key, Args&&... args) {
    const std::size_t h = hash_of(key);
    shard& s = shard_of(h);
    std::lock_guard lock(s.mutex_);
    return insert_locked(
               s, key, h,
               [&] { return make_entry(h, std::forward<K>(key), std::forward<Args>(args)...); })
        .second;
  }

  // Inserts or replaces. Returns true if it inserted. A replaced node is retired, so readers
  // in visit() keep seeing the old value until they return.
  template <class K = Key, class V>
  bool insert_or_assign(K&& key, V&& value) {
    const std::size_t h = hash_of(key);
    shard& s = shard_of(h);
    std::lock_guard lock(s.mutex_);
    if (table* t = s.current_.load(std::memory_order_relaxed)) {
      if (const slot_ref at = locate(t, key, h).match; at.grp != nullptr) {
        if constexpr (inline_entries) {
          at.grp->values[at.lane].store(to_word(make_entry(h, key, std::forward<V>(value))),
                                        std::memory_order_release);
        } else {
          reserve_retire_locked(s, 1);
          node* fresh = make_entry(h, std::forward<K>(key), std::forward<V>(value));
          node* old = at.grp->slots[at.lane].load(std::memory_order_relaxed);
          at.grp->slots[at.lane].store(fresh, std::memory_order_release);
          retire_node_locked(s, old);
        }
        after_mutation_locked(s);
        return false;
      }
    }
    return insert_locked(
               s, key, h,
               [&] { return make_entry(h, std::forward<K>(key), std::forward<V>(value)); })
        .second;
  }

  // sync.Map's LoadOrStore: if key is present, returns (its value, true); otherwise inserts
  // (key, value) and returns (value, false). A hit takes no lock.
  std::pair<T, bool> load_or_store(const Key& key, const T& value) {
    const std::size_t h = hash_of(key);
    shard& s = shard_of(h);
    std::optional<T> present;
    {
      detail::epoch_guard guard;
      read(s, key, h, [&](const T& v) { present.emplace(v); });
    }
    if (present) return {std::move(*present), true};
    std::lock_guard lock(s.mutex_);
    const auto [at, inserted] = insert_locked(s, key, h, [&] { return make_entry(h, key, value); });
    if constexpr (inline_entries) {
      return {from_word<T>(at.grp->values[at.lane].load(std::memory_order_relaxed)), !inserted};
    } else {
      return {at.grp->slots[at.lane].load(std::memory_order_relaxed)->entry.second, !inserted};
    }
  }

  // Returns the number of entries erased (0 or 1). A node is retired, not freed.
  template <class K = key_type>
  size_type erase(const key_arg<K>& key) {
    return erase_if<K>(key, [](const T&) { return true; });
  }

  // boost::concurrent_flat_map's erase_if(k, f): erases the entry of `key` if f(const T&) returns
  // true for its value, atomically (no write to the key comes between f and the erase), and
  // returns how many it erased (0 or 1; f is not called when the key is absent). f runs under
  // the shard's mutex and gets a const reference: a node value may be read by lock-free readers
  // at the same time, so f must not change it (for inline entries it is a copy of the value
  // word). f must not call writers of this map (the mutex is not recursive). If f throws, nothing
  // is erased. Not to be confused with the whole-map erase_if(pred) below, which takes one
  // argument.
  template <class K = key_type, class F>
  size_type erase_if(const key_arg<K>& key, F f) {
    const std::size_t h = hash_of(key);
    shard& s = shard_of(h);
    std::lock_guard lock(s.mutex_);
    table* t = s.current_.load(std::memory_order_relaxed);
    if (t == nullptr) return 0;
    const slot_ref at = locate(t, key, h).match;
    if (at.grp == nullptr) return 0;
    if constexpr (inline_entries) {
      const T value = from_word<T>(at.grp->values[at.lane].load(std::memory_order_relaxed));
      if (!f(value)) return 0;
    } else {
      if (!f(std::as_const(at.grp->slots[at.lane].load(std::memory_order_relaxed)->entry.second))) {
        return 0;
      }
    }
    reserve_retire_locked(s, 2);  // the node, and the table if it was the last entry
    erase_slot_locked(s, at);
    shrink_if_sparse_locked(s);
    after_mutation_locked(s);
    return 1;
  }

  // Erases every entry for which pred(const Key&, const T&) is true, one shard at a time under
  // its mutex; returns how many. Entries inserted into a shard already passed are not seen. If
  // pred throws, the entries erased so far stay erased (the map stays valid).
  template <class Pred>
  size_type erase_if(Pred pred) {
    size_type erased = 0;
    for (std::size_t i = 0; i < shard_count_; ++i) {
      shard& s = shards_[i];
      std::lock_guard lock(s.mutex_);
      table* t = s.current_.load(std::memory_order_relaxed);
      if (t == nullptr) continue;
      reserve_retire_locked(s, s.size_.load(std::memory_order_relaxed) + 1);
      for (std::size_t g = 0; g < t->group_count(); ++g) {
        group& grp = t->groups()[g];
        for (std::size_t lane = 0; lane < group_slots; ++lane) {
          if (grp.tags[lane].load(std::memory_order_relaxed) < first_live_tag) continue;
          bool matches = false;
          if constexpr (inline_entries) {
            matches = pred(from_word<Key>(grp.keys[lane].load(std::memory_order_relaxed)),
                           from_word<T>(grp.values[lane].load(std::memory_order_relaxed)));
          } else {
            const node* n = grp.slots[lane].load(std::memory_order_relaxed);
            matches = pred(n->entry.first, std::as_const(n->entry.second));
          }
          if (!matches) continue;
          erase_slot_locked(s, {&grp, lane});
          ++erased;
        }
      }
      shrink_if_sparse_locked(s);
      after_mutation_locked(s);
    }
    return erased;
  }

  // Erases everything, shard by shard (not atomically: a reader may see some shards cleared
  // and others not). Tables and nodes are retired.
  void clear() {
    for (std::size_t i = 0; i < shard_count_; ++i) {
      shard& s = shards_[i];
      std::lock_guard lock(s.mutex_);
      table* t = s.current_.load(std::memory_order_relaxed);
      if (t == nullptr) continue;
      reserve_retire_locked(s, s.size_.load(std::memory_order_relaxed) + 1);
      if constexpr (!inline_entries) {
        for (std::size_t p = 0; p < t->capacity; ++p) {
          node* n = node_slot(t, p).load(std::memory_order_relaxed);
          if (is_node(n)) retire_node_locked(s, n);
        }
      }
      publish_locked(s, nullptr);
      s.size_.store(0, std::memory_order_relaxed);
      s.tombstones_ = 0;
      s.tombstones_count_.store(0, std::memory_order_relaxed);
      after_mutation_locked(s);
    }
  }

  // Makes room for n entries spread evenly over the shards (each shard gets room for n /
  // shards plus half again, for uneven hashing), so inserting them rebuilds no table. Erases
  // may shrink the tables again.
  void reserve(size_type n) {
    const std::size_t per_shard = n / shard_count_ + n / shard_count_ / 2 + 1;
    for (std::size_t i = 0; i < shard_count_; ++i) {
      shard& s = shards_[i];
      std::lock_guard lock(s.mutex_);
      const table* t = s.current_.load(std::memory_order_relaxed);
      const std::size_t want = groups_for(per_shard);
      if (t == nullptr || t->group_count() < want) rebuild_locked(s, want);
    }
  }

  // Frees every retired node and table that no reader can hold any more, advancing the global
  // epoch if the pinned threads allow it. Writers do this by themselves every few retirements;
  // call it to bring memory().retired_bytes down when the map has gone quiet.
  void reclaim() {
    auto& domain = detail::epoch_domain::instance();
    domain.try_advance();
    domain.try_advance();
    for (std::size_t i = 0; i < shard_count_; ++i) {
      shard& s = shards_[i];
      std::lock_guard lock(s.mutex_);
      free_reclaimable_locked(s, domain.global_epoch());
    }
  }

  concurrent_map_memory memory() const noexcept {
    concurrent_map_memory m;
    m.shards = shard_count_;
    m.shard_bytes = shard_count_ * sizeof(shard);
    for (std::size_t i = 0; i < shard_count_; ++i) {
      const shard& s = shards_[i];
      const std::size_t size = s.size_.load(std::memory_order_relaxed);
      const std::size_t capacity = s.capacity_.load(std::memory_order_relaxed);
      m.size += size;
      m.capacity += capacity;
      m.tombstones += s.tombstones_count_.load(std::memory_order_relaxed);
      m.node_bytes += inline_entries ? 0 : size * sizeof(node);
      m.table_bytes += capacity == 0 ? 0 : table_bytes(capacity / group_slots);
      m.retired_bytes += s.retired_bytes_.load(std::memory_order_relaxed);
      m.retired_objects += s.retired_count_.load(std::memory_order_relaxed);
      m.shard_bytes += s.retire_list_bytes_.load(std::memory_order_relaxed);
    }
    m.bytes = m.shard_bytes + m.table_bytes + m.node_bytes + m.retired_bytes;
    return m;
  }

  std::size_t shard_count() const noexcept { return shard_count_; }
  hasher hash_function() const { return hash_; }
  key_equal key_eq() const { return equal_; }
  allocator_type get_allocator() const { return allocator_type(node_alloc_); }

  // Recomputes each shard's counts and probe runs under its mutex; aborts naming the broken
  // invariant. O(capacity). Runs after every mutation in the invariant-check build.
  void check_invariants() const {
    for (std::size_t i = 0; i < shard_count_; ++i) {
      std::lock_guard lock(shards_[i].mutex_);
      check_invariants_locked(shards_[i]);
    }
  }

  static std::size_t default_shard_count() noexcept {
    const std::size_t threads = std::max(1u, std::thread::hardware_concurrency());
    return std::clamp<std::size_t>(std::bit_ceil(4 * threads), 16, 1024);
  }

 private:
  // Entries in the groups (keys and values as words) or in nodes (see the design comment).
  static constexpr bool inline_entries = detail::concurrent_inline_entry<Key, T, KeyEqual>;

  // Slots per group: one cache line holds 8 tag bytes and either seven node pointers or three
  // (key, value) word pairs.
  static constexpr std::size_t group_slots = inline_entries ? 3 : 7;

  // Tag bytes. Tags 2..255 are tag_of(hash) of a live entry.
  static constexpr std::uint8_t tag_unused = 0;  // never used in this table: a probe ends
  static constexpr std::uint8_t tag_erased = 1;  // a tombstone: a probe goes on
  static constexpr std::uint8_t first_live_tag = 2;

  struct node {
    std::size_t hash;
    value_type entry;
    template <class... Args>
    explicit node(std::size_t h, Args&&... args) : hash(h), entry(std::forward<Args>(args)...) {}
  };

  //   node group:    [ tag 0..6 | pad | slot 0 .. slot 6 ]                    (8 + 56 bytes)
  //   inline group:  [ tag 0..2 | pad | key 0 .. key 2 | value 0 .. value 2 ]  (8 + 48 + 8 pad)
  struct alignas(detail::cache_line_bytes) node_group {
    std::atomic<std::uint8_t> tags[8]{};
    std::atomic<node*> slots[7]{};
  };
  struct alignas(detail::cache_line_bytes) inline_group {
    std::atomic<std::uint8_t> tags[8]{};
    std::atomic<std::uint64_t> keys[3]{};
    std::atomic<std::uint64_t> values[3]{};
  };
  using group = std::conditional_t<inline_entries, inline_group, node_group>;
  static_assert(sizeof(group) == detail::cache_line_bytes, "a group is one cache line");

  // A table's header, one cache line, followed by its groups (a power of two of them).
  struct alignas(detail::cache_line_bytes) table {
    std::size_t capacity;    // slots: groups * group_slots
    std::size_t group_mask;  // groups - 1
    explicit table(std::size_t groups) noexcept
        : capacity(groups * group_slots), group_mask(groups - 1) {}
    std::size_t group_count() const noexcept { return group_mask + 1; }
    group* groups() noexcept { return std::launder(reinterpret_cast<group*>(this + 1)); }
    const group* groups() const noexcept {
      return std::launder(reinterpret_cast<const group*>(this + 1));
    }
    // The tag at position 0..capacity-1 (for full scans).
    const std::atomic<std::uint8_t>& tag(std::size_t p) const noexcept {
      return groups()[p / group_slots].tags[p % group_slots];
    }
  };
  static_assert(sizeof(table) == detail::cache_line_bytes, "the header is one cache line");

  // The node slot at position 0..capacity-1 of a node table (for full scans). A template, so
  // that tables of inline entries, which have no node slots, never instantiate it.
  template <class Table>
  static auto& node_slot(Table* t, std::size_t p) noexcept {
    return t->groups()[p / group_slots].slots[p % group_slots];
  }

  // One slot, for writers.
  struct slot_ref {
    group* grp = nullptr;
    std::size_t lane = 0;
  };

  struct retired {
    void* object;
    std::uint64_t epoch;
    std::size_t table_groups;  // 0 for a node
  };

  using node_alloc_type = typename std::allocator_traits<Allocator>::template rebind_alloc<node>;
  using node_traits = std::allocator_traits<node_alloc_type>;
  using table_alloc_type = typename std::allocator_traits<Allocator>::template rebind_alloc<table>;
  using table_traits = std::allocator_traits<table_alloc_type>;
  using retired_allocator =
      typename std::allocator_traits<Allocator>::template rebind_alloc<retired>;

  struct shard {
    // The reader's line: only a rebuild writes it.
    alignas(detail::cache_line_bytes) std::atomic<table*> current_{nullptr};

    // The writers' line(s). Counters that memory() and size() read without the mutex are
    // atomics written (relaxed) only under it.
    alignas(detail::cache_line_bytes) mutable std::mutex mutex_;
    std::atomic<std::size_t> size_{0};
    std::size_t tombstones_ = 0;
    std::atomic<std::size_t> tombstones_count_{0};  // tombstones_, for memory()
    std::atomic<std::size_t> capacity_{0};
    std::atomic<std::size_t> retired_bytes_{0};
    std::atomic<std::size_t> retired_count_{0};
    std::atomic<std::size_t> retire_list_bytes_{0};
    std::vector<retired, retired_allocator> retired_;

    explicit shard(const retired_allocator& alloc) : retired_(alloc) {}
  };
  using shard_alloc_type = typename std::allocator_traits<Allocator>::template rebind_alloc<shard>;
  using shard_traits = std::allocator_traits<shard_alloc_type>;

  // The slot pointer of an erased node (its tag is tag_erased). Never dereferenced.
  static node* tombstone() noexcept { return reinterpret_cast<node*>(&tombstone_marker); }
  static bool is_node(const node* n) noexcept { return n != nullptr && n != tombstone(); }
  alignas(node) static inline unsigned char tombstone_marker = 0;

  // Reclaim as soon as this many retired objects wait in one shard.
  static constexpr std::size_t reclaim_batch = 32;

  // Groups for a table of `entries`: a power of two with room for 1.5x the entries.
  static std::size_t groups_for(std::size_t entries) noexcept {
    return std::bit_ceil(
        std::max<std::size_t>(1, (3 * entries + 2 * group_slots - 1) / (2 * group_slots)));
  }
  static std::size_t table_bytes(std::size_t groups) noexcept {
    return sizeof(table) + groups * sizeof(group);
  }
  // Bits 40..47 of the hash moved off 0 and 1: not the shard's top bits, and not the group
  // index's low bits unless a table had 2^40 groups.
  static std::uint8_t tag_of(std::size_t h) noexcept {
    const auto tag = static_cast<std::uint8_t>(h >> 40);
    return tag < first_live_tag ? static_cast<std::uint8_t>(tag + first_live_tag) : tag;
  }

  // Inline keys and values as words (zero-extended bits) and back.
  template <class X>
  static std::uint64_t to_word(const X& x) noexcept {
    std::uint64_t word = 0;
    std::memcpy(&word, &x, sizeof(X));
    return word;
  }
  template <class X>
  static X from_word(std::uint64_t word) noexcept {
    alignas(X) unsigned char bytes[sizeof(X)];
    std::memcpy(bytes, &word, sizeof(X));
    return *std::launder(reinterpret_cast<X*>(bytes));
  }

  template <class K>
  std::size_t hash_of(const K& key) const {
    std::size_t h = hash_(key);
    if constexpr (!detail::avalanching_hash<Hash>) h = detail::mix(h, 0x9E3779B97F4A7C15ull);
    return h;
  }
  // The top log2(shard_count_) bits of h; two shifts, so one shard needs no shift by 64.
  shard& shard_of(std::size_t h) const noexcept { return shards_[(h >> 1) >> shard_shift_]; }

  // ---- probing -------------------------------------------------------------------------

  // Precondition: the caller is pinned. Calls found(const T&) if key is present; returns
  // whether it was. The table may be replaced by a rebuild meanwhile (see the design comment).
  template <class K, class F>
  bool read(const shard& s, const K& key, std::size_t h, F&& found) const {
    const table* t = s.current_.load(std::memory_order_acquire);
    if (t == nullptr) return false;
    if constexpr (inline_entries) {
      std::uint64_t value_word = 0;
      if (!probe_inline(t, key, h, value_word)) return false;
      const T value = from_word<T>(value_word);
      std::forward<F>(found)(value);
      return true;
    } else {
      const node* n = probe_nodes(t, key, h);
      if (n == nullptr) return false;
      std::forward<F>(found)(std::as_const(n->entry.second));
      return true;
    }
  }

  // Node tables. A slot's tag is stored before its node is published (release), and a slot
  // never returns to unused within a table. Reading the tag first: tag_unused means nothing
  // was ever stored at or after this slot along the probe; a live tag over a null slot is an
  // insert not yet published (the key is not there yet); a tag that does not match may be stale
  // only if the slot was refilled during the probe (skipping it then is a valid answer).
  template <class K>
  const node* probe_nodes(const table* t, const K& key, std::size_t h) const {
    const std::uint8_t want = tag_of(h);
    for (std::size_t g = h & t->group_mask;; g = (g + 1) & t->group_mask) {
      const group& grp = t->groups()[g];
      for (std::size_t lane = 0; lane < group_slots; ++lane) {
        const std::uint8_t tag = grp.tags[lane].load(std::memory_order_acquire);
        if (tag == tag_unused) return nullptr;
        if (tag != want) continue;
        const node* n = grp.slots[lane].load(std::memory_order_acquire);
        if (n == nullptr) return nullptr;
        if (n != tombstone() && n->hash == h && equal_(n->entry.first, key)) return n;
      }
    }
  }

  // Inline tables. A slot's key is written before its tag is published (release) and never
  // changes afterwards: an erased slot is reused only by the same key, so a reader that saw a
  // live tag reads the right key. The value word is replaced whole by insert_or_assign, or by
  // the insert that revives the slot; either way it is a value the key held while the reader
  // ran (after an erase and before a revival it does not change).
  template <class K>
  bool probe_inline(const table* t, const K& key, std::size_t h, std::uint64_t& value_word) const {
    const std::uint8_t want = tag_of(h);
    const std::uint64_t key_word = to_word(static_cast<Key>(key));
    for (std::size_t g = h & t->group_mask;; g = (g + 1) & t->group_mask) {
      const group& grp = t->groups()[g];
      for (std::size_t lane = 0; lane < group_slots; ++lane) {
        const std::uint8_t tag = grp.tags[lane].load(std::memory_order_acquire);
        if (tag == tag_unused) return false;
        if (tag != want || grp.keys[lane].load(std::memory_order_relaxed) != key_word) continue;
        value_word = grp.values[lane].load(std::memory_order_acquire);
        return true;
      }
    }
  }

  struct located {
    slot_ref match;  // the slot holding key
    slot_ref free;   // where key would go: an unused slot or a reusable tombstone
  };

  // Precondition: the shard's mutex is held and t is its current table.
  template <class K>
  located locate(table* t, const K& key, std::size_t h) const {
    located result;
    const std::uint8_t want = tag_of(h);
    for (std::size_t g = h & t->group_mask;; g = (g + 1) & t->group_mask) {
      group& grp = t->groups()[g];
      for (std::size_t lane = 0; lane < group_slots; ++lane) {
        const std::uint8_t tag = grp.tags[lane].load(std::memory_order_relaxed);
        // A node tombstone may take any key; an inline one only the key it held (its key word
        // stays what readers may have read).
        const bool reusable =
            tag == tag_unused ||
            (tag == tag_erased && (!inline_entries || holds_key_locked(grp, lane, key, h)));
        if (reusable) {
          if (result.free.grp == nullptr) result.free = {&grp, lane};
          if (tag == tag_unused) return result;
        } else if (tag == want && holds_key_locked(grp, lane, key, h)) {
          result.match = {&grp, lane};
          return result;
        }
      }
    }
  }

  template <class K>
  bool holds_key_locked(const group& grp, std::size_t lane, const K& key, std::size_t h) const {
    if constexpr (inline_entries) {
      return grp.keys[lane].load(std::memory_order_relaxed) == to_word(static_cast<Key>(key));
    } else {
      const node* n = grp.slots[lane].load(std::memory_order_relaxed);
      return n->hash == h && equal_(n->entry.first, key);
    }
  }

  // ---- mutations (the shard's mutex held) ----------------------------------------------

  // Builds what a slot holds: a node, or (inline tables) the value; the key goes in the slot.
  template <class K, class... Args>
  auto make_entry(std::size_t h, K&& key, Args&&... args) {
    if constexpr (inline_entries) {
      if constexpr (std::is_constructible_v<T, Args&&...>) {
        return T(std::forward<Args>(args)...);
      } else {
        return T{std::forward<Args>(args)...};
      }
    } else {
      return make_node(h, std::piecewise_construct, std::forward_as_tuple(std::forward<K>(key)),
                       std::forward_as_tuple(std::forward<Args>(args)...));
    }
  }

  // Returns (the slot of key, whether make() was called to insert it). Strong guarantee: if
  // make, hash, equality or an allocation throws, the shard is unchanged but for a rebuild.
  template <class K, class Make>
  std::pair<slot_ref, bool> insert_locked(shard& s, const K& key, std::size_t h, Make&& make) {
    table* t = s.current_.load(std::memory_order_relaxed);
    located at;
    if (t != nullptr) {
      at = locate(t, key, h);
      if (at.match.grp != nullptr) return {at.match, false};
    }
    const std::size_t size = s.size_.load(std::memory_order_relaxed);
    if (t == nullptr || 4 * (size + s.tombstones_ + 1) > 3 * t->capacity) {
      rebuild_locked(s, groups_for(size + 1));
      t = s.current_.load(std::memory_order_relaxed);
      at = locate(t, key, h);
    }
    auto entry = make();
    group& grp = *at.free.grp;
    const std::size_t lane = at.free.lane;
    if (grp.tags[lane].load(std::memory_order_relaxed) == tag_erased) set_tombstones_locked(s, -1);
    if constexpr (inline_entries) {
      grp.keys[lane].store(to_word(static_cast<Key>(key)), std::memory_order_relaxed);
      grp.values[lane].store(to_word(entry), std::memory_order_relaxed);
      grp.tags[lane].store(tag_of(h), std::memory_order_release);
    } else {
      grp.tags[lane].store(tag_of(h), std::memory_order_relaxed);
      grp.slots[lane].store(entry, std::memory_order_release);
    }
    s.size_.store(size + 1, std::memory_order_relaxed);
    after_mutation_locked(s);
    return {at.free, true};
  }

  // Precondition: the slot holds an entry and the retire list has room for one more.
  void erase_slot_locked(shard& s, slot_ref at) noexcept {
    at.grp->tags[at.lane].store(tag_erased, std::memory_order_release);
    if constexpr (!inline_entries) {
      node* n = at.grp->slots[at.lane].load(std::memory_order_relaxed);
      at.grp->slots[at.lane].store(tombstone(), std::memory_order_release);
      retire_node_locked(s, n);
    }
    s.size_.store(s.size_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    set_tombstones_locked(s, +1);
  }

  void set_tombstones_locked(shard& s, int delta) noexcept {
    s.tombstones_ = static_cast<std::size_t>(static_cast<std::ptrdiff_t>(s.tombstones_) + delta);
    s.tombstones_count_.store(s.tombstones_, std::memory_order_relaxed);
  }

  // Rebuilds a table whose load fell below 1/4 into fewer groups, or frees the last one. A failed
  // allocation leaves the larger table in place (shrinking is never needed for correctness).
  // Precondition: when the shard is empty, the retire list has room for the table.
  void shrink_if_sparse_locked(shard& s) noexcept {
    const table* t = s.current_.load(std::memory_order_relaxed);
    const std::size_t size = s.size_.load(std::memory_order_relaxed);
    if (size == 0) {
      s.tombstones_ = 0;
      s.tombstones_count_.store(0, std::memory_order_relaxed);
      publish_locked(s, nullptr);
      return;
    }
    if (4 * size >= t->capacity || groups_for(size) >= t->group_count()) return;
    try {
      rebuild_locked(s, groups_for(size));
    } catch (...) {  // keep the larger table
    }
  }

  // Replaces the shard's table by one of `groups` groups holding the same entries (node
  // pointers or inline words; nodes are not copied); the old table is retired. Strong
  // guarantee (an allocation, or for inline entries the hash, can throw).
  void rebuild_locked(shard& s, std::size_t groups) {
    reserve_retire_locked(s, 1);
    table* fresh = allocate_table(groups);
    if (const table* old = s.current_.load(std::memory_order_relaxed)) {
      try {
        for (std::size_t g = 0; g < old->group_count(); ++g) {
          const group& grp = old->groups()[g];
          for (std::size_t lane = 0; lane < group_slots; ++lane) {
            if (grp.tags[lane].load(std::memory_order_relaxed) < first_live_tag) continue;
            unchecked_place(fresh, grp, lane);
          }
        }
      } catch (...) {
        deallocate_table(fresh);
        throw;
      }
    }
    s.tombstones_ = 0;
    s.tombstones_count_.store(0, std::memory_order_relaxed);
    publish_locked(s, fresh);
  }

  // Copies the live entry at (from, lane) into the first unused slot of its probe in t.
  // Precondition: t is not yet published, has room, and does not hold the entry's key.
  void unchecked_place(table* t, const group& from, std::size_t lane) const {
    std::size_t h = 0;
    if constexpr (inline_entries) {
      h = hash_of(from_word<Key>(from.keys[lane].load(std::memory_order_relaxed)));
    } else {
      h = from.slots[lane].load(std::memory_order_relaxed)->hash;
    }
    for (std::size_t g = h & t->group_mask;; g = (g + 1) & t->group_mask) {
      group& grp = t->groups()[g];
      for (std::size_t to = 0; to < group_slots; ++to) {
        if (grp.tags[to].load(std::memory_order_relaxed) != tag_unused) continue;
        if constexpr (inline_entries) {
          grp.keys[to].store(from.keys[lane].load(std::memory_order_relaxed),
                             std::memory_order_relaxed);
          grp.values[to].store(from.values[lane].load(std::memory_order_relaxed),
                               std::memory_order_relaxed);
        } else {
          grp.slots[to].store(from.slots[lane].load(std::memory_order_relaxed),
                              std::memory_order_relaxed);
        }
        grp.tags[to].store(tag_of(h), std::memory_order_relaxed);
        return;
      }
    }
  }

  // Makes `fresh` (possibly null) the shard's table and retires the old one. Precondition: room
  // for one retirement.
  void publish_locked(shard& s, table* fresh) noexcept {
    table* old = s.current_.load(std::memory_order_relaxed);
    s.current_.store(fresh, std::memory_order_release);
    s.capacity_.store(fresh == nullptr ? 0 : fresh->capacity, std::memory_order_relaxed);
    if (old == nullptr) return;
    retire_locked(s, {old, 0, old->group_count()}, table_bytes(old->group_count()));
  }

  // ---- retirement and reclamation ------------------------------------------------------

  void reserve_retire_locked(shard& s, std::size_t more) {
    const std::size_t before = s.retired_.capacity();
    s.retired_.reserve(s.retired_.size() + more);
    if (s.retired_.capacity() != before) {
      s.retire_list_bytes_.store(s.retired_.capacity() * sizeof(retired),
                                 std::memory_order_relaxed);
    }
  }

  void retire_node_locked(shard& s, node* n) noexcept { retire_locked(s, {n, 0, 0}, sizeof(node)); }

  // Precondition: the object is unlinked (no table reachable by a new reader points to it) and
  // the retire list has room.
  void retire_locked(shard& s, retired r, std::size_t bytes) noexcept {
    r.epoch = detail::epoch_domain::instance().global_epoch();
    TIDE_ASSERT(s.retired_.size() < s.retired_.capacity(), "retire list reserved");
    s.retired_.push_back(r);
    s.retired_bytes_.fetch_add(bytes, std::memory_order_relaxed);
    s.retired_count_.fetch_add(1, std::memory_order_relaxed);
  }

  // After every mutation: reclaim once a batch has piled up; check invariants if asked to.
  void after_mutation_locked(shard& s) noexcept {
    if (s.retired_.size() >= reclaim_batch) {
      free_reclaimable_locked(s, detail::epoch_domain::instance().try_advance());
    }
    if constexpr (detail::invariant_checks) check_invariants_locked(s);
  }

  void free_reclaimable_locked(shard& s, std::uint64_t global_epoch) noexcept {
    std::size_t freed = 0;
    std::size_t bytes = 0;
    while (freed < s.retired_.size() &&
           detail::reclaimable(s.retired_[freed].epoch, global_epoch)) {
      const retired& r = s.retired_[freed];
      bytes += r.table_groups == 0 ? sizeof(node) : table_bytes(r.table_groups);
      free_retired(r);
      ++freed;
    }
    if (freed == 0) return;
    s.retired_.erase(s.retired_.begin(), s.retired_.begin() + static_cast<std::ptrdiff_t>(freed));
    if (s.retired_.empty()) {  // give the list's storage back too
      std::vector<retired, retired_allocator>(s.retired_.get_allocator()).swap(s.retired_);
      s.retire_list_bytes_.store(0, std::memory_order_relaxed);
    }
    s.retired_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
    s.retired_count_.fetch_sub(freed, std::memory_order_relaxed);
  }

  void free_retired(const retired& r) noexcept {
    if (r.table_groups == 0) {
      destroy_node(static_cast<node*>(r.object));
    } else {
      deallocate_table(static_cast<table*>(r.object));
    }
  }

  // ---- allocation ----------------------------------------------------------------------

  template <class... Args>
  node* make_node(std::size_t h, Args&&... args) {
    node* n = node_traits::allocate(node_alloc_, 1);
    try {
      node_traits::construct(node_alloc_, n, h, std::forward<Args>(args)...);
    } catch (...) {
      node_traits::deallocate(node_alloc_, n, 1);
      throw;
    }
    return n;
  }

  void destroy_node(node* n) noexcept {
    node_traits::destroy(node_alloc_, n);
    node_traits::deallocate(node_alloc_, n, 1);
  }

  table* allocate_table(std::size_t groups) {
    TIDE_ASSERT(std::has_single_bit(groups), "a table has a power of two of groups");
    table* t = table_traits::allocate(table_alloc_, 1 + groups);
    ::new (static_cast<void*>(t)) table(groups);
    for (std::size_t g = 0; g < groups; ++g) ::new (static_cast<void*>(t->groups() + g)) group;
    return t;
  }

  void deallocate_table(table* t) noexcept {
    const std::size_t units = 1 + t->group_count();
    t->~table();
    table_traits::deallocate(table_alloc_, t, units);
  }

  // ---- invariants ----------------------------------------------------------------------

  void check_invariants_locked(const shard& s) const {
    const table* t = s.current_.load(std::memory_order_relaxed);
    const std::size_t size = s.size_.load(std::memory_order_relaxed);
    if (t == nullptr) {
      TIDE_CHECK(size == 0 && s.tombstones_ == 0, "a shard without a table has no entries");
      return;
    }
    TIDE_CHECK(4 * (size + s.tombstones_) <= 3 * t->capacity, "size + tombstones <= max_load");
    std::size_t live = 0;
    std::size_t tombstones = 0;
    for (std::size_t p = 0; p < t->capacity; ++p) {
      const group& grp = t->groups()[p / group_slots];
      const std::size_t lane = p % group_slots;
      const std::uint8_t tag = grp.tags[lane].load(std::memory_order_relaxed);
      std::size_t h = 0;
      if constexpr (inline_entries) {
        if (tag == tag_erased) ++tombstones;
        if (tag < first_live_tag) continue;
        ++live;
        // Placement needs the key's hash; a hasher that may throw is not called here (the
        // check runs after mutations that have already succeeded).
        if constexpr (!noexcept(std::declval<const Hash&>()(std::declval<const Key&>()))) continue;
        h = hash_of(from_word<Key>(grp.keys[lane].load(std::memory_order_relaxed)));
      } else {
        const node* n = grp.slots[lane].load(std::memory_order_relaxed);
        TIDE_CHECK((tag == tag_unused) == (n == nullptr), "a slot is unused iff its tag says so");
        TIDE_CHECK((tag == tag_erased) == (n == tombstone()), "a tombstone's tag says erased");
        if (tag == tag_erased) ++tombstones;
        if (!is_node(n)) continue;
        ++live;
        h = n->hash;
      }
      TIDE_CHECK(&shard_of(h) == &s, "an entry sits in the shard of its hash");
      TIDE_CHECK(tag == tag_of(h), "an entry's slot holds its tag");
      // Every slot from the first of the entry's start group up to the entry has been used.
      for (std::size_t q = (h & t->group_mask) * group_slots; q != p; q = (q + 1) % t->capacity) {
        TIDE_CHECK(t->tag(q).load(std::memory_order_relaxed) != tag_unused,
                   "no unused slot between an entry's start group and the entry");
      }
    }
    TIDE_CHECK(live == size, "size == live slots");
    TIDE_CHECK(tombstones == s.tombstones_, "tombstones == erased slots");
    for (std::size_t i = 1; i < s.retired_.size(); ++i) {
      TIDE_CHECK(s.retired_[i - 1].epoch <= s.retired_[i].epoch, "retire epochs non-decreasing");
    }
  }

  [[no_unique_address]] Hash hash_;
  [[no_unique_address]] KeyEqual equal_;
  [[no_unique_address]] mutable node_alloc_type node_alloc_;
  [[no_unique_address]] table_alloc_type table_alloc_;
  [[no_unique_address]] shard_alloc_type shard_alloc_;
  std::size_t shard_count_;
  unsigned shard_shift_;
  shard* shards_ = nullptr;
};

}  // namespace tide
