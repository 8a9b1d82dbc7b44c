#!/usr/bin/env python3
"""Side-by-side table from map_bench's JSON output: tide's time as a ratio to the faster of
absl and boost, per operation. See docs/PERFORMANCE.md.

    usage: bench/compare.py RESULTS.json... [--markdown]

Several files (bench/run_compare.sh writes one per benchmark) are read as one run.

Reads benchmarks named BM_<Op>_<Key>/<map>/<N>[/manual_time] with the ns_per_op counter.
The figure for each (benchmark, map) is the median of ns_per_op over repetitions: computed
from the individual repetitions when the file has them, else taken from the "median" aggregate.
"""

import json
import re
import statistics
import sys

MAPS = ["tide", "absl", "boost", "std"]
OPS = ["Insert", "FindHit", "FindMiss", "Erase", "Iterate"]
NAME = re.compile(r"^BM_(?P<op>[A-Za-z]+)_(?P<key>[A-Za-z0-9]+)/(?P<map>[a-z]+)/(?P<n>\d+)")


def load(paths):
    runs = {}        # (op, key, n, map) -> [ns_per_op, ...] from repetitions
    medians = {}     # (op, key, n, map) -> ns_per_op from the median aggregate
    context = {}
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        context = context or data.get("context", {})
        for b in data["benchmarks"]:
            m = NAME.match(b.get("run_name", b["name"]))
            if not m or "ns_per_op" not in b or b.get("error_occurred"):
                continue
            k = (m["op"], m["key"], int(m["n"]), m["map"])
            if b.get("run_type") == "aggregate":
                if b.get("aggregate_name") == "median":
                    medians[k] = b["ns_per_op"]
            else:
                runs.setdefault(k, []).append(b["ns_per_op"])
    figures = dict(medians)
    figures.update({k: statistics.median(v) for k, v in runs.items()})
    # Coefficient of variation over repetitions: how far the machine let the runs agree.
    spread = {k: statistics.stdev(v) / statistics.mean(v) for k, v in runs.items() if len(v) > 1}
    return context, figures, spread


def rows(figures):
    order = {op: i for i, op in enumerate(OPS)}
    cases = sorted({(op, key, n) for (op, key, n, _) in figures},
                   key=lambda c: (c[1] != "U64", c[2], order.get(c[0], len(OPS)), c[0]))
    out = []
    for op, key, n in cases:
        ns = {m: figures.get((op, key, n, m)) for m in MAPS}
        rivals = [ns[m] for m in ("absl", "boost") if ns[m] is not None]
        best = min(rivals) if rivals else None
        ratio = ns["tide"] / best if ns["tide"] is not None and best else None
        out.append(((op, key, n), f"{op} {key} {n:,}", ns, ratio))
    return out


def fmt_ns(v):
    return "—" if v is None else f"{v:.1f}"


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 2
    markdown = "--markdown" in argv[1:]
    paths = [a for a in argv[1:] if a != "--markdown"]
    context, figures, spread = load(paths)
    table = rows(figures)
    if not table:
        print("compare.py: no BM_<Op>_<Key>/<map>/<N> results with ns_per_op in", *paths)
        return 1
    present = [m for m in MAPS if any(ns[m] is not None for _, _, ns, _ in table)]
    head = ["operation"] + [f"{m} ns" for m in present] + ["max cv", "tide / best(absl, boost)"]
    if markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
    else:
        print(f"{head[0]:<24}" + "".join(f"{h:>12}" for h in head[1:-1]) + f"{head[-1]:>27}")
    worst = None
    for case, label, ns, ratio in table:
        r = "—" if ratio is None else f"{ratio:.2f}x"
        cvs = [spread[case + (m,)] for m in present if case + (m,) in spread]
        cv = f"{100 * max(cvs):.0f}%" if cvs else "—"
        if ratio is not None:
            worst = ratio if worst is None else max(worst, ratio)
        if markdown:
            print("| " + " | ".join([label] + [fmt_ns(ns[m]) for m in present] + [cv, r]) + " |")
        else:
            print(f"{label:<24}" + "".join(f"{fmt_ns(ns[m]):>12}" for m in present)
                  + f"{cv:>12}{r:>27}")
    if not markdown:
        host = context.get("host_name", "?")
        cpus = context.get("num_cpus", "?")
        print(f"\nmedians of ns_per_op over repetitions; max cv = the largest coefficient of variation"
              f" among the maps in the row\nhost {host}, {cpus} CPUs, {context.get('date', '')}")
        if worst is not None:
            print(f"worst tide ratio: {worst:.2f}x (target: <= 1.00x)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
