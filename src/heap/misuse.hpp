// Reports misuse of tide::heap (a foreign pointer, a double free, an interior pointer) and
// aborts. See docs/heap.md.
#pragma once

namespace tide::heap::detail {

[[noreturn]] void report_misuse(const char* what, const void* p) noexcept;

}  // namespace tide::heap::detail
