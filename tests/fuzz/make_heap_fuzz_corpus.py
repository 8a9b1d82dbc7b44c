#!/usr/bin/env python3
"""Writes the seed corpus for heap_fuzz into corpus/heap_fuzz/ (deterministic).

Input format (see heap_fuzz.hpp): operations of [op byte: low 3 bits the operation, high 5
bits its argument x][slot byte] and, for ops 0 and 6, a 16-bit little-endian size.
Ops: 0 allocate (x & 16: size * 8; x % 16 >= 4: alignment 1 << ((x % 16 - 4) * 3 // 2)),
1 deallocate sized, 2 deallocate unsized, 3 usable_size (pattern rewritten over all of it),
4 release_memory (x % 4 == 0), 5 memstats check, 6 allocate x + 1 blocks of size % 4096 + 1,
7 free x + 1 slots.
Usage: make_heap_fuzz_corpus.py [output directory]
"""
import os
import random
import sys


def alloc(slot, size, align_code=0, scaled=False):
    x = (16 if scaled else 0) | align_code
    return bytes([x << 3 | 0, slot & 255]) + (size & 0xFFFF).to_bytes(2, "little")


def free(slot, sized=True):
    return bytes([1 if sized else 2, slot & 255])


def usable(slot):
    return bytes([3, slot & 255])


def release():
    return bytes([4, 0])


def check():
    return bytes([5, 0])


def batch(slot, count, size):
    return bytes([(count - 1) << 3 | 6, slot & 255]) + (size & 0xFFFF).to_bytes(2, "little")


def free_run(slot, count):
    return bytes([(count - 1) << 3 | 7, slot & 255])


def random_ops(rng, n):
    out = b""
    for _ in range(n):
        op = rng.choice([0, 0, 0, 1, 2, 3, 5, 6, 7])
        slot = rng.randrange(256)
        if op == 0:
            size = rng.choice([rng.randrange(256), rng.randrange(4096), rng.randrange(65536)])
            out += alloc(slot, size, rng.randrange(16), rng.random() < 0.05)
        elif op == 6:
            out += batch(slot, rng.randrange(1, 33), rng.randrange(4096))
        elif op == 7:
            out += free_run(slot, rng.randrange(1, 33))
        else:
            out += bytes([op, slot])
    return out


def seeds():
    rng = random.Random(20261125)
    # Every small size class boundary, checked, freed sized, checked.
    edges = [0, 1, 8, 9, 16, 17, 100, 112, 113, 128, 129, 1024, 1025, 4096, 8192, 32768, 32769]
    s = b"".join(alloc(i, size) + usable(i) for i, size in enumerate(edges)) + check()
    s += b"".join(free(i, i % 2 == 0) for i in range(len(edges))) + check()
    yield s
    # Every alignment code on a few sizes.
    s = b""
    for code in range(16):
        for j, size in enumerate((1, 100, 5000, 40000)):
            slot = code * 4 + j
            s += alloc(slot, size, code) + usable(slot)
    yield s + check() + free_run(0, 32) + free_run(32, 32) + check()
    # Large blocks, scaled sizes up to 512 KiB, freed unsized, released.
    s = b"".join(alloc(i, 8192 * (i + 1) // 8, 0, True) for i in range(40))
    yield s + check() + b"".join(free(i, False) for i in range(40)) + release() + check()
    # Fill whole spans of small classes, free them, release, reuse.
    s = b""
    for k, size in enumerate((8, 48, 112, 1000, 3000)):
        s += batch(k * 32, 32, size - 1)
    s += check() + b"".join(free_run(k * 32, 32) for k in range(5)) + release() + check()
    s += batch(0, 32, 47) + check()
    yield s
    # Churn one slot through many sizes (each allocate frees what the slot held).
    yield b"".join(alloc(9, rng.randrange(65536)) for _ in range(300)) + usable(9) + check()
    # Interleaved sized and unsized frees with checks between.
    s = b""
    for i in range(200):
        s += alloc(i, rng.randrange(2048))
        if i % 3 == 2:
            s += free(i - 1, i % 2 == 0) + usable(i)
        if i % 50 == 0:
            s += check()
    yield s
    # Random mixes.
    for n in (100, 300, 600, 1000, 2000):
        yield random_ops(rng, n) + check()
    # Release between every step.
    s = b""
    for i in range(60):
        s += alloc(i, rng.randrange(20000)) + release() + free((i * 7) % 60) + release()
    yield s + check()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus", "heap_fuzz")
    os.makedirs(out_dir, exist_ok=True)
    for i, data in enumerate(seeds()):
        with open(os.path.join(out_dir, "seed-%02d" % i), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
