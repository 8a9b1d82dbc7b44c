// The page heap. See page_heap.hpp for the design and invariants.
#include "page_heap.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <vector>

#include "poison.hpp"

namespace tide::heap::detail {

page_heap::page_heap(page_map& map, reserve_function reserve, std::size_t arena_bytes,
                     release_function release) noexcept
    : map_(map), reserve_(reserve), release_(release), arena_bytes_(arena_bytes) {
  TIDE_ASSERT(arena_bytes % page_bytes == 0 && arena_bytes > 0,
              "page_heap: arena_bytes must be whole pages");
}

page_heap::~page_heap() {
  for (std::size_t i = 0; i < arena_count_; ++i) {
    map_.set_range(arenas_[i].start, arenas_[i].pages, nullptr);
    // The shadow of unmapped memory keeps its poison: the next mapping there must not inherit it.
    unpoison(address_of(arenas_[i].start), arenas_[i].pages * page_bytes);
    os_unreserve(address_of(arenas_[i].start), arenas_[i].pages * page_bytes);
  }
}

span_lists& page_heap::lists_for(span_state state) noexcept {
  TIDE_ASSERT(state == span_state::free || state == span_state::released,
              "lists_for: only free and released spans are listed");
  return state == span_state::free ? free_lists_ : released_lists_;
}

const span_lists& page_heap::lists_for(span_state state) const noexcept {
  return const_cast<page_heap*>(this)->lists_for(state);
}

void page_heap::add_pages_locked(span_state state, std::ptrdiff_t pages) noexcept {
  const auto delta = static_cast<std::size_t>(pages);  // wraps for a negative count
  switch (state) {
    case span_state::free:
    case span_state::releasing:  // resident until its madvise is done
      free_pages_ += delta;
      break;
    case span_state::released:
      released_pages_ += delta;
      break;
    case span_state::small:
    case span_state::large:
      in_use_pages_ += delta;
      break;
  }
  const std::size_t footprint = in_use_pages_ + free_pages_;
  footprint_pages_.store(footprint, std::memory_order_relaxed);
  if (footprint < footprint_low_water_pages_.load(std::memory_order_relaxed)) {
    footprint_low_water_pages_.store(footprint, std::memory_order_relaxed);
  }
}

void page_heap::reset_footprint_low_water() noexcept {
  std::lock_guard lock(mu_);
  footprint_low_water_pages_.store(in_use_pages_ + free_pages_, std::memory_order_relaxed);
}

span* page_heap::new_span_locked(page_id start, std::size_t pages, span_state state) noexcept {
  void* memory = span_records_.allocate();
  if (memory == nullptr) return nullptr;
  span* s = ::new (memory) span();
  s->start = start;
  s->page_count = pages;
  s->state = state;
  return s;
}

void page_heap::map_ends_locked(span* s) noexcept {
  map_.set(s->start, s);
  map_.set(s->end() - 1, s);
}

void page_heap::remove_free_locked(span* s) noexcept {
  lists_for(s->state).remove(s);
  add_pages_locked(s->state, -static_cast<std::ptrdiff_t>(s->page_count));
}

void page_heap::insert_free_locked(span* s) noexcept {
  TIDE_ASSERT(s->state == span_state::free || s->state == span_state::released,
              "insert_free: span must be free or released");
  // Merge with the left neighbour of the same state, then the right one. The pages that
  // become interior (the old ends) are cleared in the page map.
  if (span* left = map_.lookup(s->start - 1); left != nullptr && left->state == s->state) {
    TIDE_ASSERT(left->end() == s->start, "insert_free: left neighbour does not touch");
    remove_free_locked(left);
    if (left->page_count > s->page_count) s->freed_at_ms() = left->freed_at_ms();
    map_.set(left->end() - 1, nullptr);
    map_.set(s->start, nullptr);
    s->start = left->start;
    s->page_count += left->page_count;
    span_records_.deallocate(left);
  }
  if (span* right = map_.lookup(s->end()); right != nullptr && right->state == s->state) {
    TIDE_ASSERT(right->start == s->end(), "insert_free: right neighbour does not touch");
    remove_free_locked(right);
    if (right->page_count > s->page_count) s->freed_at_ms() = right->freed_at_ms();
    map_.set(s->end() - 1, nullptr);
    map_.set(right->start, nullptr);
    s->page_count += right->page_count;
    span_records_.deallocate(right);
  }
  map_ends_locked(s);
  lists_for(s->state).push(s);
  add_pages_locked(s->state, static_cast<std::ptrdiff_t>(s->page_count));
}

span* page_heap::find_fit_locked(std::size_t pages, span_state state) noexcept {
  const span_lists& lists = lists_for(state);
  if (span* s = lists.shortest_fit(pages); s != nullptr) return s;
  // Best fit among the long spans, lowest address on ties (keeps the heap compact).
  span* best = nullptr;
  for (span* s = lists.long_spans().front(); s != nullptr; s = s->next) {
    if (s->page_count < pages) continue;
    if (best == nullptr || s->page_count < best->page_count ||
        (s->page_count == best->page_count && s->start < best->start)) {
      best = s;
    }
  }
  return best;
}

// Takes `pages` pages starting at the first page of s aligned to align_pages; whatever is left
// before and after goes back to the free lists in s's state. Returns the carved span, in use
// (state large) with every page mapped, or nullptr if a span record cannot be had (s is then
// back on its list).
span* page_heap::carve_locked(span* s, std::size_t pages, std::size_t align_pages) noexcept {
  const span_state was = s->state;
  const page_id aligned = (s->start + align_pages - 1) & ~page_id{align_pages - 1};
  TIDE_ASSERT(aligned + pages <= s->end(), "carve: the span is too short");
  span* before = nullptr;
  span* after = nullptr;
  if (aligned > s->start) before = new_span_locked(s->start, aligned - s->start, was);
  if (aligned + pages < s->end())
    after = new_span_locked(aligned + pages, s->end() - aligned - pages, was);
  for (span* piece : {before, after}) {
    if (piece != nullptr) piece->freed_at_ms() = s->freed_at_ms();
  }
  if ((aligned > s->start && before == nullptr) ||
      (aligned + pages < s->end() && after == nullptr)) {
    if (before != nullptr) span_records_.deallocate(before);
    if (after != nullptr) span_records_.deallocate(after);
    return nullptr;
  }
  remove_free_locked(s);
  map_.set(s->start, nullptr);
  map_.set(s->end() - 1, nullptr);
  s->start = aligned;
  s->page_count = pages;
  s->state = span_state::large;
  unpoison(s->base(), s->bytes());
  map_ends_locked(s);  // its inner pages map to nullptr already, as a free span's did
  add_pages_locked(span_state::large, static_cast<std::ptrdiff_t>(pages));
  // The pieces cannot merge with anything: their other neighbours were not of their state.
  if (before != nullptr) insert_free_locked(before);
  if (after != nullptr) insert_free_locked(after);
  return s;
}

bool page_heap::grow_locked(std::size_t pages) noexcept {
  if (arena_count_ == max_arenas) return false;
  const std::size_t arena_pages_default = arena_bytes_ / page_bytes;
  const std::size_t arena_pages =
      (pages + arena_pages_default - 1) / arena_pages_default * arena_pages_default;
  void* memory = reserve_(arena_pages * page_bytes, page_bytes);
  if (memory == nullptr) return false;
  const page_id start = page_of(memory);
  span* s = map_.ensure(start, arena_pages)
                ? new_span_locked(start, arena_pages, span_state::released)
                : nullptr;
  if (s == nullptr) {
    os_unreserve(memory, arena_pages * page_bytes);
    return false;
  }
  arenas_[arena_count_++] = {start, arena_pages};
  insert_free_locked(s);  // fresh memory is not resident: it starts released
  if (tracing()) {
    trace_heap_event(totals_locked(), "arena grown by %zu MiB", arena_pages * page_bytes >> 20);
  }
  return true;
}

span* page_heap::allocate_locked(std::size_t pages, std::size_t align_pages) noexcept {
  TIDE_ASSERT(pages >= 1 && align_pages >= 1 && (align_pages & (align_pages - 1)) == 0,
              "page_heap::allocate: pages >= 1 and align_pages a power of two");
  if (pages > page_map::page_limit || align_pages > page_map::page_limit) return nullptr;
  const std::size_t padded = pages + align_pages - 1;  // room to align within any span
  auto fit = [&]() -> span* {
    for (span_state state : {span_state::free, span_state::released}) {
      if (span* s = find_fit_locked(padded, state); s != nullptr) {
        return carve_locked(s, pages, align_pages);
      }
    }
    return nullptr;
  };
  if (span* s = fit(); s != nullptr) return s;
  if (const std::size_t released = release_run_locked(padded); released > 0) {
    if (tracing()) {
      trace_heap_event(totals_locked(), "released %zu KiB so free and released neighbours merge "
                       "into a run of %zu pages", released >> 10, padded);
    }
    if (span* s = fit(); s != nullptr) return s;
  }
  if (!grow_locked(padded)) return nullptr;
  return fit();
}

// Neighbours that are not in use alternate free, released, free, ... (each state merges within
// itself). Finds such a run of at least `pages` pages and releases its free spans, which merge
// with the released ones into one span. Returns the bytes released: 0 if no run is long
// enough, in which case releasing would not have helped. A run that fit() missed holds spans
// of both states, so the runs are found from the spans of the state with fewer (a heap
// fragmented by live spans may have thousands of free spans and no released one); each run
// is walked once, from its first span of that state. Only the chosen run's free spans are
// madvised.
std::size_t page_heap::release_run_locked(std::size_t pages) noexcept {
  const auto idle = [](const span* s) {
    return s != nullptr && (s->state == span_state::free || s->state == span_state::released);
  };
  const span_lists& starts = free_lists_.span_count() <= released_lists_.span_count()
                                 ? free_lists_
                                 : released_lists_;
  for (const span_list& list : starts) {
    for (span* s = list.front(); s != nullptr; s = s->next) {
      span* first = s;
      if (span* left = map_.lookup(s->start - 1); idle(left)) {  // of the other state
        if (idle(map_.lookup(left->start - 1))) continue;  // one of s's state further left
        first = left;
      }
      std::size_t run = 0;
      for (span* t = first; idle(t); t = map_.lookup(t->end())) run += t->page_count;
      if (run < pages) continue;
      std::size_t released = 0;
      for (span* t = first; idle(t); t = map_.lookup(t->end())) {
        if (t->state != span_state::free) continue;
        released += t->bytes();
        release_span_locked(t);  // t takes in its released neighbours and keeps its record
      }
      return released;  // the metadata is left to the next release_free_pages or scavenge
    }
  }
  return 0;
}

span* page_heap::allocate_large(std::size_t pages, std::size_t align_pages) noexcept {
  std::lock_guard lock(mu_);
  span* s = allocate_locked(pages, align_pages);
  if (s != nullptr) {
    ++large_mallocs_;
    large_live_pages_ += s->page_count;
  }
  check_invariants_locked_if_expensive();
  return s;
}

span* page_heap::allocate_small(int c) noexcept {
  TIDE_ASSERT(c >= 1 && c < size_class_count, "allocate_small: not a size class");
  std::lock_guard lock(mu_);
  std::uint64_t* bitmap = nullptr;
  if (span::bitmap_words_for(c) > span::inline_bitmap_words) {
    bitmap = static_cast<std::uint64_t*>(bitmap_blocks_.allocate());
    if (bitmap == nullptr) return nullptr;
  }
  span* s = allocate_locked(class_span_pages[c], 1);
  if (s == nullptr) {
    if (bitmap != nullptr) bitmap_blocks_.deallocate(bitmap);
    return nullptr;
  }
  map_.set_range(s->start, s->page_count, s);  // an object may sit on any of its pages
  s->init_small(c, bitmap != nullptr ? bitmap : s->inline_bits);
  check_invariants_locked_if_expensive();
  return s;
}

void page_heap::deallocate(span* s) noexcept {
  std::lock_guard lock(mu_);
  deallocate_locked(s);
  check_invariants_locked_if_expensive();
}

void page_heap::deallocate_locked(span* s) noexcept {
  TIDE_ASSERT(s->in_use(), "page_heap::deallocate: span is not in use");
  TIDE_ASSERT(s->prev == nullptr && s->next == nullptr, "page_heap::deallocate: span on a list");
  add_pages_locked(s->state, -static_cast<std::ptrdiff_t>(s->page_count));
  const bool small = s->state == span_state::small;
  if (!small) {
    ++large_frees_;
    large_live_pages_ -= s->page_count;
  }
  if (small && !s->bitmap_is_inline()) bitmap_blocks_.deallocate(s->allocated_bits);
  s->allocated_bits = s->inline_bits;
  s->size_class = 0;
  s->object_count = 0;
  s->allocated_count = 0;
  s->object_bytes = 0;
  s->div_magic = 0;
  s->state = span_state::free;
  poison(s->base(), s->bytes());
  s->freed_at_ms() = os_monotonic_ms();
  // A free span maps its ends only, as a large one does already.
  if (small && s->page_count > 2) map_.set_range(s->start + 1, s->page_count - 2, nullptr);
  insert_free_locked(s);
}

std::size_t page_heap::release_free_pages(const char* why) noexcept {
  const std::size_t released = release_in_batches(UINT64_MAX);
  if (tracing()) {
    std::lock_guard lock(mu_);
    trace_heap_event(totals_locked(), "%s released %zu KiB", why, released >> 10);
  }
  return released;
}

void page_heap::release_span_locked(span* s) noexcept {
  TIDE_ASSERT(s->state == span_state::free, "release_span: the span is not free");
  remove_free_locked(s);
  release_(s->base(), s->bytes());
  list_as_released_locked(s);
}

void page_heap::list_as_released_locked(span* s) noexcept {
  released_total_bytes_ += s->bytes();
  s->state = span_state::released;
  insert_free_locked(s);  // merges with released neighbours; never with a free one
}

void page_heap::release_metadata_locked() noexcept {
  // Move the records of free and released spans down, so the chunks above can empty.
  for (const span_lists* lists : {&free_lists_, &released_lists_}) {
    for (const span_list& list : *lists) {
      for (span* s = list.front(); s != nullptr;) {
        span* next = s->next;
        if (span_records_.has_lower_room(s)) move_free_record_locked(s);
        s = next;
      }
    }
  }
  span_records_.release_unused_pages();
  bitmap_blocks_.release_unused_pages();
}

void page_heap::move_free_record_locked(span* s) noexcept {
  span* t = new_span_locked(s->start, s->page_count, s->state);
  if (t == nullptr) return;  // no room after all: it stays where it is
  t->freed_at_ms() = s->freed_at_ms();
  lists_for(s->state).replace(s, t);
  map_ends_locked(t);
  span_records_.deallocate(s);
}

std::size_t page_heap::release_idle_pages(std::uint64_t cutoff_ms) noexcept {
  const std::size_t released = release_in_batches(cutoff_ms);
  if (released > 0 && tracing()) {
    std::lock_guard lock(mu_);
    trace_heap_event(totals_locked(), "scavenger released %zu KiB idle for the release delay",
                     released >> 10);
  }
  return released;
}

std::size_t page_heap::release_in_batches(std::uint64_t cutoff_ms) noexcept {
  std::lock_guard one_batch_at_a_time(release_mu_);
  std::size_t released = 0;
  for (;;) {
    std::size_t batch = 0;
    {
      std::lock_guard lock(mu_);
      batch = take_idle_spans_locked(cutoff_ms);
    }
    // Without the lock: releasing_ is this thread's while it holds release_mu_.
    for (span* s = releasing_.front(); s != nullptr; s = s->next) release_(s->base(), s->bytes());
    std::lock_guard lock(mu_);
    if (batch > 0) {
      finish_releasing_locked();
      release_metadata_locked();
    }
    check_invariants_locked_if_expensive();
    released += batch;
    if (batch < max_release_batch) return released;
  }
}

std::size_t page_heap::take_idle_spans_locked(std::uint64_t cutoff_ms) noexcept {
  std::size_t batch = 0;
  for (const span_list& list : free_lists_) {
    for (span* s = list.front(); s != nullptr && batch < max_release_batch;) {
      span* next = s->next;
      if (s->freed_at_ms() <= cutoff_ms) {
        batch += s->bytes();
        remove_free_locked(s);
        s->state = span_state::releasing;
        add_pages_locked(s->state, static_cast<std::ptrdiff_t>(s->page_count));
        releasing_.push_front(s);
      }
      s = next;
    }
  }
  return batch;
}

void page_heap::finish_releasing_locked() noexcept {
  while (span* s = releasing_.front()) {
    releasing_.remove(s);
    add_pages_locked(s->state, -static_cast<std::ptrdiff_t>(s->page_count));
    list_as_released_locked(s);
  }
}

// Every arena page is in use, free or released (check_invariants() checks the sum).
trace_totals page_heap::totals_locked() const noexcept {
  return {(in_use_pages_ + free_pages_ + released_pages_) * page_bytes, in_use_pages_ * page_bytes,
          free_pages_ * page_bytes, released_pages_ * page_bytes};
}

trace_totals page_heap::totals() const noexcept {
  std::lock_guard lock(mu_);
  return totals_locked();
}

page_heap_stats page_heap::stats() const noexcept {
  std::lock_guard lock(mu_);
  page_heap_stats st;
  const trace_totals totals = totals_locked();
  st.arena_bytes = totals.arena;
  st.in_use_bytes = totals.in_use;
  st.free_bytes = totals.idle;
  st.released_bytes = totals.released;
  st.span_count = span_records_.live();
  // A releasing span is free until the scavenger's madvise is done.
  st.free_spans = free_lists_.span_count() + releasing_.size();
  st.released_spans = released_lists_.span_count();
  st.large_mallocs = large_mallocs_;
  st.large_frees = large_frees_;
  st.large_live_bytes = large_live_pages_ * page_bytes;
  st.large_spans = large_mallocs_ - large_frees_;
  st.small_spans = st.span_count - st.large_spans - st.free_spans - st.released_spans;
  st.released_total_bytes = released_total_bytes_;
  st.metadata_bytes = span_records_.resident_bytes() + bitmap_blocks_.resident_bytes() +
                      totals.arena / page_bytes * sizeof(span*);
  return st;
}

const span* page_heap::span_containing(page_id page) const noexcept {
  std::lock_guard lock(mu_);
  const bool in_an_arena = std::any_of(arenas_, arenas_ + arena_count_, [&](const arena& a) {
    return page >= a.start && page - a.start < a.pages;
  });
  if (!in_an_arena) return nullptr;
  // Every page of an arena is in a span whose first page maps to it: the walk stops there at
  // the latest, and the nearest mapped page is in that span.
  for (page_id q = page;; --q) {
    if (const span* s = map_.lookup(q); s != nullptr) return s;
  }
}

std::size_t page_heap::resident_arena_bytes() const noexcept {
  std::lock_guard lock(mu_);
  std::size_t resident = 0;
  for (std::size_t i = 0; i < arena_count_; ++i) {
    resident += os_resident_bytes_in(address_of(arenas_[i].start), arenas_[i].pages * page_bytes);
  }
  return resident;
}

void page_heap::check_invariants() const noexcept {
  std::lock_guard lock(mu_);
  check_invariants_locked();
}

void page_heap::check_invariants_locked_if_expensive() const noexcept {
  if constexpr (::tide::detail::invariant_checks) check_invariants_locked();
}

// Walks the arenas span by span through the page map (a span's first page always maps to
// it). Arenas the OS placed end to end are walked as one run, since free spans merge across.
void page_heap::check_invariants_locked() const noexcept {
  span_records_.check_invariants();
  bitmap_blocks_.check_invariants();
  auto fail = [&](const char* what, const span* s) {
    std::fprintf(stderr, "tide::heap: page heap invariant broken: %s\n", what);
    if (s != nullptr) {
      std::fprintf(stderr, "  span pages [%#zx, %#zx) state %s\n",
                   static_cast<std::size_t>(s->start), static_cast<std::size_t>(s->end()),
                   to_string(s->state));
    }
    std::abort();
  };
  std::vector<arena> runs(arenas_, arenas_ + arena_count_);
  std::sort(runs.begin(), runs.end(),
            [](const arena& a, const arena& b) { return a.start < b.start; });
  std::size_t merged = 0;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    if (merged > 0 && runs[merged - 1].start + runs[merged - 1].pages == runs[i].start) {
      runs[merged - 1].pages += runs[i].pages;
    } else {
      runs[merged++] = runs[i];
    }
  }
  runs.resize(merged);
  std::size_t pages[5] = {};
  std::size_t listed = 0;
  for (const arena& run : runs) {
    const span* previous = nullptr;
    for (page_id p = run.start; p < run.start + run.pages;) {
      const span* s = map_.lookup(p);
      if (s == nullptr || s->start != p) fail("every span's first page maps to it", s);
      if (s->end() > run.start + run.pages) fail("spans stay in their arenas", s);
      pages[static_cast<int>(s->state)] += s->page_count;
      if (map_.lookup(s->end() - 1) != s) fail("every span's last page maps to it", s);
      if (s->state == span_state::small) {
        for (page_id q = s->start + 1; q + 1 < s->end(); ++q) {
          if (map_.lookup(q) != s) fail("every page of a small span maps to it", s);
        }
        // A small span's bitmap belongs to its central list, which changes it under its own
        // lock, not this one: the central list checks it (central_list::check_invariants).
      } else {
        for (page_id q = s->start + 1; q + 1 < s->end(); ++q) {
          if (map_.lookup(q) != nullptr) fail("the inner pages of other spans map to nullptr", s);
        }
      }
      if (!s->in_use()) {
        const span_list& list = s->state == span_state::releasing
                                    ? releasing_
                                    : lists_for(s->state).list_for(s->page_count);
        bool on_list = false;
        for (const span* t = list.front(); t != nullptr; t = t->next) on_list |= t == s;
        if (!on_list) fail("a free span is on the list for its state (and length)", s);
        ++listed;
        if (previous != nullptr && previous->state == s->state) {
          fail("no two neighbouring free spans of one state", s);
        }
      }
      previous = s;
      p = s->end();
    }
  }
  const std::size_t on_lists =
      free_lists_.span_count() + released_lists_.span_count() + releasing_.size();
  if (on_lists != listed) fail("the lists hold exactly the spans not in use", nullptr);
  if (!free_lists_.bitmap_matches() || !released_lists_.bitmap_matches()) {
    fail("a list's bit in the bitmap is set if and only if the list holds a span", nullptr);
  }
  if (pages[static_cast<int>(span_state::free)] + pages[static_cast<int>(span_state::releasing)] !=
      free_pages_) {
    fail("free_pages_ (free and releasing spans)", nullptr);
  }
  if (pages[static_cast<int>(span_state::released)] != released_pages_) {
    fail("released_pages_", nullptr);
  }
  if (pages[static_cast<int>(span_state::small)] + pages[static_cast<int>(span_state::large)] !=
      in_use_pages_) {
    fail("in_use_pages_", nullptr);
  }
  if (footprint_pages_.load(std::memory_order_relaxed) != in_use_pages_ + free_pages_) {
    fail("footprint_pages_ == in_use_pages_ + free_pages_", nullptr);
  }
}

}  // namespace tide::heap::detail
