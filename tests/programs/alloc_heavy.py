#!/usr/bin/python3
"""Allocation-heavy, deterministic Python workload for hakmem's real-program
test (tests/run.sh runs it with and without LD_PRELOAD=libhakmem.so and
compares stdout byte for byte).

Big dicts, lists of strings, sorting, JSON round trips, bytes concatenation,
object graphs with cycles (gc), struct packing.  Prints digests, never
addresses or anything depending on hash randomization.  HK_TEST_SCALE scales
the amount of work (default 1).
"""
import gc
import hashlib
import json
import os
import random
import struct
import sys
import zlib

# tests/run.sh sets HK_EXPECT_HAKMEM=1 when it preloads hakmem: make sure the
# preload took effect (prints nothing, so stdout stays comparable).
if os.environ.get("HK_EXPECT_HAKMEM") == "1":
    import ctypes
    try:
        ver = ctypes.CDLL(None).hak_abi_version()
    except AttributeError:
        sys.stderr.write("hak_abi_version not found: hakmem is not loaded\n")
        sys.exit(3)
    if ver != 1:
        sys.stderr.write("unexpected hak_abi_version %d\n" % ver)
        sys.exit(3)

SCALE = float(os.environ.get("HK_TEST_SCALE", "1") or 1)
if SCALE <= 0:
    SCALE = 1.0


def n(x):
    return max(1, int(x * SCALE))


def digest(obj):
    return hashlib.sha256(repr(obj).encode()).hexdigest()[:16]


rng = random.Random(12345)
out = []


def emit(*args):
    line = " ".join(str(a) for a in args)
    out.append(line)
    print(line)


# 1. big dict of string keys -> lists, rebuilt several times
words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 12)))
         for _ in range(n(60000))]
for rnd in range(3):
    d = {}
    for i, w in enumerate(words):
        d.setdefault(w + str(i % 97), []).append(i * (rnd + 1))
    total = sum(len(v) for v in d.values())
    keys = sorted(d)
    emit("dict", rnd, len(d), total, keys[0], keys[-1], digest(keys[::997]))
    del d, keys

# 2. lists of strings: building, joining, splitting, sorting
lines = []
for i in range(n(200000)):
    lines.append("%08d:%s:%x" % (i, words[i % len(words)], (i * 2654435761) & 0xFFFFFFFF))
blob = "\n".join(lines)
parts = blob.split("\n")
parts.sort(key=lambda s: (s[9:], s[:8]))
emit("strings", len(blob), len(parts), parts[0], parts[-1], digest(parts[::5003]))
upper = [p.upper() for p in parts[: n(100000)]]
emit("upper", digest(upper[::4999]), sum(map(len, upper)))
del lines, blob, parts, upper

# 3. JSON round trips of nested structures
doc = []
for i in range(n(20000)):
    doc.append({
        "id": i,
        "name": words[i % len(words)],
        "tags": [words[(i * 7 + k) % len(words)] for k in range(i % 5)],
        "score": (i * 37 % 1000) / 10.0,
        "nested": {"a": list(range(i % 13)), "b": {"c": str(i) * (i % 4)}},
    })
for rnd in range(3):
    s = json.dumps(doc, sort_keys=True)
    doc = json.loads(s)
    emit("json", rnd, len(s), hashlib.sha256(s.encode()).hexdigest()[:16])
del doc, s

# 4. bytes / bytearray concatenation, compression
buf = b""
chunks = []
for i in range(n(4000)):
    c = struct.pack("<IIQ", i, i * 31 & 0xFFFFFFFF, i * i) * (1 + i % 17)
    chunks.append(c)
    if i % 4 == 0:
        buf += c  # quadratic-ish realloc pattern on purpose
ba = bytearray()
for c in chunks:
    ba.extend(c)
    if len(ba) > 1 << 20:
        del ba[: len(ba) // 2]
z = zlib.compress(b"".join(chunks), 6)
emit("bytes", len(buf), hashlib.sha256(buf).hexdigest()[:16], len(ba), len(z),
     zlib.crc32(zlib.decompress(z)))
del buf, ba, chunks, z

# 5. object graphs with reference cycles (gc collects them)
class Node:
    __slots__ = ("val", "kids", "parent", "__weakref__")

    def __init__(self, val, parent=None):
        self.val = val
        self.kids = []
        self.parent = parent


collected = 0
for rnd in range(n(6)):
    root = Node(0)
    frontier = [root]
    count = 1
    while count < 30000:
        nxt = []
        for node in frontier:
            for k in range(3):
                c = Node(node.val * 3 + k, node)
                node.kids.append(c)
                nxt.append(c)
                count += 1
        frontier = nxt
    s = 0
    stack = [root]
    while stack:
        x = stack.pop()
        s = (s * 31 + x.val) % 1000000007
        stack.extend(x.kids)
    emit("tree", rnd, count, s)
    del root, frontier, nxt, stack, x, node, c
    collected += gc.collect()
emit("gc", "collected" if collected > 0 else "nothing")

# 6. many small dicts/tuples/sets churned through a sliding window
window = []
acc = 0
for i in range(n(300000)):
    item = {"k": i, "t": (i, str(i), i * 0.5), "s": frozenset((i % 7, i % 11))}
    window.append(item)
    if len(window) > 5000:
        old = window.pop(rng.randrange(len(window)))
        acc = (acc + old["k"] * len(old["s"]) + len(old["t"][1])) % 1000003
emit("window", len(window), acc)
del window

# 7. sorting big lists of tuples and big integers
data = [(rng.random(), rng.randint(0, 1 << 40), words[i % len(words)]) for i in range(n(150000))]
data.sort()
big = 1
for i in range(1, n(2000)):
    big = big * (i | 1) + i
emit("sort", digest(data[::10007]), big.bit_length(), big % 1000000007)

emit("done", hashlib.sha256("\n".join(out).encode()).hexdigest()[:16])
sys.stdout.flush()
