// Test seam for tide::persistent_map: the nodes on a key's path, without public getters.
// See persistent_map.hpp for the overview.
#pragma once

#include <cstddef>
#include <tide/detail/hamt_node.hpp>

namespace tide::detail {

template <class Map>
struct persistent_map_test_peer {
  using node = typename Map::node;
  using node_allocator = typename Map::trie::node_allocator;

  struct path_cost {
    std::size_t nodes = 0;
    std::size_t bytes = 0;
  };

  // The nodes from the root down to the one that holds `key` (or would), and their bytes:
  // what set() of an existing key copies.
  static path_cost path(const Map& map, const typename Map::key_type& key) {
    const hamt_hash hash = map.trie_.hash_of(key);
    path_cost cost;
    const node* n = map.root_;
    for (unsigned depth = 0; n != nullptr; ++depth) {
      ++cost.nodes;
      cost.bytes += node_allocator::node_bytes(n);
      if (depth == hamt_collision_depth) break;
      const std::uint32_t bit = hamt_bit(hash, depth);
      if (!(n->nodemap & bit)) break;
      n = n->children()[hamt_index(n->nodemap, bit)];
    }
    return cost;
  }

  // Nodes on the longest root-to-node path.
  static std::size_t height(const Map& map) { return height_of(map.root_); }

  // Bytes of the largest node in the map.
  static std::size_t largest_node_bytes(const Map& map) { return largest_of(map.root_); }

 private:
  static std::size_t height_of(const node* n) {
    if (n == nullptr) return 0;
    std::size_t below = 0;
    for (unsigned i = 0; i < n->child_count(); ++i) {
      const std::size_t h = height_of(n->children()[i]);
      below = h > below ? h : below;
    }
    return below + 1;
  }
  static std::size_t largest_of(const node* n) {
    if (n == nullptr) return 0;
    std::size_t largest = node_allocator::node_bytes(n);
    for (unsigned i = 0; i < n->child_count(); ++i) {
      const std::size_t b = largest_of(n->children()[i]);
      largest = b > largest ? b : largest;
    }
    return largest;
  }
};

}  // namespace tide::detail
