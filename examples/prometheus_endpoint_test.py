#!/usr/bin/env python3
"""Runs examples/prometheus_endpoint as a user would and scrapes it.

Starts the program on an ephemeral port with --requests 3, reads the port from its first line
of output, fetches /metrics twice (the second scrape must see the heap's counters grow) and a
missing path (404), then checks that the program exits with status 0.

    usage: prometheus_endpoint_test.py PATH/TO/prometheus_endpoint
"""
import re
import subprocess
import sys
import urllib.error
import urllib.request

# Metric names every scrape must carry (see src/heap/memstats_format.cpp).
EXPECTED = [
    "tide_heap_arena_bytes",
    "tide_heap_in_use_bytes",
    "tide_heap_idle_bytes",
    "tide_heap_released_bytes",
    "tide_heap_footprint_bytes",
    "tide_heap_live_bytes",
    "tide_heap_mallocs_total",
    "tide_heap_frees_total",
    "tide_heap_memory_limit",
    "tide_heap_class_live_objects",
]


def fail(message):
    print(f"prometheus_endpoint_test: {message}", file=sys.stderr)
    sys.exit(1)


def value(text, name):
    match = re.search(rf"^{name} (\d+)$", text, re.MULTILINE)
    if not match:
        fail(f"no sample for {name}")
    return int(match.group(1))


def main():
    if len(sys.argv) != 2:
        fail("usage: prometheus_endpoint_test.py PROGRAM")
    server = subprocess.Popen([sys.argv[1], "--port", "0", "--requests", "3"],
                              stdout=subprocess.PIPE, text=True)
    try:
        first = server.stdout.readline()
        match = re.match(r"listening on (http://127\.0\.0\.1:(\d+))/metrics$", first.strip())
        if not match:
            fail(f"first line {first!r}, want 'listening on http://127.0.0.1:PORT/metrics'")
        base = match.group(1)

        scrapes = []
        for _ in range(2):
            with urllib.request.urlopen(base + "/metrics", timeout=10) as reply:
                if reply.status != 200:
                    fail(f"GET /metrics: status {reply.status}, want 200")
                content_type = reply.headers.get("Content-Type", "")
                if not content_type.startswith("text/plain; version=0.0.4"):
                    fail(f"GET /metrics: Content-Type {content_type!r}")
                scrapes.append(reply.read().decode())
        for name in EXPECTED:
            if not re.search(rf"^# TYPE {name} (gauge|counter)$", scrapes[0], re.MULTILINE):
                fail(f"GET /metrics: no '# TYPE {name}' line")
        if value(scrapes[1], "tide_heap_mallocs_total") <= value(scrapes[0], "tide_heap_mallocs_total"):
            fail("tide_heap_mallocs_total did not grow between two scrapes")

        try:
            urllib.request.urlopen(base + "/nothing-here", timeout=10)
            fail("GET /nothing-here: status 200, want 404")
        except urllib.error.HTTPError as error:
            if error.code != 404:
                fail(f"GET /nothing-here: status {error.code}, want 404")

        status = server.wait(timeout=10)
        if status != 0:
            fail(f"the program exited with {status} after its 3 requests, want 0")
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    print(f"prometheus_endpoint_test: ok ({len(scrapes[0].splitlines())} lines per scrape)")


if __name__ == "__main__":
    main()
