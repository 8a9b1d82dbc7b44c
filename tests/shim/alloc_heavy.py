# An allocation-heavy Python program for the shim test: dicts, lists, strings and objects
# built, sorted, serialised and dropped; prints a checksum of what it computed.
import hashlib
import json
import random

random.seed(7)
digest = hashlib.sha256()
for round_ in range(8):
    table = {f"key-{i}-{random.random():.6f}": [random.randint(0, 1 << 30) for _ in range(i % 13)]
             for i in range(40000)}
    rows = sorted(table.items(), key=lambda kv: (len(kv[1]), kv[0]))
    text = json.dumps(rows[:5000])
    digest.update(text.encode())
    objects = [type("Obj", (), {"n": i, "s": str(i) * (i % 7)})() for i in range(20000)]
    digest.update(str(sum(o.n for o in objects)).encode())
    del table, rows, objects
print(digest.hexdigest())
