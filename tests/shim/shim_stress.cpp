// shim_stress: a multithreaded program that exercises the malloc family and operator new the
// way real programs do. Run by tests/shim/run_under_shim.sh with and without
// LD_PRELOAD=libtide_malloc.so: both runs must print the same and exit 0. Under the shim it also
// checks that malloc is tide's and that memstats add up at exit.
//
//   threads        4 threads of malloc/calloc/realloc (growing and shrinking)/free and
//                  new/delete, every block pattern-checked before it is freed
//   alignment      posix_memalign, aligned_alloc, memalign, valloc, pvalloc up to 1 MiB
//   edge cases     malloc(0), free(NULL), calloc and reallocarray overflow (NULL, ENOMEM)
//   fork           fork while the other threads allocate; the child allocates and exits 0
#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tide/tide.h"

// Defined only when libtide_malloc.so is preloaded.
extern "C" void tide_read_memstats(struct tide_memstats*) __attribute__((weak));
extern "C" size_t tide_malloc_usable_size(const void*) __attribute__((weak));

namespace {

int failures = 0;

void check(bool ok, const char* what) {
  if (!ok) {
    std::printf("FAILED: %s\n", what);
    ++failures;
  }
}

std::uint64_t next(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

struct block {
  unsigned char* p = nullptr;
  std::size_t size = 0;
  unsigned char tag = 0;
};

bool intact(const block& b) {
  for (std::size_t i = 0; i < b.size; i += 61) {
    if (b.p[i] != b.tag) return false;
  }
  return b.size == 0 || b.p[b.size - 1] == b.tag;
}

void fill(block& b, unsigned char tag) {
  b.tag = tag;
  std::memset(b.p, tag, b.size);
}

void worker(int id, std::atomic<bool>& bad) {
  std::uint64_t rng = 1000 + static_cast<std::uint64_t>(id);
  std::vector<block> slots(512);
  for (int op = 0; op < 200000; ++op) {
    block& b = slots[next(rng) % slots.size()];
    const std::uint64_t r = next(rng);
    if (b.p != nullptr && !intact(b)) bad = true;
    const std::size_t size = (r >> 8) % 64 == 0 ? (r >> 16) % 300000 : (r >> 16) % 2000;
    switch (r % 4) {
      case 0:  // free and allocate
        std::free(b.p);
        b.p = static_cast<unsigned char*>(std::malloc(size));
        b.size = size;
        break;
      case 1:  // realloc, growing or shrinking: the old contents survive
        if (b.p != nullptr) {
          const std::size_t keep = std::min(b.size, size);
          auto* q = static_cast<unsigned char*>(std::realloc(b.p, size == 0 ? 1 : size));
          for (std::size_t i = 0; i < keep; i += 61) {
            if (q[i] != b.tag) bad = true;
          }
          b.p = q;
          b.size = size;
        }
        break;
      case 2:  // calloc: zeroed
        std::free(b.p);
        b.p = static_cast<unsigned char*>(std::calloc(1, size));
        for (std::size_t i = 0; i < size; i += 61) {
          if (b.p[i] != 0) bad = true;
        }
        b.size = size;
        break;
      default: {  // C++: new and delete of a string and a vector
        auto s = std::make_unique<std::string>(size % 500, 'x');
        std::vector<int> v(size % 300, id);
        if (s->size() != size % 500 || (!v.empty() && v.back() != id)) bad = true;
        break;
      }
    }
    if (b.p != nullptr) fill(b, static_cast<unsigned char>(r >> 56));
  }
  for (block& b : slots) {
    if (b.p != nullptr && !intact(b)) bad = true;
    std::free(b.p);
  }
}

void alignments() {
  for (std::size_t align = sizeof(void*); align <= (std::size_t{1} << 20); align *= 2) {
    void* p = nullptr;
    check(posix_memalign(&p, align, 100) == 0, "posix_memalign succeeds");
    check(reinterpret_cast<std::uintptr_t>(p) % align == 0, "posix_memalign aligns");
    std::free(p);
    void* q = aligned_alloc(align, align * 2);
    check(q != nullptr && reinterpret_cast<std::uintptr_t>(q) % align == 0, "aligned_alloc");
    std::free(q);
    void* m = memalign(align, 3000);
    check(m != nullptr && reinterpret_cast<std::uintptr_t>(m) % align == 0, "memalign");
    std::free(m);
  }
  void* p = nullptr;
  check(posix_memalign(&p, 24, 10) == EINVAL, "posix_memalign rejects a non-power of two");
  void* v = valloc(100);
  check(v != nullptr && reinterpret_cast<std::uintptr_t>(v) % 4096 == 0, "valloc");
  std::free(v);
  void* pv = pvalloc(5000);
  check(pv != nullptr && reinterpret_cast<std::uintptr_t>(pv) % 4096 == 0, "pvalloc");
  check(malloc_usable_size(pv) >= 8192, "pvalloc rounds the size up to whole pages");
  std::free(pv);
}

void edge_cases() {
  void* a = std::malloc(0);
  void* b = std::malloc(0);
  check(a != nullptr && b != nullptr && a != b, "malloc(0) gives distinct pointers");
  std::free(a);
  std::free(b);
  std::free(nullptr);
  // volatile: the compiler must not fold the calls whose result it could predict.
  volatile std::size_t half = SIZE_MAX / 2;
  volatile std::size_t huge = SIZE_MAX - 4096;
  errno = 0;
  check(std::calloc(half, 4) == nullptr && errno == ENOMEM, "calloc overflow: ENOMEM");
  errno = 0;
  check(reallocarray(nullptr, half, 4) == nullptr && errno == ENOMEM,
        "reallocarray overflow: ENOMEM");
  errno = 0;
  check(std::malloc(huge) == nullptr && errno == ENOMEM, "huge malloc: ENOMEM");
}

void fork_while_threads_allocate() {
  std::atomic<bool> stop{false};
  std::thread busy([&] {
    while (!stop) std::free(std::malloc(100));
  });
  const pid_t child = fork();
  if (child == 0) {
    std::vector<void*> blocks;
    for (int i = 0; i < 10000; ++i) blocks.push_back(std::malloc(static_cast<std::size_t>(i % 5000)));
    for (void* p : blocks) std::free(p);
    std::_Exit(0);
  }
  int status = 0;
  check(child > 0 && waitpid(child, &status, 0) == child, "fork and wait");
  check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the forked child allocates and exits 0");
  stop = true;
  busy.join();
}

void memstats_add_up() {
  if (tide_read_memstats == nullptr) return;  // not under the shim
  void* p = std::calloc(1, 100);
  check(tide_malloc_usable_size(p) == 112, "calloc is tide's: a 100 B request is a 112 B object");
  std::free(p);
  tide_memstats s{};
  tide_read_memstats(&s);
  check(s.arena_bytes == s.in_use_bytes + s.idle_bytes + s.released_bytes,
        "memstats: arena == in use + idle + released");
  check(s.live_objects == s.mallocs - s.frees, "memstats: live == mallocs - frees");
  check(s.mallocs > 800000, "memstats counted the program's allocations");
}

}  // namespace

int main() {
  std::atomic<bool> bad{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) threads.emplace_back(worker, i, std::ref(bad));
  for (std::thread& t : threads) t.join();
  check(!bad, "every block kept its contents");
  alignments();
  edge_cases();
  fork_while_threads_allocate();
  memstats_add_up();
  std::printf("shim_stress: %s\n", failures == 0 ? "ok" : "FAILED");
  return failures == 0 ? 0 : 1;
}
