#!/usr/bin/env python3
"""`tide stats -- COMMAND` end to end: the program's output and exit status pass through
untouched, the timeline and summary appear on stderr, the JSON file holds every report, and
the memstats the program's heap reported at exit add up.

  check_stats.py TIDE LIBTIDE_MALLOC
"""
import json
import os
import subprocess
import sys
import tempfile

failures = []


def check(condition, what):
    if not condition:
        failures.append(what)


def run(tide, lib, *args):
    return subprocess.run([tide, "stats", "--lib", lib, *args], capture_output=True, text=True,
                          timeout=300)


def main():
    tide, lib = sys.argv[1], sys.argv[2]
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="tide-stats-") as tmp:
        report = os.path.join(tmp, "stats.json")
        # 300k blocks of 1000 B (about 330 MiB of heap), held for a while, then freed.
        script = ("import time\n"
                  "x = [bytes(1000) for i in range(300000)]\n"
                  "time.sleep(0.5)\n"
                  "del x\n"
                  "print('done', flush=True)\n"
                  "time.sleep(0.3)\n")
        r = run(tide, lib, "--interval", "50", "--json", report, "--", python, "-c", script)
        check(r.returncode == 0, f"exit status {r.returncode}, expected 0; stderr:\n{r.stderr}")
        check(r.stdout == "done\n", f"stdout {r.stdout!r}, expected the program's own 'done'")
        check("live MiB" in r.stderr, "no timeline header on stderr")
        check("(the program): peak live" in r.stderr, "no summary line for the program")
        check("INCONSISTENT" not in r.stderr, "memstats at exit do not add up")
        with open(report) as f:
            data = json.load(f)
        check(data["exit_status"] == 0, "JSON exit_status")
        check(data["command"][0] == python, "JSON command")
        root = [p for p in data["processes"] if p["pid"] == data["root_pid"]]
        check(len(root) == 1, "the program's process in the JSON")
        if root:
            samples = root[0]["samples"]
            check(len(samples) >= 5, f"{len(samples)} reports at a 50 ms interval")
            check(samples[-1]["final"] is True, "the last report is the one written at exit")
            check(root[0]["peak_live_bytes"] >= 250 << 20,
                  f"peak live {root[0]['peak_live_bytes']} B, expected at least 250 MiB")
            last = samples[-1]
            check(last["live_objects"] == last["mallocs"] - last["frees"],
                  "at exit: live_objects != mallocs - frees")
            check(last["live_bytes"] < 64 << 20, "at exit: the freed blocks are still live")

        r = run(tide, lib, "--", "sh", "-c", "exit 3")
        check(r.returncode == 3, f"exit status {r.returncode}, expected the program's 3")

        r = run(tide, lib, "--", python, "-c", "import os; os.kill(os.getpid(), 9)")
        check(r.returncode == 128 + 9, f"exit status {r.returncode} for SIGKILL, expected 137")
        check("killed by signal 9" in r.stderr, "the summary does not name the signal")

        r = run(tide, lib, "--", "/nonexistent/program")
        check(r.returncode == 127, f"exit status {r.returncode} for a missing program, expected 127")
        check("cannot run /nonexistent/program" in r.stderr, "no message for a missing program")

        r = subprocess.run([tide, "stats", "--lib", os.path.join(tmp, "missing.so"), "--", "true"],
                           capture_output=True, text=True)
        check(r.returncode == 2 and "cannot find libtide_malloc.so" in r.stderr,
              "a missing --lib is not one clear error")

        r = subprocess.run([tide, "stats"], capture_output=True, text=True)
        check(r.returncode != 0, "no command is not an error")
    if failures:
        print("\n".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
