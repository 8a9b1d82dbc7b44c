// A map library's explicit "give the memory back" call: shrink_to_fit() where there is one
// (tide), rehash(0) otherwise (absl and boost rebuild at the smallest capacity; std shrinks
// its bucket array). Shared by the benchmarks (bench/) and the lab (tools/tide).
#pragma once

namespace tide_tools {

template <class Map>
void explicit_shrink(Map& m) {
  if constexpr (requires { m.shrink_to_fit(); }) {
    m.shrink_to_fit();
  } else {
    m.rehash(0);
  }
}

}  // namespace tide_tools
