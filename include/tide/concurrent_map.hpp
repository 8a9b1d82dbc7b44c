// tide::concurrent_map — a hash map for many threads: lock-free reads, writers that never block
// readers, and memory that shrinks after erases. See docs/concurrent_map.md.
//
// Vocabulary:
//   shard       one of a fixed number of independent parts, chosen by the top bits of the
//               hash; it has a writer mutex, a directory and a retire list
//   directory   one shard's array of 2^global_depth entries, indexed by the hash bits just
//               below the shard's; each entry names a table, several entries may name one.
//               Replaced whole (a new allocation) only when it doubles or halves; otherwise a
//               writer updates its entries in place, one atomic word each. The shard names it
//               with one word: its address (cache-line aligned) | its index shift
//   entry       one directory word: the table's address | log2(its groups), so a reader has the
//               table and its group mask from one load
//   table       an open-addressing array of groups (a power of two of them, at most
//               max_groups) behind a one-line header; it holds exactly the keys whose
//               local_depth directory bits are its run's. Probed slot by slot from the first
//               slot of group hash & (groups - 1), wrapping at the end. Never changed after
//               its successor is named: growing, shrinking, shedding tombstones, splitting and
//               merging build new tables (a rebuild)
//   run         the 2^(global_depth - local_depth) consecutive, aligned entries that name one
//               table; its buddy is the table of the run next to it that differs in bit
//               local_depth
//   layout      where entries live, chosen by type: *inline* when the key is an integer, enum
//               or pointer compared with std::equal_to and the value is trivially copyable,
//               each at most 8 bytes (the entry's words sit in the table); *node* otherwise
//   group       its tags word (8 bytes, one atomic word) and 7 slots: one cache line of node
//               pointers, or (inline layout) the tags word alone, its version and its 7 key/
//               value pairs kept in the table's version and lane arrays, apart from the tags
//   slot        node layout: an atomic node pointer (null, a node, or the tombstone marker);
//               inline layout: an atomic key word and an atomic value word
//   tag         one byte per slot: tag_unused (0) while the slot was never used in this
//               table, tag_erased (1) for a tombstone, else tag_of(hash) of the live entry; a
//               probe looks at a key (or node) only when the tag matches, so a miss touches no
//               node
//   overflow    the top byte of a group's tags word: bit overflow_bit_of(hash) is set when an
//               entry of that bit was placed past the group because it was full (every lane
//               live). A probe ends at the first group whose bit for its hash is clear, so a
//               miss usually reads one group (a full group alone does not end it, as "an
//               unused lane" did). Set before the entry's tag is published, cleared only by
//               building a new table
//   node        one heap-allocated entry: its hash and a std::pair<const Key, T>; never
//               changed after it is published: insert_or_assign publishes a new node in the
//               same slot and retires the old one
//   retire      unlink a node, a table or a directory and hand it to the shard's retire list;
//               it is freed once no reader can still hold it (epoch-based reclamation,
//               detail/epoch.hpp)
//
// Hash bits (64):
//
//   [ shard: log2(shards) | directory: global_depth | ... | 31..24: tag | 23..21: overflow
//     bit | ... | group index ]
//
//   The shard and the directory take the top bits, at most max_directory_bits of them
//   together; the tag is bits 24..31; bits 21..23 choose the key's bit in a group's overflow
//   byte; the probe starts at the group of the low bits (at most 8 of them in a table of
//   max_groups). No two of them share a bit (but in a table grown past 2^21 groups, where the
//   overflow bit's hash bits are also the group's).
//
// Layout:
//
//   shards_ ──> [ shard 0 | shard 1 | ... | shard S-1 ]          S = shard_count(), fixed
//                  │ reader line: directory_ = directory* | (63 - global_depth)  (written when
//                  │              the directory is replaced)
//                  │ writer line: mutex, counts, stats, retire list, memory counters
//                  v
//               directory: [ 63 - global_depth | entry 0 | entry 1 | ... | entry 2^depth - 1 ]
//                                                  │ table* | log2(groups)
//                                                  v
//               node table: [ header: group_mask, used, tombstones, local_depth | group 0 | ... ]
//
//               node group (64 bytes):   [ tag 0..6 | overflow | slot 0 .. slot 6 ]  tags: one word
//                                                              │
//                                                              v
//                                                 node: { hash, pair<const Key, T> }
//
//               inline table: [ header | tags 0 | ... | tags G-1 | version 0 | ... | version G-1 |
//                               lanes of group 0: key 0, value 0 | ... | key 6, value 6 | ... ]
//               (8 + 8 + 112 bytes per group: a miss reads tags words only)
//
// Readers (visit, find, contains, visit_all, the first look of load_or_store) pin the thread's
// epoch record (its own cache line), load the shard's directory word (the directory's address
// and the shift that takes an entry index out of the hash), the entry of the hash and probe the
// table it names: two dependent loads before the first group (with the shift read from the
// directory's word 0 it was three, and single-threaded reads were 1-2% slower). A probe reads
// each group's tags with one atomic load and matches them with SWAR (detail/group.hpp, shared
// with tide::map's portable group), then looks only at the matching lanes. They take no lock,
// write no shared cache line and never wait for a writer.
// Writers lock one shard. A node reader reads the immutable node in place; an inline reader
// copies the value word: an inline slot's key and value are written before its tag is
// published, the value is replaced whole by one atomic store, and an erased slot that a key
// takes is rewritten inside its group's seqlock (version), which a reader that found its key
// checks, so it never pairs one key with another's value.
// A rebuild builds its new table(s) from the old ones' entries (node pointers or words; nodes
// stay where they are), names them in the directory (entry stores, release; or a new directory
// published with one release store) and only then retires what they replace. A reader still
// probing an old table needs no retry: a writer stops changing a table when it builds its
// successor, and between that moment and the last store that names the successor the shard
// changes in nothing else, so an old table holds the shard's state as of a moment no earlier
// than the reader's load of the directory pointer (every table a reader reaches was named by the
// directory it loaded, while or after that directory was current) and no later than its probe:
// inside the reader's call (linearizable). A reader on a directory that has been replaced reads
// frozen entries (writers change only the current directory) that name tables retired no
// earlier than the directory itself, so the epoch that keeps the directory keeps them.
//
// Invariants, per shard, under its mutex (check_invariants_locked):
//   directory_ == nullptr => the shard has no entry (and no table); erasing its last entry frees
//     every table and the directory (a reserve()d shard may hold empty tables)
//   directory_'s low bits equal its directory's word 0 (63 - global_depth)
//   every table's run is aligned, 2^(global_depth - local_depth) entries long, and all of them
//     name it; local_depth <= global_depth; shard bits + global_depth <= max_directory_bits
//   every key in a table has its run's directory bits and belongs to this shard
//   per table: used == live slots; tombstones == erased slots; used + tombstones <= 3/4
//     capacity (max load), so every probe meets an unused slot
//   size_, tombstones_, tables_, capacity_, table_bytes_, tables_at_global_depth_ are the sums
//     over the tables; directory_bytes_ is the directory's size
//   node layout: a slot's tag is tag_unused iff the slot is null, tag_erased iff it holds the
//     tombstone marker
//   a live slot's tag is tag_of(its entry's hash)
//   a key occupies at most one live slot of a table; every live entry sits in its probe run:
//     no unused slot between the first slot of its start group and itself, and every group
//     from its start group up to (not including) its own has the entry's overflow bit set
//   a group's used lanes (tag != tag_unused) are a prefix of its lanes; a group with an
//     overflow bit set has no unused lane
//   the retire list's epochs are non-decreasing (they are read under the mutex)
//
// Thresholds, per table: a table grows at 3/4 full, counting tombstones; it is rebuilt with room
// for 1.5x its entries (load 1/3..2/3 afterwards, rounded to a power of two of groups). A linear
// probe's expected length grows as 1/(1 - load)^2, but a probe reads whole groups (one cache line
// each) and a smaller table misses the cache less: measured on 100,000 u64 entries, a maximum
// load of 3/4 found 1.1x the time of std::shared_mutex + absl::flat_hash_map per lookup, 1/2 (a
// table twice as large) 1.5x. A table that must grow past max_groups splits instead into two
// tables by its next directory bit, each with room for 1.5x its half (doubling the directory
// first when the table is as deep as it). A table below 1/4 full after an erase merges with its
// buddy when both are as deep and their entries fit in one table of at most max_groups (at
// a load of at most 2/3), else is rebuilt smaller if that gives fewer groups; the directory
// halves when no table is as deep as it. Every rebuild, split half and merge lands a table
// between 1/3 and 2/3 full of its own size (room for 1.5x its entries, rounded up to a power of
// two of groups; a one-group table may hold less), at least 1/12 of its slots away from both the
// grow point (3/4) and the shrink point (1/4), so insert/erase churn at either does not rebuild
// back and forth.
//
// max_groups = 16 KiB / group_bytes, 256 node groups or 128 inline ones: a largest table is
// 16 KiB of groups (with an inline table's versions and lanes) and a one-line header, so a
// split moves at most the entries of a table
// at its grow point, 3/4 of 1,792 slots (1,344 node pointers or 672 inline entries);
// tide::map's largest table is 32 KiB, and this one stays inside tide::heap's 32 KiB size
// class with its header, where twice the groups would not. The directory has about
// n / (shards * entries per table) entries: 10M inline entries over 16 shards made 16,508
// tables and directories of 2,048 entries (16 KiB) per shard, one entry per 305 map entries.
// Doubling copies the directory once per doubling of the shard, well under 1/100 of a word per
// insert amortized, and the copy (16 KiB there) is no larger than the table a split moves; so
// the directory is copied, not avoided.
//
// Costs and limits, honestly: an insert or erase moves at most one table's entries (a rebuild,
// a split, or a merge of two tables whose entries fit in one) plus, rarely, a copy of the
// directory: O(max_groups * group_slots + n / (shards * entries per table)), not O(n / shards).
// A table whose keys the next directory bit does not separate (equal hashes) grows past
// max_groups instead of splitting, as in tide::map. Readers never wait for any of it. Hash,
// equality, Key and T constructors may run concurrently with readers of other entries and must
// be thread-safe as const operations; the allocator is used by writers of different shards at
// once, so it must be thread-safe (std::allocator and tide::heap_allocator are).
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
#include "tide/detail/group.hpp"
#include "tide/hash.hpp"
#include "tide/map_memory.hpp"

namespace tide {

// A snapshot of what a concurrent_map holds (memory()). Each figure is read without locks, so
// while writers run the figures are each recent but not one consistent state.
struct concurrent_map_memory {
  std::size_t bytes = 0;            // everything below
  std::size_t shard_bytes = 0;      // the shard array (fixed) and the retire lists' storage
  std::size_t directory_bytes = 0;  // current directories
  std::size_t table_bytes = 0;      // current tables
  std::size_t node_bytes = 0;       // live entries' nodes
  std::size_t retired_bytes = 0;    // nodes, tables and directories replaced, waiting for readers
  std::size_t retired_objects = 0;  // how many of them
  std::size_t shards = 0;
  std::size_t tables = 0;    // current tables, over all shards
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
  // 1024), so two writers rarely meet on one mutex.
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
        directory_alloc_(alloc),
        shard_alloc_(alloc),
        shard_count_(shard_count),
        shard_bits_(static_cast<unsigned>(std::countr_zero(shard_count))),
        shard_shift_(63 - shard_bits_) {
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
      if (dir_word* d = s.directory_.load(std::memory_order_relaxed)) {
        for_each_table(d, [&](table* t, std::size_t) {
          if constexpr (!inline_entries) {
            for_each_live(t, [&](const slot_ref& at) {
              destroy_node(at.grp->slots[at.lane].load(std::memory_order_relaxed));
            });
          }
          deallocate_table(t);
        });
        deallocate_directory(d);
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
  // Each shard is read through the directory current when its turn came, entry by entry in
  // order; each range of entries is read from the table that one entry names when the walk
  // reaches it (a table replaced meanwhile by a rebuild, split or merge is read as it was at
  // its replacement). A range is read once: when a merge has replaced tables the walk already
  // read, the merged table is read only for the keys of the entries not yet walked, so splits
  // and merges running concurrently neither hide an entry nor show one twice. Lock-free; f may
  // call writers (a write to a shard not yet visited is seen or not).
  template <class F>
  void visit_all(F&& f) const {
    for (std::size_t i = 0; i < shard_count_; ++i) {
      detail::epoch_guard guard;
      const dir_word* d = shards_[i].directory_.load(std::memory_order_acquire);
      if (d == nullptr) continue;
      const std::size_t depth = global_depth(d);
      for (std::size_t at = 0; at < (std::size_t{1} << depth);) {
        const std::uintptr_t e = d[1 + at].load(std::memory_order_acquire);
        const table* t = table_of(e);
        // The run of t; its local depth was written before t was first named.
        const std::size_t len = std::size_t{1} << (depth - t->local_depth);
        const std::size_t start = at & ~(len - 1);
        visit_table(d, t, group_mask_of(e) + 1, start == at ? 0 : at, f);
        at = start + len;
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
    if constexpr (!inline_entries) reserve_retire_locked(s, 1);  // for a replaced node
    // One probe: insert_locked finds the key or where it goes; make runs only to insert.
    const auto [at, inserted] = insert_locked(
        s, key, h, [&] { return make_entry(h, std::forward<K>(key), std::forward<V>(value)); });
    if (inserted) return true;
    if constexpr (inline_entries) {
      lane_of(at).value.store(to_word(make_entry(h, key, std::forward<V>(value))),
                              std::memory_order_release);
    } else {
      node* fresh = make_entry(h, std::forward<K>(key), std::forward<V>(value));
      node* old = at.grp->slots[at.lane].load(std::memory_order_relaxed);
      at.grp->slots[at.lane].store(fresh, std::memory_order_release);
      retire_node_locked(s, old);
    }
    after_mutation_locked(s);
    return false;
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
    return {value_locked(at), !inserted};
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
    table* t = table_for_locked(s, h);
    if (t == nullptr) return 0;
    const slot_ref at = locate(t, key, h).match;
    if (at.grp == nullptr) return 0;
    if (!f(value_locked(at))) return 0;
    reserve_erase_locked(s);
    erase_slot_locked(s, at);
    shrink_if_sparse_locked(s, h);
    after_mutation_locked(s);
    return 1;
  }

  // Erases every entry for which pred(const Key&, const T&) is true, one shard at a time under
  // its mutex, then compacts the shard's sparse tables (merges and rebuilds, as many as it
  // needs: a bulk operation is not bounded to one table); returns how many. Entries inserted
  // into a shard already passed are not seen. If pred throws, the entries erased so far stay
  // erased (the map stays valid).
  template <class Pred>
  size_type erase_if(Pred pred) {
    size_type erased = 0;
    for (std::size_t i = 0; i < shard_count_; ++i) {
      shard& s = shards_[i];
      std::lock_guard lock(s.mutex_);
      dir_word* d = s.directory_.load(std::memory_order_relaxed);
      if (d == nullptr) continue;
      reserve_retire_locked(s, s.size_.load(std::memory_order_relaxed) +
                                   s.tables_.load(std::memory_order_relaxed) + 1);
      try {
        for_each_table(d, [&](table* t, std::size_t) {
          for_each_live(t, [&](const slot_ref& at) {
            bool matches = false;
            if constexpr (inline_entries) {
              const inline_lane& l = lane_of(at);
              matches = pred(from_word<Key>(l.key.load(std::memory_order_relaxed)),
                             from_word<T>(l.value.load(std::memory_order_relaxed)));
            } else {
              const node* n = at.grp->slots[at.lane].load(std::memory_order_relaxed);
              matches = pred(n->entry.first, std::as_const(n->entry.second));
            }
            if (!matches) return;
            erase_slot_locked(s, at);
            ++erased;
          });
        });
      } catch (...) {
        compact_all_locked(s);
        after_mutation_locked(s);
        throw;
      }
      compact_all_locked(s);
      after_mutation_locked(s);
    }
    return erased;
  }

  // Erases everything, shard by shard (not atomically: a reader may see some shards cleared
  // and others not). Tables, directories and nodes are retired.
  void clear() {
    for (std::size_t i = 0; i < shard_count_; ++i) {
      shard& s = shards_[i];
      std::lock_guard lock(s.mutex_);
      if (s.directory_.load(std::memory_order_relaxed) == nullptr) continue;
      reserve_retire_locked(s, s.size_.load(std::memory_order_relaxed) +
                                   s.tables_.load(std::memory_order_relaxed) + 1);
      free_all_locked(s);
      after_mutation_locked(s);
    }
  }

  // Makes room for n entries spread evenly over the shards (each shard gets room for n /
  // shards plus half again, for uneven hashing), so inserting them rebuilds and splits no
  // table: each shard's tables are split to the directory depth that spreads its share over
  // tables of at most max_groups, and rebuilt to the size their part needs. Erases may shrink
  // and merge the tables again.
  void reserve(size_type n) {
    const std::size_t per_shard = n / shard_count_ + n / shard_count_ / 2 + 1;
    std::size_t depth = 0;
    while (groups_for((per_shard >> depth) + 1) > max_groups &&
           shard_bits_ + depth < max_directory_bits) {
      ++depth;
    }
    const std::size_t groups = groups_for((per_shard >> depth) + 1);
    for (std::size_t i = 0; i < shard_count_; ++i) {
      shard& s = shards_[i];
      std::lock_guard lock(s.mutex_);
      if (s.directory_.load(std::memory_order_relaxed) == nullptr) {
        create_directory_locked(s, depth, groups);
      } else {
        reserve_tables_locked(s, depth, groups);
      }
      after_mutation_locked(s);
    }
  }

  // Frees every retired node, table and directory that no reader can hold any more, advancing the
  // global epoch if the pinned threads allow it. Writers do this by themselves every few
  // retirements; call it to bring memory().retired_bytes down when the map has gone quiet.
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
      m.size += size;
      m.capacity += s.capacity_.load(std::memory_order_relaxed);
      m.tables += s.tables_.load(std::memory_order_relaxed);
      m.tombstones += s.tombstones_count_.load(std::memory_order_relaxed);
      m.node_bytes += inline_entries ? 0 : size * sizeof(node);
      m.table_bytes += s.table_bytes_.load(std::memory_order_relaxed);
      m.directory_bytes += s.directory_bytes_.load(std::memory_order_relaxed);
      m.retired_bytes += s.retired_bytes_.load(std::memory_order_relaxed);
      m.retired_objects += s.retired_count_.load(std::memory_order_relaxed);
      m.shard_bytes += s.retire_list_bytes_.load(std::memory_order_relaxed);
    }
    m.bytes = m.shard_bytes + m.directory_bytes + m.table_bytes + m.node_bytes + m.retired_bytes;
    return m;
  }

  // The structural work the shards have done (rebuilds, splits, merges, directory doublings and
  // halvings, entries moved by them, and the most one operation moved), summed over the shards,
  // each read under its mutex. Counted only on those paths, never on a lookup or on an insert
  // that finds room.
  map_stats stats() const {
    map_stats total;
    for (std::size_t i = 0; i < shard_count_; ++i) {
      std::lock_guard lock(shards_[i].mutex_);
      const map_stats& s = shards_[i].stats_;
      total.rebuilds += s.rebuilds;
      total.splits += s.splits;
      total.merges += s.merges;
      total.directory_doublings += s.directory_doublings;
      total.directory_halvings += s.directory_halvings;
      total.slots_moved += s.slots_moved;
      total.max_slots_moved = std::max(total.max_slots_moved, s.max_slots_moved);
    }
    return total;
  }

  std::size_t shard_count() const noexcept { return shard_count_; }
  hasher hash_function() const { return hash_; }
  key_equal key_eq() const { return equal_; }
  allocator_type get_allocator() const { return allocator_type(node_alloc_); }

  // Recomputes each shard's directory runs, counts and probe runs under its mutex; aborts naming
  // the broken invariant. O(capacity + directory entries). Runs after every mutation in the
  // invariant-check build.
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
  friend struct detail::test_peer;

  // Entries in the groups (keys and values as words) or in nodes (see the design comment).
  static constexpr bool inline_entries = detail::concurrent_inline_entry<Key, T, KeyEqual>;

  // Slots per group: seven, the lanes of a tags word. A node group is one cache line (8 tag
  // bytes and seven node pointers), an inline group two (16 bytes of tags and version, then
  // seven (key, value) word pairs).
  static constexpr std::size_t group_slots = 7;

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

  //   node group:    [ tags | slot 0 .. slot 6 ]                    (8 + 56 bytes, one line)
  //   inline group:  [ tags ], its version and its lanes elsewhere  (8 + 8 + 112 bytes)
  //
  //   An inline table keeps its groups' tags words together, then their versions, then their
  //   lanes (versions_after, lanes_after): a miss reads one 8-byte tags word of an array that is
  //   1/16 of the table, which stays in the cache where whole groups did not; a hit reads the
  //   tags, the version and the lane, whose line the probe prefetches as it loads the tags.
  //   Measured single-threaded on u64 keys (half the reads miss), against 128-byte groups that
  //   held the tags, the version and the seven pairs together: 0.60-0.77x the time per
  //   operation at 100,000 keys; 0.96-1.17x at 1M, where the tags no longer stay in the cache
  //   and a hit reads three lines for one (docs/PERFORMANCE.md).
  //
  //   tags: one atomic 64-bit word, byte i the tag of lane i (little-endian), the top byte the
  //   overflow bits:
  //                     bits 63..56 | 55..48 | ... | 15..8 | 7..0
  //                     [ overflow  | tag 6  | ... | tag 1 | tag 0 ]
  //   Readers load it whole (one acquire load) and match it with SWAR (detail/group.hpp),
  //   keeping only the lanes' bytes; writers change one byte or bit by storing the whole word
  //   (set_tag, set_overflow): only the shard's writer, under its mutex, or the builder of a
  //   table not yet named, writes a table's tags.
  struct alignas(detail::cache_line_bytes) node_group {
    std::atomic<std::uint64_t> tags{0};
    std::atomic<node*> slots[group_slots]{};
  };
  //   version: a sequence count per inline group, odd while the writer gives an erased lane to
  //   a key (rekey_begin/rekey_end). A reader that found a key checks it did not change
  //   meanwhile (read_is_stable), so it never pairs one key with another key's value.
  struct inline_group {
    std::atomic<std::uint64_t> tags{0};
  };
  using version_word = std::atomic<std::uint64_t>;
  struct inline_lane {
    std::atomic<std::uint64_t> key{0};
    std::atomic<std::uint64_t> value{0};
  };
  using group = std::conditional_t<inline_entries, inline_group, node_group>;
  // Bytes per group in a table: the group and, in an inline table, its version and seven lanes.
  static constexpr std::size_t group_bytes =
      sizeof(group) +
      (inline_entries ? sizeof(version_word) + group_slots * sizeof(inline_lane) : 0);
  static_assert(sizeof(node_group) == detail::cache_line_bytes, "a node group is one line");
  static_assert(sizeof(inline_group) == 8 && sizeof(version_word) == 8 && sizeof(inline_lane) == 16,
                "an inline group's tags, version and lanes take 8 + 8 + 7 x 16 bytes");
  // The byte of the last lane in a tags word: unused lanes are a suffix of the group (writers
  // fill a group's lanes in order), so the group has an unused lane iff its last lane is.
  static constexpr std::uint64_t last_lane_byte = std::uint64_t{0xFF} << (8 * (group_slots - 1));
  static_assert(group_slots == 7, "a tags word is the lanes' 7 bytes and the overflow byte");
  // A group's overflow bit for hash h (hash bits 21..23), in its tags word's top byte.
  static std::uint64_t overflow_bit_of(std::size_t h) noexcept {
    return std::uint64_t{1} << (56 + ((h >> 21) & 7));
  }
  // The high bit of each lane's byte (not the overflow byte's), every bit of the lanes'
  // bytes, and the lane of the lowest bit set in a mask of such high bits (detail::zero_bytes,
  // detail::maybe_equal_bytes).
  static constexpr std::uint64_t lane_high_bits = detail::swar_msb >> (8 * (8 - group_slots));
  static constexpr std::uint64_t lane_bytes = (lane_high_bits >> 7) * 0xFF;
  static std::size_t lowest_lane(std::uint64_t high_bits) noexcept {
    return static_cast<std::size_t>(std::countr_zero(high_bits)) / 8;
  }

  // A seqlock around the rewrite of an inline lane's key (its value and tag go with it), with
  // no fences: the writer stores the key and value words with release after making the
  // version odd, and readers load them with acquire before they load the version again. A
  // reader that read any word of a rekey therefore sees the odd (or a later) version.
  // Precondition: the caller is the table's only writer.
  static void rekey_begin(version_word& version) noexcept {
    version.store(version.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  static void rekey_end(version_word& version) noexcept {
    version.store(version.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }
  // A reader's check after its acquire loads of a group's lanes: true if no rekey overlapped
  // them, given `before`, the version it loaded (acquire) before the lanes.
  static bool read_is_stable(const version_word& version, std::uint64_t before) noexcept {
    return (before & 1) == 0 && version.load(std::memory_order_relaxed) == before;
  }

  // A lane's tag, for writers (relaxed: they hold the mutex or own the unnamed table).
  static std::uint8_t tag_at(const group& grp, std::size_t lane) noexcept {
    return static_cast<std::uint8_t>(grp.tags.load(std::memory_order_relaxed) >> (8 * lane));
  }
  // Sets a lane's tag with one store of the whole word (`order`: release when it publishes).
  // Precondition: the caller is the table's only writer.
  static void set_tag(group& grp, std::size_t lane, std::uint8_t tag,
                      std::memory_order order) noexcept {
    const unsigned shift = static_cast<unsigned>(8 * lane);
    const std::uint64_t word = grp.tags.load(std::memory_order_relaxed);
    grp.tags.store((word & ~(std::uint64_t{0xFF} << shift)) | (std::uint64_t{tag} << shift), order);
  }
  // Sets the overflow bit of hash h in a group that h's entry is being placed past (relaxed:
  // the entry's tag, published later with release, carries it to readers).
  // Precondition: the caller is the table's only writer.
  static void set_overflow(group& grp, std::size_t h) noexcept {
    const std::uint64_t word = grp.tags.load(std::memory_order_relaxed);
    if ((word & overflow_bit_of(h)) == 0) {
      grp.tags.store(word | overflow_bit_of(h), std::memory_order_relaxed);
    }
  }

  // A table's header, one cache line, followed by its groups (a power of two of them) and, in an
  // inline table, the groups' versions and lanes (versions_after, lanes_after). Only writers
  // read the header, but for local_depth, which visit_all reads: it is set before the table is
  // first named and never changes.
  struct alignas(detail::cache_line_bytes) table {
    std::size_t group_mask;        // groups - 1
    std::uint32_t used = 0;        // live slots
    std::uint32_t tombstones = 0;  // erased slots
    std::size_t local_depth;       // directory bits shared by every key of the table
    table(std::size_t groups, std::size_t depth) noexcept
        : group_mask(groups - 1), local_depth(depth) {}
    std::size_t group_count() const noexcept { return group_mask + 1; }
    std::size_t capacity() const noexcept { return group_count() * group_slots; }
    group* groups() noexcept { return std::launder(reinterpret_cast<group*>(this + 1)); }
    const group* groups() const noexcept {
      return std::launder(reinterpret_cast<const group*>(this + 1));
    }
    // Inline tables: group g's lanes are lanes()[7g .. 7g + 6].
    auto* versions() noexcept { return versions_after(groups(), group_count()); }
    auto* versions() const noexcept { return versions_after(groups(), group_count()); }
    auto* lanes() noexcept { return lanes_after(groups(), group_count()); }
    auto* lanes() const noexcept { return lanes_after(groups(), group_count()); }
    // The tag at position 0..capacity-1 (for full scans by writers).
    std::uint8_t tag(std::size_t p) const noexcept {
      return tag_at(groups()[p / group_slots], p % group_slots);
    }
  };
  static_assert(sizeof(table) == detail::cache_line_bytes, "the header is one line");
  static_assert(group_bytes % sizeof(table) == 0, "a table is a whole number of lines");

  // An inline table after its header: the groups' tags words, then their versions, then their
  // lanes, so a probe that misses reads only tags words (8 bytes per 7 slots, which stay in the
  // cache better than 128-byte groups: docs/PERFORMANCE.md):
  //
  //   [ header | tags 0 .. tags G-1 | version 0 .. version G-1 | lanes 0..6 of group 0 | ... ]
  //
  // Given the groups and their count, as readers have them from a directory entry (they never
  // read the header); const if the groups are.
  template <class Group>
  static auto* versions_after(Group* groups, std::size_t count) noexcept {
    using word = std::conditional_t<std::is_const_v<Group>, const version_word, version_word>;
    return std::launder(reinterpret_cast<word*>(groups + count));
  }
  template <class Group>
  static auto* lanes_after(Group* groups, std::size_t count) noexcept {
    using lane = std::conditional_t<std::is_const_v<Group>, const inline_lane, inline_lane>;
    return std::launder(reinterpret_cast<lane*>(versions_after(groups, count) + count));
  }

  // Groups of the largest table (see the design comment): 16 KiB of groups and lanes.
  static constexpr std::size_t max_groups = 16384 / group_bytes;
  static constexpr std::size_t max_table_slots = max_groups * group_slots;
  // Hash bits the shard index and the directory take together, from the top: they stay above
  // the tag's bits 24..31 (a shard's tables stop splitting at 2^(32 - shard bits) of them,
  // hundreds of millions of entries per shard, and grow instead).
  static constexpr std::size_t max_directory_bits = 32;

  // A directory: word 0 is 63 - global_depth (the shift that takes an entry index out of the
  // hash), words 1..2^global_depth are the entries. Immutable but for entry stores while it is
  // its shard's current directory. Allocated in whole cache lines, so its address has 6 low bits
  // free for the shift (directory_pointer).
  using dir_word = std::atomic<std::uintptr_t>;
  struct alignas(detail::cache_line_bytes) directory_line {
    unsigned char bytes[detail::cache_line_bytes];
  };
  static constexpr std::size_t words_per_line = sizeof(directory_line) / sizeof(dir_word);
  static constexpr std::uintptr_t shift_bits = alignof(directory_line) - 1;
  static_assert(shift_bits >= 63, "the index shift (at most 63) fits in the address's low bits");

  // A shard's current directory (or null) as one atomic word, the address | its word 0, so that
  // a reader gets the directory and its index shift from one load (load_word, then
  // directory_of and entry_index).
  class directory_pointer {
   public:
    static dir_word* directory_of(std::uintptr_t word) noexcept {
      return reinterpret_cast<dir_word*>(word & ~shift_bits);
    }
    dir_word* load(std::memory_order order) const noexcept {
      return directory_of(word_.load(order));
    }
    std::uintptr_t load_word(std::memory_order order) const noexcept { return word_.load(order); }
    void store(dir_word* d, std::memory_order order) noexcept {
      word_.store(d == nullptr ? 0
                               : reinterpret_cast<std::uintptr_t>(d) |
                                     d[0].load(std::memory_order_relaxed),
                  order);
    }

   private:
    std::atomic<std::uintptr_t> word_{0};
  };
  // An entry: table address | log2(groups); tables are cache-line aligned, so 6 bits are free.
  static constexpr std::uintptr_t entry_low_bits = alignof(table) - 1;
  static_assert(alignof(table) >= 64,
                "an entry keeps log2(groups) in the table address's low bits");

  // One slot, for writers.
  struct slot_ref {
    table* tbl = nullptr;
    group* grp = nullptr;
    std::size_t lane = 0;
  };
  // Inline tables, for writers: the key and value words of a slot, and its group's version.
  static std::size_t group_index(const slot_ref& at) noexcept {
    return static_cast<std::size_t>(at.grp - at.tbl->groups());
  }
  static inline_lane& lane_of(const slot_ref& at) noexcept {
    return at.tbl->lanes()[group_index(at) * group_slots + at.lane];
  }
  static version_word& version_of(const slot_ref& at) noexcept {
    return at.tbl->versions()[group_index(at)];
  }

  enum class retired_kind : std::uint8_t { node, table, directory };
  struct retired {
    void* object;
    std::uint64_t epoch;
    retired_kind kind;
  };

  using node_alloc_type = typename std::allocator_traits<Allocator>::template rebind_alloc<node>;
  using node_traits = std::allocator_traits<node_alloc_type>;
  using table_alloc_type = typename std::allocator_traits<Allocator>::template rebind_alloc<table>;
  using table_traits = std::allocator_traits<table_alloc_type>;
  using directory_alloc_type =
      typename std::allocator_traits<Allocator>::template rebind_alloc<directory_line>;
  using directory_traits = std::allocator_traits<directory_alloc_type>;
  using retired_allocator =
      typename std::allocator_traits<Allocator>::template rebind_alloc<retired>;

  struct shard {
    // The reader's line: written only when the directory is replaced (created, doubled,
    // halved, freed).
    alignas(detail::cache_line_bytes) directory_pointer directory_;

    // The writers' line(s). Counters that memory() and size() read without the mutex are
    // atomics written (relaxed) only under it.
    alignas(detail::cache_line_bytes) mutable std::mutex mutex_;
    std::atomic<std::size_t> size_{0};
    std::size_t tombstones_ = 0;
    std::size_t tables_at_global_depth_ = 0;        // when it falls to 0, the directory halves
    std::atomic<std::size_t> tombstones_count_{0};  // tombstones_, for memory()
    std::atomic<std::size_t> tables_{0};
    std::atomic<std::size_t> capacity_{0};
    std::atomic<std::size_t> table_bytes_{0};
    std::atomic<std::size_t> directory_bytes_{0};
    std::atomic<std::size_t> retired_bytes_{0};
    std::atomic<std::size_t> retired_count_{0};
    std::atomic<std::size_t> retire_list_bytes_{0};
    map_stats stats_;
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
    return sizeof(table) + groups * group_bytes;
  }
  static std::size_t directory_lines(std::size_t depth) noexcept {
    return (1 + (std::size_t{1} << depth) + words_per_line - 1) / words_per_line;
  }
  static std::size_t directory_bytes(std::size_t depth) noexcept {
    return directory_lines(depth) * sizeof(directory_line);
  }
  // Bits 24..31 of the hash moved off 0 and 1: below the shard's and the directory's bits, and
  // above the group index's in a table of at most 2^24 groups.
  static std::uint8_t tag_of(std::size_t h) noexcept {
    const auto tag = static_cast<std::uint8_t>(h >> 24);
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

  // ---- the directory -------------------------------------------------------------------

  static std::size_t global_depth(const dir_word* d) noexcept {
    return 63 - d[0].load(std::memory_order_relaxed);
  }
  // The entry of h: the global_depth bits below the shard's (two shifts, so depth 0 needs no
  // shift by 64), for a directory whose word 0 is the low 6 bits of `shift` (a directory word
  // or a shard's directory_pointer word; x86-64 shifts mask their count so, for free).
  std::size_t entry_index(std::size_t h, std::uintptr_t shift) const noexcept {
    return ((h << shard_bits_) >> 1) >> (shift & shift_bits);
  }
  std::size_t dir_index(const dir_word* d, std::size_t h) const noexcept {
    return entry_index(h, d[0].load(std::memory_order_relaxed));
  }
  static std::uintptr_t entry_of(const table* t) noexcept {
    return reinterpret_cast<std::uintptr_t>(t) |
           static_cast<std::uintptr_t>(std::countr_zero(t->group_count()));
  }
  static table* table_of(std::uintptr_t e) noexcept {
    return reinterpret_cast<table*>(e & ~entry_low_bits);
  }
  static std::size_t group_mask_of(std::uintptr_t e) noexcept {
    return (std::size_t{1} << (e & entry_low_bits)) - 1;
  }
  static std::size_t run_length(const dir_word* d, const table* t) noexcept {
    return std::size_t{1} << (global_depth(d) - t->local_depth);
  }

  // Calls f(table*, first entry of its run) for each table of d, in entry order. Writers only.
  template <class F>
  static void for_each_table(const dir_word* d, F&& f) {
    const std::size_t entries = std::size_t{1} << global_depth(d);
    for (std::size_t i = 0; i < entries;) {
      table* t = table_of(d[1 + i].load(std::memory_order_relaxed));
      const std::size_t len = run_length(d, t);
      f(t, i);
      i += len;
    }
  }

  // Calls f(const slot_ref&) for each live slot of t. Writers only (relaxed loads).
  template <class F>
  static void for_each_live(table* t, F&& f) {
    for (std::size_t g = 0; g < t->group_count(); ++g) {
      group& grp = t->groups()[g];
      const std::uint64_t tags = grp.tags.load(std::memory_order_relaxed);
      for (std::size_t lane = 0; lane < group_slots; ++lane) {
        if (static_cast<std::uint8_t>(tags >> (8 * lane)) >= first_live_tag) {
          f(slot_ref{t, &grp, lane});
        }
      }
    }
  }

  // The table that holds h's key, or null if the shard has no directory.
  table* table_for_locked(const shard& s, std::size_t h) const noexcept {
    const dir_word* d = s.directory_.load(std::memory_order_relaxed);
    if (d == nullptr) return nullptr;
    return table_of(d[1 + dir_index(d, h)].load(std::memory_order_relaxed));
  }

  // ---- probing -------------------------------------------------------------------------

  // Precondition: the caller is pinned. Calls found(const T&) if key is present; returns
  // whether it was. The table may be replaced meanwhile (see the design comment).
  template <class K, class F>
  bool read(const shard& s, const K& key, std::size_t h, F&& found) const {
    const std::uintptr_t word = s.directory_.load_word(std::memory_order_acquire);
    const dir_word* d = directory_pointer::directory_of(word);
    if (d == nullptr) return false;
    const std::uintptr_t e = d[1 + entry_index(h, word)].load(std::memory_order_acquire);
    const group* groups = table_of(e)->groups();
    const std::size_t group_mask = group_mask_of(e);
    if constexpr (inline_entries) {
      std::uint64_t value_word = 0;
      if (!probe_inline(groups, group_mask, key, h, value_word)) return false;
      const T value = from_word<T>(value_word);
      std::forward<F>(found)(value);
      return true;
    } else {
      const node* n = probe_nodes(groups, group_mask, key, h);
      if (n == nullptr) return false;
      std::forward<F>(found)(std::as_const(n->entry.second));
      return true;
    }
  }

  enum class lane_verdict { next, found, absent, retry };

  // Walks h's probe and calls look(g, lane, version) for each lane of group g whose tag is
  // tag_of(h) (and perhaps a few others, see detail::maybe_equal_bytes), in probe order, until
  // look says found or absent, or a group whose overflow bit for h is clear ends the probe.
  // Returns whether look said found.
  // `version` is an inline group's version, loaded (acquire) after its tags, only when a lane
  // matched, and before look reads any lane (0 for node groups); look says retry when a rekey
  // overlapped its reads, and the probe starts over.
  //
  // Each group's tags are one acquire load of its tags word, matched with SWAR. Memory order:
  // every tag a writer publishes is a release store of the group's whole tags word (set_tag),
  // so a reader that loads the word sees everything written before any tag it reads there: an
  // inline slot's key and value (rewritten only inside a rekey, see probe_inline); a node
  // slot's pointer is stored after its tag, with its own release store, and look loads it with
  // acquire. Reading a group's tags at one instant is one of the orders reading them lane by
  // lane allowed (every lane at the same moment), so the per-lane argument holds: a lane whose
  // tag does not match may be stale only if it was refilled after the load (skipping it then is
  // a valid answer). A group whose overflow bit for h is clear ends the probe: a writer sets
  // the bit of every group it places an entry past before it publishes the entry's tag
  // (release), and a bit is never cleared within a table, so an entry of h published before
  // the load is not past this group. The candidates are lanes with live tags (tag_of(h) or
  // tag_of(h) ^ 1, both >= 2), never an unused lane or the overflow byte (the
  // match keeps only the lanes' bytes).
  template <class Look>
  TIDE_ALWAYS_INLINE static bool probe(const group* groups, std::size_t group_mask, std::size_t h,
                                       Look&& look) {
    const std::uint8_t want = tag_of(h);
  start:
    for (std::size_t g = h & group_mask;; g = (g + 1) & group_mask) {
      const group& grp = groups[g];
      if constexpr (inline_entries) {
        __builtin_prefetch(lanes_after(groups, group_mask + 1) + g * group_slots);
      }
      const std::uint64_t tags = grp.tags.load(std::memory_order_acquire);
      std::uint64_t m = detail::maybe_equal_bytes(tags, want) & lane_high_bits;
      if (m != 0) {
        std::uint64_t version = 0;
        if constexpr (inline_entries) {
          version = versions_after(groups, group_mask + 1)[g].load(std::memory_order_acquire);
        }
        for (; m != 0; m &= m - 1) {
          const lane_verdict v = look(g, lowest_lane(m), version);
          if (v == lane_verdict::retry) goto start;
          if (v != lane_verdict::next) return v == lane_verdict::found;
        }
      }
      if ((tags & overflow_bit_of(h)) == 0) return false;
    }
  }

  // Node tables: a live tag over a null slot is an insert into a never-used slot, not yet
  // published: its key is not in the table yet, and the key looked for, had it been inserted
  // before, would sit before the first slot that was unused then, so before this one.
  template <class K>
  const node* probe_nodes(const group* groups, std::size_t group_mask, const K& key,
                          std::size_t h) const {
    const node* found = nullptr;
    probe(groups, group_mask, h, [&](std::size_t g, std::size_t lane, std::uint64_t) {
      const node* n = groups[g].slots[lane].load(std::memory_order_acquire);
      if (n == nullptr) return lane_verdict::absent;
      if (n == tombstone() || n->hash != h || !equal_(n->entry.first, key)) {
        return lane_verdict::next;
      }
      found = n;
      return lane_verdict::found;
    });
    return found;
  }

  // Inline tables. A slot's key and value are written before its tag is published (release).
  // The value word is replaced whole by insert_or_assign: a reader reads a value the key held
  // while it ran. An erased slot is taken by the next insert whose probe meets it, of any key
  // (its key, value and tag rewritten inside rekey_begin/rekey_end), so a reader that saw a
  // live tag might read the old key with the new value, or its own key's new value before the
  // insert publishes it: having found its key, it checks the group's version (read_is_stable)
  // and starts over if a rekey overlapped. Lanes it skipped need no check: a rekey only
  // changes an erased lane, which held no live entry the reader could have missed.
  // The version is loaded after the tags word (a miss reads none), which is enough: a rekey
  // that ended before that load left a whole key and value, published before the version's
  // release store that the load saw, so if the key is the reader's, the entry was live at some
  // moment of the call (at the tags load, or when the rekey published it later); a rekey that
  // had not ended changes the version the reader checks after the lane's loads.
  template <class K>
  bool probe_inline(const group* groups, std::size_t group_mask, const K& key, std::size_t h,
                    std::uint64_t& value_word) const {
    const std::uint64_t key_word = to_word(static_cast<Key>(key));
    return probe(groups, group_mask, h,
                 [&](std::size_t g, std::size_t lane, std::uint64_t version) {
                   const std::size_t count = group_mask + 1;
                   const inline_lane& l = lanes_after(groups, count)[g * group_slots + lane];
                   if (l.key.load(std::memory_order_acquire) != key_word) {
                     return lane_verdict::next;
                   }
                   value_word = l.value.load(std::memory_order_acquire);
                   return read_is_stable(versions_after(groups, count)[g], version)
                              ? lane_verdict::found
                              : lane_verdict::retry;
                 });
  }

  // visit_all's read of one table of d: every live entry, or (from > 0) only those whose
  // entry index is at least `from` (the walk read the entries before it from other tables).
  template <class F>
  void visit_table(const dir_word* d, const table* t, std::size_t groups, std::size_t from,
                   F& f) const {
    for (std::size_t g = 0; g < groups; ++g) {
      const group& grp = t->groups()[g];
      if constexpr (inline_entries) {
        visit_inline_group(d, grp, t->versions()[g],
                           t->lanes() + g * group_slots, from, f);
      } else {
        const std::uint64_t tags = grp.tags.load(std::memory_order_acquire);
        for (std::size_t lane = 0; lane < group_slots; ++lane) {
          if (static_cast<std::uint8_t>(tags >> (8 * lane)) < first_live_tag) continue;
          const node* n = grp.slots[lane].load(std::memory_order_acquire);
          if (!is_node(n) || (from != 0 && dir_index(d, n->hash) < from)) continue;
          f(n->entry.first, std::as_const(n->entry.second));
        }
      }
    }
  }

  // visit_table's read of one inline group: its live entries are copied out and handed to f
  // only once the group's version shows no rekey overlapped the copy (else it is read again).
  template <class F>
  void visit_inline_group(const dir_word* d, const group& grp, const version_word& group_version,
                          const inline_lane* lanes, std::size_t from, F& f) const {
    std::uint64_t key_words[group_slots];
    std::uint64_t value_words[group_slots];
    std::size_t n = 0;
    for (;;) {
      const std::uint64_t version = group_version.load(std::memory_order_acquire);
      const std::uint64_t tags = grp.tags.load(std::memory_order_acquire);
      n = 0;
      for (std::size_t lane = 0; lane < group_slots; ++lane) {
        if (static_cast<std::uint8_t>(tags >> (8 * lane)) < first_live_tag) continue;
        key_words[n] = lanes[lane].key.load(std::memory_order_acquire);
        value_words[n] = lanes[lane].value.load(std::memory_order_acquire);
        ++n;
      }
      if (read_is_stable(group_version, version)) break;
    }
    for (std::size_t i = 0; i < n; ++i) {
      const Key key = from_word<Key>(key_words[i]);
      if (from != 0 && dir_index(d, hash_of(key)) < from) continue;
      f(key, from_word<T>(value_words[i]));
    }
  }

  struct located {
    slot_ref match;  // the slot holding key
    slot_ref free;   // where key would go: an unused slot or a reusable tombstone
  };

  // Precondition: the shard's mutex is held and t is the table of h in its directory.
  // The groups' tags are matched with SWAR as probe() does: the key can only be in a lane whose
  // tag may be tag_of(h) (live tags only), up to the first group whose overflow bit for h is
  // clear. `free` is the probe's first reusable lane, unused or erased (any key may take a
  // tombstone; an inline one another key takes is rekeyed, see insert_locked), looked for past
  // that group if need be (the table is at most 3/4 full, so one is met). `free` is not looked
  // for past a match, whose callers do not use it.
  //
  // Forced inline, as insert_locked is: single-threaded writes alone (50% insert_or_assign, 50%
  // erase, u64 keys) went 1.05-1.07x as fast as with a call, 100,000 and 118,921 keys.
  template <class K>
  TIDE_ALWAYS_INLINE located locate(table* t, const K& key, std::size_t h) const {
    static_assert(tag_unused == 0 && tag_erased == 1, "reusable tags are 0 once bit 0 is cleared");
    located result;
    const std::uint8_t want = tag_of(h);
    std::size_t g = h & t->group_mask;
    for (;; g = (g + 1) & t->group_mask) {
      group& grp = t->groups()[g];
      const std::uint64_t tags = grp.tags.load(std::memory_order_relaxed);
      for (std::uint64_t m = detail::maybe_equal_bytes(tags, want) & lane_high_bits; m != 0;
           m &= m - 1) {
        const std::size_t lane = lowest_lane(m);
        const slot_ref at{t, &grp, lane};
        if (holds_key_locked(at, key, h)) {
          result.match = at;
          return result;
        }
      }
      if (result.free.grp == nullptr) result.free = first_reusable(t, grp, tags);
      if ((tags & overflow_bit_of(h)) == 0) break;
    }
    while (result.free.grp == nullptr) {
      g = (g + 1) & t->group_mask;
      group& grp = t->groups()[g];
      result.free = first_reusable(t, grp, grp.tags.load(std::memory_order_relaxed));
    }
    return result;
  }

  // The first unused or erased lane of grp, whose tags word is `tags`, or no slot.
  static slot_ref first_reusable(table* t, group& grp, std::uint64_t tags) noexcept {
    const std::uint64_t reusable = detail::zero_bytes(tags & ~detail::swar_lsb) & lane_high_bits;
    if (reusable == 0) return {};
    return {t, &grp, lowest_lane(reusable)};
  }

  // Sets h's overflow bit in every group of its probe in t before `to`, the group its entry is
  // placed in: each is full (the entry takes its probe's first reusable lane).
  static void mark_overflow(table* t, std::size_t h, const group* to) noexcept {
    for (std::size_t g = h & t->group_mask; &t->groups()[g] != to; g = (g + 1) & t->group_mask) {
      set_overflow(t->groups()[g], h);
    }
  }

  template <class K>
  bool holds_key_locked(const slot_ref& at, const K& key, std::size_t h) const {
    if constexpr (inline_entries) {
      return lane_of(at).key.load(std::memory_order_relaxed) == to_word(static_cast<Key>(key));
    } else {
      const node* n = at.grp->slots[at.lane].load(std::memory_order_relaxed);
      return n->hash == h && equal_(n->entry.first, key);
    }
  }

  // The value of the live entry at `at`, for writers: a copy of an inline value word, or a
  // const reference to a node's value (lock-free readers may be reading it).
  decltype(auto) value_locked(const slot_ref& at) const noexcept {
    if constexpr (inline_entries) {
      return from_word<T>(lane_of(at).value.load(std::memory_order_relaxed));
    } else {
      return std::as_const(at.grp->slots[at.lane].load(std::memory_order_relaxed)->entry.second);
    }
  }

  // The hash of the live entry at `at`: a node keeps it; an inline key is hashed again.
  std::size_t hash_at(const slot_ref& at) const {
    if constexpr (inline_entries) {
      return hash_of(from_word<Key>(lane_of(at).key.load(std::memory_order_relaxed)));
    } else {
      return at.grp->slots[at.lane].load(std::memory_order_relaxed)->hash;
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
  // make, hash, equality or an allocation throws, the shard is unchanged but for a rebuild,
  // split or new directory (the same entries, in other tables).
  //
  // Forced inline: as a call it saved and restored most registers around a short probe
  // (callgrind, 50% insert_or_assign and 50% erase of u64 keys: 219.9 instructions per write
  // as a call, 198.1 inlined).
  template <class K, class Make>
  TIDE_ALWAYS_INLINE std::pair<slot_ref, bool> insert_locked(shard& s, const K& key,
                                                             std::size_t h, Make&& make) {
    table* t = table_for_locked(s, h);
    located at;
    if (t != nullptr) {
      at = locate(t, key, h);
      if (at.match.grp != nullptr) return {at.match, false};
    }
    if (t == nullptr || 4 * (t->used + t->tombstones + 1) > 3 * t->capacity()) {
      make_room_locked(s, h);
      t = table_for_locked(s, h);
      at = locate(t, key, h);
    }
    auto entry = make();
    group& grp = *at.free.grp;
    const std::size_t lane = at.free.lane;
    mark_overflow(t, h, &grp);
    const bool takes_tombstone = tag_at(grp, lane) == tag_erased;
    if (takes_tombstone) {
      --t->tombstones;
      set_tombstones_locked(s, -1);
    }
    if constexpr (inline_entries) {
      // Readers may still be reading an erased lane's key and value (they saw its tag live),
      // so an erased lane is rewritten inside the group's seqlock, whatever key takes it: a
      // reader must not return another key's value, nor this key's new value before the tag
      // that publishes it.
      if (takes_tombstone) rekey_begin(version_of(at.free));
      inline_lane& l = lane_of(at.free);
      l.key.store(to_word(static_cast<Key>(key)), std::memory_order_release);
      l.value.store(to_word(entry), std::memory_order_release);
      set_tag(grp, lane, tag_of(h), std::memory_order_release);
      if (takes_tombstone) rekey_end(version_of(at.free));
    } else {
      set_tag(grp, lane, tag_of(h), std::memory_order_relaxed);
      grp.slots[lane].store(entry, std::memory_order_release);
    }
    ++t->used;
    bump(s.size_, 1);
    after_mutation_locked(s);
    return {at.free, true};
  }

  // Makes room in the table of h for one more entry, or creates the shard's first table: a
  // table that would outgrow max_groups splits, any other is rebuilt (larger, or at its size
  // without its tombstones). Moves at most one table's entries.
  void make_room_locked(shard& s, std::size_t h) {
    const dir_word* d = s.directory_.load(std::memory_order_relaxed);
    if (d == nullptr) {
      create_directory_locked(s, 0, groups_for(1));
      return;
    }
    const std::size_t di = dir_index(d, h);
    const table* t = table_of(d[1 + di].load(std::memory_order_relaxed));
    const std::size_t groups = groups_for(t->used + 1);
    if (groups > max_groups && split_locked(s, di, 1, true)) return;
    rebuild_table_locked(s, di, groups);
  }

  // Room for what an erase may retire: its node, and when it takes the shard's last entry every
  // table and the directory. Taken before the erase, so the erase itself cannot fail.
  void reserve_erase_locked(shard& s) {
    const bool last = s.size_.load(std::memory_order_relaxed) == 1;
    reserve_retire_locked(s, 1 + (last ? s.tables_.load(std::memory_order_relaxed) + 1 : 0));
  }

  // Precondition: the slot holds an entry and the retire list has room for one more.
  void erase_slot_locked(shard& s, slot_ref at) noexcept {
    set_tag(*at.grp, at.lane, tag_erased, std::memory_order_release);
    if constexpr (!inline_entries) {
      node* n = at.grp->slots[at.lane].load(std::memory_order_relaxed);
      at.grp->slots[at.lane].store(tombstone(), std::memory_order_release);
      retire_node_locked(s, n);
    }
    --at.tbl->used;
    ++at.tbl->tombstones;
    bump(s.size_, -1);
    set_tombstones_locked(s, +1);
  }

  void set_tombstones_locked(shard& s, std::ptrdiff_t delta) noexcept {
    s.tombstones_ = static_cast<std::size_t>(static_cast<std::ptrdiff_t>(s.tombstones_) + delta);
    s.tombstones_count_.store(s.tombstones_, std::memory_order_relaxed);
  }

  // A counter that only the mutex holder writes: a load and a store, no read-modify-write.
  static void bump(std::atomic<std::size_t>& counter, std::ptrdiff_t delta) noexcept {
    counter.store(static_cast<std::size_t>(
                      static_cast<std::ptrdiff_t>(counter.load(std::memory_order_relaxed)) + delta),
                  std::memory_order_relaxed);
  }

  // After an erase of h's key: frees everything when the shard is empty, else compacts the
  // table of h if it is sparse (one merge or rebuild at most). Precondition: when the shard is
  // empty, the retire list has room for every table and the directory (reserve_erase_locked).
  void shrink_if_sparse_locked(shard& s, std::size_t h) noexcept {
    if (s.size_.load(std::memory_order_relaxed) == 0) {
      free_all_locked(s);
      return;
    }
    compact_locked(s, dir_index(s.directory_.load(std::memory_order_relaxed), h));
  }

  // Compacts the table of entry di if it is below 1/4 full: merges it with its buddy when both
  // fit in one table, else rebuilds it smaller if that gives fewer groups. Best effort: an
  // exception (allocation, an inline key's hash) leaves the shard as it was (shrinking is never
  // needed for correctness). Returns whether it changed a table.
  bool compact_locked(shard& s, std::size_t di) noexcept {
    const dir_word* d = s.directory_.load(std::memory_order_relaxed);
    const table* t = table_of(d[1 + di].load(std::memory_order_relaxed));
    if (4 * t->used >= t->capacity()) return false;
    try {
      if (merge_locked(s, di)) return true;
      const std::size_t groups = groups_for(t->used);
      if (groups >= t->group_count()) return false;
      rebuild_table_locked(s, di, groups);
      return true;
    } catch (...) {
      return false;
    }
  }

  // Compacts every sparse table of the shard, or frees everything when it is empty (after a
  // bulk erase). Precondition: room for every table and the directory in the retire list.
  void compact_all_locked(shard& s) noexcept {
    if (s.size_.load(std::memory_order_relaxed) == 0) {
      free_all_locked(s);
      return;
    }
    for (std::size_t i = 0;;) {
      const dir_word* d = s.directory_.load(std::memory_order_relaxed);
      const std::size_t depth = global_depth(d);
      if (i >= (std::size_t{1} << depth)) return;
      if (compact_locked(s, i)) {
        // Again from the start of the run that now holds entry i (the directory may have
        // halved): each step leaves fewer tables or fewer groups, so this ends.
        const dir_word* now = s.directory_.load(std::memory_order_relaxed);
        i >>= depth - global_depth(now);
        i &= ~(run_length(now, table_of(now[1 + i].load(std::memory_order_relaxed))) - 1);
        continue;
      }
      i += run_length(d, table_of(d[1 + i].load(std::memory_order_relaxed)));
    }
  }

  // Splits (to directory depth `depth`) and rebuilds (to at least `groups` groups) the tables of
  // a shard that has a directory: reserve()'s work.
  void reserve_tables_locked(shard& s, std::size_t depth, std::size_t groups) {
    for (std::size_t i = 0;;) {
      const dir_word* d = s.directory_.load(std::memory_order_relaxed);
      const std::size_t before = global_depth(d);
      if (i >= (std::size_t{1} << before)) return;
      const table* t = table_of(d[1 + i].load(std::memory_order_relaxed));
      if (t->local_depth < depth && split_locked(s, i, groups, false)) {
        i <<= global_depth(s.directory_.load(std::memory_order_relaxed)) - before;
        continue;  // the lower half is at i
      }
      if (t->group_count() < groups) rebuild_table_locked(s, i, groups);
      d = s.directory_.load(std::memory_order_relaxed);
      i += run_length(d, table_of(d[1 + i].load(std::memory_order_relaxed)));
    }
  }

  // ---- rebuilds: each builds new tables, names them, then retires what they replace -----

  // Replaces the table of entry di by one of `groups` groups holding the same entries (node
  // pointers or inline words; nodes are not copied). Strong guarantee (an allocation, or for
  // inline entries the hash, can throw).
  void rebuild_table_locked(shard& s, std::size_t di, std::size_t groups) {
    reserve_retire_locked(s, 1);
    dir_word* d = s.directory_.load(std::memory_order_relaxed);
    table* old = table_of(d[1 + di].load(std::memory_order_relaxed));
    table* fresh = allocate_table(groups, old->local_depth);
    try {
      copy_entries(old, fresh);
    } catch (...) {
      deallocate_table(fresh);
      throw;
    }
    const std::size_t len = run_length(d, old);
    name_run(d, di & ~(len - 1), len, fresh);
    drop_table_locked(s, d, old);
    count_table_locked(s, d, fresh, +1);
    ++s.stats_.rebuilds;
    count_moved_locked(s, fresh->used);
  }

  // Splits the table of entry di into two by its next directory bit, each with room for 1.5x its
  // half and at least min_groups groups; doubles the directory first if the table is as deep as
  // it. Returns false and changes nothing if the directory bits are used up, or (for_growth) if
  // the bit would not separate the entries or the directory would grow out of proportion to
  // them (equal hashes: the caller grows the table instead). Strong guarantee.
  bool split_locked(shard& s, std::size_t di, std::size_t min_groups, bool for_growth) {
    dir_word* d = s.directory_.load(std::memory_order_relaxed);
    table* old = table_of(d[1 + di].load(std::memory_order_relaxed));
    const std::size_t depth = old->local_depth;
    if (shard_bits_ + depth + 1 > max_directory_bits) return false;
    const std::size_t bit = 63 - shard_bits_ - depth;
    std::size_t right = 0;
    for_each_live(old, [&](const slot_ref& at) { right += (hash_at(at) >> bit) & 1; });
    const std::size_t left = old->used - right;
    const bool doubles = depth == global_depth(d);
    if (for_growth) {
      if (left == 0 || right == 0) return false;
      // As tide::map: the directory stays within size / 16 + 64 entries.
      if (doubles &&
          2 * (std::size_t{1} << depth) > s.size_.load(std::memory_order_relaxed) / 16 + 64) {
        return false;
      }
    }
    reserve_retire_locked(s, 2);  // the table, and the directory if it doubles
    const auto groups_for_half = [&](std::size_t n) {
      return std::max(min_groups, groups_for(n + 1));
    };
    table* lo = allocate_table(groups_for_half(left), depth + 1);
    table* hi = nullptr;
    dir_word* target = d;
    try {
      hi = allocate_table(groups_for_half(right), depth + 1);
      for_each_live(old, [&](const slot_ref& at) {
        const std::size_t h = hash_at(at);
        unchecked_place((h >> bit) & 1 ? hi : lo, h, at);
      });
      if (doubles) target = doubled_directory(d);
    } catch (...) {
      deallocate_table(lo);
      if (hi != nullptr) deallocate_table(hi);
      throw;
    }
    // The run of old in the target directory; the upper half is named first, so a visit_all
    // that sees lo at the run's start sees hi after it.
    const std::size_t len = run_length(target, old);
    const std::size_t start = (doubles ? 2 * di : di) & ~(len - 1);
    name_run(target, start + len / 2, len / 2, hi);
    name_run(target, start, len / 2, lo);
    if (doubles) {
      publish_directory_locked(s, target);
      s.tables_at_global_depth_ = 0;
      ++s.stats_.directory_doublings;
    }
    const std::size_t moved = old->used;
    drop_table_locked(s, target, old);
    count_table_locked(s, target, lo, +1);
    count_table_locked(s, target, hi, +1);
    ++s.stats_.splits;
    count_moved_locked(s, moved);
    return true;
  }

  // Merges the table of entry di with its buddy into one table when both are as deep and their
  // entries fit in a table of at most max_groups; then halves the directory while no table is
  // as deep as it. Returns whether it merged. Strong guarantee.
  bool merge_locked(shard& s, std::size_t di) {
    dir_word* d = s.directory_.load(std::memory_order_relaxed);
    table* t = table_of(d[1 + di].load(std::memory_order_relaxed));
    const std::size_t depth = t->local_depth;
    if (depth == 0) return false;
    const std::size_t len = run_length(d, t);
    const std::size_t start = di & ~(len - 1);
    const std::size_t buddy_start = start ^ len;
    table* buddy = table_of(d[1 + buddy_start].load(std::memory_order_relaxed));
    if (buddy->local_depth != depth) return false;
    const std::size_t total = std::size_t{t->used} + buddy->used;
    const std::size_t groups = groups_for(total);
    if (groups > max_groups) return false;
    reserve_retire_locked(s, 2);
    table* merged = allocate_table(groups, depth - 1);
    try {
      copy_entries(t, merged);
      copy_entries(buddy, merged);
    } catch (...) {
      deallocate_table(merged);
      throw;
    }
    name_run(d, std::min(start, buddy_start), 2 * len, merged);
    drop_table_locked(s, d, t);
    drop_table_locked(s, d, buddy);
    count_table_locked(s, d, merged, +1);
    ++s.stats_.merges;
    count_moved_locked(s, total);
    while (s.tables_at_global_depth_ == 0 && global_depth(d) > 0 && halve_directory_locked(s)) {
      d = s.directory_.load(std::memory_order_relaxed);
    }
    return true;
  }

  // Replaces the directory by one of half the entries (every other one). Best effort: returns
  // false, keeping the larger directory (still valid), if an allocation fails.
  bool halve_directory_locked(shard& s) noexcept {
    const dir_word* d = s.directory_.load(std::memory_order_relaxed);
    const std::size_t depth = global_depth(d) - 1;
    dir_word* fresh = nullptr;
    try {
      reserve_retire_locked(s, 1);
      fresh = allocate_directory(depth);
    } catch (...) {
      return false;
    }
    for (std::size_t i = 0; i < (std::size_t{1} << depth); ++i) {
      fresh[1 + i].store(d[1 + 2 * i].load(std::memory_order_relaxed), std::memory_order_relaxed);
    }
    publish_directory_locked(s, fresh);
    s.tables_at_global_depth_ = 0;
    for_each_table(fresh, [&](const table* t, std::size_t) {
      s.tables_at_global_depth_ += t->local_depth == depth;
    });
    ++s.stats_.directory_halvings;
    return true;
  }

  // A copy of d with twice the entries (each entry twice), not yet published.
  dir_word* doubled_directory(const dir_word* d) {
    const std::size_t depth = global_depth(d);
    dir_word* fresh = allocate_directory(depth + 1);
    for (std::size_t i = 0; i < (std::size_t{1} << depth); ++i) {
      const std::uintptr_t e = d[1 + i].load(std::memory_order_relaxed);
      fresh[1 + 2 * i].store(e, std::memory_order_relaxed);
      fresh[2 + 2 * i].store(e, std::memory_order_relaxed);
    }
    return fresh;
  }

  // Creates the directory of an empty shard: 2^depth tables of `groups` groups.
  void create_directory_locked(shard& s, std::size_t depth, std::size_t groups) {
    dir_word* d = allocate_directory(depth);
    std::size_t made = 0;
    try {
      for (; made < (std::size_t{1} << depth); ++made) {
        d[1 + made].store(entry_of(allocate_table(groups, depth)), std::memory_order_relaxed);
      }
    } catch (...) {
      for (std::size_t i = 0; i < made; ++i) {
        deallocate_table(table_of(d[1 + i].load(std::memory_order_relaxed)));
      }
      deallocate_directory(d);
      throw;
    }
    s.tables_at_global_depth_ = 0;
    for_each_table(d, [&](const table* t, std::size_t) { count_table_locked(s, d, t, +1); });
    publish_directory_locked(s, d);
  }

  // Unlinks the directory, then retires it, every table and (node layout) every live node.
  // Precondition: room for all of them in the retire list.
  void free_all_locked(shard& s) noexcept {
    dir_word* d = s.directory_.load(std::memory_order_relaxed);
    if (d == nullptr) return;
    publish_directory_locked(s, nullptr);
    for_each_table(d, [&](table* t, std::size_t) {
      if constexpr (!inline_entries) {
        for_each_live(t, [&](const slot_ref& at) {
          retire_node_locked(s, at.grp->slots[at.lane].load(std::memory_order_relaxed));
        });
      }
      drop_table_locked(s, d, t);
    });
    s.size_.store(0, std::memory_order_relaxed);
    s.tables_at_global_depth_ = 0;
  }

  // Points entries [start, start + len) of d at t (release: a reader that loads an entry sees
  // the table it names filled).
  static void name_run(dir_word* d, std::size_t start, std::size_t len, const table* t) noexcept {
    const std::uintptr_t e = entry_of(t);
    for (std::size_t j = start; j < start + len; ++j) d[1 + j].store(e, std::memory_order_release);
  }

  // Makes `fresh` (possibly null) the shard's directory and retires the old one. Precondition:
  // room for one retirement.
  void publish_directory_locked(shard& s, dir_word* fresh) noexcept {
    dir_word* old = s.directory_.load(std::memory_order_relaxed);
    s.directory_.store(fresh, std::memory_order_release);
    s.directory_bytes_.store(fresh == nullptr ? 0 : directory_bytes(global_depth(fresh)),
                             std::memory_order_relaxed);
    if (old != nullptr) {
      retire_locked(s, {old, 0, retired_kind::directory}, directory_bytes(global_depth(old)));
    }
  }

  // Adds (sign +1) or removes (-1) t in the shard's counts, for directory d.
  void count_table_locked(shard& s, const dir_word* d, const table* t,
                          std::ptrdiff_t sign) noexcept {
    bump(s.tables_, sign);
    bump(s.capacity_, sign * static_cast<std::ptrdiff_t>(t->capacity()));
    bump(s.table_bytes_, sign * static_cast<std::ptrdiff_t>(table_bytes(t->group_count())));
    if (t->local_depth == global_depth(d)) {
      s.tables_at_global_depth_ =
          static_cast<std::size_t>(static_cast<std::ptrdiff_t>(s.tables_at_global_depth_) + sign);
    }
  }

  // Uncounts and retires a table no entry of the current directory names any more.
  // Precondition: room for one retirement.
  void drop_table_locked(shard& s, const dir_word* d, table* t) noexcept {
    count_table_locked(s, d, t, -1);
    set_tombstones_locked(s, -static_cast<std::ptrdiff_t>(t->tombstones));
    retire_locked(s, {t, 0, retired_kind::table}, table_bytes(t->group_count()));
  }

  void count_moved_locked(shard& s, std::size_t entries) noexcept {
    s.stats_.slots_moved += entries;
    s.stats_.max_slots_moved = std::max<std::uint64_t>(s.stats_.max_slots_moved, entries);
  }

  // Copies every live entry of `from` into `to`, which is not yet named and has room.
  void copy_entries(table* from, table* to) const {
    for_each_live(from, [&](const slot_ref& at) { unchecked_place(to, hash_at(at), at); });
  }

  // Copies the live entry at `from`, of hash h, into the first unused slot of its probe
  // in t, setting h's overflow bit in the full groups it passes. Precondition: t is not yet
  // named, has room and no tombstones, and does not hold the entry's key.
  static void unchecked_place(table* t, std::size_t h, const slot_ref& from) noexcept {
    for (std::size_t g = h & t->group_mask;; g = (g + 1) & t->group_mask) {
      group& grp = t->groups()[g];
      // With no tombstones in t, the first reusable lane is the first unused one.
      const slot_ref free = first_reusable(t, grp, grp.tags.load(std::memory_order_relaxed));
      if (free.grp == nullptr) {
        set_overflow(grp, h);
        continue;
      }
      if constexpr (inline_entries) {
        const inline_lane& source = lane_of(from);
        inline_lane& target = lane_of(free);
        target.key.store(source.key.load(std::memory_order_relaxed), std::memory_order_relaxed);
        target.value.store(source.value.load(std::memory_order_relaxed),
                           std::memory_order_relaxed);
      } else {
        grp.slots[free.lane].store(from.grp->slots[from.lane].load(std::memory_order_relaxed),
                                   std::memory_order_relaxed);
      }
      set_tag(grp, free.lane, tag_of(h), std::memory_order_relaxed);
      ++t->used;
      return;
    }
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

  void retire_node_locked(shard& s, node* n) noexcept {
    retire_locked(s, {n, 0, retired_kind::node}, sizeof(node));
  }

  // Precondition: the object is unlinked (no table or directory reachable by a new reader
  // points to it) and the retire list has room.
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
      bytes += retired_bytes(r);
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

  static std::size_t retired_bytes(const retired& r) noexcept {
    switch (r.kind) {
      case retired_kind::node:
        return sizeof(node);
      case retired_kind::table:
        return table_bytes(static_cast<const table*>(r.object)->group_count());
      case retired_kind::directory:
        return directory_bytes(global_depth(static_cast<const dir_word*>(r.object)));
    }
    return 0;
  }

  void free_retired(const retired& r) noexcept {
    switch (r.kind) {
      case retired_kind::node:
        return destroy_node(static_cast<node*>(r.object));
      case retired_kind::table:
        return deallocate_table(static_cast<table*>(r.object));
      case retired_kind::directory:
        return deallocate_directory(static_cast<dir_word*>(r.object));
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

  // Tables and directories are 64-byte aligned types, which std::allocator honours; an
  // allocator that does not would corrupt the bits kept in their addresses, so it is fatal.
  static void check_cache_line_aligned(const void* block, const char* why) noexcept {
    TIDE_CHECK(reinterpret_cast<std::uintptr_t>(block) % detail::cache_line_bytes == 0, why);
  }

  table* allocate_table(std::size_t groups, std::size_t depth) {
    TIDE_ASSERT(std::has_single_bit(groups), "a table has a power of two of groups");
    table* t = table_traits::allocate(table_alloc_, table_bytes(groups) / sizeof(table));
    check_cache_line_aligned(t, "concurrent_map: the allocator must align tables to 64 bytes: "
                                "directory entries keep log2(groups) in the address's low bits");
    ::new (static_cast<void*>(t)) table(groups, depth);
    for (std::size_t g = 0; g < groups; ++g) ::new (static_cast<void*>(t->groups() + g)) group;
    if constexpr (inline_entries) {
      for (std::size_t g = 0; g < groups; ++g) {
        ::new (static_cast<void*>(t->versions() + g)) version_word(0);
      }
      for (std::size_t i = 0; i < t->capacity(); ++i) {
        ::new (static_cast<void*>(t->lanes() + i)) inline_lane;
      }
    }
    return t;
  }

  void deallocate_table(table* t) noexcept {
    const std::size_t units = table_bytes(t->group_count()) / sizeof(table);
    t->~table();
    table_traits::deallocate(table_alloc_, t, units);
  }

  dir_word* allocate_directory(std::size_t depth) {
    directory_line* lines = directory_traits::allocate(directory_alloc_, directory_lines(depth));
    check_cache_line_aligned(lines, "concurrent_map: the allocator must align directories to 64 "
                                    "bytes: the shard keeps the directory's index shift in the "
                                    "address's low bits");
    auto* d = ::new (static_cast<void*>(lines)) dir_word(63 - depth);
    const std::size_t words = 1 + (std::size_t{1} << depth);
    for (std::size_t i = 1; i < words; ++i) ::new (static_cast<void*>(d + i)) dir_word(0);
    return d;
  }

  void deallocate_directory(dir_word* d) noexcept {
    directory_traits::deallocate(directory_alloc_, reinterpret_cast<directory_line*>(d),
                                 directory_lines(global_depth(d)));
  }

  // ---- invariants ----------------------------------------------------------------------

  void check_invariants_locked(const shard& s) const {
    const dir_word* d = s.directory_.load(std::memory_order_relaxed);
    const std::size_t size = s.size_.load(std::memory_order_relaxed);
    for (std::size_t i = 1; i < s.retired_.size(); ++i) {
      TIDE_CHECK(s.retired_[i - 1].epoch <= s.retired_[i].epoch, "retire epochs non-decreasing");
    }
    if (d == nullptr) {
      TIDE_CHECK(size == 0 && s.tombstones_ == 0, "a shard without a directory has no entries");
      TIDE_CHECK(s.tables_.load(std::memory_order_relaxed) == 0 &&
                     s.capacity_.load(std::memory_order_relaxed) == 0 &&
                     s.table_bytes_.load(std::memory_order_relaxed) == 0 &&
                     s.directory_bytes_.load(std::memory_order_relaxed) == 0,
                 "a shard without a directory counts no tables");
      return;
    }
    const std::size_t depth = global_depth(d);
    TIDE_CHECK(shard_bits_ + depth <= max_directory_bits, "the directory's bits fit");
    TIDE_CHECK((s.directory_.load_word(std::memory_order_relaxed) & shift_bits) == 63 - depth,
               "the shard's directory word carries the directory's index shift");
    TIDE_CHECK(s.directory_bytes_.load(std::memory_order_relaxed) == directory_bytes(depth),
               "directory_bytes_ is the directory's size");
    std::size_t tables = 0;
    std::size_t at_global_depth = 0;
    std::size_t live = 0;
    std::size_t tombstones = 0;
    std::size_t capacity = 0;
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < (std::size_t{1} << depth);) {
      const std::uintptr_t e = d[1 + i].load(std::memory_order_relaxed);
      const table* t = table_of(e);
      TIDE_CHECK(t->local_depth <= depth, "local_depth <= global_depth");
      TIDE_CHECK(group_mask_of(e) == t->group_mask, "an entry's log2(groups) is its table's");
      const std::size_t len = run_length(d, t);
      TIDE_CHECK(i % len == 0, "a table's run is aligned");
      for (std::size_t j = i; j < i + len; ++j) {
        TIDE_CHECK(d[1 + j].load(std::memory_order_relaxed) == e,
                   "every entry of a run names its table");
      }
      check_table_locked(s, d, t, i, len);
      ++tables;
      at_global_depth += t->local_depth == depth;
      live += t->used;
      tombstones += t->tombstones;
      capacity += t->capacity();
      bytes += table_bytes(t->group_count());
      i += len;
    }
    TIDE_CHECK(live == size, "size == live slots over the tables");
    TIDE_CHECK(tombstones == s.tombstones_, "tombstones == erased slots over the tables");
    TIDE_CHECK(tables == s.tables_.load(std::memory_order_relaxed), "tables_ counts the tables");
    TIDE_CHECK(at_global_depth == s.tables_at_global_depth_, "tables_at_global_depth_ recount");
    TIDE_CHECK(capacity == s.capacity_.load(std::memory_order_relaxed), "capacity_ recount");
    TIDE_CHECK(bytes == s.table_bytes_.load(std::memory_order_relaxed), "table_bytes_ recount");
  }

  // One table whose run is entries [first, first + len) of d.
  void check_table_locked(const shard& s, const dir_word* d, const table* t, std::size_t first,
                          std::size_t len) const {
    TIDE_CHECK(4 * (t->used + t->tombstones) <= 3 * t->capacity(), "used + tombstones <= max_load");
    std::size_t live = 0;
    std::size_t tombstones = 0;
    for (std::size_t g = 0; g < t->group_count(); ++g) {
      const std::uint64_t word = t->groups()[g].tags.load(std::memory_order_relaxed);
      const std::uint64_t tags = word & lane_bytes;
      const std::uint64_t overflow = word >> 56;
      const std::uint64_t used_prefix =
          tags == 0 ? 0 : (~std::uint64_t{0} >> (std::countl_zero(tags) / 8 * 8));
      TIDE_CHECK(detail::zero_bytes(tags) == (detail::zero_bytes(0) & ~used_prefix),
                 "a group's used lanes are a prefix");
      TIDE_CHECK(overflow == 0 || (tags & last_lane_byte) != 0,
                 "a group with an overflow bit set has no unused lane");
    }
    for (std::size_t p = 0; p < t->capacity(); ++p) {
      const group& grp = t->groups()[p / group_slots];
      const std::size_t lane = p % group_slots;
      const std::uint8_t tag = tag_at(grp, lane);
      std::size_t h = 0;
      if constexpr (inline_entries) {
        if (tag == tag_erased) ++tombstones;
        if (tag < first_live_tag) continue;
        ++live;
        // Placement needs the key's hash; a hasher that may throw is not called here (the
        // check runs after mutations that have already succeeded).
        if constexpr (!noexcept(std::declval<const Hash&>()(std::declval<const Key&>()))) continue;
        h = hash_at(slot_ref{const_cast<table*>(t), const_cast<group*>(&grp), lane});
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
      const std::size_t di = dir_index(d, h);
      TIDE_CHECK(di >= first && di < first + len, "an entry sits in the table its bits name");
      TIDE_CHECK(tag == tag_of(h), "an entry's slot holds its tag");
      // Every slot from the first of the entry's start group up to the entry has been used,
      // and every group before the entry's has its overflow bit.
      for (std::size_t q = (h & t->group_mask) * group_slots; q != p; q = (q + 1) % t->capacity()) {
        TIDE_CHECK(t->tag(q) != tag_unused,
                   "no unused slot between an entry's start group and the entry");
        const group& passed = t->groups()[q / group_slots];
        TIDE_CHECK(&passed == &grp ||
                       (passed.tags.load(std::memory_order_relaxed) & overflow_bit_of(h)) != 0,
                   "every group before an entry's, from its start group, has its overflow bit");
      }
    }
    TIDE_CHECK(live == t->used, "a table's used == its live slots");
    TIDE_CHECK(tombstones == t->tombstones, "a table's tombstones == its erased slots");
  }

  [[no_unique_address]] Hash hash_;
  [[no_unique_address]] KeyEqual equal_;
  [[no_unique_address]] mutable node_alloc_type node_alloc_;
  [[no_unique_address]] table_alloc_type table_alloc_;
  [[no_unique_address]] directory_alloc_type directory_alloc_;
  [[no_unique_address]] shard_alloc_type shard_alloc_;
  std::size_t shard_count_;
  unsigned shard_bits_;
  unsigned shard_shift_;  // 63 - shard_bits_
  shard* shards_ = nullptr;
};

}  // namespace tide
