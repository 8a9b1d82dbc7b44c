// How map and set store their entries in slots. See docs/map.md.
//
// A policy tells the shared core (directory.hpp) what a slot holds, where its key is, how
// to find the key among emplace() arguments without constructing an entry, and how to
// move an entry to another slot when a table is rebuilt ("transfer").
//
// Transfer of a map entry moves the key out of std::pair<const K, V>. The key object is
// destroyed right after, and no one can observe it in between, so the const_cast is the
// same liberty absl and boost take to avoid copying std::string keys on every rebuild.
#pragma once

#include <cstring>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

namespace tide::detail {

template <class T>
struct is_pair : std::false_type {};
template <class A, class B>
struct is_pair<std::pair<A, B>> : std::true_type {};

template <class K, class V>
struct map_policy {
  using key_type = K;
  using mapped_type = V;
  using value_type = std::pair<const K, V>;
  static constexpr bool constant_iterators = false;

  static const K& key(const value_type& v) noexcept { return v.first; }

  // emplace(args...) can look the key up without building an entry when the arguments
  // are (key, value), a pair, or piecewise with a one-element key tuple.
  template <class... Args>
  static constexpr bool key_extractable() {
    if constexpr (sizeof...(Args) == 2) {
      using First = std::remove_cvref_t<std::tuple_element_t<0, std::tuple<Args...>>>;
      return std::is_same_v<First, K>;
    } else if constexpr (sizeof...(Args) == 1) {
      using Arg = std::remove_cvref_t<std::tuple_element_t<0, std::tuple<Args...>>>;
      if constexpr (is_pair<Arg>::value) {
        return std::is_same_v<std::remove_cv_t<typename Arg::first_type>, K>;
      } else {
        return false;
      }
    } else if constexpr (sizeof...(Args) == 3) {
      using First = std::remove_cvref_t<std::tuple_element_t<0, std::tuple<Args...>>>;
      using KeyArgs = std::remove_cvref_t<std::tuple_element_t<1, std::tuple<Args...>>>;
      if constexpr (std::is_same_v<First, std::piecewise_construct_t> &&
                    std::tuple_size_v<KeyArgs> == 1) {
        return std::is_same_v<std::remove_cvref_t<std::tuple_element_t<0, KeyArgs>>, K>;
      } else {
        return false;
      }
    } else {
      return false;
    }
  }

  template <class... Args>
  static const K& extract_key(const Args&... args) noexcept {
    const auto& first = std::get<0>(std::forward_as_tuple(args...));
    if constexpr (sizeof...(Args) == 2) {
      return first;
    } else if constexpr (sizeof...(Args) == 1) {
      return first.first;
    } else {
      return std::get<0>(std::get<1>(std::forward_as_tuple(args...)));
    }
  }

  static constexpr bool trivially_relocatable =
      std::is_trivially_copyable_v<K> && std::is_trivially_copyable_v<V>;
  static constexpr bool nothrow_transfer =
      std::is_nothrow_move_constructible_v<K> && std::is_nothrow_move_constructible_v<V>;
  static constexpr bool copyable =
      std::is_copy_constructible_v<K> && std::is_copy_constructible_v<V>;

  // Constructs *dst from *src, moving when that cannot throw (or there is no copy),
  // copying otherwise so that *src survives an exception. Does not destroy *src.
  template <class Alloc>
  static void transfer_construct(Alloc& alloc, value_type* dst, value_type* src) {
    using traits = std::allocator_traits<Alloc>;
    if constexpr (nothrow_transfer || !copyable) {
      traits::construct(alloc, dst, std::piecewise_construct,
                        std::forward_as_tuple(std::move(const_cast<K&>(src->first))),
                        std::forward_as_tuple(std::move(src->second)));
    } else {
      traits::construct(alloc, dst, std::as_const(*src));
    }
  }
};

template <class K>
struct set_policy {
  using key_type = K;
  using value_type = K;
  static constexpr bool constant_iterators = true;

  static const K& key(const value_type& v) noexcept { return v; }

  template <class... Args>
  static constexpr bool key_extractable() {
    if constexpr (sizeof...(Args) == 1) {
      return std::is_same_v<std::remove_cvref_t<std::tuple_element_t<0, std::tuple<Args...>>>, K>;
    } else {
      return false;
    }
  }
  template <class Arg>
  static const K& extract_key(const Arg& arg) noexcept {
    return arg;
  }

  static constexpr bool trivially_relocatable = std::is_trivially_copyable_v<K>;
  static constexpr bool nothrow_transfer = std::is_nothrow_move_constructible_v<K>;
  static constexpr bool copyable = std::is_copy_constructible_v<K>;

  template <class Alloc>
  static void transfer_construct(Alloc& alloc, value_type* dst, value_type* src) {
    using traits = std::allocator_traits<Alloc>;
    if constexpr (nothrow_transfer || !copyable) {
      traits::construct(alloc, dst, std::move(*src));
    } else {
      traits::construct(alloc, dst, std::as_const(*src));
    }
  }
};

}  // namespace tide::detail
