#!/usr/bin/env python3
"""The pretty-printer test: runs gdb_program under `gdb -batch` with the printers that
`cmake --install` put in <prefix> auto-loaded for libtide.so, and checks what `print` shows
for tide::map, tide::set and tide::memstats.

    usage: gdb_printers_test.py <gdb> <gdb_program> <prefix>
"""
import re
import subprocess
import sys

gdb, program, prefix = sys.argv[1:4]
prints = ["names", "empty", "evens", "squares", "stats"]
command = [gdb, "-batch", "-nx",
           "-iex", f"add-auto-load-scripts-directory {prefix}/share/gdb/auto-load",
           "-iex", f"add-auto-load-safe-path {prefix}",
           "-ex", "set print elements unlimited",
           "-ex", "break tide_gdb_stop", "-ex", "run", "-ex", "up"]
for name in prints:
    command += ["-ex", f"print {name}"]
command += [program]
run = subprocess.run(command, capture_output=True, text=True, check=False)
shown = dict(zip(prints, re.findall(r"^\$\d+ = (.*)$", run.stdout, re.M)))
failures = []


def check(name, got, want):
    if got != want:
        failures.append(f"print {name}: got {str(got)[:300]}, want {str(want)[:300]}")


def entries(name, head):
    """The text of print <name> after `head`, which it must start with."""
    text = shown.get(name, "")
    if not text.startswith(head):
        failures.append(f"print {name}: got {text[:100]!r}..., want it to start {head!r}")
        return ""
    return text[len(head):]


check("names", shown.get("names"), 'tide::map with 1 element = {["one"] = 1}')
check("empty", shown.get("empty"), "tide::map with 0 elements")
evens = entries("evens", "tide::set with 100 elements = {")
check("evens", sorted(int(x) for x in re.findall(r"\d+", evens)), list(range(0, 200, 2)))
squares = entries("squares", "tide::map with 10000 elements = {")
check("squares", sorted((int(k), int(v)) for k, v in re.findall(r"\[(\d+)\] = (\d+)", squares)),
      [(i, i * i) for i in range(10_000)])
stats = shown.get("stats", "")
summary = re.match(r"tide::memstats: os [\d.]+ MiB = arena [\d.]+ MiB \(in use [\d.]+ MiB, idle "
                   r"[\d.]+ MiB, released [\d.]+ MiB\) \+ metadata [\d.]+ MiB; live [\d.]+ MiB in "
                   r"(\d+) objects = \{arena_bytes = \d+, ", stats)
fields = re.search(r"\blive_objects = (\d+)", stats)
if not summary or not fields or summary[1] != fields[1] or int(fields[1]) == 0:
    failures.append(f"print stats: got {stats[:300]!r}, want the summary line, then the fields, "
                    "the same nonzero live objects in both")

if failures:
    print(run.stdout[:3000], run.stderr[:3000], sep="\n")
    print("\n".join(failures))
    sys.exit(1)
print("gdb printed tide::map, tide::set and tide::memstats as expected:")
print("\n".join(f"  {name} = {shown[name][:100]}" for name in prints))
