// tide::pool against allocating every object: new/delete on glibc, tide::heap, and
// boost::object_pool. See docs/PERFORMANCE.md ("pool").
//
//   BM_<Op>_<Object>/<allocator>: one iteration is one get/put (or allocate/free) pair, in
//   batches of `batch` objects held at once (1: the same object back and forth; 32: a
//   working set, so a LIFO cache cannot hand back the object it was just given).
//   Objects: small (a 64-byte struct) and buffer (a std::vector<char> with 4 KiB reserved,
//   sync.Pool's bytes.Buffer case: the pool keeps the capacity, the others allocate it).
#include <benchmark/benchmark.h>

#include <array>
#include <boost/pool/object_pool.hpp>
#include <cstddef>
#include <new>
#include <tide/heap.hpp>
#include <tide/pool.hpp>
#include <vector>

namespace {

struct small {
  std::array<std::uint64_t, 8> words{};
};
static_assert(sizeof(small) == 64, "a cache line of payload");

constexpr std::size_t buffer_capacity = 4096;

struct buffer {
  std::vector<char> bytes;
  buffer() { bytes.reserve(buffer_capacity); }
};

template <class T>
void touch(T* p) {
  if constexpr (std::is_same_v<T, small>) {
    p->words[0] = 1;
  } else {
    p->bytes.push_back('x');
  }
  benchmark::DoNotOptimize(p);
}

template <class T>
void BM_Pool(benchmark::State& state) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  // small needs no reset hook; a buffer is cleared (its capacity kept).
  typename tide::pool<T>::reset_type reset = nullptr;
  if constexpr (std::is_same_v<T, buffer>) reset = [](buffer& b) { b.bytes.clear(); };
  static tide::pool<T> pool(
      tide::pool_options{.max_per_thread = 64, .max_bytes_per_thread = 1 << 20, .max_total = 4096},
      nullptr, reset);
  std::vector<T*> held(batch);
  for (auto _ : state) {
    for (auto& p : held) touch(p = pool.take());
    for (T* p : held) pool.put(p);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch));
}

template <class T>
void BM_NewDelete(benchmark::State& state) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  std::vector<T*> held(batch);
  for (auto _ : state) {
    for (auto& p : held) touch(p = new T());
    for (T* p : held) delete p;
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch));
}

// tide::heap for the object; the buffer's vector still allocates with std::allocator.
template <class T>
void BM_TideHeap(benchmark::State& state) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  std::vector<T*> held(batch);
  for (auto _ : state) {
    for (auto& p : held) touch(p = ::new (tide::heap::allocate(sizeof(T), alignof(T))) T());
    for (T* p : held) {
      p->~T();
      tide::heap::deallocate(p, sizeof(T));
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch));
}

template <class T>
void BM_BoostObjectPool(benchmark::State& state) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  boost::object_pool<T> pool;
  std::vector<T*> held(batch);
  for (auto _ : state) {
    for (auto& p : held) touch(p = pool.construct());
    for (T* p : held) pool.destroy(p);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch));
}

void batches(benchmark::internal::Benchmark* b) { b->Arg(1)->Arg(32); }

BENCHMARK(BM_Pool<small>)->Name("BM_GetPut_small/tide_pool")->Apply(batches);
BENCHMARK(BM_NewDelete<small>)->Name("BM_GetPut_small/new_delete")->Apply(batches);
BENCHMARK(BM_TideHeap<small>)->Name("BM_GetPut_small/tide_heap")->Apply(batches);
BENCHMARK(BM_BoostObjectPool<small>)->Name("BM_GetPut_small/boost_object_pool")->Apply(batches);
BENCHMARK(BM_Pool<buffer>)->Name("BM_GetPut_buffer/tide_pool")->Apply(batches);
BENCHMARK(BM_NewDelete<buffer>)->Name("BM_GetPut_buffer/new_delete")->Apply(batches);
BENCHMARK(BM_TideHeap<buffer>)->Name("BM_GetPut_buffer/tide_heap")->Apply(batches);
BENCHMARK(BM_BoostObjectPool<buffer>)->Name("BM_GetPut_buffer/boost_object_pool")->Apply(batches);
// Two threads on one pool (each with its own thread cache) and on the allocators.
BENCHMARK(BM_Pool<small>)->Name("BM_GetPut_small_2threads/tide_pool")->Arg(32)->Threads(2);
BENCHMARK(BM_NewDelete<small>)->Name("BM_GetPut_small_2threads/new_delete")->Arg(32)->Threads(2);
BENCHMARK(BM_TideHeap<small>)->Name("BM_GetPut_small_2threads/tide_heap")->Arg(32)->Threads(2);

}  // namespace

BENCHMARK_MAIN();
