// The heap profile: which allocations are sampled, that sampled blocks behave like any other,
// that frees are counted, and the file it writes. tests/profile/check_pprof.py checks that
// `go tool pprof` reads the file and attributes the bytes.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "profile.hpp"
#include "support/scale.hpp"
#include "tide/heap.hpp"
#include "tide/tide.h"

namespace {

using tide::heap::detail::heap_profile;
using tide::heap::detail::the_heap_profile;

struct totals {
  std::uint64_t allocs = 0;
  std::uint64_t alloc_bytes = 0;
  std::uint64_t frees = 0;
  std::uint64_t free_bytes = 0;
};

totals profile_totals() {
  totals t;
  for (const heap_profile::stack_record& s : the_heap_profile().stacks()) {
    t.allocs += s.allocs;
    t.alloc_bytes += s.alloc_bytes;
    t.frees += s.frees;
    t.free_bytes += s.free_bytes;
  }
  return t;
}

// Sets the rate for one test and turns sampling off after it.
class HeapProfile : public ::testing::Test {
 protected:
  void TearDown() override { tide::set_heap_profile_rate(0); }
};

TEST_F(HeapProfile, NothingIsSampledWhenOff) {
  tide::set_heap_profile_rate(0);
  const totals before = profile_totals();
  std::vector<void*> blocks;
  for (int i = 0; i < 10000; ++i) blocks.push_back(tide::heap::allocate(4096));
  for (void* p : blocks) tide::heap::deallocate(p);
  EXPECT_EQ(profile_totals().allocs, before.allocs);
}

// Each of n allocations of s bytes is sampled with probability 1 - exp(-s/rate).
TEST_F(HeapProfile, SamplesAsOftenAsTheRateSays) {
  constexpr std::size_t rate = 4096;
  constexpr std::size_t size = 64;
  const std::size_t n = tide_test::scaled(40000, 4000);
  tide::set_heap_profile_rate(rate);
  ASSERT_EQ(tide::heap_profile_rate(), rate);
  const totals before = profile_totals();
  std::vector<void*> blocks;
  blocks.reserve(n);
  for (std::size_t i = 0; i < n; ++i) blocks.push_back(tide::heap::allocate(size));
  tide::set_heap_profile_rate(0);  // the frees below must not add samples
  const totals sampled = profile_totals();
  for (void* p : blocks) tide::heap::deallocate(p, size);
  const totals after = profile_totals();

  const double p = -std::expm1(-double(size) / double(rate));
  const double expected = double(n) * p;
  const double sigma = std::sqrt(double(n) * p * (1 - p));
  const auto got = double(sampled.allocs - before.allocs);
  EXPECT_NEAR(got, expected, 6 * sigma) << "samples of " << n << " allocations";
  EXPECT_EQ(sampled.alloc_bytes - before.alloc_bytes, (sampled.allocs - before.allocs) * size);
  // Every sampled block was freed, and counted as freed once.
  EXPECT_EQ(after.frees - before.frees, sampled.allocs - before.allocs);
  EXPECT_EQ(after.free_bytes - before.free_bytes, sampled.alloc_bytes - before.alloc_bytes);
  EXPECT_FALSE(the_heap_profile().has_live_samples());
}

// At a rate of one byte (almost) every allocation is sampled: each gets pages of its own,
// which must honour the size, the alignment and sized deallocation like any other block.
TEST_F(HeapProfile, SampledBlocksAreOrdinaryBlocks) {
  // A thread's sampler lives in its cache: the allocation that creates the cache (this
  // thread's first small one) is never sampled.
  tide::heap::deallocate(tide::heap::allocate(8));
  tide::set_heap_profile_rate(1);
  const totals before = profile_totals();
  struct request {
    std::size_t size;
    std::size_t align;
  };
  // Sizes of 24 B and more: at a rate of 1 B the chance that one is not sampled is e^-24.
  const request requests[] = {{24, 16},    {100, 64},   {4096, 16},       {5000, 4096},
                              {40000, 16}, {64, 8192},  {1 << 20, 65536}, {33, 1 << 20},
                              {32768, 128}, {48, 8},    {(1 << 20) + 1, 16}};
  std::vector<std::pair<void*, std::size_t>> blocks;
  for (const request& r : requests) {
    auto* p = static_cast<unsigned char*>(tide::heap::allocate(r.size, r.align));
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % r.align, 0u) << r.size << " at " << r.align;
    EXPECT_GE(tide::heap::usable_size(p), r.size);
    std::memset(p, 0xA5, tide::heap::usable_size(p));
    blocks.emplace_back(p, r.size);
  }
  tide::set_heap_profile_rate(0);
  EXPECT_EQ(profile_totals().allocs - before.allocs, std::size(requests));
  EXPECT_TRUE(the_heap_profile().has_live_samples());
  for (auto [p, size] : blocks) tide::heap::deallocate(p, size);
  const totals after = profile_totals();
  EXPECT_EQ(after.frees - before.frees, std::size(requests));
  EXPECT_FALSE(the_heap_profile().has_live_samples());
}

TEST_F(HeapProfile, ADoubleFreeOfASampledBlockIsCaught) {
  // The scavenger thread runs by now: a forked child must start afresh (re-executed).
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        tide::set_heap_profile_rate(1);
        void* p = tide::heap::allocate(48);
        tide::heap::deallocate(p);
        tide::heap::deallocate(p);
      },
      "double free");
}

TEST_F(HeapProfile, ThreadsSampleAndFreeConcurrently) {
  tide::set_heap_profile_rate(1024);
  const totals before = profile_totals();
  const int per_thread = static_cast<int>(tide_test::scaled(20000, 2000));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([per_thread, t] {
      tide::set_heap_profile_rate(1024);  // this thread's sampler at once
      std::vector<void*> held;
      for (int i = 0; i < per_thread; ++i) {
        held.push_back(tide::heap::allocate(static_cast<std::size_t>(16 + (i + t) % 2000)));
        if (held.size() == 64) {
          for (void* p : held) tide::heap::deallocate(p);
          held.clear();
        }
      }
      for (void* p : held) tide::heap::deallocate(p);
    });
  }
  for (std::thread& t : threads) t.join();
  const totals after = profile_totals();
  EXPECT_GT(after.allocs - before.allocs, 0u);
  EXPECT_EQ(after.frees - before.frees, after.allocs - before.allocs);
  EXPECT_FALSE(the_heap_profile().has_live_samples());
}

std::string gunzip(const std::string& compressed) {
  z_stream stream{};
  EXPECT_EQ(inflateInit2(&stream, 15 + 16), Z_OK);
  std::string out;
  char buffer[1 << 14];
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  int status = Z_OK;
  while (status == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof buffer;
    status = inflate(&stream, Z_NO_FLUSH);
    out.append(buffer, sizeof buffer - stream.avail_out);
  }
  inflateEnd(&stream);
  EXPECT_EQ(status, Z_STREAM_END);
  return out;
}

TEST_F(HeapProfile, WritesAGzippedProfileProto) {
  tide::set_heap_profile_rate(1);
  void* p = tide::heap::allocate(1000);
  const auto path = std::filesystem::temp_directory_path() /
                    ("tide_profile_test_" + std::to_string(::getpid()) + ".pb.gz");
  tide::write_heap_profile(path.string());
  tide::heap::deallocate(p);
  std::ifstream in(path, std::ios::binary);
  const std::string file{std::istreambuf_iterator<char>(in), {}};
  std::filesystem::remove(path);
  ASSERT_GE(file.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(file[0]), 0x1f);  // gzip's magic
  EXPECT_EQ(static_cast<unsigned char>(file[1]), 0x8b);
  const std::string proto = gunzip(file);
  // Field 1 (sample_type), length-delimited: the first byte of a profile.proto.
  ASSERT_FALSE(proto.empty());
  EXPECT_EQ(proto[0], '\x0a');
  for (const char* name : {"alloc_objects", "alloc_space", "inuse_objects", "inuse_space",
                           "count", "bytes", "space"}) {
    EXPECT_NE(proto.find(name), std::string::npos) << name;
  }
}

TEST_F(HeapProfile, AnUnwritablePathIsAnErrorAndLeavesNothing) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("tide_profile_missing_" + std::to_string(::getpid()));
  const std::string path = (dir / "heap.pb.gz").string();
  EXPECT_THROW(tide::write_heap_profile(path), std::system_error);
  errno = 0;
  EXPECT_EQ(tide_write_heap_profile(path.c_str()), -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_FALSE(std::filesystem::exists(dir));
}

}  // namespace
