#!/usr/bin/env python3
"""Markdown tables from alloc_bench's results: time and peak RSS of every allocator per
workload, and tide's figure as a ratio to each (tide / that allocator: below 1 is tide ahead).
"tide" calls tide::heap directly; "tide-shim" is the same program's malloc/free under
LD_PRELOAD=libtide_malloc.so, and gets tables of its own against the other allocators.
See docs/PERFORMANCE.md ("Allocators").

    usage: bench/alloc_compare.py RESULTS.jsonl...

Reads the lines bench/run_alloc_compare.sh writes: {"allocator", "round", "result"}, where
"result" is alloc_bench's own JSON line. Each figure is the median over rounds. A give-back
time of null ("never": RSS did not come back within 3 s) counts as longer than any time.
"""

import json
import math
import statistics
import sys

ALLOCATORS = ["tide", "tide-shim", "glibc", "jemalloc", "tcmalloc", "mimalloc"]
BASES = ["tide", "tide-shim"]  # the allocators whose ratios to the others are tabled
MIB = 1 << 20


def load(paths):
    runs = {}    # (case, allocator) -> [result, ...]
    cases = []   # in the order first seen
    for path in paths:
        with open(path) as f:
            for line in f:
                if not line.strip():
                    continue
                rec = json.loads(line)
                r = rec["result"]
                if r["case"] not in cases:
                    cases.append(r["case"])
                runs.setdefault((r["case"], rec["allocator"]), []).append(r)
    return cases, runs


def time_of(r):
    return math.inf if r["time"] is None else r["time"]


def median(values):
    return statistics.median(values) if values else None


def fmt_value(v, digits=1):
    if v is None:
        return "—"
    return "never" if math.isinf(v) else f"{v:.{digits}f}"


def cell(v, tide, digits=1):
    """The allocator's figure and tide's as a ratio to it."""
    text = fmt_value(v, digits)
    if v is None or tide is None or math.isinf(v) or math.isinf(tide) or v == 0:
        return text
    return f"{text} ({tide / v:.2f}x)"


def spread(cases_runs):
    """The largest (max - min) / median of time over rounds among the allocators, in %."""
    worst = None
    for results in cases_runs:
        times = [time_of(r) for r in results if "skipped" not in r]
        if len(times) < 2 or any(math.isinf(t) for t in times):
            continue
        s = (max(times) - min(times)) / statistics.median(times)
        worst = s if worst is None else max(worst, s)
    return "—" if worst is None else f"{100 * worst:.0f}%"


def table(title, head, rows):
    print(f"**{title}**\n")
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(["---"] * 2 + ["---:"] * (len(head) - 2)) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 2
    cases, runs = load(argv[1:])
    if not cases:
        print("alloc_compare.py: no results in", *argv[1:])
        return 1
    present = [a for a in ALLOCATORS if any((c, a) in runs for c in cases)]
    notes = set()

    def figures(case, key):
        out = {}
        for a in present:
            results = [r for r in runs.get((case, a), []) if "skipped" not in r]
            for r in runs.get((case, a), []):
                if "skipped" in r:
                    notes.add(f"{a}, {case}: skipped ({r['skipped']})")
            out[a] = median([key(r) for r in results])
        return out

    times = {case: figures(case, time_of) for case in cases}
    rss = {case: figures(case, lambda r: r["peak_rss"] / MIB) for case in cases}
    for base in [b for b in BASES if b in present]:
        # The direct tide's tables compare it with the shim too; the shim's leave tide out.
        columns = [a for a in present if a != base and (base == "tide" or a not in BASES)]
        time_rows, rss_rows = [], []
        for case in cases:
            if (case, base) not in runs:
                continue
            unit = next(r["unit"] for a in present for r in runs.get((case, a), []))
            t, m = times[case], rss[case]
            spread_text = spread(runs[(case, a)] for a in [base] + columns if (case, a) in runs)
            time_rows.append([case, unit, fmt_value(t.get(base))]
                             + [cell(t[a], t.get(base)) for a in columns] + [spread_text])
            rss_rows.append([case, "MiB", fmt_value(m.get(base))]
                            + [cell(m[a], m.get(base)) for a in columns])
        table(f"Time (median over rounds; in brackets {base} / that allocator)",
              ["workload", "unit", base] + columns + ["spread"], time_rows)
        table(f"Peak RSS, ru_maxrss (median over rounds; in brackets {base} / that allocator)",
              ["workload", "unit", base] + columns, rss_rows)

    give_back = [c for c in cases if any("rss_full" in r for a in present for r in runs.get((c, a), []))]
    if give_back:
        rows = []
        for case in give_back:
            row = [case, "MiB"]
            for a in present:
                results = [r for r in runs.get((case, a), []) if "skipped" not in r]
                if not results:
                    row.append("—")
                    continue
                before, full, after, end = (median([r[k] / MIB for r in results])
                                            for k in ("rss_before", "rss_full", "rss_after_free", "rss_end"))
                row.append(f"{before:.0f} → {full:.0f} → {after:.0f} → {end:.0f}")
            rows.append(row)
        table("Give-back RSS: before → all allocated → first sample after the frees → last sample",
              ["workload", "unit"] + present, rows)

    print("spread: the largest (max - min) / median of the time over rounds among the allocators.")
    for note in sorted(notes):
        print(f"- {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
