/* tide's C interface: tide::heap for C programs, and what libtide_malloc.so (the LD_PRELOAD
 * malloc) is built on. See docs/heap.md ("C interface and LD_PRELOAD").
 *
 *   void* p = tide_malloc(100);
 *   tide_free(p);
 *   struct tide_memstats s;
 *   tide_read_memstats(&s);
 *   printf("%zu live bytes\n", s.live_bytes);
 *
 * Allocation functions follow the C standard and POSIX: on failure they return NULL and set
 * errno to ENOMEM (EINVAL for a bad alignment); tide_free(NULL) does nothing. Freeing a
 * pointer tide did not return prints what went wrong and aborts (docs/heap.md, "Checks"). */
#ifndef TIDE_TIDE_H
#define TIDE_TIDE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

void* tide_malloc(size_t size);
void* tide_calloc(size_t count, size_t size); /* NULL and ENOMEM if count * size overflows */
void* tide_realloc(void* p, size_t size);     /* size 0 frees p and returns NULL, as glibc */
void tide_free(void* p);
void tide_free_sized(void* p, size_t size); /* size: what was asked for */
/* align: a power of two that is a multiple of sizeof(void*); else EINVAL. */
int tide_posix_memalign(void** out, size_t align, size_t size);
void* tide_aligned_alloc(size_t align, size_t size); /* align: a power of two */
size_t tide_malloc_usable_size(const void* p);     /* 0 for NULL */

/* Every free page back to the OS now; the bytes released. */
size_t tide_release_memory(void);
/* The soft memory limit in bytes; 0: none. */
void tide_set_memory_limit(size_t bytes);

/* Heap profiles (tide::set_heap_profile_rate, tide::write_heap_profile): bytes per sample,
 * 0 for none; the profile written to path in pprof's format, 0 on success, else -1 with
 * errno set. */
void tide_set_heap_profile_rate(size_t bytes);
int tide_write_heap_profile(const char* path);

/* The scalar fields of tide::memstats (include/tide/memstats.hpp), same names and meaning. */
struct tide_memstats {
  size_t arena_bytes;
  size_t in_use_bytes;
  size_t idle_bytes;
  size_t released_bytes;
  size_t metadata_bytes;
  size_t os_bytes;
  size_t footprint_bytes;
  size_t live_bytes;
  uint64_t live_objects;
  uint64_t mallocs;
  uint64_t frees;
  size_t cached_bytes;
  size_t small_spans;
  size_t large_spans;
  size_t free_spans;
  size_t released_spans;
  size_t thread_caches;
  uint64_t released_total_bytes;
  size_t memory_limit;
  uint64_t pressure_events;
};

/* Fills *out with a snapshot (it never allocates). */
void tide_read_memstats(struct tide_memstats* out);

#ifdef __cplusplus
}
#endif

#endif /* TIDE_TIDE_H */
