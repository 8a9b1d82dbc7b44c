#!/usr/bin/env python3
"""Writes the seed corpus for map_fuzz into corpus/map_fuzz/ (deterministic).

Input format (see map_fuzz.hpp): byte 0 picks the map (% 3: uint64, string, uint64 -> 128-byte
value); then
operations of [op byte][key: 1 byte, or 2 bytes little-endian when op & 0x10][argument byte].
Ops: 0 insert, 1 emplace, 2 try_emplace, 3 operator[], 4 insert_or_assign, 5 erase(key),
6 erase(iterator), 7 find, 8 insert a run of arg*4 keys, 9 erase a run of arg*4 keys,
10 erase-while-iterating, 11 clear (arg % 4 == 0), 12 reserve/rehash/shrink_to_fit,
13 copy/move/swap, 14 erase(first, last), 15 erase_if.
Usage: make_map_fuzz_corpus.py [output directory]
"""
import os
import random
import sys


def op(code, key, arg, wide=None):
    wide = key > 255 if wide is None else wide
    out = bytes([code | (0x10 if wide else 0)])
    out += key.to_bytes(2, "little") if wide else bytes([key])
    return out + bytes([arg & 255])


def random_ops(rng, n, wide_share, codes):
    out = b""
    for _ in range(n):
        wide = rng.random() < wide_share
        key = rng.randrange(65536 if wide else 256)
        out += op(rng.choice(codes), key, rng.randrange(256), wide)
    return out


def seeds():
    rng = random.Random(20240611)
    point_ops = [0, 1, 2, 3, 4, 5, 6, 7]
    for kind in (0, 1, 2):  # uint64 keys, string keys, big values
        # Grow through many tables with runs, then shrink with runs: splits and merges.
        grow = b"".join(op(8, k * 1000, 250) for k in range(3))
        shrink = b"".join(op(9, k * 1000, 250) for k in range(3))
        yield bytes([kind]) + grow + op(7, 5, 0) + shrink + op(0, 1, 1)
        # Grow, erase most by iterator, regrow.
        yield bytes([kind]) + op(8, 0, 255) + op(8, 1500, 255) + op(10, 0, 1) + op(8, 100, 50)
        # Point operations on a small key range (collisions, re-inserts, erases).
        yield bytes([kind]) + random_ops(rng, 300, 0.0, point_ops)
        # Point operations on a wide key range.
        yield bytes([kind]) + op(8, 0, 200) + random_ops(rng, 600, 1.0, point_ops)
        # Everything, mixed.
        yield bytes([kind]) + random_ops(rng, 400, 0.3, list(range(16)))
        # Churn: a run in, then insert-new/erase-old pairs sliding upwards.
        churn = op(8, 0, 120)
        for i in range(300):
            churn += op(1, 960 + i, i) + op(5, i, 0)
        yield bytes([kind]) + churn
        # clear, reserve, rehash, shrink_to_fit, copy between runs.
        yield bytes([kind]) + op(12, 5000, 0) + op(8, 0, 100) + op(13, 0, 0) + op(12, 0, 2) + \
            op(9, 0, 90) + op(12, 0, 2) + op(11, 0, 0) + op(8, 7, 10) + op(12, 0, 1)
        # erase(first, last) and erase_if over a grown map.
        yield bytes([kind]) + op(8, 0, 150) + b"".join(op(14, rng.randrange(1200), 15) for _ in range(60)) + \
            op(15, 0, 3) + op(15, 0, 0)
        # Small maps: sizes around one group.
        yield bytes([kind]) + b"".join(op(0, i, i) for i in range(9)) + b"".join(op(5, i, 0) for i in range(9)) + \
            b"".join(op(3, i, i) for i in range(17)) + op(10, 0, 0)
        # The erase-while-iterating idiom at several sizes.
        yield bytes([kind]) + op(8, 0, 1) + op(10, 0, 1) + op(8, 0, 16) + op(10, 0, 2) + op(8, 0, 255) + \
            op(10, 0, 3) + op(10, 0, 0)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus", "map_fuzz")
    os.makedirs(out_dir, exist_ok=True)
    for i, data in enumerate(seeds()):
        with open(os.path.join(out_dir, "seed-%02d" % i), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
