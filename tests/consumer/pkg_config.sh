#!/usr/bin/env bash
# The consumer test through pkg-config: builds tests/consumer/main.cpp against an installed
# tide with `pkg-config --cflags --libs tide` (libtide.so) and with `--static` (libtide.a),
# checks which library each program loads, runs both and compares their output line.
#
#   usage: pkg_config.sh <pkgconfig dir> <work dir> <expected line> <c++ compiler> [flags...]
set -euo pipefail
export PKG_CONFIG_PATH=$1
work=$2 expected=$3 cxx=$4
shift 4
source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$work"
cd "$work"

read -ra cflags <<<"$(pkg-config --cflags tide)"
read -ra shared_libs <<<"$(pkg-config --libs tide)"
read -ra static_libs <<<"$(pkg-config --static --libs tide)"
libdir=$(pkg-config --variable=libdir tide)
# With both libraries installed, -ltide links libtide.so; a static link names the archive.
static_libs=("${static_libs[@]/#-ltide/-l:libtide.a}")

set -x
"$cxx" "$@" -std=c++20 "${cflags[@]}" "$source_dir/main.cpp" -o app_shared \
  "${shared_libs[@]}" -Wl,-rpath,"$libdir"
"$cxx" "$@" -std=c++20 "${cflags[@]}" "$source_dir/main.cpp" -o app_static "${static_libs[@]}"
set +x

needs_libtide() { readelf -d "$1" | grep -q 'NEEDED.*\[libtide\.so'; }
needs_libtide app_shared || { echo "FAIL: app_shared does not load libtide.so"; exit 1; }
! needs_libtide app_static || { echo "FAIL: app_static loads libtide.so"; exit 1; }
for program in app_shared app_static; do
  got=$("./$program")
  echo "$program: $got"
  [[ $got == "$expected" ]] || { echo "FAIL: $program printed \"$got\", want \"$expected\""; exit 1; }
done
