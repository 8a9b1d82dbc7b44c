// The heap profile in pprof's format: profile.proto (github.com/google/pprof, proto/
// profile.proto), gzip-compressed, as Go's runtime/pprof writes a heap profile. See
// docs/heap.md ("Heap profiles").
//
// Sample types, in Go's order: alloc_objects/count, alloc_space/bytes, inuse_objects/count,
// inuse_space/bytes (the default). Each distinct stack is one sample whose values are the
// sampled counts scaled up by the chance of sampling them (an allocation of s bytes at rate
// R is sampled with probability 1 - exp(-s/R); Go's scaleHeapSample). Locations are return
// addresses minus one (the call instruction), each in a mapping of an executable file read
// from /proc/self/maps; pprof symbolizes them from those files (binutils' addr2line). The
// profile's drop_frames names the allocator's own frames, which pprof removes.
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "profile.hpp"

namespace tide::heap::detail {

namespace {

// Protocol buffers' wire format, the parts profile.proto uses: varints and length-delimited
// fields (strings, nested messages, packed repeated integers).
class proto_writer {
 public:
  void varint(std::uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7F) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  void int_field(int field, std::uint64_t v) {
    if (v == 0) return;  // proto3: a zero is not written
    varint(static_cast<std::uint64_t>(field) << 3);
    varint(v);
  }
  void bytes_field(int field, std::string_view bytes) {
    varint((static_cast<std::uint64_t>(field) << 3) | 2);
    varint(bytes.size());
    out_.append(bytes);
  }
  void message_field(int field, const proto_writer& message) { bytes_field(field, message.out_); }
  template <class Integers>
  void packed_field(int field, const Integers& values) {
    proto_writer packed;
    for (const auto v : values) packed.varint(static_cast<std::uint64_t>(v));
    message_field(field, packed);
  }
  const std::string& bytes() const noexcept { return out_; }

 private:
  std::string out_;
};

class string_table {
 public:
  string_table() { index(""); }
  std::uint64_t index(const std::string& s) {
    const auto [it, added] = indices_.try_emplace(s, strings_.size());
    if (added) strings_.push_back(s);
    return it->second;
  }
  const std::vector<std::string>& strings() const noexcept { return strings_; }

 private:
  std::unordered_map<std::string, std::uint64_t> indices_;
  std::vector<std::string> strings_;
};

struct mapping {
  std::uint64_t start;
  std::uint64_t limit;
  std::uint64_t offset;
  std::string file;
};

// The executable mappings of files: the ranges pprof can symbolize.
std::vector<mapping> executable_mappings() {
  std::vector<mapping> mappings;
  std::FILE* maps = std::fopen("/proc/self/maps", "r");
  if (maps == nullptr) return mappings;
  char line[4096];
  while (std::fgets(line, sizeof line, maps) != nullptr) {
    std::uint64_t start = 0, limit = 0, offset = 0;
    char perms[8] = {};
    int path_at = 0;
    if (std::sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*s %*s %n", &start, &limit,
                    perms, &offset, &path_at) < 4) {
      continue;
    }
    std::string file(line + path_at);
    if (!file.empty() && file.back() == '\n') file.pop_back();
    if (perms[2] != 'x' || file.empty() || file[0] != '/') continue;
    mappings.push_back({start, limit, offset, std::move(file)});
  }
  std::fclose(maps);
  return mappings;
}

// Go's scaleHeapSample: the expected allocations and bytes behind `count` samples of `bytes`.
std::pair<std::int64_t, std::int64_t> unsampled(std::uint64_t count, std::uint64_t bytes,
                                                std::size_t rate) {
  if (count == 0 || bytes == 0 || rate <= 1) {
    return {static_cast<std::int64_t>(count), static_cast<std::int64_t>(bytes)};
  }
  const double average = static_cast<double>(bytes) / static_cast<double>(count);
  const double scale = 1.0 / -std::expm1(-average / static_cast<double>(rate));
  return {std::llround(static_cast<double>(count) * scale),
          std::llround(static_cast<double>(bytes) * scale)};
}

// The allocator's own frames (pprof drops them and everything they called).
// pprof matches the whole name, and may show a function of an anonymous namespace by its bare
// name (Go 1.19's pprof does not demangle _GLOBAL__N_1): both forms are listed.
constexpr const char* allocator_frames =
    "(tide::heap::detail::(\\(anonymous namespace\\)::)?)?allocate_(sampled|large).*|"
    "tide::heap::allocate.*|tide_(malloc|calloc|realloc|aligned_alloc|posix_memalign).*|"
    "malloc|calloc|realloc|reallocarray|posix_memalign|aligned_alloc|memalign|valloc|pvalloc|"
    "operator new.*|tide::heap_resource::.*|tide::heap_allocator<.*>::allocate.*";

std::string profile_proto(const std::vector<heap_profile::stack_record>& stacks,
                          std::size_t rate, std::uint64_t dropped) {
  string_table strings;
  proto_writer profile;
  for (const auto& [type, unit] : {std::pair{"alloc_objects", "count"}, {"alloc_space", "bytes"},
                                    {"inuse_objects", "count"}, {"inuse_space", "bytes"}}) {
    proto_writer value_type;
    value_type.int_field(1, strings.index(type));
    value_type.int_field(2, strings.index(unit));
    profile.message_field(1, value_type);
  }

  const std::vector<mapping> mappings = executable_mappings();
  std::unordered_map<std::uintptr_t, std::uint64_t> location_ids;
  std::vector<std::uintptr_t> locations;
  for (const heap_profile::stack_record& stack : stacks) {
    if (stack.allocs == 0) continue;
    proto_writer sample;
    std::vector<std::uint64_t> ids;
    for (std::uint32_t i = 0; i < stack.depth; ++i) {
      const std::uintptr_t pc = stack.frames[i] - 1;
      const auto [it, added] = location_ids.try_emplace(pc, locations.size() + 1);
      if (added) locations.push_back(pc);
      ids.push_back(it->second);
    }
    const auto [alloc_objects, alloc_space] = unsampled(stack.allocs, stack.alloc_bytes, rate);
    const auto [inuse_objects, inuse_space] =
        unsampled(stack.allocs - stack.frees, stack.alloc_bytes - stack.free_bytes, rate);
    sample.packed_field(1, ids);
    sample.packed_field(2, std::vector<std::int64_t>{alloc_objects, alloc_space, inuse_objects,
                                                    inuse_space});
    profile.message_field(2, sample);
  }

  for (std::size_t m = 0; m < mappings.size(); ++m) {
    proto_writer message;
    message.int_field(1, m + 1);
    message.int_field(2, mappings[m].start);
    message.int_field(3, mappings[m].limit);
    message.int_field(4, mappings[m].offset);
    message.int_field(5, strings.index(mappings[m].file));
    profile.message_field(3, message);
  }
  for (std::size_t l = 0; l < locations.size(); ++l) {
    proto_writer message;
    message.int_field(1, l + 1);
    for (std::size_t m = 0; m < mappings.size(); ++m) {
      if (locations[l] >= mappings[m].start && locations[l] < mappings[m].limit) {
        message.int_field(2, m + 1);
        break;
      }
    }
    message.int_field(3, locations[l]);
    profile.message_field(4, message);
  }

  profile.int_field(7, strings.index(allocator_frames));
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  profile.int_field(9, static_cast<std::uint64_t>(
                           std::chrono::duration_cast<std::chrono::nanoseconds>(now).count()));
  proto_writer period_type;
  period_type.int_field(1, strings.index("space"));
  period_type.int_field(2, strings.index("bytes"));
  profile.message_field(11, period_type);
  profile.int_field(12, rate);
  char comment[160];
  std::snprintf(comment, sizeof comment,
                "tide::heap profile: one sample per %zu bytes allocated on average; %" PRIu64
                " samples dropped (tables full)",
                rate, dropped);
  profile.int_field(13, strings.index(comment));
  profile.int_field(14, strings.index("inuse_space"));
  // The string table last: every index above has been taken.
  for (const std::string& s : strings.strings()) profile.bytes_field(6, s);
  return profile.bytes();
}

std::string gzip(const std::string& raw) {
  z_stream stream{};
  if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::system_error(ENOMEM, std::generic_category(), "heap profile: deflateInit2");
  }
  std::string out(deflateBound(&stream, raw.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  stream.avail_in = static_cast<uInt>(raw.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int status = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  if (status != Z_STREAM_END) {
    throw std::system_error(EIO, std::generic_category(), "heap profile: deflate");
  }
  return out;
}

void write_file(const std::string& path, const std::string& bytes) {
  const std::string temporary = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "heap profile: " + temporary);
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = n < 0 ? errno : EIO;
      ::close(fd);
      ::unlink(temporary.c_str());
      throw std::system_error(error, std::generic_category(), "heap profile: " + temporary);
    }
    written += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0 || ::rename(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    throw std::system_error(error, std::generic_category(), "heap profile: " + path);
  }
}

}  // namespace

void write_profile_file(const heap_profile& profile, const char* path) {
  heap_profile::thread_inside_scope inside;  // the writer's own allocations are not sampled
  write_file(path, gzip(profile_proto(profile.stacks(), profile.sampled_rate(), profile.dropped_samples())));
}

}  // namespace tide::heap::detail
