// The containers instantiated for the headers test (tests/headers/CMakeLists.txt): explicit
// instantiations compile every non-template member (of copyable types: as with std's
// containers, the copy operations are not constrained), and use_*() call the member templates,
// for the keys, values and allocators a user picks. A header warning that shows only inside a
// template body shows here.
#include <tide/bloom.hpp>
#include <tide/concurrent_map.hpp>
#include <tide/counting_allocator.hpp>
#include <tide/dense_map.hpp>
#include <tide/hash.hpp>
#include <tide/heap.hpp>
#include <tide/heap_allocator.hpp>
#include <tide/heap_map.hpp>
#include <tide/intern.hpp>
#include <tide/map.hpp>
#include <tide/memstats.hpp>
#include <tide/persistent_map.hpp>
#include <tide/pool.hpp>
#include <tide/set.hpp>
#include <tide/snapshot.hpp>

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

// The containers beside tide::map: each instantiated for a key and value a user picks, and
// its member templates called.
template class tide::concurrent_map<std::uint64_t, std::uint64_t>;  // entries in the groups
template class tide::concurrent_map<std::string, std::string>;      // entries in nodes
template class tide::persistent_map<std::string, int>;
template class tide::dense_map<std::string>;
template class tide::bloom<std::string>;
template class tide::pool<std::string>;

std::size_t use_tools() {
  tide::concurrent_map<std::string, std::string> cm;
  cm.insert_or_assign("a", "b");
  cm.try_emplace("c", "d");
  std::size_t n = static_cast<std::size_t>(cm.contains("a")) + cm.load_or_store("e", "f").first.size();
  cm.visit("a", [&n](const std::string& value) { n += value.size(); });
  cm.visit_all([&n](const std::string& key, const std::string&) { n += key.size(); });
  n += cm.erase_if([](const std::string& key, const std::string&) { return key == "c"; });
  n += cm.find("a").value_or("").size() + cm.memory().bytes;

  const tide::persistent_map<std::string, int> empty;
  const auto one = empty.set("a", 1).update("a", [](const int* v) { return v ? *v + 1 : 0; });
  auto builder = one.transient();
  builder.set("b", 2);
  const auto two = builder.persistent();
  for (const auto& [k, v] : two) n += k.size() + static_cast<std::size_t>(v);
  n += static_cast<std::size_t>(one == two) + two.memory().bytes;

  tide::snapshot<tide::persistent_map<std::string, int>> config(
      std::make_shared<const tide::persistent_map<std::string, int>>(two));
  config.update([](const tide::persistent_map<std::string, int>& m) { return m.erase("a"); });
  n += config.load()->size();

  tide::dense_map<std::string> dense;
  dense.try_emplace(3, "x");
  dense[7] = "y";
  for (auto&& entry : dense) n += entry.first + entry.second.size();
  n += dense.memory().bytes;

  tide::bloom<std::string> filter(1000, 0.01);
  filter.insert("a");
  n += static_cast<std::size_t>(filter.contains(std::string("a")));

  tide::pool<std::string> strings;
  {
    auto s = strings.get();
    s->assign("pooled");
    n += s->size();
  }
  const tide::interned a = tide::intern("same");
  n += static_cast<std::size_t>(a == tide::intern("same"));
  return n;
}
