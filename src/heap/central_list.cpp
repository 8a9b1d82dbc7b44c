// Central lists. See central_list.hpp for the design and invariants.
#include "central_list.hpp"

#include <cstdio>
#include <cstdlib>

#include "misuse.hpp"

namespace tide::heap::detail {

std::size_t central_list::allocate_batch(std::size_t n, void** head) noexcept {
  TIDE_ASSERT(n >= 1, "allocate_batch: n >= 1");
  std::lock_guard lock(mu_);
  void* list = nullptr;
  std::size_t taken = 0;
  while (taken < n) {
    span* s = nonfull_.front();
    if (s == nullptr) {
      s = pages_->allocate_small(size_class_);
      if (s == nullptr) break;
      nonfull_.push_front(s);
    }
    while (taken < n && !s->full()) {
      void* p = s->allocate_object();
      *static_cast<void**>(p) = list;
      list = p;
      ++taken;
    }
    if (s->full()) nonfull_.remove(s);
  }
  *head = list;
  if constexpr (::tide::detail::invariant_checks) check_invariants_locked();
  return taken;
}

void central_list::deallocate_batch(void* head, std::size_t count) noexcept {
  std::lock_guard lock(mu_);
  for (std::size_t i = 0; i < count; ++i) {
    TIDE_ASSERT(head != nullptr, "deallocate_batch: the list is shorter than count");
    void* next = *static_cast<void**>(head);
    span* s = map_->lookup(page_of(head));
    if (s == nullptr) report_misuse("double free (its span is free)", head);
    deallocate_locked(s, head);
    head = next;
  }
  if constexpr (::tide::detail::invariant_checks) check_invariants_locked();
}

void central_list::deallocate(span* s, void* p) noexcept {
  std::lock_guard lock(mu_);
  deallocate_locked(s, p);
  if constexpr (::tide::detail::invariant_checks) check_invariants_locked();
}

void central_list::deallocate_locked(span* s, void* p) noexcept {
  if (s->state != span_state::small) report_misuse("double free (its span is free)", p);
  if (s->size_class != size_class_) report_misuse("double free (its span was reused)", p);
  const std::ptrdiff_t index = s->object_index(p);
  if (index < 0) report_misuse("interior pointer (not the start of an object)", p);
  if (!s->is_allocated(static_cast<std::size_t>(index))) report_misuse("double free", p);
  const bool was_full = s->full();
  s->free_object(static_cast<std::size_t>(index));
  if (s->empty()) {
    if (!was_full) nonfull_.remove(s);
    pages_->deallocate(s);
  } else if (was_full) {
    nonfull_.push_front(s);
  }
}

std::size_t central_list::span_count() const noexcept {
  std::lock_guard lock(mu_);
  return nonfull_.size();
}

void central_list::check_invariants() const noexcept {
  std::lock_guard lock(mu_);
  check_invariants_locked();
}

void central_list::check_invariants_locked() const noexcept {
  std::size_t n = 0;
  for (const span* s = nonfull_.front(); s != nullptr; s = s->next) {
    ++n;
    const bool ok =
        s->state == span_state::small && s->size_class == size_class_ && !s->full() && !s->empty();
    if (!ok) {
      std::fprintf(stderr,
                   "tide::heap: central list invariant broken: class %d list holds a span "
                   "that is not a non-full, non-empty small span of the class (state %s class "
                   "%d allocated %d of %d)\n",
                   size_class_, to_string(s->state), s->size_class, s->allocated_count,
                   s->object_count);
      std::abort();
    }
    s->check_invariants();
  }
  if (n != nonfull_.size()) {
    std::fprintf(stderr, "tide::heap: central list invariant broken: size() != spans listed\n");
    std::abort();
  }
}

}  // namespace tide::heap::detail
