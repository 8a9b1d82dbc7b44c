// tide::dense_map — a map from small non-negative integers to values, stored by key like a
// slice, that gives memory back when its high keys go. See docs/dense_map.md.
//
// The seeds' "slice-backed map" ([]*V indexed by id): for keys in a bounded, mostly
// occupied range, no hashing and no probing; a lookup is two loads.
//
// Vocabulary: a *chunk* holds 64 consecutive keys' slots and a 64-bit *presence word*
// (bit i: slot i holds a value); the *directory* is an array of chunk pointers, entry c
// for keys [64c, 64c + 64); *top* is 1 + the index of the highest allocated chunk.
//
//   key k:  [ k >> 6: directory entry ][ k & 63: slot in the chunk ]
//
//   directory (capacity 4, top 3)     chunks
//     [0] ───────────────────────▶ | presence: 0b...1011 | slot 0 | slot 1 | ... | slot 63 |
//     [1]  null (no key in 64..127)
//     [2] ───────────────────────▶ | presence: 0b1...   | ...                          |
//     [3]  null (spare capacity)
//
// Memory: 8 bytes of directory per 64 keys up to the highest key present (plus spare
// capacity, below), and one chunk (8 + 64 * sizeof(T) bytes) per 64-key range holding at
// least one key. A chunk is freed when its last key is erased; an empty map holds nothing.
//
// Directory policy (hysteresis): an insert beyond the directory reallocates it to
// max(needed, 2 * capacity) entries; an erase that leaves top <= capacity / 4 reallocates it
// to 2 * top (to nothing when the map is empty). So the directory is always < 4 * top
// entries, between a grow and the next shrink top must halve, and between a shrink and the
// next grow it must double: alternating insert/erase of the highest key in a dense map (the
// next key down within a factor of 2) reallocates the directory at most once, and growth
// copies amortized O(1) entries per entry. A key far above all others still costs its
// directory each time it comes and goes: the work is proportional to the memory it asks for.
// An erase that empties the top chunk scans the directory down to the next allocated chunk
// (O(gap / 64) reads). shrink_to_fit() trims the directory to top exactly.
//
// Keys above max_key() (default 2^32 - 1, configurable per map) are refused by every
// insertion with std::out_of_range before anything is allocated: a stray 64-bit id must not
// ask for petabytes of directory. Lookups and erases of such keys simply find nothing.
//
// Stability: values never move. An iterator is (map, key, the key's chunk), and a chunk
// lives, at one address, as long as any of its keys; references point into chunks. So both
// stay valid through every operation except erasing that key (or clear, destruction,
// assignment and swap, which replace the contents). end() is a key sentinel and stays valid
// too. Iteration is in increasing key order.
//
// Iterators yield std::pair<const key_type, T&> by value (a proxy, as the values are stored
// without their keys): write `for (auto&& [k, v] : m)` or `for (const auto& [k, v] : m)`;
// `auto& [k, v]` does not bind. it->first and it->second work.
//
// Exceptions: try_emplace, operator[], insert, emplace and insert_or_assign (of a new key)
// give the strong guarantee: if the allocator or the value's constructor throws, the map is
// unchanged and whatever it allocated for the insert is freed.
//
// Invariants (check_invariants recomputes them): every allocated chunk has a non-zero
// presence word; chunks_ is the number of allocated chunks and size_ the total of their
// presence bits; top_ is 1 + the index of the highest allocated chunk (0 when none) and
// top_ <= dir_cap_; dir_ is null iff dir_cap_ is 0; no key above max_key_ is present.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "tide/detail/config.hpp"

namespace tide {

// A snapshot of the memory a dense_map holds (memory()). O(1).
struct dense_map_memory {
  std::size_t bytes = 0;               // everything held from the allocator
  std::size_t directory_bytes = 0;     // the array of chunk pointers
  std::size_t chunk_bytes = 0;         // the chunks: presence words and slots
  std::size_t chunks = 0;              // chunks allocated
  std::size_t directory_capacity = 0;  // directory entries (each covers 64 keys)
  std::size_t key_span = 0;            // 64 * top: keys below this may be present
  std::size_t capacity = 0;            // slots in allocated chunks (64 per chunk)
  std::size_t size = 0;                // entries
  double load_factor = 0;              // size / capacity (0 when capacity is 0)
};

namespace detail {

struct test_peer;

inline constexpr unsigned dense_chunk_shift = 6;
inline constexpr std::size_t dense_chunk_slots = std::size_t{1} << dense_chunk_shift;
static_assert(dense_chunk_slots == 64, "one presence word (64 bits) per chunk");

template <class T>
struct dense_chunk {
  union slot {
    slot() noexcept {}
    ~slot() {}
    T value;
  };
  std::uint64_t present = 0;  // bit i: slots[i].value is alive
  slot slots[dense_chunk_slots];
};

}  // namespace detail

template <class T, class Allocator = std::allocator<T>>
class dense_map {
  using chunk = detail::dense_chunk<T>;
  using value_traits = std::allocator_traits<Allocator>;
  using chunk_allocator = typename value_traits::template rebind_alloc<chunk>;
  using chunk_traits = std::allocator_traits<chunk_allocator>;
  using dir_allocator = typename value_traits::template rebind_alloc<chunk*>;
  using dir_traits = std::allocator_traits<dir_allocator>;
  static_assert(std::is_same_v<typename value_traits::value_type, T>,
                "Allocator::value_type must be the mapped type");

  template <bool Const>
  class iter;

 public:
  using key_type = std::size_t;
  using mapped_type = T;
  using value_type = std::pair<const key_type, T>;
  using reference = std::pair<const key_type, T&>;
  using const_reference = std::pair<const key_type, const T&>;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  using allocator_type = Allocator;
  using iterator = iter<false>;
  using const_iterator = iter<true>;

  // Keys up to 2^32 - 1 (any 32-bit id) unless the constructor says otherwise; the
  // directory for the highest of them is 512 MiB.
  static constexpr key_type default_max_key = (key_type{1} << 32) - 1;

  // ---- construction ------------------------------------------------------------------

  dense_map() = default;
  explicit dense_map(const Allocator& alloc) : alloc_(alloc) {}
  // Keys above max_key are refused (std::out_of_range); max_key must be below SIZE_MAX
  // (which end() uses), else std::length_error.
  explicit dense_map(key_type max_key, const Allocator& alloc = Allocator())
      : alloc_(alloc), max_key_(max_key) {
    if (max_key == npos) throw std::length_error("tide::dense_map: max_key must be below SIZE_MAX");
  }
  template <class InputIt>
  dense_map(InputIt first, InputIt last, const Allocator& alloc = Allocator()) : alloc_(alloc) {
    guarded([&] { insert(first, last); });
  }
  dense_map(std::initializer_list<value_type> init, const Allocator& alloc = Allocator())
      : dense_map(init.begin(), init.end(), alloc) {}

  dense_map(const dense_map& other)
      : dense_map(other, value_traits::select_on_container_copy_construction(other.alloc_)) {}
  dense_map(const dense_map& other, const Allocator& alloc)
      : alloc_(alloc), max_key_(other.max_key_) {
    guarded([&] {
      if (other.top_ != 0) resize_directory(other.top_);
      for (const_reference v : other) unchecked_emplace(v.first, v.second);
    });
  }
  dense_map(dense_map&& other) noexcept : alloc_(std::move(other.alloc_)) { take(other); }
  dense_map(dense_map&& other, const Allocator& alloc) : alloc_(alloc) {
    if (alloc_ == other.alloc_) {
      take(other);
    } else {
      max_key_ = other.max_key_;
      guarded([&] {
        if (other.top_ != 0) resize_directory(other.top_);
        for (reference v : other) unchecked_emplace(v.first, std::move(v.second));
      });
      other.clear();
    }
  }

  dense_map& operator=(const dense_map& other) {
    if (this == &other) return *this;
    constexpr bool propagate = value_traits::propagate_on_container_copy_assignment::value;
    dense_map copy(other, propagate ? other.alloc_ : alloc_);
    clear();
    alloc_ = copy.alloc_;
    take(copy);
    return *this;
  }
  dense_map& operator=(dense_map&& other) noexcept(
      value_traits::propagate_on_container_move_assignment::value ||
      value_traits::is_always_equal::value) {
    if (this == &other) return *this;
    if constexpr (value_traits::propagate_on_container_move_assignment::value) {
      clear();
      alloc_ = std::move(other.alloc_);
      take(other);
    } else {
      if (alloc_ == other.alloc_) {
        clear();
        take(other);
      } else {
        dense_map moved(std::move(other), alloc_);
        clear();
        take(moved);
      }
    }
    return *this;
  }
  dense_map& operator=(std::initializer_list<value_type> init) {
    clear();
    insert(init);
    return *this;
  }

  ~dense_map() { clear(); }

  // ---- capacity ----------------------------------------------------------------------

  bool empty() const noexcept { return size_ == 0; }
  size_type size() const noexcept { return size_; }
  // The number of keys this map accepts: 0 .. max_key().
  size_type max_size() const noexcept { return max_key_ + 1; }
  key_type max_key() const noexcept { return max_key_; }

  // Makes room in the directory for keys 0 .. n - 1 (chunks are still allocated on
  // demand). A later erase may give the room back (see the directory policy above).
  // Throws std::length_error if n - 1 is above max_key().
  void reserve(size_type n) {
    if (n == 0) return;
    if (n - 1 > max_key_)
      throw std::length_error("tide::dense_map::reserve: " + std::to_string(n) +
                              " keys is more than max_key + 1 = " + std::to_string(max_size()));
    const size_type entries = ((n - 1) >> detail::dense_chunk_shift) + 1;
    if (entries > dir_cap_) resize_directory(entries);
  }

  // Trims the directory to the highest chunk in use (to nothing when empty).
  void shrink_to_fit() {
    if (top_ != dir_cap_) resize_directory(top_);
  }

  dense_map_memory memory() const noexcept {
    dense_map_memory m;
    m.directory_bytes = dir_cap_ * sizeof(chunk*);
    m.chunk_bytes = chunks_ * sizeof(chunk);
    m.bytes = m.directory_bytes + m.chunk_bytes;
    m.chunks = chunks_;
    m.directory_capacity = dir_cap_;
    m.key_span = top_ * detail::dense_chunk_slots;
    m.capacity = chunks_ * detail::dense_chunk_slots;
    m.size = size_;
    m.load_factor =
        m.capacity == 0 ? 0 : static_cast<double>(size_) / static_cast<double>(m.capacity);
    return m;
  }

  // ---- iteration ---------------------------------------------------------------------

  iterator begin() noexcept { return iterator(this, next_key_from(0)); }
  const_iterator begin() const noexcept { return const_iterator(this, next_key_from(0)); }
  const_iterator cbegin() const noexcept { return begin(); }
  iterator end() noexcept { return iterator(this, npos); }
  const_iterator end() const noexcept { return const_iterator(this, npos); }
  const_iterator cend() const noexcept { return end(); }

  // ---- lookup ------------------------------------------------------------------------

  iterator find(key_type key) noexcept {
    return iterator(this, slot_of(key) != nullptr ? key : npos);
  }
  const_iterator find(key_type key) const noexcept {
    return const_iterator(this, slot_of(key) != nullptr ? key : npos);
  }
  bool contains(key_type key) const noexcept { return slot_of(key) != nullptr; }
  size_type count(key_type key) const noexcept { return contains(key) ? 1 : 0; }

  T& at(key_type key) {
    T* v = slot_of(key);
    if (v == nullptr)
      throw std::out_of_range("tide::dense_map::at: key " + std::to_string(key) + " not found");
    return *v;
  }
  const T& at(key_type key) const {
    const T* v = slot_of(key);
    if (v == nullptr)
      throw std::out_of_range("tide::dense_map::at: key " + std::to_string(key) + " not found");
    return *v;
  }

  T& operator[](key_type key) { return *emplace_slot(key).first; }

  // ---- insertion ---------------------------------------------------------------------

  // Constructs the value from args only if key is absent. Throws std::out_of_range if key
  // is above max_key().
  template <class... Args>
  std::pair<iterator, bool> try_emplace(key_type key, Args&&... args) {
    const bool inserted = emplace_slot(key, std::forward<Args>(args)...).second;
    return {iterator(this, key), inserted};
  }

  // Builds a value_type from args (as std::map does), then inserts it if its key is absent.
  template <class... Args>
  std::pair<iterator, bool> emplace(Args&&... args) {
    value_type v(std::forward<Args>(args)...);
    return try_emplace(v.first, std::move(v.second));
  }

  std::pair<iterator, bool> insert(const value_type& v) { return try_emplace(v.first, v.second); }
  std::pair<iterator, bool> insert(value_type&& v) {
    return try_emplace(v.first, std::move(v.second));
  }
  // clang-format 14 mangles requires-clauses:
  // clang-format off
  template <class P>
    requires std::is_constructible_v<value_type, P&&>
  std::pair<iterator, bool> insert(P&& v) {
    return emplace(std::forward<P>(v));
  }
  // clang-format on
  template <class InputIt>
  void insert(InputIt first, InputIt last) {
    for (; first != last; ++first) emplace(*first);
  }
  void insert(std::initializer_list<value_type> init) { insert(init.begin(), init.end()); }

  template <class M>
  std::pair<iterator, bool> insert_or_assign(key_type key, M&& obj) {
    if (T* v = slot_of(key)) {
      *v = std::forward<M>(obj);
      return {iterator(this, key), false};
    }
    return try_emplace(key, std::forward<M>(obj));
  }

  // ---- erasure -----------------------------------------------------------------------

  size_type erase(key_type key) noexcept {
    if (slot_of(key) == nullptr) return 0;
    erase_present(key);
    return 1;
  }
  // Returns the iterator to the next key. Invalidates only iterators to pos.
  iterator erase(const_iterator pos) noexcept {
    TIDE_ASSERT(pos.map_ == this && slot_of(pos.key_) != nullptr,
                "dense_map::erase: iterator is end() or its key was erased");
    const key_type next = next_key_from(pos.key_ + 1);
    erase_present(pos.key_);
    return iterator(this, next);
  }
  iterator erase(iterator pos) noexcept { return erase(const_iterator(pos)); }
  iterator erase(const_iterator first, const_iterator last) noexcept {
    for (key_type k = first.key_; k != last.key_;) {
      const key_type next = next_key_from(k + 1);
      erase_present(k);
      k = next;
    }
    return iterator(this, last.key_);
  }

  // Destroys every value and frees every byte.
  void clear() noexcept {
    for (size_type c = 0; c < top_; ++c)
      if (dir_[c] != nullptr) free_chunk(dir_[c]);
    if (dir_ != nullptr) free_directory(dir_, dir_cap_);
    dir_ = nullptr;
    dir_cap_ = top_ = size_ = chunks_ = 0;
  }

  void swap(dense_map& other) noexcept {
    using std::swap;
    if constexpr (value_traits::propagate_on_container_swap::value) swap(alloc_, other.alloc_);
    swap(dir_, other.dir_);
    swap(dir_cap_, other.dir_cap_);
    swap(top_, other.top_);
    swap(size_, other.size_);
    swap(chunks_, other.chunks_);
    swap(max_key_, other.max_key_);
  }
  friend void swap(dense_map& a, dense_map& b) noexcept { a.swap(b); }

  allocator_type get_allocator() const { return alloc_; }

  friend bool operator==(const dense_map& a, const dense_map& b) {
    if (a.size_ != b.size_) return false;
    for (auto i = a.begin(), j = b.begin(); i != a.end(); ++i, ++j)
      if (i.key() != j.key() || !(i->second == j->second)) return false;
    return true;
  }

  // Recounts chunks, size and the highest key; prints the broken invariant and aborts if one
  // does not hold (every mutation runs it in the debug-invariants build).
  void check_invariants() const noexcept {
    TIDE_CHECK((dir_ == nullptr) == (dir_cap_ == 0), "dir_ is null iff dir_cap_ is 0");
    TIDE_CHECK(top_ <= dir_cap_, "top_ <= dir_cap_");
    size_type chunks = 0;
    size_type size = 0;
    size_type top = 0;
    for (size_type c = 0; c < dir_cap_; ++c) {
      if (dir_[c] == nullptr) continue;
      TIDE_CHECK(dir_[c]->present != 0, "an allocated chunk holds at least one key");
      ++chunks;
      size += static_cast<size_type>(std::popcount(dir_[c]->present));
      top = c + 1;
    }
    TIDE_CHECK(chunks == chunks_, "chunks_ counts the allocated chunks");
    TIDE_CHECK(size == size_, "size_ is the number of presence bits set");
    TIDE_CHECK(top == top_, "top_ is 1 + the highest allocated chunk");
    if (top_ != 0) {
      const key_type highest =
          ((top_ - 1) << detail::dense_chunk_shift) |
          (63 - static_cast<key_type>(std::countl_zero(dir_[top_ - 1]->present)));
      TIDE_CHECK(highest <= max_key_, "no key above max_key_");
    }
  }

 private:
  friend struct detail::test_peer;

  static constexpr key_type npos = std::numeric_limits<key_type>::max();

  static constexpr size_type chunk_of(key_type key) noexcept {
    return key >> detail::dense_chunk_shift;
  }
  static constexpr std::uint64_t bit_of(key_type key) noexcept {
    return std::uint64_t{1} << (key & (detail::dense_chunk_slots - 1));
  }

  T* slot_of(key_type key) const noexcept {
    const size_type c = chunk_of(key);
    if (c >= top_) return nullptr;
    chunk* ch = dir_[c];
    if (ch == nullptr || (ch->present & bit_of(key)) == 0) return nullptr;
    return &ch->slots[key & (detail::dense_chunk_slots - 1)].value;
  }

  // The smallest present key >= key, or npos.
  key_type next_key_from(key_type key) const noexcept {
    if (key == npos) return npos;  // past the highest possible key
    size_type c = chunk_of(key);
    if (c >= top_) return npos;
    if (dir_[c] != nullptr) {
      const std::uint64_t above = dir_[c]->present & ~(bit_of(key) - 1);
      if (above != 0)
        return (c << detail::dense_chunk_shift) | static_cast<key_type>(std::countr_zero(above));
    }
    for (++c; c < top_; ++c)
      if (dir_[c] != nullptr)
        return (c << detail::dense_chunk_shift) |
               static_cast<key_type>(std::countr_zero(dir_[c]->present));
    return npos;
  }

  // The insertion path: the value's slot, and whether it was just constructed.
  // Preconditions: none; throws std::out_of_range for keys above max_key_.
  template <class... Args>
  std::pair<T*, bool> emplace_slot(key_type key, Args&&... args) {
    if (T* v = slot_of(key)) return {v, false};
    if (key > max_key_)
      throw std::out_of_range("tide::dense_map: key " + std::to_string(key) + " is above max_key " +
                              std::to_string(max_key_));
    return {unchecked_emplace(key, std::forward<Args>(args)...), true};
  }

  // Constructs the value of an absent key <= max_key_. Strong guarantee: on an exception
  // the directory, chunks and counts are as before and nothing new stays allocated.
  template <class... Args>
  T* unchecked_emplace(key_type key, Args&&... args) {
    TIDE_ASSERT(key <= max_key_ && slot_of(key) == nullptr, "unchecked_emplace: bad key");
    const size_type c = chunk_of(key);
    chunk** new_dir = nullptr;
    size_type new_cap = dir_cap_;
    if (c >= dir_cap_) {
      new_cap = std::min(std::max(c + 1, 2 * dir_cap_), chunk_of(max_key_) + 1);
      new_dir = allocate_directory(new_cap);
    }
    chunk* ch = c < dir_cap_ ? dir_[c] : nullptr;
    const bool new_chunk = ch == nullptr;
    T* slot = nullptr;
    try {
      if (new_chunk) ch = allocate_chunk();
      slot = &ch->slots[key & (detail::dense_chunk_slots - 1)].value;
      value_traits::construct(alloc_, slot, std::forward<Args>(args)...);
    } catch (...) {
      if (new_chunk && ch != nullptr) free_chunk(ch);
      if (new_dir != nullptr) free_directory(new_dir, new_cap);
      throw;
    }
    if (new_dir != nullptr) {
      std::copy(dir_, dir_ + top_, new_dir);
      if (dir_ != nullptr) free_directory(dir_, dir_cap_);
      dir_ = new_dir;
      dir_cap_ = new_cap;
    }
    if (new_chunk) {
      dir_[c] = ch;
      ++chunks_;
      top_ = std::max(top_, c + 1);
    }
    ch->present |= bit_of(key);
    ++size_;
    check_invariants_if_enabled();
    return slot;
  }

  // Preconditions: key is present.
  void erase_present(key_type key) noexcept {
    const size_type c = chunk_of(key);
    chunk* ch = dir_[c];
    value_traits::destroy(alloc_, &ch->slots[key & (detail::dense_chunk_slots - 1)].value);
    ch->present &= ~bit_of(key);
    --size_;
    if (ch->present == 0) {
      free_chunk(ch);
      dir_[c] = nullptr;
      --chunks_;
      if (c + 1 == top_) {
        // Down to the next allocated chunk: O(gap / 64 keys) pointer reads.
        while (top_ > 0 && dir_[top_ - 1] == nullptr) --top_;
        shrink_directory_if_sparse();
      }
    }
    check_invariants_if_enabled();
  }

  void shrink_directory_if_sparse() noexcept {
    if (top_ == 0) {
      free_directory(dir_, dir_cap_);
      dir_ = nullptr;
      dir_cap_ = 0;
    } else if (top_ <= dir_cap_ / 4) {
      try {
        resize_directory(2 * top_);
      } catch (...) {  // no memory for the smaller copy: keep the larger directory
      }
    }
  }

  // Preconditions: entries >= top_.
  void resize_directory(size_type entries) {
    TIDE_ASSERT(entries >= top_, "resize_directory below top");
    chunk** fresh = entries == 0 ? nullptr : allocate_directory(entries);
    std::copy(dir_, dir_ + top_, fresh);
    if (dir_ != nullptr) free_directory(dir_, dir_cap_);
    dir_ = fresh;
    dir_cap_ = entries;
  }

  chunk** allocate_directory(size_type entries) {
    dir_allocator a(alloc_);
    chunk** d = dir_traits::allocate(a, entries);
    std::fill(d, d + entries, nullptr);
    return d;
  }
  void free_directory(chunk** d, size_type entries) noexcept {
    dir_allocator a(alloc_);
    dir_traits::deallocate(a, d, entries);
  }

  chunk* allocate_chunk() {
    chunk_allocator a(alloc_);
    chunk* ch = chunk_traits::allocate(a, 1);
    return ::new (static_cast<void*>(ch)) chunk();
  }
  // Destroys the chunk's values and frees it.
  void free_chunk(chunk* ch) noexcept {
    for (std::uint64_t p = ch->present; p != 0; p &= p - 1)
      value_traits::destroy(alloc_, &ch->slots[std::countr_zero(p)].value);
    ch->~chunk();
    chunk_allocator a(alloc_);
    chunk_traits::deallocate(a, ch, 1);
  }

  // Takes other's contents (the allocators must be equal or already moved); other is left
  // empty.
  void take(dense_map& other) noexcept {
    dir_ = std::exchange(other.dir_, nullptr);
    dir_cap_ = std::exchange(other.dir_cap_, 0);
    top_ = std::exchange(other.top_, 0);
    size_ = std::exchange(other.size_, 0);
    chunks_ = std::exchange(other.chunks_, 0);
    max_key_ = other.max_key_;
  }

  // Runs f; if it throws, frees what was built (for constructors, whose destructor would
  // not run) and rethrows.
  template <class F>
  void guarded(F f) {
    try {
      f();
    } catch (...) {
      clear();
      throw;
    }
  }

  void check_invariants_if_enabled() const noexcept {
    if constexpr (detail::invariant_checks) check_invariants();
  }

  // An iterator names a key, and caches the chunk holding it: a chunk never moves and lives
  // as long as any of its keys, so the pointer is good for as long as the iterator is.
  template <bool Const>
  class iter {
    using map_ptr = std::conditional_t<Const, const dense_map*, dense_map*>;

   public:
    using iterator_category = std::input_iterator_tag;  // proxy reference
    using iterator_concept = std::forward_iterator_tag;
    using value_type = dense_map::value_type;
    using difference_type = std::ptrdiff_t;
    using reference = std::conditional_t<Const, dense_map::const_reference, dense_map::reference>;
    struct pointer {  // what operator-> returns: holds the proxy
      reference ref;
      const reference* operator->() const noexcept { return &ref; }
    };

    iter() = default;
    // clang-format off
    template <bool C = Const>
      requires C
    iter(const iter<false>& other) noexcept
        : map_(other.map_), chunk_(other.chunk_), key_(other.key_) {}
    // clang-format on

    reference operator*() const noexcept {
      TIDE_ASSERT(map_ != nullptr && map_->slot_of(key_) != nullptr,
                  "dense_map iterator: dereferencing end() or an erased key");
      return reference(key_, chunk_->slots[key_ & (detail::dense_chunk_slots - 1)].value);
    }
    pointer operator->() const noexcept { return pointer{**this}; }
    iter& operator++() noexcept {
      TIDE_ASSERT(map_ != nullptr && map_->slot_of(key_) != nullptr,
                  "dense_map iterator: incrementing end() or an erased key");
      // The keys after this one in its chunk: (bit << 1) - 1 covers this key and those
      // below (for slot 63 the shift gives 0, and the mask covers everything).
      const std::uint64_t later = chunk_->present & ~((bit_of(key_) << 1) - 1);
      if (later != 0) {
        key_ = (key_ & ~key_type{detail::dense_chunk_slots - 1}) |
               static_cast<key_type>(std::countr_zero(later));
      } else {
        const size_type next = chunk_of(key_) + 1;  // <= top_: next << 6 may overflow only then
        *this =
            iter(map_,
                 next < map_->top_ ? map_->next_key_from(next << detail::dense_chunk_shift) : npos);
      }
      return *this;
    }
    iter operator++(int) noexcept {
      iter old = *this;
      ++*this;
      return old;
    }
    // The key this iterator names (npos for end()).
    key_type key() const noexcept { return key_; }
    friend bool operator==(const iter& a, const iter& b) noexcept { return a.key_ == b.key_; }

   private:
    friend class dense_map;
    friend class iter<!Const>;
    // Preconditions: k is present, or npos.
    iter(map_ptr m, key_type k) noexcept
        : map_(m), chunk_(k == npos ? nullptr : m->dir_[chunk_of(k)]), key_(k) {}

    map_ptr map_ = nullptr;
    chunk* chunk_ = nullptr;
    key_type key_ = npos;
  };

  [[no_unique_address]] Allocator alloc_{};
  chunk** dir_ = nullptr;
  size_type dir_cap_ = 0;  // directory entries
  size_type top_ = 0;      // 1 + the highest allocated chunk's index
  size_type size_ = 0;
  size_type chunks_ = 0;
  key_type max_key_ = default_max_key;
};

// Erases every entry for which pred(std::pair<const key_type, T&>) is true; returns how many.
template <class T, class A, class Pred>
typename dense_map<T, A>::size_type erase_if(dense_map<T, A>& m, Pred pred) {
  typename dense_map<T, A>::size_type erased = 0;
  for (auto it = m.begin(); it != m.end();) {
    if (pred(*it)) {
      it = m.erase(it);
      ++erased;
    } else {
      ++it;
    }
  }
  return erased;
}

}  // namespace tide
