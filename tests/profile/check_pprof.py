#!/usr/bin/env python3
"""The heap profile end to end: profile_program writes a profile, `go tool pprof -top` reads it
and must attribute what the program allocated to the functions that allocated it.

  check_pprof.py PROGRAM                  the program calls tide::write_heap_profile
  check_pprof.py PROGRAM --shim LIBTIDE   malloc under LD_PRELOAD=LIBTIDE, TIDE_PROFILE at exit

profile_program (tests/profile/profile_program.cpp) keeps 64 MiB allocated by
keep_these_blocks and 32 MiB by keep_large_blocks, and allocates and frees 64 MiB in
churn_through_blocks. Sampling is random (one sample per 64 KiB on average): the estimates
must land within 15% (about 7 standard deviations for 1 KiB blocks at that rate).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

MIB = 1 << 20


def pprof_cum_bytes(program, profile, sample_index, tmp):
    """{function: cumulative bytes} from `go tool pprof -top -unit=B`."""
    env = dict(os.environ, PPROF_TMPDIR=tmp, HOME=tmp)
    out = subprocess.run(
        ["go", "tool", "pprof", "-top", "-unit=B", "-nodecount=50",
         f"-sample_index={sample_index}", program, profile],
        capture_output=True, text=True, env=env, check=True).stdout
    cum = {}
    for line in out.splitlines():
        # flat flat% sum% cum cum% name
        m = re.match(r"\s*(-?[\d.]+)B?\s+\S+\s+\S+\s+(-?[\d.]+)B?\s+\S+\s+(.+)$", line)
        if m:
            cum[m.group(3).strip()] = float(m.group(2))
    return cum, out


def expect_near(failures, what, got, want):
    if abs(got - want) > 0.15 * want:
        failures.append(f"{what}: {got / MIB:.1f} MiB, expected {want / MIB:.1f} MiB +-15%")


def main():
    program = os.path.abspath(sys.argv[1])
    shim = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "--shim" else None
    if shutil.which("go") is None:
        print("check_pprof: `go` not found (Debian golang-go): scripts/deps.sh installs it",
              file=sys.stderr)
        return 1
    tmp = tempfile.mkdtemp(prefix="tide-pprof-")
    try:
        profile = os.path.join(tmp, "heap.pb.gz")
        if shim:
            env = dict(os.environ, LD_PRELOAD=os.path.abspath(shim), TIDE_PROFILE=profile,
                       TIDE_PROFILE_RATE="64KiB")
            subprocess.run([program, "unused", "--shim"], env=env, check=True,
                           stdout=subprocess.DEVNULL)
        else:
            subprocess.run([program, profile], check=True, stdout=subprocess.DEVNULL)
        if not os.path.exists(profile):
            print(f"check_pprof: no profile written at {profile}", file=sys.stderr)
            return 1

        failures = []
        alloc, alloc_out = pprof_cum_bytes(program, profile, "alloc_space", tmp)
        inuse, inuse_out = pprof_cum_bytes(program, profile, "inuse_space", tmp)
        expect_near(failures, "alloc_space of keep_these_blocks", alloc.get("keep_these_blocks", 0), 64 * MIB)
        expect_near(failures, "alloc_space of churn_through_blocks", alloc.get("churn_through_blocks", 0), 64 * MIB)
        expect_near(failures, "alloc_space of keep_large_blocks", alloc.get("keep_large_blocks", 0), 32 * MIB)
        if shim:
            # Written at exit, after the program freed everything it kept.
            for name in ("keep_these_blocks", "keep_large_blocks", "churn_through_blocks"):
                if inuse.get(name, 0) != 0:
                    failures.append(f"inuse_space of {name} at exit: {inuse[name]:.0f} B, expected 0")
        else:
            expect_near(failures, "inuse_space of keep_these_blocks", inuse.get("keep_these_blocks", 0), 64 * MIB)
            expect_near(failures, "inuse_space of keep_large_blocks", inuse.get("keep_large_blocks", 0), 32 * MIB)
            if inuse.get("churn_through_blocks", 0) != 0:
                failures.append("churn_through_blocks freed everything but has inuse_space")
        # The allocator's own frames are dropped: the program's function is the leaf.
        for name in alloc:
            if re.search(r"allocate_sampled|allocate_large|tide_malloc|^malloc$", name):
                failures.append(f"allocator frame {name} left in the profile")
        if failures:
            print("\n".join(failures), file=sys.stderr)
            print("---- alloc_space\n" + alloc_out + "---- inuse_space\n" + inuse_out, file=sys.stderr)
            return 1
        print(inuse_out)
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
