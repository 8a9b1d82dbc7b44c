#!/usr/bin/env bash
# The shim test's sort workload: 2,000,000 pseudo-random numbers generated with awk, sorted
# numerically with GNU sort; prints a checksum of the sorted output.
set -euo pipefail
awk 'BEGIN { srand(3); for (i = 0; i < 2000000; i++) print int(rand() * 1e9) }' >sort_input.txt
sort -n sort_input.txt | sha256sum
rm -f sort_input.txt
