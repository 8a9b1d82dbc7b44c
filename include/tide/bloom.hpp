// tide::bloom — a blocked Bloom filter: "is this key possibly present?" in one cache line.
// See docs/bloom.md for the design and docs/PERFORMANCE.md for the figures.
//
// The seeds' defence against cache penetration: before asking the database for a key,
// ask the filter; "definitely absent" answers need no database round trip.
//
// Vocabulary: a *block* is one 64-byte cache line of 512 bits; *k* (hashes()) is the number
// of bits a key sets; a *probe* is one of those bits; *lambda* is the mean number of keys
// per block (items / blocks).
//
// Layout and probing. The filter is an array of blocks, 64-byte aligned:
//
//   h = Hash(key), 64 bits, fully mixed
//   block = ((h >> 32) * blocks) >> 32           top 32 bits: which block (<= 2^32 blocks)
//   probe i = (h * M[i]) >> 55, 9 bits:              [ word: 3 bits ][ bit in word: 6 bits ]
//             (M: 32 fixed odd constants, multiply-shift hashing)
//
//   block: | w0 (64 bits) | w1 | w2 | w3 | w4 | w5 | w6 | w7 |   = 512 bits, one cache line
//
// So every key touches one cache line, and its k probes come from one 64-bit hash by k
// independent multiplies, which overlap in the pipeline. insert ORs each probe's bit into
// its word; contains ORs the missing bits together and tests once at the end (no branch per
// probe). (A first version that built eight masks on the stack, from a chain of remixes,
// measured 1.6-2.8x slower: each probe's read-modify-write of the stack waited for the last.)
//
// Sizing. A blocked filter's false-positive rate is not the classic (1 - e^(-kn/m))^k: blocks
// receive a Poisson(lambda) number of keys, and the crowded ones are much worse than the
// average (Putze, Sanders, Singler, "Cache-, hash- and space-efficient Bloom filters", 2007):
//
//   fpr(blocks, k) = sum_i Poisson(i; lambda) * inner_k(i)
//
// Putze et al. take inner_k(i) = (1 - (1 - 1/512)^(ik))^k, the classic formula for one
// block, which itself underestimates: it replaces the number of set bits X by its mean. tide
// computes inner_k(i) = E[(X/512)^k] exactly, X being the number of bins occupied after ik
// uniform throws into 512 bins (an occupancy distribution, by dynamic programming over the
// throws). The constructor takes, over a range of k around the classic optimum, the fewest
// blocks whose fpr meets the target, and among equal sizes the smallest k. expected_fpr()
// is that model's rate at expected_items; the tests measure it.
//
// Invariants (except in a moved-from filter, which holds nothing): 0 < blocks_ <= 2^32;
// 1 <= k_ <= bloom_max_hashes; inserted_ counts the inserts that set at least one new bit
// (so it never exceeds the distinct keys inserted).
//
// Hashing: the default tide::hash is seeded per process, so a filter's bits mean nothing to
// another process; merge() only filters built in one process with one Hash.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tide/detail/config.hpp"
#include "tide/hash.hpp"

namespace tide {
namespace detail {

inline constexpr std::size_t bloom_block_bytes = 64;
inline constexpr unsigned bloom_block_bits = 512;
inline constexpr unsigned bloom_block_words = 8;
// The block index is taken from the top 32 bits of the hash.
inline constexpr std::uint64_t bloom_max_blocks = std::uint64_t{1} << 32;

inline constexpr unsigned bloom_max_hashes = 32;

// Probe i takes the top 9 bits of h * bloom_probe_multipliers[i] (multiply-shift hashing):
// the k products are independent of each other, so they run in parallel. Odd, fixed,
// splitmix64-scrambled constants.
inline constexpr std::array<std::uint64_t, bloom_max_hashes> bloom_probe_multipliers = [] {
  std::array<std::uint64_t, bloom_max_hashes> m{};
  std::uint64_t state = 0x626C6F6F6D5F6B31ull;  // "bloom_k1"
  for (std::uint64_t& v : m) {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    v = (z ^ (z >> 31)) | 1;
  }
  return m;
}();

// As the maps (directory.hpp): a Hash that does not declare is_avalanching is mixed again.
// clang-format off
template <class Hash>
concept bloom_hash_avalanches =
    requires { typename Hash::is_avalanching; } && bool(Hash::is_avalanching::value);
// A transparent Hash (tide::hash<std::string> is one) lets insert/contains take any key type
// it hashes, e.g. std::string_view for a bloom<std::string>, without building a Key.
template <class Hash>
concept bloom_transparent_hash = requires { typename Hash::is_transparent; };
// clang-format on

struct alignas(bloom_block_bytes) bloom_block {
  std::uint64_t words[bloom_block_words];
};
static_assert(sizeof(bloom_block) == bloom_block_bytes, "a block is exactly one cache line");
static_assert(bloom_block_words * 64 == bloom_block_bits, "512 bits per block");
static_assert(std::uint64_t{1} << (64 - 55) == bloom_block_bits,
              "a probe is the top 9 bits of a 64-bit product: one bit of 512");

// inner_k(i) = E[(X / 512)^k] where X is the number of occupied bins after i*k uniform
// throws into 512 bins: the false-positive rate of one block holding i keys. The occupancy
// distribution is advanced one throw at a time over the window of bins where it has mass.
class bloom_occupancy {
 public:
  explicit bloom_occupancy(unsigned k) : k_(k), dist_(bloom_block_bits + 1, 0.0) {
    dist_[0] = 1.0;
    power_.resize(bloom_block_bits + 1);
    for (unsigned j = 0; j <= bloom_block_bits; ++j)
      power_[j] = std::pow(static_cast<double>(j) / bloom_block_bits, static_cast<double>(k));
    inner_.push_back(0.0);  // an empty block has no bit set: never a false positive
  }

  double inner(std::size_t keys) {
    while (inner_.size() <= keys) add_key();
    return inner_[keys];
  }

 private:
  void add_key() {
    for (unsigned r = 0; r < k_; ++r) add_throw();
    double m = 0;
    for (unsigned j = lo_; j <= hi_; ++j) m += dist_[j] * power_[j];
    inner_.push_back(m);
  }

  void add_throw() {
    constexpr double s = bloom_block_bits;
    hi_ = std::min(hi_ + 1, bloom_block_bits);
    // Downwards, so dist_[j - 1] still holds the previous throw's value.
    for (unsigned j = hi_; j > lo_; --j)
      dist_[j] = dist_[j] * (j / s) + dist_[j - 1] * ((s - (j - 1)) / s);
    dist_[lo_] *= lo_ / s;
    // Mass below 1e-30 changes no rate that matters (targets are >= 1e-20 in practice).
    while (lo_ < hi_ && dist_[lo_] < 1e-30) dist_[lo_++] = 0;
  }

  unsigned k_;
  unsigned lo_ = 0;
  unsigned hi_ = 0;
  std::vector<double> dist_;   // P(X = j) after the throws so far
  std::vector<double> power_;  // (j / 512)^k
  std::vector<double> inner_;  // inner_k(i) for i = 0, 1, ...
};

// Above this many keys per block a block is all but full; no target rate in (0, 1) that
// the constructor can represent needs more (k = 1 at rate 1 - 1e-13 needs ~15,000).
inline constexpr double bloom_max_lambda = 16384;

// The model's false-positive rate for `items` keys in `blocks` blocks.
inline double bloom_model_fpr(double items, double blocks, bloom_occupancy& occ) {
  const double lambda = items / blocks;
  if (lambda > bloom_max_lambda) return 1.0;
  const double spread = 10 * std::sqrt(lambda) + 30;  // Poisson tails beyond are < 1e-20
  const auto first = static_cast<std::size_t>(std::max(0.0, lambda - spread));
  const auto last = static_cast<std::size_t>(lambda + spread);
  const double log_lambda = std::log(lambda);
  double fpr = 0;
  for (std::size_t i = std::max<std::size_t>(first, 1); i <= last; ++i) {
    const double di = static_cast<double>(i);
    fpr += std::exp(-lambda + di * log_lambda - std::lgamma(di + 1)) * occ.inner(i);
  }
  return fpr;
}

struct bloom_shape {
  std::uint64_t blocks = 0;  // 0: no shape within bloom_max_blocks meets the target
  unsigned hashes = 0;
  double fpr = 1.0;
};

// The fewest blocks (then the fewest hashes) whose model rate at `items` is <= `target`.
inline bloom_shape bloom_shape_for(std::uint64_t items, double target) {
  const double n = static_cast<double>(items);
  const double k_classic = -std::log2(target);
  // The classic filter's size, m = -n ln p / (ln 2)^2 bits: blocked filters need at least
  // about this much, so the search starts below it.
  const double classic_blocks =
      n * -std::log(target) / (std::log(2.0) * std::log(2.0)) / bloom_block_bits;
  const unsigned k_lo = std::max(1u, static_cast<unsigned>(k_classic * 0.5));
  const unsigned k_hi = std::min(bloom_max_hashes, static_cast<unsigned>(k_classic) + 2);
  bloom_shape best;
  for (unsigned k = k_lo; k <= k_hi; ++k) {
    bloom_occupancy occ(k);
    auto meets = [&](std::uint64_t b) {
      return bloom_model_fpr(n, static_cast<double>(b), occ) <= target;
    };
    std::uint64_t lo = std::max<std::uint64_t>(
        1, static_cast<std::uint64_t>(std::min(classic_blocks * 0.5, 1e18)));
    while (lo > 1 && meets(lo)) lo /= 2;
    if (meets(lo)) {  // lo == 1
      if (best.blocks == 0 || 1 < best.blocks) best = {1, k, 0};
      continue;
    }
    std::uint64_t hi = lo * 2;  // invariant below: !meets(lo)
    while (hi <= bloom_max_blocks && !meets(hi)) {
      lo = hi;
      hi *= 2;
    }
    if (hi > bloom_max_blocks) {
      if (!meets(bloom_max_blocks)) continue;
      hi = bloom_max_blocks;
    }
    while (hi - lo > 1) {  // !meets(lo), meets(hi)
      const std::uint64_t mid = lo + (hi - lo) / 2;
      (meets(mid) ? hi : lo) = mid;
    }
    if (best.blocks == 0 || hi < best.blocks) best = {hi, k, 0};
  }
  if (best.blocks != 0) {
    bloom_occupancy occ(best.hashes);
    best.fpr = bloom_model_fpr(n, static_cast<double>(best.blocks), occ);
  }
  return best;
}

}  // namespace detail

// Key: what insert/contains take. Hash: a hasher of Key (tide::hash by default; a Hash
// without is_avalanching is mixed once more). Allocator: any allocator; it is rebound to
// the 64-byte-aligned block type.
template <class Key, class Hash = tide::hash<Key>, class Allocator = std::allocator<Key>>
class bloom {
  using block = detail::bloom_block;
  using block_allocator = typename std::allocator_traits<Allocator>::template rebind_alloc<block>;
  using block_traits = std::allocator_traits<block_allocator>;

 public:
  using key_type = Key;
  using hasher = Hash;
  using allocator_type = Allocator;

  // A filter for `expected_items` distinct keys at false-positive rate
  // `false_positive_rate`. Throws std::invalid_argument naming the argument when
  // expected_items is 0, the rate is not in (0, 1), or no filter of at most 2^32 blocks
  // (256 GiB) meets the rate.
  bloom(std::size_t expected_items, double false_positive_rate, const Hash& hash = Hash(),
        const Allocator& alloc = Allocator())
      : hash_(hash), alloc_(alloc) {
    if (expected_items == 0)
      throw std::invalid_argument("tide::bloom: expected_items must be greater than 0");
    if (!(false_positive_rate > 0 && false_positive_rate < 1))
      throw std::invalid_argument("tide::bloom: false_positive_rate must be in (0, 1), got " +
                                  std::to_string(false_positive_rate));
    const detail::bloom_shape shape = detail::bloom_shape_for(expected_items, false_positive_rate);
    if (shape.blocks == 0 || shape.blocks > block_traits::max_size(alloc_))
      throw std::invalid_argument("tide::bloom: expected_items " + std::to_string(expected_items) +
                                  " at false_positive_rate " + std::to_string(false_positive_rate) +
                                  " needs more than 2^32 blocks (256 GiB)");
    blocks_ = static_cast<std::size_t>(shape.blocks);
    k_ = shape.hashes;
    expected_items_ = expected_items;
    expected_fpr_ = shape.fpr;
    data_ = allocate_zeroed();
  }
  bloom(std::size_t expected_items, double false_positive_rate, const Allocator& alloc)
      : bloom(expected_items, false_positive_rate, Hash(), alloc) {}

  bloom(const bloom& other)
      : hash_(other.hash_),
        alloc_(block_traits::select_on_container_copy_construction(other.alloc_)),
        blocks_(other.blocks_),
        k_(other.k_),
        expected_items_(other.expected_items_),
        expected_fpr_(other.expected_fpr_),
        inserted_(other.inserted_) {
    data_ = block_traits::allocate(alloc_, blocks_);
    std::memcpy(static_cast<void*>(data_), other.data_, size_in_bytes());
  }
  bloom(bloom&& other) noexcept
      : hash_(std::move(other.hash_)),
        alloc_(std::move(other.alloc_)),
        data_(std::exchange(other.data_, nullptr)),
        blocks_(std::exchange(other.blocks_, 0)),
        k_(other.k_),
        expected_items_(other.expected_items_),
        expected_fpr_(other.expected_fpr_),
        inserted_(std::exchange(other.inserted_, 0)) {}
  bloom& operator=(bloom other) noexcept {
    swap(other);
    return *this;
  }
  ~bloom() { release(); }

  // Adds key. Returns true if a bit changed: the key was certainly not in the filter.
  bool insert(const Key& key) { return insert_hash(hash_of(key)); }
  // clang-format off
  template <class K>
    requires detail::bloom_transparent_hash<Hash>
  bool insert(const K& key) {
    return insert_hash(hash_of(key));
  }
  // clang-format on

  // False: key was never inserted. True: it probably was (wrong with about expected_fpr()).
  bool contains(const Key& key) const { return contains_hash(hash_of(key)); }
  // clang-format off
  template <class K>
    requires detail::bloom_transparent_hash<Hash>
  bool contains(const K& key) const {
    return contains_hash(hash_of(key));
  }
  // clang-format on
  bool may_contain(const Key& key) const { return contains(key); }
  // clang-format off
  template <class K>
    requires detail::bloom_transparent_hash<Hash>
  bool may_contain(const K& key) const {
    return contains(key);
  }
  // clang-format on

  void clear() noexcept {
    std::memset(static_cast<void*>(data_), 0, size_in_bytes());
    inserted_ = 0;
  }

  // ORs other into this filter: afterwards it answers true for every key either held.
  // Both must have been built with the same expected_items and rate (so the same blocks and
  // hashes) and the same Hash; otherwise std::invalid_argument. approximate_count()
  // becomes the estimate from the bits set (the overlap of the two key sets is unknown).
  void merge(const bloom& other) {
    if (other.blocks_ != blocks_ || other.k_ != k_)
      throw std::invalid_argument("tide::bloom::merge: other has a different shape (blocks " +
                                  std::to_string(other.blocks_) + " vs " + std::to_string(blocks_) +
                                  ", hashes " + std::to_string(other.k_) + " vs " +
                                  std::to_string(k_) + ")");
    for (std::size_t b = 0; b < blocks_; ++b)
      for (unsigned w = 0; w < detail::bloom_block_words; ++w)
        data_[b].words[w] |= other.data_[b].words[w];
    inserted_ = estimate_count();
  }

  // Distinct keys inserted, approximately: inserts that set a new bit (a new key whose
  // bits were all set already — a false positive — is not counted). After merge(), the
  // estimate from the bits set. O(1).
  std::size_t approximate_count() const noexcept { return inserted_; }

  // The number of keys the bits suggest: per block, -(512/k) ln(1 - set/512) (Swamidass and
  // Baldi's estimator, applied block by block). O(size_in_bytes()).
  std::size_t estimate_count() const noexcept {
    double n = 0;
    for (std::size_t b = 0; b < blocks_; ++b) {
      unsigned set = 0;
      for (std::uint64_t w : data_[b].words) set += static_cast<unsigned>(std::popcount(w));
      // A full block's estimate is infinite; count it as 512 bits minus one.
      const double fill =
          std::min<double>(set, detail::bloom_block_bits - 1) / detail::bloom_block_bits;
      n += -std::log1p(-fill) * detail::bloom_block_bits / k_;
    }
    return static_cast<std::size_t>(std::llround(n));
  }

  // The model's false-positive rate at expected_items keys (see the top of this file).
  double expected_fpr() const noexcept { return expected_fpr_; }
  std::size_t expected_items() const noexcept { return expected_items_; }
  std::size_t size_in_bytes() const noexcept { return blocks_ * detail::bloom_block_bytes; }
  std::size_t blocks() const noexcept { return blocks_; }
  unsigned hashes() const noexcept { return k_; }
  allocator_type get_allocator() const { return allocator_type(alloc_); }
  hasher hash_function() const { return hash_; }

  void swap(bloom& other) noexcept {
    using std::swap;
    swap(hash_, other.hash_);
    if constexpr (block_traits::propagate_on_container_swap::value) swap(alloc_, other.alloc_);
    swap(data_, other.data_);
    swap(blocks_, other.blocks_);
    swap(k_, other.k_);
    swap(expected_items_, other.expected_items_);
    swap(expected_fpr_, other.expected_fpr_);
    swap(inserted_, other.inserted_);
  }
  friend void swap(bloom& a, bloom& b) noexcept { a.swap(b); }

 private:
  bool insert_hash(std::uint64_t h) {
    std::uint64_t* words = data_[block_of(h)].words;
    std::uint64_t added = 0;
    for_each_probe(h, [&](unsigned w, std::uint64_t bit) {
      added |= bit & ~words[w];
      words[w] |= bit;
    });
    inserted_ += added != 0;
    return added != 0;
  }

  bool contains_hash(std::uint64_t h) const {
    const std::uint64_t* words = data_[block_of(h)].words;
    std::uint64_t missing = 0;
    for_each_probe(h, [&](unsigned w, std::uint64_t bit) { missing |= bit & ~words[w]; });
    return missing == 0;
  }

  template <class K>
  std::uint64_t hash_of(const K& key) const {
    auto h = static_cast<std::uint64_t>(hash_(key));
    if constexpr (!detail::bloom_hash_avalanches<Hash>) h = detail::mix(h, 0x9E3779B97F4A7C15ull);
    return h;
  }

  std::size_t block_of(std::uint64_t h) const noexcept {
    return static_cast<std::size_t>(((h >> 32) * blocks_) >> 32);
  }

  // Calls f(word, bit mask) for each of the k probes of hash h (see the top of the file).
  template <class F>
  TIDE_ALWAYS_INLINE void for_each_probe(std::uint64_t h, F f) const {
    for (unsigned i = 0; i < k_; ++i) {
      const std::uint64_t x = (h * detail::bloom_probe_multipliers[i]) >> 55;
      f(static_cast<unsigned>(x >> 6), std::uint64_t{1} << (x & 63));
    }
  }

  block* allocate_zeroed() {
    block* p = block_traits::allocate(alloc_, blocks_);
    std::memset(static_cast<void*>(p), 0, blocks_ * detail::bloom_block_bytes);
    return p;
  }

  void release() noexcept {
    if (data_ != nullptr) block_traits::deallocate(alloc_, data_, blocks_);
    data_ = nullptr;
  }

  [[no_unique_address]] Hash hash_;
  [[no_unique_address]] block_allocator alloc_;
  block* data_ = nullptr;
  std::size_t blocks_ = 0;
  unsigned k_ = 0;
  std::size_t expected_items_ = 0;
  double expected_fpr_ = 0;
  std::size_t inserted_ = 0;
};

}  // namespace tide
