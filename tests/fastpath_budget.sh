#!/usr/bin/env bash
# tests/fastpath_budget.sh — the fast path kept honest: instructions per
# malloc+free pair of the release build (bench/fastpath.sh, callgrind) at the
# sizes of tests/fastpath_budget.txt must not exceed their budget there.
# Prints the counts and the split into malloc and free; exit 1 when a size is
# over its budget or cannot be measured.  Needs valgrind and build/libhakmem.so.
set -u
cd "$(dirname "$0")/.." || exit 2
BUDGET=${FASTPATH_BUDGET:-tests/fastpath_budget.txt}   # another file: to see it fail
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)"; exit 1; }
[ -f build/libhakmem.so ] || { echo "missing build/libhakmem.so (make)"; exit 1; }
OUT=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-fastpath.XXXXXX") || exit 2
trap 'rm -rf "$OUT"' EXIT
sizes=$(awk '!/^#/ && NF == 2 { printf "%s ", $1 }' "$BUDGET")
SIZES="$sizes" ALLOCATORS=hakmem BENCH_NO_INSTALL=1 BENCH_NO_CHARTS=1 BENCH_RESULTS_DIR="$OUT" \
    bash bench/fastpath.sh || { echo "bench/fastpath.sh failed"; exit 1; }
awk -F, 'FILENAME == ARGV[1] { if (!/^#/ && NF == 1) { split($0, f, " "); if (f[2] != "") budget[f[1]] = f[2] } next }
    FNR > 1 && $1 == "hakmem" { got[$2] = $3 }
    END {
        bad = 0
        for (s in budget) {
            if (!(s in got) || got[s] == "") { printf "size %s: no count\n", s; bad = 1; continue }
            over = got[s] + 0 > budget[s] + 0
            printf "size %5s: %6.1f instructions per pair, budget %s%s\n", s, got[s], budget[s], over ? "  OVER" : ""
            if (over) bad = 1
        }
        exit bad
    }' "$BUDGET" "$OUT/fastpath.csv"
