// The environment knobs' parsers: sizes, durations and switches, and what is malformed.
#include "environment.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace {

using namespace tide::heap::detail;

TEST(Environment, BytesTakeAnOptionalBinaryUnit) {
  EXPECT_EQ(parse_bytes("1048576"), std::size_t{1} << 20);
  EXPECT_EQ(parse_bytes("0"), 0u);
  EXPECT_EQ(parse_bytes("512MiB"), std::size_t{512} << 20);
  EXPECT_EQ(parse_bytes("512M"), std::size_t{512} << 20);
  EXPECT_EQ(parse_bytes("2G"), std::size_t{2} << 30);
  EXPECT_EQ(parse_bytes("64KiB"), std::size_t{64} << 10);
  EXPECT_EQ(parse_bytes("100B"), 100u);
}

TEST(Environment, MalformedBytesAreRejected) {
  for (const char* bad : {"", "MiB", "12 MiB", "-5", "1.5G", "10X", "99999999999999999999",
                          "17179869184G"}) {
    EXPECT_FALSE(parse_bytes(bad).has_value()) << bad;
  }
}

TEST(Environment, DelaysAreMillisecondsOrSecondsOrOff) {
  EXPECT_EQ(parse_milliseconds("250"), 250u);
  EXPECT_EQ(parse_milliseconds("250ms"), 250u);
  EXPECT_EQ(parse_milliseconds("2s"), 2000u);
  EXPECT_EQ(parse_milliseconds("off"), std::numeric_limits<std::size_t>::max());
  for (const char* bad : {"", "soon", "2 s", "2m", "-1", "1.5s"}) {
    EXPECT_FALSE(parse_milliseconds(bad).has_value()) << bad;
  }
}

TEST(Environment, SwitchesAreOneOrZero) {
  EXPECT_EQ(parse_switch("1"), true);
  EXPECT_EQ(parse_switch("on"), true);
  EXPECT_EQ(parse_switch("0"), false);
  EXPECT_EQ(parse_switch(""), false);
  EXPECT_FALSE(parse_switch("yes please").has_value());
}

}  // namespace
