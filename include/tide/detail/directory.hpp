// The core shared by tide::map and tide::set: extendible hashing over small tables.
// See docs/map.md for the overview.
//
// A directory of 2^global_depth entries, indexed by the top global_depth bits of the
// hash, names the tables (table.hpp). A table of local depth L holds exactly the keys
// whose top L bits equal its index's; it is named by the 2^(global_depth - L) consecutive
// entries that share those bits (its "run"), and its buddy is the table of the run next
// to it that differs in bit L.
//
//   hash:  [ top bits: directory ][ ... ][ bits 11..42: h1 ][ ... ][ bits 0..7: tag ]
//
//   directory (global_depth 2)        tables
//     00 ─────────────────────────▶ A  (local depth 1: keys 0x...)
//     01 ─────────────────────────▶ A
//     10 ─────────────────────────▶ B  (local depth 2: keys 10...)
//     11 ─────────────────────────▶ C  (local depth 2: keys 11...)
//
// Growth: an insert that finds its table without room rebuilds that one table 1.56x
// larger; a table at its largest size splits into two by bit L, doubling the directory
// first if L == global_depth. Shrink: an erase(key) that leaves its table below the
// shrink point rebuilds it smaller, or merges it with its buddy when both fit in one
// table; when no table is as deep as the directory, the directory halves. So no single
// operation moves more than one table's entries (plus, rarely, the directory's
// entries), whatever the size of the map.
//
// The directory is doubled ahead: once it has directory_ahead_from entries, the doubled
// directory is allocated beside it and built a few entries per split (next_dir_: entries
// 2i and 2i + 1 name what entry i names, for every i below next_built_; every store to a
// run of the directory is mirrored there). A copy or a rehash, which go over every entry
// anyway, build it whole, and a directory that halves keeps the old one as it. The split
// that needs the larger directory then only swaps it in and copies what the steps did not
// reach: nothing when the hash spreads the keys, as a directory doubles after about as many
// splits as it has entries (whole, it is 2 MiB at 100M entries: 4.7 ms on a VM with slow
// page faults).
//
// erase(iterator) must not move entries (the erase-while-iterating idiom holds other
// iterators), so it only flags its table; later inserts and erase(key)s compact flagged
// tables, one per operation, from a cursor over the directory.
//
// Invariants (check_invariants recomputes them):
//   - every table's run is aligned, of length 2^(global_depth - local_depth), and every
//     entry of the run names the table; local_depth <= global_depth;
//   - every key in a table has the table's top local_depth bits, and can be found;
//   - the per-table counts match the ctrl bytes (table.hpp); size_ is their sum;
//   - tables_at_global_depth_, table_count_, table_bytes_ and compaction_pending_ match
//     a recount;
//   - next_dir_ is null or has 2 * dir_size() entries, the first 2 * next_built_ of which
//     mirror dir_[0, next_built_).
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tide/detail/config.hpp"
#include "tide/detail/group.hpp"
#include "tide/detail/table.hpp"
#include "tide/detail/trace.hpp"
#include "tide/hash.hpp"
#include "tide/map_memory.hpp"

namespace tide::detail {

// clang-format off (clang-format 14 mangles concept definitions)
template <class Hash>
concept avalanching_hash =
    requires { typename Hash::is_avalanching; } && bool(Hash::is_avalanching::value);
// clang-format on

template <class Hash, class Eq>
concept transparent_lookup = requires {
  typename Hash::is_transparent;
  typename Eq::is_transparent;
};

// key_arg<K> is K for transparent hash and equality, key_type otherwise. Written as a
// member alias of a class that does not depend on K, so K stays deducible (as in absl).
template <bool Transparent>
struct key_arg_impl {
  template <class K, class Key>
  using type = Key;
};
template <>
struct key_arg_impl<true> {
  template <class K, class Key>
  using type = K;
};

struct test_peer;

/// The core of tide::map and tide::set: their lookup, erasure, capacity and memory members
/// are documented here. See tide::map for what each operation invalidates.
template <class Policy, class Hash, class Eq, class Alloc>
class raw_hash {
 public:
  ///@{
  /// Member types, as in the standard unordered containers.
  using key_type = typename Policy::key_type;
  using value_type = typename Policy::value_type;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  using hasher = Hash;
  using key_equal = Eq;
  using allocator_type = Alloc;
  using reference = value_type&;
  using const_reference = const value_type&;
  using pointer = typename std::allocator_traits<Alloc>::pointer;
  using const_pointer = typename std::allocator_traits<Alloc>::const_pointer;
  ///@}

 private:
  using slot_type = value_type;
  using policy_type = Policy;
  using layout = table_layout<slot_type>;
  using alloc_traits = std::allocator_traits<Alloc>;
  using dir_alloc = typename alloc_traits::template rebind_alloc<table_ref>;
  using dir_traits = std::allocator_traits<dir_alloc>;
  using hash_alloc = typename alloc_traits::template rebind_alloc<std::size_t>;
  using hash_traits = std::allocator_traits<hash_alloc>;
  using free_slots_alloc = typename alloc_traits::template rebind_alloc<free_slots>;

  static_assert(std::is_same_v<typename alloc_traits::value_type, value_type>,
                "Allocator::value_type must be the container's value_type");

  template <class K>
  using key_arg = typename key_arg_impl<transparent_lookup<Hash, Eq>>::template type<K, key_type>;

 public:
  /// A forward iterator over the entries, in no particular order.
  template <bool Const>
  class iterator_impl {
   public:
    ///@{
    /// Iterator traits (a forward iterator).
    using iterator_category = std::forward_iterator_tag;
    using value_type = typename raw_hash::value_type;
    using difference_type = std::ptrdiff_t;
    using reference = std::conditional_t<Const, const value_type&, value_type&>;
    using pointer = std::conditional_t<Const, const value_type*, value_type*>;
    ///@}

    /// A singular iterator, equal to end().
    iterator_impl() noexcept = default;
    /// iterator -> const_iterator
    template <bool C = Const, class = std::enable_if_t<C>>
    iterator_impl(const iterator_impl<false>& it) noexcept  // NOLINT: implicit by design
        : slot_(it.slot_),
          ctrl_(it.ctrl_),
          owner_(it.owner_),
          dir_index_(it.dir_index_),
          later_(it.later_) {}

    /// The entry. Debug builds abort on end() or an erased entry.
    reference operator*() const noexcept {
      TIDE_ASSERT(slot_ != nullptr, "dereferencing end()");
      TIDE_ASSERT(is_full(*ctrl_), "dereferencing an iterator to an erased or moved entry");
      return *slot_;
    }
    /// &operator*().
    pointer operator->() const noexcept { return &operator*(); }

    /// The next entry, or end().
    iterator_impl& operator++() noexcept {
      TIDE_ASSERT(slot_ != nullptr, "incrementing end()");
      // The next full slot of this group, from the mask the last step left: no load on the
      // path from one step to the next. Each candidate is checked against its ctrl byte,
      // so an entry erased since (through another iterator) is skipped.
      while (later_ != 0) {
        const auto here =
            static_cast<std::ptrdiff_t>(reinterpret_cast<std::uintptr_t>(ctrl_) % group_width);
        const auto next = static_cast<std::ptrdiff_t>(std::countr_zero(later_));
        later_ &= later_ - 1;
        if (TIDE_LIKELY(is_full(ctrl_[next - here]))) {
          ctrl_ += next - here;
          slot_ += next - here;
          return *this;
        }
      }
      owner_->advance(*this);
      return *this;
    }
    /// Post-increment.
    iterator_impl operator++(int) noexcept {
      iterator_impl old = *this;
      ++*this;
      return old;
    }
    /// True if both point to the same entry (or both are end()).
    friend bool operator==(const iterator_impl& a, const iterator_impl& b) noexcept {
      return a.slot_ == b.slot_;
    }

   private:
    friend class raw_hash;
    friend struct test_peer;
    iterator_impl(slot_type* slot, ctrl_t* ctrl, const raw_hash* owner,
                  std::size_t dir_index) noexcept
        : slot_(slot), ctrl_(ctrl), owner_(owner), dir_index_(dir_index) {}

    slot_type* slot_ = nullptr;
    ctrl_t* ctrl_ = nullptr;
    const raw_hash* owner_ = nullptr;
    std::size_t dir_index_ = 0;  // any entry of the table's run
    std::uint32_t later_ = 0;    // full slots after ctrl_ in its group when last looked
  };
  ///@{
  /// The iterator types. A set's entries are its keys: its iterators give const access only.
  using iterator = iterator_impl<Policy::constant_iterators>;
  using const_iterator = iterator_impl<true>;
  ///@}

  // ---- construction -------------------------------------------------------------------

  ///@{
  /// Construction, copy and move: see tide::map's constructors.
  raw_hash() noexcept(std::is_nothrow_default_constructible_v<Hash> &&
                      std::is_nothrow_default_constructible_v<Eq> &&
                      std::is_nothrow_default_constructible_v<Alloc>)
      : raw_hash(0, Hash(), Eq(), Alloc()) {}

  explicit raw_hash(size_type bucket_hint, const Hash& hash = Hash(), const Eq& eq = Eq(),
                    const Alloc& alloc = Alloc())
      : hash_(hash), eq_(eq), alloc_(alloc) {
    reset_to_empty();
    if (bucket_hint > 0) reserve(bucket_hint);
  }

  raw_hash(const raw_hash& other)
      : raw_hash(other, alloc_traits::select_on_container_copy_construction(other.alloc_)) {}

  raw_hash(const raw_hash& other, const Alloc& alloc)
      : hash_(other.hash_), eq_(other.eq_), alloc_(alloc) {
    reset_to_empty();
    copy_structure_from(other);
  }

  raw_hash(raw_hash&& other) noexcept(std::is_nothrow_move_constructible_v<Hash> &&
                                      std::is_nothrow_move_constructible_v<Eq>)
      : hash_(std::move(other.hash_)), eq_(std::move(other.eq_)), alloc_(std::move(other.alloc_)) {
    reset_to_empty();
    steal_from(other);
  }

  raw_hash(raw_hash&& other, const Alloc& alloc)
      : hash_(std::move(other.hash_)), eq_(std::move(other.eq_)), alloc_(alloc) {
    reset_to_empty();
    if (alloc_ == other.alloc_) {
      steal_from(other);
    } else {
      reserve(other.size());
      for (auto& v : other) emplace_unchecked_moved(const_cast<value_type&>(v));
      other.clear();
    }
  }

  ~raw_hash() { destroy_all(); }

  raw_hash& operator=(const raw_hash& other) {
    if (this == &other) return *this;
    raw_hash copy(
        other, alloc_traits::propagate_on_container_copy_assignment::value ? other.alloc_ : alloc_);
    swap_contents(copy);
    if constexpr (alloc_traits::propagate_on_container_copy_assignment::value) {
      std::swap(alloc_, copy.alloc_);
    }
    return *this;
  }

  raw_hash& operator=(raw_hash&& other) noexcept(
      alloc_traits::propagate_on_container_move_assignment::value ||
      alloc_traits::is_always_equal::value) {
    if (this == &other) return *this;
    if constexpr (alloc_traits::propagate_on_container_move_assignment::value) {
      destroy_all();
      reset_to_empty();
      alloc_ = std::move(other.alloc_);
      hash_ = std::move(other.hash_);
      eq_ = std::move(other.eq_);
      steal_from(other);
    } else if (alloc_ == other.alloc_) {
      destroy_all();
      reset_to_empty();
      hash_ = std::move(other.hash_);
      eq_ = std::move(other.eq_);
      steal_from(other);
    } else {
      clear();
      hash_ = other.hash_;
      eq_ = other.eq_;
      reserve(other.size());
      for (auto& v : other) emplace_unchecked_moved(const_cast<value_type&>(v));
      other.clear();
    }
    return *this;
  }
  ///@}

  /// Exchanges the contents (and the allocators, if they propagate on swap). Invalidates
  /// every iterator of both.
  void swap(raw_hash& other) noexcept(std::is_nothrow_swappable_v<Hash> &&
                                      std::is_nothrow_swappable_v<Eq>) {
    using std::swap;
    if constexpr (alloc_traits::propagate_on_container_swap::value) {
      swap(alloc_, other.alloc_);
    } else {
      TIDE_ASSERT(alloc_ == other.alloc_, "swap of containers with unequal allocators");
    }
    swap(hash_, other.hash_);
    swap(eq_, other.eq_);
    swap_contents(other);
  }

  // ---- capacity and observers --------------------------------------------------------

  /// The number of entries.
  size_type size() const noexcept { return size_; }
  /// size() == 0.
  bool empty() const noexcept { return size_ == 0; }
  /// The largest number of entries the allocator could hold in principle.
  size_type max_size() const noexcept {
    return std::min<size_type>(alloc_traits::max_size(alloc_),
                               std::numeric_limits<difference_type>::max() / sizeof(slot_type));
  }
  /// A copy of the hasher.
  hasher hash_function() const { return hash_; }
  /// A copy of the key comparison.
  key_equal key_eq() const { return eq_; }
  /// A copy of the allocator.
  allocator_type get_allocator() const noexcept { return alloc_; }

  /// What the container holds from its allocator now: bytes, tables, groups, slots, load.
  /// O(number of tables).
  map_memory memory() const noexcept {
    map_memory m;
    m.directory_bytes = directory_bytes();
    m.table_bytes = table_bytes_;
    m.bytes = m.directory_bytes + m.table_bytes;
    m.tables = table_count_;
    m.size = size_;
    m.global_depth = global_depth_;
    for_each_table([&](const table_ref& t, std::size_t) {
      m.groups += t.groups;
      m.tombstones += t.header().tombstones;
    });
    m.capacity = m.groups * group_slots;
    m.load_factor = m.capacity ? double(size_) / double(m.capacity) : 0.0;
    return m;
  }
  /// Counts of the rebuilds, splits and merges done so far, and the entries they moved.
  const map_stats& stats() const noexcept { return stats_; }

  // ---- iteration ---------------------------------------------------------------------

  ///@{
  /// The first entry, or end() if there is none.
  iterator begin() noexcept { return first_full_from(0); }
  const_iterator begin() const noexcept { return const_cast<raw_hash*>(this)->begin(); }
  const_iterator cbegin() const noexcept { return begin(); }
  ///@}
  ///@{
  /// Past the last entry.
  iterator end() noexcept { return iterator(); }
  const_iterator end() const noexcept { return const_iterator(); }
  const_iterator cend() const noexcept { return end(); }
  ///@}

  // ---- lookup ------------------------------------------------------------------------

  ///@{
  /// The entry with a key equal to `key`, or end(). With a transparent hasher and key
  /// comparison, `key` may be of any type they accept.
  template <class K = key_type>
  TIDE_ALWAYS_INLINE iterator find(const key_arg<K>& key) {
    const std::size_t h = hash_of(key);
    const std::size_t offset = dir_offset(h);
    const hit found = locate(key, dir_at(offset), h);
    return found.slot ? iterator(found.slot, found.ctrl, this, offset / sizeof(table_ref)) : end();
  }
  template <class K = key_type>
  TIDE_ALWAYS_INLINE const_iterator find(const key_arg<K>& key) const {
    return const_cast<raw_hash*>(this)->find(key);
  }
  ///@}
  /// True if an entry has a key equal to `key`.
  template <class K = key_type>
  bool contains(const key_arg<K>& key) const {
    return find(key) != end();
  }
  /// 1 if an entry has a key equal to `key`, else 0.
  template <class K = key_type>
  size_type count(const key_arg<K>& key) const {
    return contains(key) ? 1 : 0;
  }
  ///@{
  /// The range of entries with a key equal to `key`: empty, or that one entry.
  template <class K = key_type>
  std::pair<iterator, iterator> equal_range(const key_arg<K>& key) {
    iterator it = find(key);
    if (it == end()) return {it, it};
    return {it, std::next(it)};
  }
  template <class K = key_type>
  std::pair<const_iterator, const_iterator> equal_range(const key_arg<K>& key) const {
    const_iterator it = find(key);
    if (it == end()) return {it, it};
    return {it, std::next(it)};
  }
  ///@}

  // ---- insertion ---------------------------------------------------------------------

  /// Constructs an entry from `args` unless an entry with an equal key exists. Returns the
  /// entry with that key and whether it was inserted. Strong guarantee: if anything
  /// throws, the container holds what it held.
  template <class... Args>
  TIDE_ALWAYS_INLINE std::pair<iterator, bool> emplace(Args&&... args) {
    if constexpr (Policy::template key_extractable<Args...>()) {
      return emplace_with_key(Policy::extract_key(args...), std::forward<Args>(args)...);
    } else {
      // Build the entry first to learn its key, then move it into place.
      alignas(slot_type) unsigned char buf[sizeof(slot_type)];
      auto* tmp = reinterpret_cast<slot_type*>(buf);
      alloc_traits::construct(alloc_, tmp, std::forward<Args>(args)...);
      struct destroy_tmp {
        Alloc& a;
        slot_type* p;
        ~destroy_tmp() { alloc_traits::destroy(a, p); }
      } guard{alloc_, tmp};
      return emplace_with_key(Policy::key(*tmp), std::move(*tmp));
    }
  }

  /// Looks `key` up; if absent, constructs an entry from `args` in the free slot (the
  /// building block of try_emplace; `key` must be the key the entry will have).
  template <class K, class... Args>
  TIDE_ALWAYS_INLINE std::pair<iterator, bool> emplace_with_key(const K& key, Args&&... args) {
    const insert_position pos = find_or_prepare_insert(key);
    if (!pos.found) {
      alloc_traits::construct(alloc_, pos.slot, std::forward<Args>(args)...);
      commit_insert(pos);
    }
    return {iterator(pos.slot, pos.ctrl, this, pos.di), !pos.found};
  }

  // ---- erasure -----------------------------------------------------------------------

  /// Erases the entry at `pos` and returns the iterator to the entry after it. Invalidates
  /// only iterators to that entry; never moves other entries (its table is compacted by a
  /// later insert or erase(key)).
  iterator erase(const_iterator pos) {
    TIDE_ASSERT(pos.slot_ != nullptr, "erase(end())");
    iterator next(pos.slot_, pos.ctrl_, this, pos.dir_index_);
    advance(next);
    erase_at(pos.dir_index_, static_cast<std::size_t>(pos.ctrl_ - dir_[pos.dir_index_].ctrl));
    if (size_ == 0) {
      collapse_if_empty();
      return end();
    }
    const table_ref t = dir_[pos.dir_index_];
    table_header& hdr = t.header();
    if (below_shrink_point(hdr.used, t.groups) && !hdr.needs_compaction) {
      hdr.needs_compaction = 1;
      ++tables_needing_compaction_;
    }
    check_invariants_if_enabled();
    return next;
  }
  /// Erases the entry at `pos`; as erase(const_iterator).
  iterator erase(iterator pos) requires(!std::is_same_v<iterator, const_iterator>) {
    return erase(const_iterator(pos));
  }

  /// Erases the entries of [first, last); returns `last`. Invalidates only the erased entries.
  iterator erase(const_iterator first, const_iterator last) {
    while (first != last) first = erase(first);
    return iterator(const_cast<slot_type*>(last.slot_), const_cast<ctrl_t*>(last.ctrl_), this,
                    last.dir_index_);
  }

  /// Erases the entry with a key equal to `key`; returns how many were erased (0 or 1). May
  /// shrink or merge its table at once: invalidates every iterator.
  template <class K = key_type>
  TIDE_ALWAYS_INLINE size_type erase(const key_arg<K>& key) {
    const std::size_t h = hash_of(key);
    const std::size_t offset = dir_offset(h);
    const table_ref t = dir_at(offset);
    const probe_start start = probe_start_of(t, h);
    // The key is usually there: the slots' first line is fetched while the ctrl bytes are
    // compared (find does not: see locate).
    __builtin_prefetch(group_slots_of(t, start.g));
    const hit found = locate(key, t, start);
    if (!found.slot) return 0;
    alloc_traits::destroy(alloc_, found.slot);
    mark_erased(t, static_cast<std::size_t>(found.ctrl - t.ctrl), overflow_bit_of(start.probe));
    --size_;
    if (TIDE_UNLIKELY(size_ == 0)) {
      collapse_if_empty();
    } else if (TIDE_UNLIKELY(t.header().used < t.header().shrink_below)) {
      if (!try_compact(offset / sizeof(table_ref))) compact_step();
    } else {
      compact_step();
    }
    check_invariants_if_enabled();
    return 1;
  }

  /// Destroys every entry and frees every table and the directory. Invalidates every iterator.
  void clear() noexcept {
    destroy_all();
    reset_to_empty();
  }

  // ---- whole-structure operations (may move every entry) -----------------------------

  /// Makes room for `n` entries in total: no insert rebuilds a table until size() reaches `n`.
  void reserve(size_type n) {
    if (n <= size_) return;
    restructure(n, /*pack=*/false);
  }

  /// Rebuilds every table at the smallest size that holds its entries (an empty container
  /// frees everything).
  void shrink_to_fit() {
    if (size_ == 0) {
      clear();
      return;
    }
    restructure(size_, /*pack=*/true);
  }

  /// Compacts now every table below its shrink point (what erase(key) does as it goes;
  /// erase(iterator) leaves it to later operations). Invalidates iterators.
  void compact() noexcept {
    for (std::size_t di = 0; di < dir_size();) {
      const std::uint8_t depth = global_depth_;
      const table_ref t = dir_[di];
      if (t.header().needs_compaction) {
        t.header().needs_compaction = 0;
        --tables_needing_compaction_;
      }
      if (try_compact(di)) {
        if (global_depth_ != depth) di = 0;
        continue;
      }
      di = run_start(di, t) + run_length(t);
    }
  }

  /// std::unordered_map compatibility: there are no buckets; this is the number of slots.
  size_type bucket_count() const noexcept { return memory().capacity; }
  /// size() / bucket_count() (0 when there are no slots).
  float load_factor() const noexcept { return static_cast<float>(memory().load_factor); }
  /// The fixed maximum load of a table, 7/8.
  float max_load_factor() const noexcept { return 0.875f; }
  /// Has no effect: the maximum load is fixed.
  void max_load_factor(float) noexcept {}
  /// Room for at least `count` slots (count * 7/8 entries); rehash(0) packs the container as
  /// shrink_to_fit() does.
  void rehash(size_type count) {
    if (count == 0) {
      shrink_to_fit();
    } else {
      reserve(std::max(size(), count - count / 8));
    }
  }

  // ---- debug -------------------------------------------------------------------------

  /// Recomputes every cached count and structural property; prints the broken invariant
  /// and aborts if one does not hold.
  void check_invariants() const;

 private:
  friend struct test_peer;

  // Plain words, not an iterator: built in registers and read field by field. (With an
  // iterator inside, g++ 12 stored the fields one by one and copied the iterator out in
  // 16-byte loads, which cannot be forwarded from the narrower stores; a perf profile put
  // 54% of a non-inlined emplace's samples on those loads. See docs/map.md, Directory.)
  struct insert_position {
    slot_type* slot;
    ctrl_t* ctrl;
    std::size_t di;
    table_ref table;  // that holds ctrl, for commit_insert
    ctrl_t tag;       // of the key, for commit_insert
    bool found;
  };

  // ---- probing -----------------------------------------------------------------------

  // Where key is in table t (its hash is h), or {nullptr, nullptr}. The first group is
  // probed inline; the rare probe past an overflowed group is out of line, which keeps the
  // common path short enough for several lookups to be in flight at once.
  struct hit {
    slot_type* slot;
    ctrl_t* ctrl;
  };
  // The group where a probe for hash h starts in table t, and the tag it looks for.
  struct probe_start {
    std::uint64_t probe;  // probe_word(h): the tag word and the overflow bit
    std::size_t g;
    ctrl_t* group_ctrl;
  };
  static slot_type* group_slots_of(const table_ref& t, std::size_t g) noexcept {
    return layout::slots(t) + g * group_slots;
  }
  static probe_start probe_start_of(const table_ref& t, std::size_t h) noexcept {
    const std::size_t g = start_group(h, t.groups);
    return {probe_word(h), g, t.ctrl + g * group_width};
  }
  // No prefetch of the slots before the ctrl bytes are compared: a lookup that misses never
  // reads them, and the wasted fetch made misses 1.3-1.5x slower (u64 keys at 1M and 10M),
  // while it made hits at most 1.17x faster (docs/PERFORMANCE.md, "find without the slot
  // prefetch").
  template <class K>
  TIDE_ALWAYS_INLINE hit locate(const K& key, const table_ref& t, std::size_t h) const {
    return locate(key, t, probe_start_of(t, h));
  }
  template <class K>
  TIDE_ALWAYS_INLINE hit locate(const K& key, const table_ref& t, const probe_start& start) const {
    const hit found = match_in_group(key, start.group_ctrl, t, start.g, tag_word(start.probe));
    if (found.slot ||
        TIDE_LIKELY(!overflowed_bit(start.group_ctrl, overflow_bit_of(start.probe)))) {
      return found;
    }
    return locate_past(key, t, start.g, tag_word(start.probe));
  }
  template <class K>
  TIDE_NOINLINE hit locate_past(const K& key, const table_ref& t, std::size_t g,
                                std::uint32_t tag) const {
    for (std::size_t n = t.groups - 1; n != 0; --n) {
      g = next_group(g, t.groups);
      ctrl_t* group_ctrl = t.ctrl + g * group_width;
      if (const hit found = match_in_group(key, group_ctrl, t, g, tag); found.slot) {
        return found;
      }
      if (!overflowed(group_ctrl, static_cast<ctrl_t>(tag))) break;
    }
    return {};
  }
  // The slots' address is computed only once a tag matches: a miss whose group holds no
  // match never needs it (3 instructions fewer per miss; misses at 10,000 u64 keys took
  // 0.91-0.93x the time, docs/PERFORMANCE.md).
  template <class K>
  TIDE_ALWAYS_INLINE hit match_in_group(const K& key, ctrl_t* group_ctrl, const table_ref& t,
                                        std::size_t g, std::uint32_t tag) const {
    for (bitmask m = group(group_ctrl).match(tag); m; m.clear_lowest()) {
      const std::size_t i = m.lowest();
      slot_type* slot = group_slots_of(t, g) + i;
      if (TIDE_LIKELY(eq_(key, Policy::key(*slot)))) {
        return {slot, group_ctrl + i};
      }
    }
    return {};
  }

  // ---- hashing and directory indexing ------------------------------------------------

  template <class K>
  std::size_t hash_of(const K& key) const {
    std::size_t h = hash_(key);
    if constexpr (!avalanching_hash<Hash>) h = mix(h, 0x9E3779B97F4A7C15ull);
    return h;
  }
  // The directory entry of hash h is its top global_depth_ bits. Lookups take the entry's
  // byte offset, (h >> (60 - global_depth_)) rounded down to an entry: one shift and one
  // mask, and no branch at depth 0 (where it is 0, as the shift leaves 4 bits).
  static_assert(sizeof(table_ref) == 16, "a directory offset is the index shifted by 4");
  std::size_t dir_offset(std::size_t h) const noexcept {
    return (h >> (60 - global_depth_)) & ~std::size_t{15};
  }
  const table_ref& dir_at(std::size_t offset) const noexcept {
    return *reinterpret_cast<const table_ref*>(reinterpret_cast<const char*>(dir_) + offset);
  }
  std::size_t dir_index(std::size_t h) const noexcept { return dir_offset(h) / sizeof(table_ref); }
  // The index of hash h in a directory of 2^depth entries (0 at depth 0); dir_index is the
  // same at the map's own depth.
  static std::size_t index_at_depth(std::size_t h, std::uint8_t depth) noexcept {
    return (h >> 1) >> (63 - depth);
  }
  std::size_t dir_size() const noexcept { return std::size_t{1} << global_depth_; }
  std::size_t run_length(const table_ref& t) const noexcept {
    return std::size_t{1} << (global_depth_ - t.header().local_depth);
  }
  std::size_t run_start(std::size_t di, const table_ref& t) const noexcept {
    return di & ~(run_length(t) - 1);
  }
  std::size_t directory_bytes() const noexcept {
    return (global_depth_ == 0 ? 0 : dir_size() * sizeof(table_ref)) +
           (next_dir_ == nullptr ? 0 : 2 * dir_size() * sizeof(table_ref));
  }

  // Calls f(table, run_start) once per real table, in directory order; f may free it.
  template <class F>
  void for_each_table(F&& f) const {
    if (is_empty_table(dir_[0])) return;
    for (std::size_t di = 0; di < dir_size();) {
      const table_ref t = dir_[di];
      const std::size_t next = di + run_length(t);  // f may free t
      f(t, di);
      di = next;
    }
  }

  // ---- iteration ---------------------------------------------------------------------

  iterator first_full_from(std::size_t di) const noexcept {
    if (size_ == 0) return iterator();
    while (di < dir_size()) {
      const table_ref t = dir_[di];
      const std::size_t p = next_full_slot(t, 0);
      if (p < t.positions()) return make_iterator(t, di, p);
      di += run_length(t);
    }
    return iterator();
  }
  iterator make_iterator(const table_ref& t, std::size_t di, std::size_t p) const noexcept {
    return iterator(layout::slots(t) + slot_index(p), t.ctrl + p, this, di);
  }
  // Asks for the slots of group g of t (if it has one) while the iterator walks the group
  // before it. The stream prefetchers restart at every page and every table, and one group's
  // walk is long enough to fetch the next. Iterating 1M string -> u64 entries (40-byte
  // slots), four alternations: 6.3-8.1 ns per entry with it, 7.7-9.2 without (absl 5.5-6.4).
  // Forced inline: g++ 12 takes a function that only prefetches for one without effects
  // and deletes its calls.
  TIDE_ALWAYS_INLINE static void prefetch_slots_of_group(const table_ref& t,
                                                         std::size_t g) noexcept {
    if (g >= t.groups) return;
    const char* first = reinterpret_cast<const char*>(group_slots_of(t, g));
    for (std::size_t byte = 0; byte < group_slots * sizeof(slot_type); byte += cache_line_bytes) {
      __builtin_prefetch(first + byte);
    }
  }
  template <bool C>
  void advance(iterator_impl<C>& it) const noexcept {
    // The next entry of the same group, found without the directory: groups are 16-byte
    // aligned, so the low bits of the ctrl pointer are the slot's index in its group.
    const std::size_t i = reinterpret_cast<std::uintptr_t>(it.ctrl_) % group_width;
    if (bitmask rest = group(it.ctrl_ - i).match_full().from_slot(i + 1)) {
      const std::size_t step = rest.lowest() - i;
      it.ctrl_ += step;
      it.slot_ += step;
      rest.clear_lowest();
      it.later_ = rest.bits();
      return;
    }
    const table_ref t = dir_[it.dir_index_];
    const std::size_t p = next_full_slot(t, static_cast<std::size_t>(it.ctrl_ - t.ctrl) + 1);
    if (p < t.positions()) {
      prefetch_slots_of_group(t, p / group_width + 1);
      it.slot_ = layout::slots(t) + slot_index(p);
      it.ctrl_ = t.ctrl + p;
      it.later_ = group(t.ctrl + p / group_width * group_width)
                      .match_full()
                      .from_slot(p % group_width + 1)
                      .bits();
      return;
    }
    const iterator next = first_full_from(run_start(it.dir_index_, t) + run_length(t));
    it.slot_ = next.slot_;
    it.ctrl_ = next.ctrl_;
    it.dir_index_ = next.dir_index_;
    it.later_ = 0;
  }

  // ---- insertion internals -----------------------------------------------------------

  // Finds key, or a free slot for it, making room (one table rebuilt or split) if needed.
  template <class K>
  TIDE_ALWAYS_INLINE insert_position find_or_prepare_insert(const K& key) {
    compact_step();
    const std::size_t h = hash_of(key);
    std::size_t di = dir_index(h);
    table_ref t = dir_[di];
    // An absent key usually goes into the group its probe starts at: keep that group.
    const probe_start start = probe_start_of(t, h);
    const auto tag = static_cast<ctrl_t>(start.probe);
    if (const hit found = locate(key, t, start); found.slot) {
      return {found.slot, found.ctrl, di, t, tag, true};
    }
    if (TIDE_LIKELY(t.header().growth_left != 0)) {
      if (const bitmask empty = group(start.group_ctrl).match_empty()) {
        const std::size_t i = empty.lowest();
        return {group_slots_of(t, start.g) + i, start.group_ctrl + i, di, t, tag, false};
      }
    } else {
      make_room(di, h);
      di = dir_index(h);
      t = dir_[di];
    }
    const std::size_t p = find_insert_position(t, h);
    return {layout::slots(t) + slot_index(p), t.ctrl + p, di, t, tag, false};
  }

  TIDE_ALWAYS_INLINE void commit_insert(const insert_position& pos) noexcept {
    mark_full(pos.table, static_cast<std::size_t>(pos.ctrl - pos.table.ctrl), pos.tag);
    ++size_;
    high_water_ = std::max(high_water_, size_);
    check_invariants_if_enabled();
  }

  // Inserts a moved-from copy of v; the key is known to be absent.
  void emplace_unchecked_moved(value_type& v) {
    const std::size_t h = hash_of(Policy::key(v));
    std::size_t di = dir_index(h);
    if (dir_[di].header().growth_left == 0) {
      make_room(di, h);
      di = dir_index(h);
    }
    const table_ref t = dir_[di];
    const std::size_t p = find_insert_position(t, h);
    Policy::transfer_construct(alloc_, layout::slots(t) + slot_index(p), &v);
    mark_full(t, p, tag_of(h));
    ++size_;
  }

  // Precondition: the table of entry di has no free slot to take for hash h.
  TIDE_NOINLINE void make_room(std::size_t di, std::size_t h) {
    const table_ref t = dir_[di];
    if (is_empty_table(t)) {
      const table_ref first = layout::allocate(alloc_, 1, 0);
      name_run(0, 1, first);
      table_count_ = 1;
      tables_at_global_depth_ = 1;
      table_bytes_ = layout::bytes(1);
      return;
    }
    const table_header& hdr = t.header();
    const std::size_t need = std::size_t{hdr.used} + 1;
    if (worth_cleaning(hdr.tombstones, t.capacity()) && need < max_load(t.capacity())) {
      rebuild(run_start(di, t), t.groups);
      return;
    }
    const bool growing = size_ + 1 > high_water_;
    const std::size_t landing16 = growing ? grow_load16 : churn_load16;
    const std::size_t groups = groups_for(need, landing16);
    if (groups <= layout::max_groups) {
      rebuild(run_start(di, t), groups);
    } else if (need * 16 <= layout::max_groups * group_slots * compact_load16) {
      // The landing would pass the largest size, but the entries fit it at 13/16 (a table
      // smaller than the largest, rebuilt at some landing earlier): grow to it, no split.
      rebuild(run_start(di, t), layout::max_groups);
    } else if (split(di, h, growing ? 0 : landing16)) {
      build_next_directory_ahead(directory_entries_per_step);
    } else {
      // The entries cannot be separated by the next hash bit: grow past the largest size.
      rebuild(run_start(di, t), groups);
    }
  }

  // ---- rebuilding --------------------------------------------------------------------

  // Hashes of full slots, computed before anything moves so that a throwing hash leaves
  // the container as it was.
  using hash_vector = std::vector<std::size_t, hash_alloc>;

  // The hashes of the entries a rebuild moves, taken before anything moves; uninitialised
  // (every element is written by hash_table before it is read). Empty (nothing allocated)
  // for n == 0.
  class hash_buffer {
   public:
    hash_buffer(std::size_t n, const Alloc& a) : alloc_(a), size_(n) {
      data_ = n == 0 ? nullptr : std::to_address(hash_traits::allocate(alloc_, n));
    }
    hash_buffer(hash_buffer&& other) noexcept
        : alloc_(other.alloc_), data_(other.data_), size_(std::exchange(other.size_, 0)) {}
    hash_buffer& operator=(hash_buffer&&) = delete;
    ~hash_buffer() {
      if (size_ != 0) hash_traits::deallocate(alloc_, data_, size_);
    }
    std::size_t* data() noexcept { return data_; }
    const std::size_t* begin() const noexcept { return data_; }
    const std::size_t* end() const noexcept { return data_ + size_; }

   private:
    hash_alloc alloc_;
    std::size_t* data_;
    std::size_t size_;
  };

  // A move that needs its hashes for nothing but placing the entries (a rebuild, a merge)
  // takes each as the entry moves when the hash cannot throw: no buffer and no second pass
  // over the slots (erasing 200K u64 keys, merges took 62.7 instructions per entry moved
  // instead of 72.6). A hash that may throw is taken for every entry first (hash_table), so
  // that it throws before anything has moved.
  static constexpr bool hash_as_moved = std::is_nothrow_invocable_v<const Hash&, const key_type&>;
  // The buffer such a move needs: empty when it hashes as it moves.
  template <class Sources>
  hash_buffer hashes_for_move(std::size_t n, Sources sources) const {
    hash_buffer hashes(hash_as_moved ? 0 : n, alloc_);
    if constexpr (!hash_as_moved) hash_tables(sources, hashes.data());
    return hashes;
  }
  // Writes the hashes of the full slots of every table sources(f) gives f, in order, to out.
  template <class Sources>
  void hash_tables(Sources sources, std::size_t* out) const {
    sources([&](const table_ref& t) {
      hash_table(t, out);
      out += t.header().used;
    });
  }
  // Where transfer_all takes the hashes a caller computed first, in order.
  static auto hash_from(const std::size_t* hashes) noexcept {
    return [next = hashes](const slot_type&) mutable { return *next++; };
  }
  // Where transfer_all takes each moving entry's hash: computed, or the buffer's next.
  auto hash_of_moving(hash_buffer& hashes) const {
    if constexpr (hash_as_moved) {
      return [this](const slot_type& entry) { return hash_of(Policy::key(entry)); };
    } else {
      return hash_from(hashes.data());
    }
  }

  void hash_table(const table_ref& t, std::size_t* out) const {
    const slot_type* slots = layout::slots(t);
    for (std::size_t g = 0; g < t.groups; ++g) {
      for (bitmask full = group(t.ctrl + g * group_width).match_full(); full; full.clear_lowest()) {
        *out++ = hash_of(Policy::key(slots[g * group_slots + full.lowest()]));
      }
    }
  }

  // Moves the entries of the old tables `from` into new tables chosen by pick(hash) (which
  // returns the free_slots of one), then destroys the old entries. Types whose move may
  // throw are copied instead, so if a copy throws, the old tables are intact and the caller
  // discards the new ones (discard_new_table).
  // `sources(f)` calls f(table) for each old table; hash_at(entry) gives the hash of each
  // entry in turn (hash_of_moving, hash_from), in slot order over the sources. No
  // destination is a source.
  // Only ctrl bytes are written: the caller counts what each destination received
  // (add_entries), once. (Counting per entry was a read-modify-write of the header that
  // each next entry waited for: the ctrl stores are char stores, which may alias it.)
  //
  // Trivially relocatable entries are copied late. A destination's slots are scattered over
  // a table that is usually not in cache, so each entry's ctrl byte is set as soon as its
  // position is chosen, its slot's line is prefetched for writing, and its bytes are copied
  // relocate_lag entries later, when the line has arrived (erasing every key of 1M and 10M
  // u64 keys, whose merges move 0.8 entries per erase, took 0.88x the time; see
  // docs/PERFORMANCE.md). Sound because no destination is a source: a pending copy never
  // reads a slot that an earlier copy wrote. Nothing may throw then (a hash that may throw
  // was taken before, hash_from); if something did, the ctrl bytes already set would name
  // slots not yet copied, so the function is noexcept and terminates rather than go on.
  static constexpr std::size_t relocate_lag = 16;
  template <class Sources, class HashAt, class Pick>
  void transfer_all(Sources sources, HashAt hash_at,
                    Pick pick) noexcept(Policy::trivially_relocatable) {
    slot_type* pending_from[relocate_lag];
    slot_type* pending_to[relocate_lag];
    const auto copy_pending = [&](std::size_t k) {
      std::memcpy(static_cast<void*>(pending_to[k]), pending_from[k], sizeof(slot_type));
    };
    std::size_t moved = 0;
    sources([&](const table_ref& src) {
      // A plain loop over locals: see split_in_place.
      slot_type* const src_slots = layout::slots(src);
      std::size_t n = moved;
      for (std::size_t g = 0; g < src.groups; ++g) {
        for (bitmask full = group(src.ctrl + g * group_width).match_full(); full;
             full.clear_lowest()) {
          slot_type* from = src_slots + g * group_slots + full.lowest();
          const std::size_t h = hash_at(*from);
          free_slots& dst = pick(h);
          const table_ref& t = dst.table();
          if constexpr (Policy::trivially_relocatable) {
            const std::size_t q = dst.take(h);
            t.ctrl[q] = tag_of(h);
            slot_type* to = layout::slots(t) + slot_index(q);
            __builtin_prefetch(to, 1);
            const std::size_t k = n % relocate_lag;
            if (n >= relocate_lag) copy_pending(k);
            pending_from[k] = from;
            pending_to[k] = to;
          } else {
            t.ctrl[place(dst, h, from)] = tag_of(h);
          }
          ++n;
        }
      }
      moved = n;
    });
    if constexpr (Policy::trivially_relocatable) {
      for (std::size_t n = moved > relocate_lag ? moved - relocate_lag : 0; n < moved; ++n) {
        copy_pending(n % relocate_lag);
      }
    } else {
      // Success: the sources were moved from (or copied); destroy them.
      sources([&](const table_ref& src) { destroy_entries(src); });
    }
    count_moved(moved);
  }

  // Moves *from (hash h) into a free slot of dst; copies it if its move may throw. The
  // source is left for the caller to destroy (trivially relocatable types need not be).
  // Returns the position, whose ctrl byte the caller sets; the caller also counts it.
  std::size_t place(free_slots& dst, std::size_t h, slot_type* from) {
    const std::size_t q = dst.take(h);
    construct_from(layout::slots(dst.table()) + slot_index(q), from);
    return q;
  }
  // Constructs *to from *from (bytes copied for trivially relocatable types). The source is
  // left for the caller to destroy.
  void construct_from(slot_type* to, slot_type* from) {
    if constexpr (Policy::trivially_relocatable) {
      std::memcpy(static_cast<void*>(to), from, sizeof(slot_type));
    } else {
      Policy::transfer_construct(alloc_, to, from);
    }
  }

  void count_moved(std::size_t k) noexcept {
    stats_.slots_moved += k;
    stats_.max_slots_moved = std::max<std::uint64_t>(stats_.max_slots_moved, k);
  }

  // The split of a growing map, whose lower half keeps the old table's size: entries whose
  // hash has `bit` set move to `hi`; the others stay in `old`, whose overflow bits are then
  // rebuilt from the hashes of the entries that stayed (a stale bit would only lengthen
  // probes; a rebuilt one leaves no tombstones to clean later). So a split moves about half
  // a table. When moves cannot throw, a staying entry that had been pushed past its start
  // group moves back to the first free slot on its path, if the upper half's departure
  // freed one in a group already visited: the table was 7/8 full and is now less than half,
  // and without this its displaced entries kept their groups' overflow bits set (6% of
  // misses at 1M u64 keys probed a second group; 0.3% with it). If a copy throws, `old` is
  // intact and `hi` is freed.
  // The tables are taken by value: through references, g++ 12 reloaded their ctrl pointers
  // and group counts from memory after every ctrl store (a char store may alias them). By
  // value they stay in registers: the fastest tenth of splits growing to 10M u64 keys took
  // 31.0-31.9 us instead of 35.9-36.5 (five runs each).
  void split_in_place(const table_ref old, const std::size_t* hashes, std::size_t bit,
                      const table_ref hi) {
    slot_type* const slots = layout::slots(old);
    const std::size_t groups = old.groups;
    std::uint32_t moved = 0;      // to hi
    std::uint32_t relocated = 0;  // within old, back towards their start groups
    // Plain loops, not for_each_full with a capturing lambda: the ctrl stores are char
    // stores, which may alias anything a lambda captured by reference.
    auto clear_overflow_bits = [&] {
      for (std::size_t g = 0; g < groups; ++g) old.ctrl[g * group_width + overflow_byte] = 0;
    };
    // An entry that stays in group g, whose path starts at group s, marks the overflow bits
    // of the groups it probed past.
    auto stay = [&](std::size_t s, std::size_t g, std::size_t h) {
      const ctrl_t tag = tag_of(h);
      for (; s != g; s = next_group(s, groups)) mark_overflow(old.ctrl + s * group_width, tag);
    };
    // Where the staying entry in group g, whose path starts at group s, belongs: the first
    // free position on its path in a group before g, or `none`. Only groups below g: they
    // were visited already, so an entry moved there is not met again (a path that wraps
    // round keeps its place).
    constexpr std::size_t none = ~std::size_t{0};
    auto free_position_before = [&](std::size_t s, std::size_t g) {
      for (std::size_t b = s; b < g; ++b) {
        if (const bitmask empty = group(old.ctrl + b * group_width).match_empty()) {
          return b * group_width + empty.lowest();
        }
      }
      return none;
    };
    free_slots hi_slots(hi);
    const std::size_t* next_hash = hashes;
    if constexpr (Policy::nothrow_transfer) {
      // Nothing can throw: one pass moves the upper half out and re-marks the lower half.
      clear_overflow_bits();
      for (std::size_t g = 0; g < groups; ++g) {
        ctrl_t* group_ctrl = old.ctrl + g * group_width;
        for (bitmask full = group(group_ctrl).match_full(); full; full.clear_lowest()) {
          const std::size_t i = full.lowest();
          const std::size_t h = *next_hash++;
          slot_type* from = slots + g * group_slots + i;
          if (!((h >> bit) & 1)) {
            const std::size_t s = start_group(h, groups);
            if (s == g) continue;  // home: nothing passed, nowhere better
            const std::size_t q = free_position_before(s, g);
            if (q == none) {
              stay(s, g, h);
              continue;
            }
            construct_from(slots + slot_index(q), from);
            if constexpr (!Policy::trivially_relocatable) alloc_traits::destroy(alloc_, from);
            old.ctrl[q] = group_ctrl[i];
            group_ctrl[i] = ctrl_empty;
            ++relocated;
            stay(s, q / group_width, h);
            continue;
          }
          hi.ctrl[place(hi_slots, h, from)] = tag_of(h);
          ++moved;
          if constexpr (!Policy::trivially_relocatable) alloc_traits::destroy(alloc_, from);
          group_ctrl[i] = ctrl_empty;
        }
      }
    } else {
      // Copies may throw: copy the upper half out first, then empty it in the old table.
      try {
        for_each_full(old, [&](std::size_t p) {
          const std::size_t h = *next_hash++;
          if ((h >> bit) & 1) {
            hi.ctrl[place(hi_slots, h, slots + slot_index(p))] = tag_of(h);
            ++moved;
          }
        });
      } catch (...) {
        discard_new_table(hi);
        throw;
      }
      clear_overflow_bits();
      next_hash = hashes;
      for_each_full(old, [&](std::size_t p) {
        const std::size_t h = *next_hash++;
        if (!((h >> bit) & 1)) return stay(start_group(h, groups), p / group_width, h);
        alloc_traits::destroy(alloc_, slots + slot_index(p));
        old.ctrl[p] = ctrl_empty;
      });
    }
    hi.header().used = moved;
    hi.header().growth_left -= moved;
    table_header& hdr = old.header();
    hdr.used -= moved;
    hdr.tombstones = 0;
    hdr.growth_left = static_cast<std::uint32_t>(max_load(old.capacity()) - hdr.used);
    ++hdr.local_depth;
    count_moved(moved + relocated);
  }

  // Rebuilds the table whose run starts at `start` with `groups` groups.
  void rebuild(std::size_t start, std::size_t groups) {
    const table_ref old = dir_[start];
    const table_header old_hdr = old.header();
    const auto sources = [&](auto f) { f(old); };
    hash_buffer hashes = hashes_for_move(old_hdr.used, sources);
    const table_ref fresh = layout::allocate(alloc_, groups, old_hdr.local_depth);
    try {
      free_slots dst(fresh);
      transfer_all(sources, hash_of_moving(hashes),
                   [&](std::size_t) -> free_slots& { return dst; });
    } catch (...) {
      discard_new_table(fresh);
      throw;
    }
    add_entries(fresh, old_hdr.used);
    name_run(start, run_length(old), fresh);
    table_bytes_ += layout::bytes(groups);
    retire(old);
    ++stats_.rebuilds;
    if (TIDE_UNLIKELY(map_tracing())) {
      trace_map_event(this, table_count_, size_, table_bytes_,
                      "%s a table of %zu entries: %zu -> %zu groups",
                      groups > old.groups   ? "grew"
                      : groups < old.groups ? "shrank"
                                            : "cleaned",
                      std::size_t{old_hdr.used}, old.groups, groups);
    }
  }

  // Destroys the entries of a table that was being filled and frees it.
  void discard_new_table(const table_ref& t) noexcept {
    destroy_entries(t);
    layout::deallocate(alloc_, t);
  }

  // Frees a table whose entries were moved out (or destroyed).
  void retire(const table_ref& t) noexcept {
    if (t.header().needs_compaction) --tables_needing_compaction_;
    table_bytes_ -= layout::bytes(t.groups);
    layout::deallocate(alloc_, t);
  }

  // Splits the table of entry di by its next hash bit. Returns false (and changes
  // nothing) if that bit would not separate its entries, or if the directory would grow
  // out of proportion to the entries.
  // landing16 0: both halves get the largest size (larger only for a half too full for it
  // at the 13/16 landing; a half of a full largest table is about 7/16 of it).
  bool split(std::size_t di, std::size_t h, std::size_t landing16) {
    table_ref old = dir_[di];
    const table_header old_hdr = old.header();
    const std::uint8_t depth = old_hdr.local_depth;
    if (depth >= 63) return false;
    hash_buffer hashes(old_hdr.used, alloc_);
    hash_table(old, hashes.data());
    const std::size_t bit = 63 - depth;
    std::size_t right = 0;
    for (const std::size_t hh : hashes) right += (hh >> bit) & 1;
    const std::size_t left = old_hdr.used - right;
    // The entry being inserted goes to one side too.
    const bool new_right = (h >> bit) & 1;
    if (right == 0 || left == 0) return false;
    if (depth == global_depth_) {
      if ((dir_size() * 2) > size_ / 16 + 64) return false;
      double_directory();
      di = dir_index(h);
    }
    const std::size_t start = run_start(di, old);
    const std::size_t half = run_length(old) / 2;
    auto groups_for_half = [&](std::size_t n) {
      return landing16 == 0 ? std::max(layout::max_groups, groups_for(n, compact_load16))
                            : groups_for(n, landing16);
    };
    const std::size_t left_groups = groups_for_half(left + !new_right);
    const std::size_t right_groups = groups_for_half(right + new_right);
    if (landing16 == 0 && left_groups == old.groups) {
      const table_ref hi = layout::allocate(alloc_, right_groups, depth + 1);
      split_in_place(old, hashes.data(), bit, hi);
      name_run(start + half, half, hi);
      table_bytes_ += layout::bytes(right_groups);
      if (depth + 1 == global_depth_) tables_at_global_depth_ += 2;
      ++table_count_;
      ++stats_.splits;
      if (TIDE_UNLIKELY(map_tracing())) {
        trace_map_event(this, table_count_, size_, table_bytes_,
                        "split a table of %zu entries in place: %zu stay, %zu to a new table",
                        std::size_t{old_hdr.used}, left, right);
      }
      return true;
    }
    const table_ref lo = layout::allocate(alloc_, left_groups, depth + 1);
    table_ref hi;
    try {
      hi = layout::allocate(alloc_, right_groups, depth + 1);
    } catch (...) {
      layout::deallocate(alloc_, lo);
      throw;
    }
    try {
      free_slots lo_slots(lo);
      free_slots hi_slots(hi);
      transfer_all([&](auto f) { f(old); }, hash_from(hashes.data()),
                   [&](std::size_t hh) -> free_slots& {
                     return ((hh >> bit) & 1) ? hi_slots : lo_slots;
                   });
    } catch (...) {
      discard_new_table(lo);
      discard_new_table(hi);
      throw;
    }
    add_entries(lo, left);
    add_entries(hi, right);
    name_run(start, half, lo);
    name_run(start + half, half, hi);
    table_bytes_ += layout::bytes(left_groups) + layout::bytes(right_groups);
    if (depth + 1 == global_depth_) tables_at_global_depth_ += 2;
    ++table_count_;
    retire(old);
    ++stats_.splits;
    if (TIDE_UNLIKELY(map_tracing())) {
      trace_map_event(this, table_count_, size_, table_bytes_,
                      "split a table of %zu entries into two of %zu and %zu",
                      std::size_t{old_hdr.used}, left, right);
    }
    return true;
  }

  void double_directory() {
    const std::size_t old_size = dir_size();
    allocate_next_directory();
    stats_.max_directory_entries_copied =
        std::max<std::uint64_t>(stats_.max_directory_entries_copied, old_size - next_built_);
    build_next_directory(old_size);
    free_directory();
    dir_ = std::exchange(next_dir_, nullptr);
    ++global_depth_;
    tables_at_global_depth_ = 0;
    compaction_cursor_ = 0;
    ++stats_.directory_doublings;
  }

  // No table is as deep as the directory, so entries 2i and 2i + 1 name the same table: the
  // old directory is the halved one doubled, and stays as the next directory when that one
  // would be built ahead. The tables as deep as the halved directory are counted from it
  // (one entry each), without reading a table: at 100M entries there are 2^16 of them.
  void halve_directory() noexcept {
    const std::size_t new_size = dir_size() / 2;
    table_ref* fresh = &inline_dir_;
    if (new_size > 1) {
      try {
        fresh = allocate_directory(new_size);
      } catch (...) {
        return;  // keep the larger directory; it is still valid
      }
    }
    for (std::size_t i = 0; i < new_size; ++i) fresh[i] = dir_[2 * i];
    drop_next_directory();
    if (new_size >= directory_ahead_from) {
      next_dir_ = dir_;
      next_built_ = new_size;
    } else {
      free_directory();
    }
    dir_ = fresh;
    --global_depth_;
    tables_at_global_depth_ = new_size == 1 ? 1 : 0;
    for (std::size_t i = 0; i + 1 < new_size; i += 2) {
      if (!(fresh[i] == fresh[i + 1])) tables_at_global_depth_ += 2;
    }
    compaction_cursor_ = 0;
    ++stats_.directory_halvings;
  }

  void free_directory() noexcept {
    if (dir_ != &inline_dir_) {
      dir_alloc da(alloc_);
      dir_traits::deallocate(da, dir_, dir_size());
    }
  }

  // ---- the directory doubled ahead ---------------------------------------------------

  // Directories of at least this many entries (1 KiB) are doubled ahead; a smaller one is
  // copied whole when it doubles.
  static constexpr std::size_t directory_ahead_from = 64;
  // Directory entries each split copies into the next directory. A map doubles its directory
  // when about as many tables split as the directory has entries, so this finishes the next
  // directory with room to spare when the hash spreads the keys evenly.
  static constexpr std::size_t directory_entries_per_step = 8;

  // Points the directory entries [start, start + len) at t, and their copies in the next
  // directory.
  void name_run(std::size_t start, std::size_t len, const table_ref& t) noexcept {
    std::fill(dir_ + start, dir_ + start + len, t);
    if (next_dir_ != nullptr && start < next_built_) {
      const std::size_t end = std::min(start + len, next_built_);
      std::fill(next_dir_ + 2 * start, next_dir_ + 2 * end, t);
    }
  }
  // Copies the entries [next_built_, end) of the directory into the next one.
  void build_next_directory(std::size_t end) noexcept {
    for (std::size_t i = next_built_; i < end; ++i) {
      next_dir_[2 * i] = next_dir_[2 * i + 1] = dir_[i];
    }
    next_built_ = std::max(next_built_, end);
  }
  // Allocates the next directory, empty, unless there is one.
  void allocate_next_directory() {
    if (next_dir_ != nullptr) return;
    next_dir_ = allocate_directory(2 * dir_size());
    next_built_ = 0;
  }
  // Builds up to `entries` more entries of the next directory, allocating it first when the
  // directory is large enough (an allocation that fails is tried again at the next call).
  void build_next_directory_ahead(std::size_t entries) noexcept {
    if (dir_size() < directory_ahead_from) return;
    try {
      allocate_next_directory();
    } catch (...) {
      return;
    }
    build_next_directory(std::min(dir_size(), next_built_ + entries));
  }
  void drop_next_directory() noexcept {
    if (next_dir_ == nullptr) return;
    dir_alloc da(alloc_);
    dir_traits::deallocate(da, next_dir_, 2 * dir_size());
    next_dir_ = nullptr;
    next_built_ = 0;
  }

  // ---- shrinking ---------------------------------------------------------------------

  // Compacts the table of entry di if it is below the shrink point: merges it with its
  // buddy when both fit in one table, else rebuilds it smaller. Best effort: an exception
  // (allocation, hash) leaves the map as it was. Returns whether it moved entries.
  bool try_compact(std::size_t di) noexcept {
    const table_ref t = dir_[di];
    const table_header& hdr = t.header();
    if (!below_shrink_point(hdr.used, t.groups)) return false;
    try {
      if (!try_merge(di)) {
        const std::size_t groups = groups_for(hdr.used, compact_load16);
        if (groups >= t.groups) return false;
        rebuild(run_start(di, t), groups);
      }
      // After the map has lost half its entries, growing back is growth again (tables
      // double). Churn that stays near one size keeps the record, so its inserts take
      // the 12/16 landing: resetting it on every compaction let churn split tables into
      // halves that then sat just above the shrink point, 1.4x the bytes after 20 rounds.
      if (size_ < high_water_ / 2) high_water_ = size_;
      return true;
    } catch (...) {
      return false;
    }
  }

  bool try_merge(std::size_t di) {
    const table_ref t = dir_[di];
    const std::uint8_t depth = t.header().local_depth;
    if (depth == 0) return false;
    const std::size_t len = run_length(t);
    const std::size_t start = run_start(di, t);
    const std::size_t buddy_start = start ^ len;
    const table_ref buddy = dir_[buddy_start];
    if (buddy.header().local_depth != depth) return false;
    const std::size_t total = std::size_t{t.header().used} + buddy.header().used;
    if (try_merge_in_place(t, buddy, std::min(start, buddy_start), len, total)) return true;
    const std::size_t groups = groups_for(total, compact_load16);
    if (groups > layout::max_groups) return false;

    const table_ref parts[2] = {start < buddy_start ? t : buddy, start < buddy_start ? buddy : t};
    const auto sources = [&](auto f) {
      f(parts[0]);
      f(parts[1]);
    };
    hash_buffer hashes = hashes_for_move(total, sources);
    const table_ref merged = layout::allocate(alloc_, groups, depth - 1);
    try {
      free_slots dst(merged);
      transfer_all(sources, hash_of_moving(hashes),
                   [&](std::size_t) -> free_slots& { return dst; });
    } catch (...) {
      discard_new_table(merged);
      throw;
    }
    add_entries(merged, total);
    table_bytes_ += layout::bytes(groups);
    retire(parts[0]);
    retire(parts[1]);
    name_merged(merged, std::min(start, buddy_start), len, depth);
    return true;
  }

  // Points the runs of two merged buddies of local depth `depth` (2 * len entries from
  // `merged_start`) at `merged`, whose own depth is already depth - 1, and counts the
  // merge; the caller has retired the tables that went.
  void name_merged(const table_ref& merged, std::size_t merged_start, std::size_t len,
                   std::uint8_t depth) noexcept {
    name_run(merged_start, 2 * len, merged);
    if (depth == global_depth_) tables_at_global_depth_ -= 2;
    --table_count_;
    ++stats_.merges;
    if (tables_at_global_depth_ == 0 && global_depth_ > 0) halve_directory();
    if (TIDE_UNLIKELY(map_tracing())) {
      trace_map_event(this, table_count_, size_, table_bytes_,
                      "merged two buddy tables into one of %zu entries, %zu groups (depth %zu)",
                      std::size_t{merged.header().used}, merged.groups, std::size_t{depth} - 1u);
    }
  }

  // Merges two buddies by moving the entries of one into the other, when the other has
  // room for them, holds the two at no more than the 13/16 landing and at no less than the
  // shrink point (else the full merge sizes a new table). Only for types whose move cannot
  // throw: a throwing copy would leave copies behind in a table that stays.
  bool try_merge_in_place(const table_ref& a, const table_ref& b, std::size_t merged_start,
                          std::size_t len, std::size_t total) {
    if constexpr (!Policy::nothrow_transfer) {
      return false;
    } else {
      const bool a_stays =
          a.groups != b.groups ? a.groups > b.groups : a.header().used >= b.header().used;
      const table_ref stays = a_stays ? a : b;
      const table_ref goes = a_stays ? b : a;
      const std::size_t capacity = stays.capacity();
      if (goes.header().used > stays.header().growth_left ||
          total * 16 > capacity * compact_load16 || total * 16 < capacity * shrink_load16) {
        return false;
      }
      const auto sources = [&](auto f) { f(goes); };
      hash_buffer hashes = hashes_for_move(goes.header().used, sources);
      // Cannot throw from here.
      free_slots dst(stays);
      transfer_all(sources, hash_of_moving(hashes),
                   [&](std::size_t) -> free_slots& { return dst; });
      add_entries(stays, goes.header().used);
      const std::uint8_t depth = stays.header().local_depth;
      stays.header().local_depth = static_cast<std::uint8_t>(depth - 1);
      retire(goes);
      name_merged(stays, merged_start, len, depth);
      return true;
    }
  }

  // One step of the compaction sweep left by erase(iterator): looks at a few tables from
  // the cursor and compacts the first flagged one.
  void compact_step() noexcept {
    if (tables_needing_compaction_ == 0) return;
    for (int looked = 0; looked < 4; ++looked) {
      if (compaction_cursor_ >= dir_size()) compaction_cursor_ = 0;
      const table_ref t = dir_[compaction_cursor_];
      const std::size_t start = run_start(compaction_cursor_, t);
      compaction_cursor_ = start + run_length(t);
      table_header& hdr = t.header();
      if (!hdr.needs_compaction) continue;
      hdr.needs_compaction = 0;
      --tables_needing_compaction_;
      try_compact(start);
      return;
    }
  }

  // ---- erase internals ---------------------------------------------------------------

  void erase_at(std::size_t di, std::size_t p) noexcept {
    const table_ref t = dir_[di];
    alloc_traits::destroy(alloc_, layout::slots(t) + slot_index(p));
    mark_erased(t, p, overflow_bit(t.ctrl[p]));
    --size_;
  }

  // Called when size_ reached 0: keeps a lone one-group table (so that inserting and
  // erasing one entry does not allocate every time), frees anything larger.
  void collapse_if_empty() noexcept {
    if (table_count_ == 1 && global_depth_ == 0 && dir_[0].groups == 1) return;
    destroy_all();
    reset_to_empty();
  }

  // ---- whole-structure internals -----------------------------------------------------

  void reset_to_empty() noexcept {
    inline_dir_ = empty_table();
    dir_ = &inline_dir_;
    next_dir_ = nullptr;
    next_built_ = 0;
    global_depth_ = 0;
    size_ = 0;
    table_count_ = 0;
    tables_at_global_depth_ = 0;
    table_bytes_ = 0;
    tables_needing_compaction_ = 0;
    compaction_cursor_ = 0;
    high_water_ = 0;
  }

  // Destroys every entry and frees every table and the directory. Leaves the members
  // dangling: follow with reset_to_empty() or a steal.
  void destroy_all() noexcept {
    for_each_table([&](const table_ref& t, std::size_t) {
      destroy_entries(t);
      layout::deallocate(alloc_, t);
    });
    drop_next_directory();
    free_directory();
  }

  void destroy_entries(const table_ref& t) noexcept {
    if constexpr (!std::is_trivially_destructible_v<slot_type>) {
      slot_type* slots = layout::slots(t);
      for_each_full(t,
                    [&](std::size_t p) { alloc_traits::destroy(alloc_, slots + slot_index(p)); });
    }
  }

  // Takes other's structure; other is left empty. Allocators must be equal.
  void steal_from(raw_hash& other) noexcept {
    const bool inline_dir = other.dir_ == &other.inline_dir_;
    inline_dir_ = other.inline_dir_;
    dir_ = inline_dir ? &inline_dir_ : other.dir_;
    next_dir_ = other.next_dir_;
    next_built_ = other.next_built_;
    global_depth_ = other.global_depth_;
    size_ = other.size_;
    table_count_ = other.table_count_;
    tables_at_global_depth_ = other.tables_at_global_depth_;
    table_bytes_ = other.table_bytes_;
    tables_needing_compaction_ = other.tables_needing_compaction_;
    compaction_cursor_ = other.compaction_cursor_;
    high_water_ = other.high_water_;
    stats_ = other.stats_;
    other.reset_to_empty();
  }

  // Swaps everything but the hasher, key_equal and allocator.
  void swap_contents(raw_hash& other) noexcept {
    using std::swap;
    const bool mine_inline = dir_ == &inline_dir_;
    const bool theirs_inline = other.dir_ == &other.inline_dir_;
    swap(inline_dir_, other.inline_dir_);
    swap(dir_, other.dir_);
    if (theirs_inline) dir_ = &inline_dir_;
    if (mine_inline) other.dir_ = &other.inline_dir_;
    swap(next_dir_, other.next_dir_);
    swap(next_built_, other.next_built_);
    swap(global_depth_, other.global_depth_);
    swap(size_, other.size_);
    swap(table_count_, other.table_count_);
    swap(tables_at_global_depth_, other.tables_at_global_depth_);
    swap(table_bytes_, other.table_bytes_);
    swap(tables_needing_compaction_, other.tables_needing_compaction_);
    swap(compaction_cursor_, other.compaction_cursor_);
    swap(high_water_, other.high_water_);
    swap(stats_, other.stats_);
  }

  // Copies other's tables slot for slot (same directory, same positions). On an
  // exception, everything copied so far is destroyed and freed.
  void copy_structure_from(const raw_hash& other) {
    if (other.size_ == 0) return;
    try {
      if (other.global_depth_ > 0) {
        dir_ = allocate_directory(other.dir_size());
        global_depth_ = other.global_depth_;
        std::fill(dir_, dir_ + dir_size(), empty_table());
      }
      other.for_each_table([&](const table_ref& src, std::size_t start) {
        const table_ref dst = layout::allocate(alloc_, src.groups, src.header().local_depth);
        const std::size_t len = other.run_length(src);
        std::fill(dir_ + start, dir_ + start + len, dst);
        table_bytes_ += layout::bytes(src.groups);
        ++table_count_;
        const slot_type* from = layout::slots(src);
        slot_type* to = layout::slots(dst);
        for_each_full(src, [&](std::size_t p) {
          alloc_traits::construct(alloc_, to + slot_index(p), from[slot_index(p)]);
          mark_full(dst, p, src.ctrl[p]);
          ++size_;
        });
        // Same ctrl bytes (overflow bits included) and counts: the copy probes like the
        // source.
        std::memcpy(dst.ctrl, src.ctrl, src.positions());
        dst.header() = src.header();
        dst.header().needs_compaction = 0;
      });
    } catch (...) {
      // Runs not reached yet still name the empty table.
      for (std::size_t di = 0; di < dir_size();) {
        const table_ref t = dir_[di];
        if (is_empty_table(t)) {
          ++di;
          continue;
        }
        di += run_length(t);  // read before the table's header is freed
        discard_new_table(t);
      }
      free_directory();
      reset_to_empty();
      throw;
    }
    tables_at_global_depth_ = other.tables_at_global_depth_;
    high_water_ = size_;
    build_next_directory_ahead(dir_size());  // the copy went over every entry anyway
  }

  table_ref* allocate_directory(std::size_t entries) {
    dir_alloc da(alloc_);
    return std::to_address(dir_traits::allocate(da, entries));
  }

  // Rebuilds the whole map as 2^depth tables of equal depth. Unpacked (reserve): each
  // table has room for its share of `target` entries plus slack for the variance of the
  // hash. Packed (shrink_to_fit): each table holds exactly its entries, as full as the
  // grow point allows. Strong guarantee.
  void restructure(std::size_t target, bool pack) {
    if (target > max_size()) throw std::length_error("tide: reserve exceeds max_size()");
    const std::size_t load16 = pack ? 14 : 13;
    const std::size_t max_fit = layout::max_groups * group_slots * load16 / 16;

    auto every_table = [&](auto f) {
      for_each_table([&](const table_ref& t, std::size_t) { f(t); });
    };
    hash_buffer hashes(size_, alloc_);
    hash_tables(every_table, hashes.data());

    // The smallest depth at which every part fits in one largest table.
    std::uint8_t depth = 0;
    auto share_at = [&](std::uint8_t d) {
      return pack ? 0 : (target >> d) + (target >> d) / 8 + 16;
    };
    while (share_at(depth) > max_fit) ++depth;
    hash_vector counts(alloc_);
    for (;; ++depth) {
      counts.assign(std::size_t{1} << depth, 0);
      for (const std::size_t h : hashes) ++counts[index_at_depth(h, depth)];
      if (*std::max_element(counts.begin(), counts.end()) <= max_fit) break;
    }
    const std::size_t parts = counts.size();

    // The new tables, in a directory of their own (or a single table).
    table_ref single{};
    table_ref* fresh = depth > 0 ? allocate_directory(parts) : &single;
    std::size_t made = 0;
    std::size_t fresh_bytes = 0;
    try {
      for (; made < parts; ++made) {
        const std::size_t groups = groups_for(std::max(counts[made], share_at(depth)), load16);
        fresh[made] = layout::allocate(alloc_, groups, depth);
        fresh_bytes += layout::bytes(groups);
      }
      std::vector<free_slots, free_slots_alloc> part_slots(alloc_);
      part_slots.reserve(parts);
      for (std::size_t part = 0; part < parts; ++part) part_slots.emplace_back(fresh[part]);
      transfer_all(every_table, hash_from(hashes.data()), [&](std::size_t h) -> free_slots& {
        return part_slots[index_at_depth(h, depth)];
      });
    } catch (...) {
      for (std::size_t p = 0; p < made; ++p) discard_new_table(fresh[p]);
      if (depth > 0) {
        dir_alloc da(alloc_);
        dir_traits::deallocate(da, fresh, parts);
      }
      throw;
    }
    for (std::size_t part = 0; part < parts; ++part) add_entries(fresh[part], counts[part]);
    for_each_table([&](const table_ref& t, std::size_t) { layout::deallocate(alloc_, t); });
    const std::size_t entries = size_;
    drop_next_directory();
    free_directory();
    reset_to_empty();
    if (depth > 0) {
      dir_ = fresh;
    } else {
      inline_dir_ = single;
    }
    global_depth_ = depth;
    size_ = entries;
    high_water_ = std::max(entries, target);
    table_count_ = parts;
    tables_at_global_depth_ = parts;
    table_bytes_ = fresh_bytes;
    // Every table is as deep as the directory: the next split doubles it.
    build_next_directory_ahead(dir_size());
    ++stats_.rebuilds;
    check_invariants_if_enabled();
  }

  // The invariant-check build checks after every mutation: the whole map while it is
  // small, and beyond that every 1024th mutation (a full check is O(size); checking all
  // of a large map after every operation would make the tests quadratic).
  void check_invariants_if_enabled() const {
    if constexpr (invariant_checks) {
      if (size_ <= 2048 || ++mutations_checked_ % 1024 == 0) check_invariants();
    }
  }

  // ---- members -----------------------------------------------------------------------

  table_ref* dir_;
  table_ref inline_dir_;  // the directory while global_depth_ == 0
  table_ref* next_dir_;   // the doubled directory being built ahead, or null
  std::size_t next_built_;  // entries of dir_ whose copies in next_dir_ are current
  std::size_t size_;
  std::size_t table_count_;
  std::size_t tables_at_global_depth_;
  std::size_t table_bytes_;
  std::size_t tables_needing_compaction_;
  std::size_t compaction_cursor_;
  std::size_t high_water_;  // the largest size since the map last halved: inserts beyond it grow
  std::uint8_t global_depth_;
  map_stats stats_;
  struct no_counter {
    std::size_t operator++() const noexcept { return 0; }
  };
  [[no_unique_address]] mutable std::conditional_t<invariant_checks, std::size_t, no_counter>
      mutations_checked_{};
  [[no_unique_address]] Hash hash_;
  [[no_unique_address]] Eq eq_;
  [[no_unique_address]] Alloc alloc_;
};

// Erases every entry of c for which pred(entry) is true, then compacts; returns how many.
template <class Container, class Pred>
typename Container::size_type erase_entries_if(Container& c, Pred& pred) {
  const auto before = c.size();
  for (auto it = c.begin(); it != c.end();) it = pred(*it) ? c.erase(it) : std::next(it);
  const auto erased = before - c.size();
  if (erased > 0) c.compact();
  return erased;
}

}  // namespace tide::detail

#include "tide/detail/check_invariants.hpp"
