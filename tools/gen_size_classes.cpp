// Generates src/heap/size_classes.inc, tide::heap's table of size classes, in the manner of
// Go's runtime/mksizeclasses.go (the rules are Go's; the numbers differ where tide's rules do).
//
//   usage: gen_size_classes                 print the table to stdout
//          gen_size_classes --check FILE    exit 1 unless FILE is exactly what would be printed
//
// Rules (each is checked before anything is printed; a broken rule prints why and exits 2):
//   1. Classes run from 8 B to 32 KiB (max_small_bytes). Every class but the first (8 B) is a
//      multiple of 16, so an object of any class >= 16 B is aligned for std::max_align_t
//      (Go has a 24 B class; tide does not, because its default alignment is 16).
//   2. Spacing: 16 B below 128 B; from 128 B on, at most 1/8 of the class, in steps of a power
//      of two (class/8 at each power of two, 256 B from 2 KiB). So rounding a request up to
//      its class wastes at most 12.5% of the class, or 15 B below 128 B.
//   3. Each class's span is the fewest 8 KiB pages whose tail (the bytes after the last whole
//      object) is at most 1/8 of the span: tail waste <= 12.5%.
//   4. Neighbouring classes with the same span pages and the same objects per span are one
//      class (the larger), when rule 2 still holds; and each class grows to the largest
//      multiple of its alignment that fits the same objects in the same span (less tail),
//      again only when rule 2 still holds.
//   5. The two-level lookup (size_to_class8 for sizes <= 1024 in steps of 8, size_to_class128
//      above in steps of 128) gives, for every size 1..32768, the smallest class that fits.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr std::size_t page_bytes = 8192;
constexpr std::size_t max_small_bytes = 32768;
constexpr std::size_t small_size_div = 8;
constexpr std::size_t small_size_max = 1024;
constexpr std::size_t large_size_div = 128;

struct size_class {
  std::size_t bytes;
  std::size_t span_pages;
  std::size_t objects() const { return span_pages * page_bytes / bytes; }
  std::size_t tail_bytes() const { return span_pages * page_bytes % bytes; }
};

bool is_power_of_two(std::size_t x) { return x != 0 && (x & (x - 1)) == 0; }

// Rule 2: the most a request may be rounded up by to reach a class of `bytes`.
std::size_t allowed_rounding(std::size_t bytes) { return bytes < 128 ? 15 : bytes / 8; }

// Rule 3.
std::size_t span_pages_for(std::size_t bytes) {
  std::size_t span = page_bytes;
  while (span % bytes > span / 8) span += page_bytes;
  return span / page_bytes;
}

[[noreturn]] void refuse(const std::string& why) {
  std::fprintf(stderr, "gen_size_classes: refusing to emit the table: %s\n", why.c_str());
  std::exit(2);
}

// Rule 2: the step between candidate classes, a power of two, as a function of the class.
std::size_t step_at(std::size_t bytes) { return bytes < 128 ? 16 : bytes / 8; }

// The alignment a class keeps when rule 4 grows it: 16, and 128 above 1 KiB so the
// size_to_class128 lookup (steps of 128) still finds it.
std::size_t growth_align(std::size_t bytes) { return bytes <= small_size_max ? 16 : 128; }

std::vector<size_class> make_classes() {
  // Candidates: 8 B, then steps of 16 B up to 128 B, then 8 steps per power of two.
  std::vector<size_class> classes;
  classes.push_back({8, span_pages_for(8)});
  std::size_t step = 16;
  for (std::size_t bytes = 16; bytes <= max_small_bytes; bytes += step) {
    if (is_power_of_two(bytes)) step = step_at(bytes);
    classes.push_back({bytes, span_pages_for(bytes)});
  }
  // Rule 4: merge neighbours of one shape into the larger, while its rounding bound holds.
  for (bool merged = true; merged;) {
    merged = false;
    for (std::size_t i = 1; i + 1 < classes.size(); ++i) {
      const size_class& c = classes[i];
      const size_class& next = classes[i + 1];
      const bool same_shape = c.span_pages == next.span_pages && c.objects() == next.objects();
      if (same_shape && next.bytes - classes[i - 1].bytes - 1 <= allowed_rounding(next.bytes)) {
        classes.erase(classes.begin() + static_cast<std::ptrdiff_t>(i));
        merged = true;
      }
    }
  }
  // Rule 4, second half: grow each class to fill its span, keeping its own rounding bound.
  for (std::size_t i = 1; i + 1 < classes.size(); ++i) {
    size_class& c = classes[i];
    const std::size_t align = growth_align(c.bytes);
    const std::size_t grown = c.span_pages * page_bytes / c.objects() / align * align;
    if (grown > c.bytes && grown < classes[i + 1].bytes &&
        grown - classes[i - 1].bytes - 1 <= allowed_rounding(grown)) {
      c.bytes = grown;
    }
  }
  return classes;
}

// Index 0 of each lookup array is class 0 (no class: size 0 is never looked up).
struct lookup_tables {
  std::vector<int> by8;    // size_to_class8[(size + 7) / 8], size <= 1024
  std::vector<int> by128;  // size_to_class128[(size - 1024 + 127) / 128], 1024 < size
};

int smallest_class_fitting(const std::vector<size_class>& classes, std::size_t size) {
  for (std::size_t i = 0; i < classes.size(); ++i) {
    if (classes[i].bytes >= size) return static_cast<int>(i) + 1;
  }
  return 0;
}

lookup_tables make_lookup(const std::vector<size_class>& classes) {
  lookup_tables t;
  for (std::size_t i = 0; i <= small_size_max / small_size_div; ++i) {
    t.by8.push_back(i == 0 ? 0 : smallest_class_fitting(classes, i * small_size_div));
  }
  for (std::size_t i = 0; i <= (max_small_bytes - small_size_max) / large_size_div; ++i) {
    t.by128.push_back(
        i == 0 ? 0 : smallest_class_fitting(classes, small_size_max + i * large_size_div));
  }
  return t;
}

int lookup(const lookup_tables& t, std::size_t size) {
  if (size <= small_size_max) return t.by8[(size + small_size_div - 1) / small_size_div];
  return t.by128[(size - small_size_max + large_size_div - 1) / large_size_div];
}

void check_rules(const std::vector<size_class>& classes, const lookup_tables& t) {
  char why[256];
  if (classes.front().bytes != 8 || classes.back().bytes != max_small_bytes) {
    refuse("the classes must run from 8 B to 32 KiB");
  }
  if (classes.size() > 254) refuse("more than 254 classes do not fit the uint8_t lookup");
  for (std::size_t i = 0; i < classes.size(); ++i) {
    const size_class& c = classes[i];
    const std::size_t previous = i == 0 ? 0 : classes[i - 1].bytes;
    if (i > 0 && c.bytes % 16 != 0) {
      std::snprintf(why, sizeof why, "class %zu (%zu B) is not a multiple of 16", i + 1, c.bytes);
      refuse(why);
    }
    if (c.bytes <= previous) refuse("the classes must increase");
    if (i > 0 && c.bytes - previous - 1 > allowed_rounding(c.bytes)) {
      std::snprintf(why, sizeof why, "class %zu (%zu B) rounds a %zu B request up by %zu B", i + 1,
                    c.bytes, previous + 1, c.bytes - previous - 1);
      refuse(why);
    }
    if (c.tail_bytes() * 8 > c.span_pages * page_bytes) {
      std::snprintf(why, sizeof why, "class %zu (%zu B) wastes more than 1/8 of its span", i + 1,
                    c.bytes);
      refuse(why);
    }
    if (c.objects() > 1024 || c.span_pages > 255) refuse("a span's objects overflow its types");
  }
  for (std::size_t size = 1; size <= max_small_bytes; ++size) {
    const int want = smallest_class_fitting(classes, size);
    if (lookup(t, size) != want) {
      std::snprintf(why, sizeof why, "lookup(%zu) gives class %d, want %d", size, lookup(t, size),
                    want);
      refuse(why);
    }
  }
}

std::string render(const std::vector<size_class>& classes, const lookup_tables& t) {
  std::ostringstream out;
  char line[160];
  out << "// Generated by tools/gen_size_classes.cpp; do not edit. Regenerate with\n"
         "//   build/<preset>/tools/gen_size_classes > src/heap/size_classes.inc\n"
         "// Included by src/heap/size_classes.hpp inside namespace tide::heap::detail.\n"
         "//\n"
         "// class  bytes/obj  bytes/span  objects  tail waste  max waste\n";
  for (std::size_t i = 0; i < classes.size(); ++i) {
    const size_class& c = classes[i];
    const std::size_t previous = i == 0 ? 0 : classes[i - 1].bytes;
    const double span = static_cast<double>(c.span_pages * page_bytes);
    // Max waste: every object holding a request one byte above the previous class, plus tail.
    const double max_waste =
        static_cast<double>((c.bytes - previous - 1) * c.objects() + c.tail_bytes()) / span;
    std::snprintf(line, sizeof line, "// %5zu  %9zu  %10zu  %7zu  %10zu  %8.2f%%\n", i + 1, c.bytes,
                  c.span_pages * page_bytes, c.objects(), c.tail_bytes(), 100 * max_waste);
    out << line;
  }
  out << "\ninline constexpr int size_class_count = " << classes.size() + 1
      << ";  // class 0 is \"no class\" (a large allocation)\n";
  auto array = [&](const char* type, const char* name, auto value, std::size_t n) {
    out << "inline constexpr " << type << ' ' << name << '[' << n << "] = {";
    for (std::size_t i = 0; i < n; ++i) {
      out << (i % 12 == 0 ? "\n    " : " ") << value(i) << ',';
    }
    out << "\n};\n";
  };
  const std::size_t n = classes.size() + 1;
  array(
      "std::uint32_t", "class_object_bytes",
      [&](std::size_t i) { return i == 0 ? 0 : classes[i - 1].bytes; }, n);
  array(
      "std::uint8_t", "class_span_pages",
      [&](std::size_t i) { return i == 0 ? 0 : classes[i - 1].span_pages; }, n);
  array(
      "std::uint16_t", "class_objects_per_span",
      [&](std::size_t i) { return i == 0 ? 0 : classes[i - 1].objects(); }, n);
  array(
      "std::uint8_t", "size_to_class8", [&](std::size_t i) { return t.by8[i]; }, t.by8.size());
  array(
      "std::uint8_t", "size_to_class128", [&](std::size_t i) { return t.by128[i]; },
      t.by128.size());
  return out.str();
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<size_class> classes = make_classes();
  const lookup_tables tables = make_lookup(classes);
  check_rules(classes, tables);
  const std::string text = render(classes, tables);
  if (argc == 3 && std::string(argv[1]) == "--check") {
    std::ifstream in(argv[2], std::ios::binary);
    std::ostringstream existing;
    existing << in.rdbuf();
    if (!in || existing.str() != text) {
      std::fprintf(stderr, "gen_size_classes: %s is not what the generator prints; regenerate it\n",
                   argv[2]);
      return 1;
    }
    return 0;
  }
  if (argc != 1) {
    std::fprintf(stderr, "usage: gen_size_classes [--check FILE]\n");
    return 2;
  }
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}
