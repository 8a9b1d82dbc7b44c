#!/usr/bin/env bash
# Runs trace_program with TIDE_TRACE=1 and TIDE_STATS_ON_EXIT=1 (and a malformed
# TIDE_RELEASE_DELAY and TIDE_PROFILE_RATE) and checks that stderr has a line for every kind of
# event.
#
#   usage: check_trace.sh PROGRAM
set -uo pipefail
err=$(TIDE_TRACE=1 TIDE_STATS_ON_EXIT=1 TIDE_RELEASE_DELAY=soon TIDE_PROFILE_RATE=lots "$1" 2>&1 >/dev/null)
status=$?
if [[ $status -ne 0 ]]; then
  echo "trace_program exited with status $status" >&2
  exit 1
fi
missing=0
for pattern in \
    '^tide: heap: arena grown by 64 MiB \[arenas' \
    '^tide: heap: release_memory\(\) released [0-9]+ KiB' \
    '^tide: heap: memory limit crossed: footprint [0-9]+ KiB > limit 16384 KiB' \
    '^tide: heap: pressure callbacks run: footprint' \
    '^tide: map 0x[0-9a-f]+: grew a table of [0-9]+ entries' \
    '^tide: map 0x[0-9a-f]+: split a table of [0-9]+ entries' \
    '^tide: map 0x[0-9a-f]+: merged two buddy tables' \
    '^tide: map 0x[0-9a-f]+: shrank a table' \
    '^tide: ignoring TIDE_RELEASE_DELAY="soon": expected milliseconds' \
    '^tide: ignoring TIDE_PROFILE_RATE="lots": expected bytes per sample' \
    '^tide: memstats at exit: live [0-9.]+ MiB in [0-9]+ objects'; do
  if ! grep -Eq "$pattern" <<<"$err"; then
    echo "no line matches: $pattern" >&2
    missing=1
  fi
done
if [[ $missing -ne 0 ]]; then
  echo "--- stderr was:" >&2
  head -40 <<<"$err" >&2
  exit 1
fi
echo "every traced event kind appeared ($(wc -l <<<"$err") lines)"
