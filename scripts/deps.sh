# Debian 12 packages tide's build, tests, examples and benchmarks need: the one list.
# Sourced by scripts/test.sh and scripts/demo.sh; defines tide_install_deps.

TIDE_DEBIAN_PACKAGES=(
  cmake make g++              # build; g++ brings the asan, ubsan and tsan runtimes (presets
                              # asan, tsan) through libgcc-12-dev
  libgtest-dev googletest     # tests
  clang libclang-rt-14-dev    # preset fuzz: clang++ and libFuzzer (-fsanitize=fuzzer)
  llvm                        # preset fuzz: llvm-symbolizer, for readable stacks in its reports
  libbenchmark-dev            # bench/
  libabsl-dev libboost1.81-dev  # competitors in bench/
  libtbb-dev libcuckoo-dev    # competitors in bench/concurrent_bench.cpp
  libjemalloc-dev libgoogle-perftools-dev libmimalloc-dev  # allocators in bench/run_alloc_compare.sh
  libxxhash-dev               # tide::hash for strings
  zlib1g-dev                  # heap profiles (gzip)
  golang-go                   # tests/profile: `go tool pprof` reads a heap profile
  libfmt-dev libcli11-dev nlohmann-json3-dev  # examples, tools, bench programs
  python3                     # bench/compare.py, tests/shim (a program under the shim)
  sqlite3                     # tests/shim: sqlite3 under LD_PRELOAD=libtide_malloc.so
  gdb pkg-config              # consumer tests: the pretty-printers under gdb, tide.pc
  doxygen                     # the docs target (API reference) and its test, docs_api_reference
  chromium                    # tests/lab/report_browser_test.sh: report.html in headless Chromium
)

# Installs whichever of TIDE_DEBIAN_PACKAGES is missing (apt-get update once, first).
tide_install_deps() {
  local missing=() pkg
  for pkg in "${TIDE_DEBIAN_PACKAGES[@]}"; do
    dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed' || missing+=("$pkg")
  done
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    sudo=(sudo)
  fi
  echo "tide: installing ${missing[*]}" >&2
  # Wait for another apt/dpkg run to finish rather than fail on its lock.
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
    install -y --no-install-recommends "${missing[@]}"
}
