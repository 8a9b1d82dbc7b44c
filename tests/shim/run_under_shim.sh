#!/usr/bin/env bash
# Runs a command twice, without and with LD_PRELOAD=<shim>, and fails unless both exit with
# the same status and print the same standard output. Used by the shim tests in
# tests/CMakeLists.txt.
#
#   usage: run_under_shim.sh SHIM WORKDIR COMMAND...      (COMMAND runs through bash -c)
set -euo pipefail
shim=$1 workdir=$2
shift 2
mkdir -p "$workdir"
cd "$workdir"

set +e
bash -c "$*" >plain.out 2>plain.err
plain_status=$?
LD_PRELOAD="$shim" bash -c "$*" >shim.out 2>shim.err
shim_status=$?
set -e

if [[ $plain_status -ne $shim_status ]]; then
  echo "exit status differs: $plain_status without the shim, $shim_status with it" >&2
  cat shim.err >&2
  exit 1
fi
if ! cmp -s plain.out shim.out; then
  echo "output differs between the runs without and with the shim:" >&2
  diff plain.out shim.out | head -20 >&2
  exit 1
fi
if [[ $shim_status -ne 0 ]]; then
  echo "the command failed (status $shim_status) in both runs:" >&2
  cat shim.err >&2
  exit 1
fi
echo "same output ($(wc -l <shim.out) lines) and status 0 without and with $shim"
