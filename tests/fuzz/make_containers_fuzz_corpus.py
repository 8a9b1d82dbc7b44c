#!/usr/bin/env python3
"""Writes the seed corpus for containers_fuzz into corpus/containers_fuzz/ (deterministic).

Input format (see containers_fuzz.hpp): operations of three bytes [op][key lo][key hi]; the
op byte's low 4 bits pick the operation, its high 4 bits are its argument x. Each seed mixes
the operations with a bias of its own (persistent versions, dense_map, bloom) over a key
range of its own, and ends with the checks (ops 6, 11, 13).
Usage: make_containers_fuzz_corpus.py [output directory]
"""
import os
import random
import sys

PERSISTENT = [0, 1, 2, 3, 4, 5, 6]
DENSE = [7, 8, 9, 10, 11, 14]
BLOOM = [12, 13]


def op(code, x, key):
    return bytes([(x & 15) << 4 | code, key & 255, (key >> 8) & 255])


def seed(rng, ops, key_range, length):
    out = bytearray()
    for _ in range(length):
        code = rng.choice(ops)
        out += op(code, rng.randrange(16), rng.randrange(key_range))
    out += op(6, 0, 1) + op(11, 0, 0) + op(13, 0, 0)
    return bytes(out)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus", "containers_fuzz")
    os.makedirs(out_dir, exist_ok=True)
    rng = random.Random(20261125)
    plans = [
        (PERSISTENT, 64, 300), (PERSISTENT, 4096, 600), (PERSISTENT + [5, 5], 65536, 400),
        (DENSE, 64, 300), (DENSE, 4096, 600), (DENSE + [15], 65536, 300),
        (BLOOM, 65536, 500), (PERSISTENT + DENSE + BLOOM, 1024, 800),
        (PERSISTENT + DENSE + BLOOM, 65536, 800), ([0, 1, 4, 3, 6], 16, 400),
    ]
    for i, (ops, key_range, length) in enumerate(plans):
        with open(os.path.join(out_dir, f"seed-{i:02d}"), "wb") as f:
            f.write(seed(rng, ops, key_range, length))


if __name__ == "__main__":
    main()
