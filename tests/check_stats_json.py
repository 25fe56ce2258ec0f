#!/usr/bin/env python3
"""check_stats_json.py — check a JSON file written by hak_stats_print_json
(tests/api/stats.c) or at exit by HAKMEM_STATS=json:PATH (tests/config.sh).

    check_stats_json.py FILE [--expect EXPECT] [--mode NAME]
                             [--row-allocs SIZE MIN]

  FILE must parse as one JSON object with at least "mode" (a mode name),
  "allocs", "frees", "remote_frees", "classes" (a non-empty array of objects
  with "block_size", "allocs", "frees", "remote_frees"; block sizes rising)
  and "stages"; the totals must be the sums of the rows.
  --expect: lines written by tests/api/stats.c, "mode NAME", "KEY LO HI"
            (top-level KEY within [LO, HI]) and "row SIZE KEY LO HI" (the
            row with block_size SIZE).
  --mode:   "mode" must be NAME.
  --row-allocs SIZE MIN: the row of SIZE bytes (the first with block_size >=
            SIZE) has at least MIN allocs.
Prints what is wrong and exits 1, or prints a summary and exits 0.
"""
import json
import sys

MODES = ("minimal", "fast", "balanced", "learning", "research")


def fail(msg):
    print("check_stats_json: FAIL: " + msg)
    sys.exit(1)


def is_count(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def main(argv):
    if len(argv) < 2:
        fail("usage: check_stats_json.py FILE [--expect F] [--mode M] [--row-allocs SIZE MIN]")
    path = argv[1]
    expect = mode = None
    row_allocs = []
    i = 2
    while i < len(argv):
        if argv[i] == "--expect":
            expect = argv[i + 1]
            i += 2
        elif argv[i] == "--mode":
            mode = argv[i + 1]
            i += 2
        elif argv[i] == "--row-allocs":
            row_allocs.append((int(argv[i + 1]), int(argv[i + 2])))
            i += 3
        else:
            fail("unknown argument " + argv[i])

    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        fail("%s: %s" % (path, e))
    if not isinstance(doc, dict):
        fail("%s: not a JSON object" % path)
    for key in ("mode", "allocs", "frees", "remote_frees", "classes", "stages"):
        if key not in doc:
            fail("%s: no key %r (keys: %s)" % (path, key, ", ".join(sorted(doc))))
    if doc["mode"] not in MODES:
        fail("mode is %r" % (doc["mode"],))
    for key in ("allocs", "frees", "remote_frees"):
        if not is_count(doc[key]):
            fail("%s is %r, not a count" % (key, doc[key]))
    if not isinstance(doc["stages"], (dict, list)) or not doc["stages"]:
        fail("stages is %r" % (doc["stages"],))
    classes = doc["classes"]
    if not isinstance(classes, list) or not classes:
        fail("classes is not a non-empty array")
    prev = 0
    sums = {"allocs": 0, "frees": 0, "remote_frees": 0}
    for n, row in enumerate(classes):
        if not isinstance(row, dict):
            fail("classes[%d] is not an object" % n)
        for key in ("block_size", "allocs", "frees", "remote_frees"):
            if not is_count(row.get(key)):
                fail("classes[%d].%s is %r" % (n, key, row.get(key)))
        if row["block_size"] <= prev:
            fail("classes[%d].block_size %d not above %d" % (n, row["block_size"], prev))
        prev = row["block_size"]
        if row["remote_frees"] > row["frees"]:
            fail("classes[%d]: remote_frees > frees" % n)
        for key in sums:
            sums[key] += row[key]
    for key, total in sums.items():
        if doc[key] != total:
            fail("%s is %d, the rows sum to %d" % (key, doc[key], total))

    def row_for(size):
        for row in classes:
            if row["block_size"] >= size:
                return row
        fail("no row for %d bytes" % size)
        return None

    if mode is not None and doc["mode"] != mode:
        fail("mode is %r, expected %r" % (doc["mode"], mode))
    for size, least in row_allocs:
        row = row_for(size)
        if row["allocs"] < least:
            fail("row %d (for %d B): %d allocs, expected at least %d"
                 % (row["block_size"], size, row["allocs"], least))
    if expect:
        with open(expect) as f:
            for line in f:
                w = line.split()
                if not w:
                    continue
                if w[0] == "mode":
                    if doc["mode"] != w[1]:
                        fail("mode is %r, the program's snapshot says %r" % (doc["mode"], w[1]))
                elif w[0] == "row":
                    size, key, lo, hi = int(w[1]), w[2], int(w[3]), int(w[4])
                    rows = [r for r in classes if r["block_size"] == size]
                    if not rows:
                        fail("no row with block_size %d" % size)
                    v = rows[0][key]
                    if not lo <= v <= hi:
                        fail("row %d: %s is %d, the program's snapshots say %d..%d"
                             % (size, key, v, lo, hi))
                else:
                    key, lo, hi = w[0], int(w[1]), int(w[2])
                    if not lo <= doc[key] <= hi:
                        fail("%s is %d, the program's snapshots say %d..%d" % (key, doc[key], lo, hi))
    print("check_stats_json: %s ok (mode %s, %d rows, %d allocs)"
          % (path, doc["mode"], len(classes), doc["allocs"]))


if __name__ == "__main__":
    main(sys.argv)
