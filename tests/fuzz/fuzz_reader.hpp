// The fuzz bodies' view of an input: bytes read one at a time, zeros once it runs out (so
// every input, however short, is a complete run).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tide_test {

class fuzz_reader {
 public:
  fuzz_reader(const std::uint8_t* data, std::size_t size) : p_(data), end_(data + size) {}
  bool done() const { return p_ >= end_; }
  std::uint8_t byte() { return p_ < end_ ? *p_++ : 0; }
  std::uint16_t u16() {
    const std::uint16_t lo = byte();
    return static_cast<std::uint16_t>(lo | byte() << 8);
  }

 private:
  const std::uint8_t* p_;
  const std::uint8_t* end_;
};

}  // namespace tide_test
