// The map variants every typed map test runs over. Each names a map type and how to make
// the key and value for an integer i (distinct i → distinct keys), plus the plain value that
// value(i) must compare equal to (expected(i)), for messages and checks.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include <gtest/gtest.h>
#include <tide/counting_allocator.hpp>
#include <tide/map.hpp>

#include "support/faults.hpp"
#include "support/hashes.hpp"
#include "support/random.hpp"

namespace tide_test {

struct int_keys {
  using map_type = tide::map<int, int>;
  static int key(int i) { return i; }
  static int value(int i) { return i * 7 + 1; }
  static int expected(int i) { return i * 7 + 1; }
};

struct string_keys {
  using map_type = tide::map<std::string, std::string>;
  static std::string key(int i) { return string_key(static_cast<std::uint64_t>(i)); }
  static std::string value(int i) { return "value-" + std::to_string(i); }
  static std::string expected(int i) { return value(i); }
};

struct move_only_values {
  using map_type = tide::map<int, std::unique_ptr<int>>;
  static int key(int i) { return i; }
  static std::unique_ptr<int> value(int i) { return std::make_unique<int>(i * 3 + 2); }
  static int expected(int i) { return i * 3 + 2; }
};

struct counting_allocator_map {
  using map_type =
      tide::map<std::uint64_t, std::uint64_t, tide::hash<std::uint64_t>, std::equal_to<std::uint64_t>,
                tide::counting_allocator<std::pair<const std::uint64_t, std::uint64_t>>>;
  static std::uint64_t key(int i) { return static_cast<std::uint64_t>(i) << 32 | 0x5a5a; }
  static std::uint64_t value(int i) { return static_cast<std::uint64_t>(i) * 11 + 5; }
  static std::uint64_t expected(int i) { return value(i); }
};

// Only four distinct hash values: correctness must not depend on hash quality.
struct colliding_hash_map {
  using map_type = tide::map<int, int, colliding_hash<int, 4>>;
  static int key(int i) { return i; }
  static int value(int i) { return -i - 1; }
  static int expected(int i) { return -i - 1; }
};

// Values that count constructions and destructions (the fixture checks they balance).
struct counted_values {
  using map_type = tide::map<std::string, counted_value>;
  static std::string key(int i) { return string_key(static_cast<std::uint64_t>(i)); }
  static counted_value value(int i) { return counted_value(i + 1000); }
  static int expected(int i) { return i + 1000; }
};

using all_map_variants = ::testing::Types<int_keys, string_keys, move_only_values,
                                          counting_allocator_map, colliding_hash_map,
                                          counted_values>;

}  // namespace tide_test
