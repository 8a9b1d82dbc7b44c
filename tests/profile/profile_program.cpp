// A program for the heap profile's end-to-end test (tests/profile/pprof_test.sh): it allocates
// from functions with distinctive names, keeps some of it, frees the rest and writes a heap
// profile, which `go tool pprof -top` must read and attribute.
//
//   profile_program PATH [--shim]
//     writes PATH with tide::write_heap_profile; with --shim, allocates with malloc/new (run
//     under LD_PRELOAD=libtide_malloc.so with TIDE_PROFILE set; the profile is written at exit)
//
// What it allocates, at a sampling rate of 64 KiB:
//   keep_these_blocks     64 MiB in 1 KiB blocks, all kept (in use at the end)
//   churn_through_blocks  64 MiB in 4 KiB blocks, all freed
//   keep_large_blocks     32 MiB in 1 MiB blocks, all kept
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tide/heap.hpp"

// Named functions with external linkage: Go 1.19's pprof leaves functions in an anonymous
// namespace without a name (it fails to demangle _GLOBAL__N_1).
static bool through_malloc = false;

__attribute__((noinline)) void* allocate_for_test(std::size_t bytes) {
  void* p = through_malloc ? std::malloc(bytes) : tide::heap::allocate(bytes);
  std::memset(p, 1, bytes < 64 ? bytes : 64);
  return p;
}

static void release(void* p) {
  if (through_malloc) {
    std::free(p);
  } else {
    tide::heap::deallocate(p);
  }
}

__attribute__((noinline)) void keep_these_blocks(std::vector<void*>& kept) {
  for (int i = 0; i < 64 * 1024; ++i) kept.push_back(allocate_for_test(1024));
}

__attribute__((noinline)) void churn_through_blocks() {
  for (int i = 0; i < 16 * 1024; ++i) release(allocate_for_test(4096));
}

__attribute__((noinline)) void keep_large_blocks(std::vector<void*>& kept) {
  for (int i = 0; i < 32; ++i) kept.push_back(allocate_for_test(1 << 20));
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: profile_program PATH [--shim]\n");
    return 2;
  }
  through_malloc = argc > 2 && std::strcmp(argv[2], "--shim") == 0;
  if (!through_malloc) tide::set_heap_profile_rate(64 << 10);
  std::vector<void*> kept;
  kept.reserve(80 * 1024);
  keep_these_blocks(kept);
  churn_through_blocks();
  keep_large_blocks(kept);
  if (!through_malloc) tide::write_heap_profile(argv[1]);
  std::printf("kept %zu blocks\n", kept.size());
  for (void* p : kept) release(p);
  return 0;
}
