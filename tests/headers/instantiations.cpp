// The containers instantiated for the headers test (tests/headers/CMakeLists.txt): explicit
// instantiations compile every non-template member (of copyable types: as with std's
// containers, the copy operations are not constrained), and use_*() call the member templates,
// for the keys, values and allocators a user picks. A header warning that shows only inside a
// template body shows here.
#include <tide/counting_allocator.hpp>
#include <tide/hash.hpp>
#include <tide/heap.hpp>
#include <tide/heap_allocator.hpp>
#include <tide/heap_map.hpp>
#include <tide/map.hpp>
#include <tide/memstats.hpp>
#include <tide/set.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <memory_resource>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

template class tide::map<int, int>;
template class tide::map<std::uint64_t, std::string>;
template class tide::map<std::string, int, tide::hash<std::string>, std::equal_to<>>;
template class tide::map<int, double, tide::hash<int>, std::equal_to<int>,
                         tide::heap_allocator<std::pair<const int, double>>>;
template class tide::map<int, double, tide::hash<int>, std::equal_to<int>,
                         tide::counting_allocator<std::pair<const int, double>>>;
template class tide::map<int, std::string, tide::hash<int>, std::equal_to<int>,
                         std::pmr::polymorphic_allocator<std::pair<const int, std::string>>>;
template class tide::set<std::uint32_t>;
template class tide::set<std::string>;
template class tide::set<int, tide::hash<int>, std::equal_to<int>, tide::heap_allocator<int>>;
template class tide::set<std::string, tide::hash<std::string>, std::equal_to<std::string>,
                         std::pmr::polymorphic_allocator<std::string>>;

std::size_t use_map() {
  const std::vector<std::pair<int, int>> pairs{{1, 2}, {3, 4}};
  tide::map<int, int> m(pairs.begin(), pairs.end());
  m.insert({5, 6});
  m.insert(pairs.begin(), pairs.end());
  m.insert(std::pair<short, long>{7, 8});
  m.emplace(9, 10);
  m.emplace_hint(m.cbegin(), 11, 12);
  const int key = 13;
  m.try_emplace(key, 1);
  m.try_emplace(m.cbegin(), 14, 1);
  m.insert_or_assign(key, 2);
  m.insert_or_assign(m.cbegin(), 15, 3);
  m[16] += m.at(1);
  for (auto& [k, v] : m) v += k;
  const auto range = m.equal_range(3);
  std::size_t n = m.count(3) + static_cast<std::size_t>(range.first != range.second);
  n += tide::erase_if(m, [](const std::pair<const int, int>& e) { return e.second > 100; });
  m.erase(m.begin());
  m.erase(3);
  tide::map<int, int> other = m;
  swap(m, other);
  n += static_cast<std::size_t>(m == other);
  m.reserve(1000);
  m.rehash(10);
  m.shrink_to_fit();
  m.erase(m.cbegin(), m.cend());
  n += m.memory().bytes + static_cast<std::size_t>(m.load_factor());

  tide::heap_map<std::string, int, tide::hash<std::string>, std::equal_to<>> h;
  h["a"] = 1;
  n += static_cast<std::size_t>(h.find(std::string_view("a")) != h.end());
  n += static_cast<std::size_t>(h.contains("a"));

  tide::map<std::string, std::unique_ptr<int>> owners;
  owners.try_emplace("a", std::make_unique<int>(1));
  tide::map<std::string, std::unique_ptr<int>> moved = std::move(owners);
  return n + moved.size();
}

std::size_t use_set() {
  tide::set<int> s{1, 2, 3};
  s.insert(4);
  s.emplace(5);
  s.emplace_hint(s.cbegin(), 6);
  std::size_t n = tide::erase_if(s, [](int x) { return x > 5; });
  std::pmr::monotonic_buffer_resource resource;
  tide::pmr::set<std::string> a(&resource);
  a.insert("x");
  tide::pmr::set<std::string> b(
      std::move(a), std::pmr::new_delete_resource());
  a = std::move(b);
  return n + a.size() + s.size();
}
