#!/usr/bin/env bash
# bench/smoke.sh — smoke test of the benchmark runner (tests/run.sh runs it
# as the test bench_smoke; no timing is asserted).
#
#  1. bench/run.sh with PROFILE=smoke (hakmem and glibc, tiny_hot,
#     random_mixed and json, one short run each) into a temporary results
#     directory, BENCH_STRICT=1: it must exit 0; latest.csv must have the
#     required columns and one ok row with a throughput, a peak RSS, an op
#     count and faults per op per benchmark and allocator, hakmem's rows its
#     mmap count; both charts must be PNG files (magic bytes); cliff.txt
#     (and latest.txt) carry the cliff report, a row per benchmark; and
#     bench/cliff.awk on a CSV of known figures gives the expected cliffs.
#  2. a run whose benchmark fails (bad argument) must give FAIL rows, and
#     the runner must still exit 0 and write the CSV.
#  3. bench/sweep.sh with PROFILE=smoke: sweep CSV rows and its PNG.
#  4. bench/overhead.sh comparing hakmem with hakmem@fast (a variant that
#     needs no build): overhead.csv has an ok row with a speed ratio per
#     benchmark, the table ends with the worst ratio, and the variant's rows
#     in run.sh's CSV have hakmem's mmap count.
#  5. run.sh with BENCHES="json peak_idle" (a 16 MiB peak_idle) and
#     BENCH_REF=hakmem@fast: latest.csv has freed_rss_kib and idle_rss_kib,
#     filled for peak_idle, empty for json; the table's ratios are against
#     hakmem@fast (its own rows 1.000), the "resident after idle" table is
#     printed; a BENCH_REF that is not in ALLOCATORS exits 2.
#  6. BENCH_PEERS: libc.so.6 under the name libc2 runs as a peer (ok rows,
#     judged in the cliff report), a missing library is skipped, a malformed
#     entry or a name of the runner's own exits 2.
#  7. a real program: prog_sqlite (bench/programs.sh) under hakmem and glibc
#     gives ok rows, its output equal to the run without a preload (skipped
#     with a note without sqlite3).
#  8. bench/report.sh with PROFILE=smoke into a temporary document: its
#     sections, a throughput row per benchmark, an ablation row, the
#     phase-change runs (an extra peer, libc2, among them) and trace, the
#     four charts (PNG, linked); its
#     learning step (bench/learn_eval.sh, one short workload, one run):
#     learn_eval.csv has a "fixed" row per candidate and a learning row,
#     and the table a row.
# Without gnuplot the PNG checks are skipped with a note, unless $CI is set
# (CI installs gnuplot-nox), where they fail.
# Needs build/libhakmem.so (make).  Exit 0 = pass.
set -u
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TMPD=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-bench-smoke.XXXXXX")
trap 'rm -rf "$TMPD"' EXIT
export BENCH_NO_INSTALL=1
fails=0
fail() { echo "smoke: FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "smoke: ok: $*"; }

HAVE_GNUPLOT=1
if ! command -v gnuplot >/dev/null 2>&1; then
    if [ -n "${CI:-}" ]; then
        fail "gnuplot not installed (CI must install gnuplot-nox)"
    else
        echo "smoke: note: gnuplot not installed; skipping the PNG checks (apt-get install gnuplot-nox)"
    fi
    HAVE_GNUPLOT=0
fi

is_png() { # file: PNG signature 89 50 4E 47 0D 0A 1A 0A
    [ -s "$1" ] && [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]
}

# Column number of NAME in CSV header line $2 (0 if absent).
col() { awk -F, -v n="$1" '{ for (i = 1; i <= NF; i++) if ($i == n) { print i; exit } print 0 }' <<<"$2"; }

# ---- 1. the smoke profile ------------------------------------------------------
R1="$TMPD/r1"
if PROFILE=smoke BENCH_STRICT=1 BENCH_RESULTS_DIR="$R1" bash "$BENCH_DIR/run.sh" >"$TMPD/r1.out" 2>"$TMPD/r1.err"; then
    ok "run.sh PROFILE=smoke exited 0"
else
    fail "run.sh PROFILE=smoke exited $? (BENCH_STRICT=1: a run failed)"
    tail -n 30 "$TMPD/r1.out" "$TMPD/r1.err" | sed 's/^/    /'
fi
CSV="$R1/latest.csv"
if [ ! -s "$CSV" ]; then
    fail "no $CSV"
else
    hdr=$(head -n 1 "$CSV")
    for c in benchmark allocator throughput throughput_unit peak_rss_kib ratio_vs_mimalloc \
             rss_vs_mimalloc wall_s user_s sys_s minor_faults ops faults_per_op hakmem_mmap hakmem_munmap \
             hakmem_madvise status; do
        [ "$(col "$c" "$hdr")" -gt 0 ] || fail "latest.csv has no column $c"
    done
    cb=$(col benchmark "$hdr") ca=$(col allocator "$hdr") ct=$(col throughput "$hdr")
    cu=$(col throughput_unit "$hdr") ck=$(col peak_rss_kib "$hdr") cs=$(col status "$hdr")
    cm=$(col hakmem_mmap "$hdr") co=$(col ops "$hdr") cf=$(col faults_per_op "$hdr")
    rows=0
    for b in tiny_hot random_mixed json; do
        for a in hakmem glibc; do
            line=$(awk -F, -v b="$b" -v a="$a" -v cb="$cb" -v ca="$ca" '$cb == b && $ca == a' "$CSV")
            if [ -z "$line" ]; then fail "latest.csv: no row for $b / $a"; continue; fi
            rows=$((rows + 1))
            IFS=, read -r -a f <<<"$line"
            st=${f[$((cs - 1))]} tp=${f[$((ct - 1))]} un=${f[$((cu - 1))]} kb=${f[$((ck - 1))]}
            [ "$st" = ok ] || fail "$b / $a: status '$st'"
            awk -v x="$tp" 'BEGIN { exit !(x + 0 > 0) }' || fail "$b / $a: throughput '$tp'"
            case "$un" in Mops/s|ns/op) ;; *) fail "$b / $a: unit '$un'" ;; esac
            awk -v x="$kb" 'BEGIN { exit !(x + 0 > 0) }' || fail "$b / $a: peak_rss_kib '$kb'"
            op=${f[$((co - 1))]} fo=${f[$((cf - 1))]}
            awk -v x="$op" 'BEGIN { exit !(x + 0 > 0) }' || fail "$b / $a: ops '$op' (result line's ops not read)"
            awk -v x="$fo" 'BEGIN { exit !(x + 0 > 0) }' || fail "$b / $a: faults_per_op '$fo'"
            if [ "$a" = hakmem ]; then
                mm=${f[$((cm - 1))]}
                awk -v x="$mm" 'BEGIN { exit !(x + 0 > 0) }' || fail "$b / hakmem: hakmem_mmap '$mm' (malloc_stats line not parsed)"
            fi
        done
    done
    [ $rows -eq 6 ] && ok "latest.csv: required columns, 6 rows with throughput, peak RSS and faults per op"
    ls "$R1"/bench_*_smoke.csv >/dev/null 2>&1 || fail "no dated copy of latest.csv"
fi
[ -s "$R1/latest_runs.csv" ] || fail "no latest_runs.csv"
# the cliff report: a row per benchmark, then the list (or "none")
n=$(grep -cE '^(tiny_hot|random_mixed|json) +[0-9.e+]+ +(Mops/s|ns/op) +glibc +[0-9.]+ +[0-9.]+ +glibc +[0-9.]+$' "$R1/cliff.txt" 2>/dev/null)
if [ "${n:-0}" -eq 3 ] && grep -qE '^cliffs( \([0-9]+\))?:' "$R1/cliff.txt" && grep -q '^cliff report: hakmem ' "$R1/latest.txt"; then
    ok "cliff report: a row per benchmark against glibc, the cliff list, and in latest.txt"
else
    fail "cliff report: expected 3 rows against glibc and a cliffs line in $R1/cliff.txt (got ${n:-0} rows), and the report in latest.txt"
    sed 's/^/    /' "$R1/cliff.txt" 2>/dev/null | head -n 12
fi
if [ $HAVE_GNUPLOT = 1 ]; then
    n=0
    for p in "$R1"/throughput_vs_*.png "$R1"/rss_vs_*.png; do
        if is_png "$p"; then n=$((n + 1)); else fail "not a PNG file: $p"; fi
    done
    [ $n -eq 2 ] && ok "throughput and RSS charts are PNG files"
fi

# the cliff report's arithmetic on a CSV of known figures: a time cliff
# tagged noisy (20% spread), a clean one, an RSS cliff, a failed peer row
# left out (d is then within both bounds)
SYN="$TMPD/syn.csv"
{
    head -n 1 "$CSV"
    for row in "a,hakmem,100,Mops/s,1024,20" "a,p1,150,Mops/s,2048,3" "a,p2,90,Mops/s,512,3" \
               "b,hakmem,12,ns/op,1024,2" "b,p1,10,ns/op,1024,2" "c,hakmem,50,Mops/s,4096,1" \
               "c,p1,49,Mops/s,2048,1" "d,hakmem,10,ns/op,1000,1" "d,p1,10.5,ns/op,1000,1" "d,p2,5,ns/op,10,1,FAIL: timed out"; do
        IFS=, read -r b a v u kb sp st <<<"$row"
        echo "$b,$a,$v,$u,,$kb,,,,,,,,,,,,,,3,3,$sp,${st:-ok},cmd"
    done
} >"$SYN"
out=$(awk -F, -v self=hakmem -v peers="p1 p2" -f "$BENCH_DIR/cliff.awk" "$SYN")
if grep -q '^  a  *1.50x p1.s time (noisy: runs spread 20% and 3%), 2.00x p2.s peak RSS$' <<<"$out" &&
   grep -q '^  b  *1.20x p1.s time$' <<<"$out" && grep -q '^  c  *2.00x p1.s peak RSS$' <<<"$out" &&
   ! grep -q '^  d ' <<<"$out" && grep -q '^cliffs (3):' <<<"$out"; then
    ok "cliff.awk: time and RSS cliffs against the fastest and the leanest, noisy ones tagged, failed rows left out"
else
    fail "cliff.awk on known figures:"; sed 's/^/    /' <<<"$out"
fi

# ---- 2. a failing benchmark gives failure rows, not an abort -------------------------
R2="$TMPD/r2"
if PROFILE=smoke BENCHES=json CMD_json="scenarios json 0" BENCH_NO_CHARTS=1 BENCH_RESULTS_DIR="$R2" \
   bash "$BENCH_DIR/run.sh" >"$TMPD/r2.out" 2>"$TMPD/r2.err"; then
    nf=$(grep -c '^json,[^,]*,.*,FAIL: ' "$R2/latest.csv" 2>/dev/null)
    if [ "${nf:-0}" -eq 2 ]; then ok "a failing benchmark gives FAIL rows"
    else fail "failing benchmark: expected 2 FAIL rows in $R2/latest.csv, got ${nf:-0}"; fi
else
    fail "run.sh exited $? on a failing benchmark (must report it and exit 0)"
fi

# ---- 3. the sweep --------------------------------------------------------------------
R3="$TMPD/r3"
if PROFILE=smoke BENCH_RESULTS_DIR="$R3" bash "$BENCH_DIR/sweep.sh" >"$TMPD/r3.out" 2>"$TMPD/r3.err"; then
    n=$(grep -c '^random_mixed_ws,.*,ok,' "$R3/sweep_random_mixed_ws.csv" 2>/dev/null)
    if [ "${n:-0}" -eq 4 ]; then ok "sweep CSV has 4 ok rows"
    else fail "sweep: expected 4 ok rows in sweep_random_mixed_ws.csv, got ${n:-0}"; fi
    if [ $HAVE_GNUPLOT = 1 ]; then
        if is_png "$R3/sweep_random_mixed_ws.png"; then ok "sweep chart is a PNG file"
        else fail "sweep chart missing or not a PNG"; fi
    fi
else
    fail "sweep.sh exited $?"
    tail -n 20 "$TMPD/r3.out" "$TMPD/r3.err" | sed 's/^/    /'
fi

# ---- 4. hakmem's variants and overhead.sh ----------------------------------------
# Two modes of the release library: hakmem-notel would need `make notel` here.
R4="$TMPD/r4"
if A=hakmem B=hakmem@fast PROFILE=smoke RUNS=1 BENCHES="tiny_hot json" BENCH_NO_CHARTS=1 BENCH_STRICT=1 \
   BENCH_RESULTS_DIR="$R4" bash "$BENCH_DIR/overhead.sh" >"$TMPD/r4.out" 2>"$TMPD/r4.err"; then
    hdr=$(head -n 1 "$R4/overhead.csv" 2>/dev/null)
    cr=$(col speed_ratio "$hdr") cs=$(col status "$hdr")
    n=$(awk -F, -v cr="$cr" -v cs="$cs" 'NR > 1 && cr > 0 && $cs == "ok" && $cr + 0 > 0' "$R4/overhead.csv" | wc -l)
    if [ "$n" -eq 2 ]; then ok "overhead.csv: 2 ok rows with a speed ratio"
    else fail "overhead.csv: expected 2 ok rows with a speed ratio, got $n"; fi
    if tail -n 1 "$TMPD/r4.out" | grep -q '^worst A/B: [0-9]'; then ok "overhead table ends with the worst ratio"
    else fail "overhead table does not end with 'worst A/B: <ratio>'"; fi
    hdr=$(head -n 1 "$R4/overhead/latest.csv" 2>/dev/null)
    ca=$(col allocator "$hdr") cm=$(col hakmem_mmap "$hdr")
    n=$(awk -F, -v ca="$ca" -v cm="$cm" 'NR > 1 && ca > 0 && $ca == "hakmem@fast" && $cm + 0 > 0' "$R4/overhead/latest.csv" | wc -l)
    if [ "$n" -eq 2 ]; then ok "hakmem@fast rows have hakmem_mmap"
    else fail "hakmem@fast: expected 2 rows with hakmem_mmap in overhead/latest.csv, got $n"; fi
else
    fail "overhead.sh exited $? (BENCH_STRICT=1: a run failed)"
    tail -n 20 "$TMPD/r4.out" "$TMPD/r4.err" | sed 's/^/    /'
fi

# ---- 5. peak_idle's resident-set columns and BENCH_REF -----------------------------
R5="$TMPD/r5"
if PROFILE=smoke BENCHES="json peak_idle" ALLOCATORS="hakmem hakmem@fast" BENCH_REF=hakmem@fast \
   BENCH_NO_CHARTS=1 BENCH_STRICT=1 BENCH_RESULTS_DIR="$R5" bash "$BENCH_DIR/run.sh" >"$TMPD/r5.out" 2>"$TMPD/r5.err"; then
    hdr=$(head -n 1 "$R5/latest.csv")
    cb=$(col benchmark "$hdr") cfr=$(col freed_rss_kib "$hdr") cid=$(col idle_rss_kib "$hdr")
    if [ "$cfr" -gt 0 ] && [ "$cid" -gt 0 ]; then
        n=$(awk -F, -v cb="$cb" -v f="$cfr" -v i="$cid" '$cb == "peak_idle" && $f + 0 > 0 && $i + 0 > 0' "$R5/latest.csv" | wc -l)
        e=$(awk -F, -v cb="$cb" -v f="$cfr" -v i="$cid" '$cb == "json" && $f == "" && $i == ""' "$R5/latest.csv" | wc -l)
        if [ "$n" -eq 2 ] && [ "$e" -eq 2 ]; then ok "freed_rss_kib/idle_rss_kib: set for peak_idle, empty for json"
        else fail "freed_rss_kib/idle_rss_kib: expected 2 peak_idle rows with values and 2 json rows without, got $n and $e"; fi
    else
        fail "latest.csv has no freed_rss_kib or idle_rss_kib column"
    fi
    grep -q 'vs ref = ratio to hakmem@fast' "$R5/latest.txt" || fail "BENCH_REF: the table does not name hakmem@fast as the reference"
    n=$(grep -cE '^(json|peak_idle) +hakmem@fast +[0-9.]+ +ns/op +[-0-9]+!? +1\.000 ' "$R5/latest.txt")
    [ "$n" -eq 2 ] && ok "BENCH_REF: hakmem@fast's own rows have speed ratio 1.000" ||
        fail "BENCH_REF: expected hakmem@fast rows with ratio 1.000, got $n"
    if grep -q '^resident after idle' "$R5/latest.txt" && grep -qE '^peak_idle +hakmem@fast +[0-9.]+ +[0-9.]+ +[0-9.]+ +1\.000 ' "$R5/latest.txt"; then
        ok "the resident-after-idle table is printed, against hakmem@fast"
    else
        fail "no resident-after-idle table with hakmem@fast as the reference in latest.txt"
    fi
else
    fail "run.sh with peak_idle and BENCH_REF exited $?"
    tail -n 20 "$TMPD/r5.out" "$TMPD/r5.err" | sed 's/^/    /'
fi
PROFILE=smoke BENCHES=json ALLOCATORS="hakmem glibc" BENCH_REF=nosuchalloc BENCH_NO_CHARTS=1 \
    BENCH_RESULTS_DIR="$TMPD/r6" bash "$BENCH_DIR/run.sh" >/dev/null 2>&1
rc=$?
[ $rc -eq 2 ] && ok "BENCH_REF not in ALLOCATORS: exit 2" || fail "BENCH_REF not in ALLOCATORS: exit $rc, expected 2"

# ---- 6. extra peers (BENCH_PEERS) ---------------------------------------------------
# glibc's own libc.so.6 preloaded under another name stands for a peer built
# elsewhere (../shared/peers/build.sh's mimalloc 3.4.3 in real use).
LIBC=$(ldd /bin/true 2>/dev/null | awk '/libc\.so/ { print $3; exit }')
R8="$TMPD/r8"
if [ -n "$LIBC" ] && PROFILE=smoke BENCHES=json ALLOCATORS=hakmem BENCH_PEERS="libc2=$LIBC gone=/nonexistent/libgone.so" \
   BENCH_NO_CHARTS=1 BENCH_RESULTS_DIR="$R8" bash "$BENCH_DIR/run.sh" >"$TMPD/r8.out" 2>"$TMPD/r8.err"; then
    if grep -q '^json,libc2,[0-9.]*,ns/op,.*,ok,' "$R8/latest.csv" && grep -q '^json,gone,.*,skipped: ' "$R8/latest.csv" &&
       grep -q '^cliff report: hakmem against the fastest and the leanest of libc2$' "$R8/cliff.txt"; then
        ok "BENCH_PEERS: a peer runs under its name and is judged in the cliff report; a missing one is skipped"
    else
        fail "BENCH_PEERS: expected an ok row for libc2, a skipped row for gone and libc2 in the cliff report"
        grep '^json' "$R8/latest.csv" | sed 's/^/    /'
    fi
else
    fail "run.sh with BENCH_PEERS exited $? (or no libc.so.6 found: '$LIBC')"
    tail -n 20 "$TMPD/r8.out" "$TMPD/r8.err" | sed 's/^/    /'
fi
for bad in "nolib" "mimalloc=$LIBC"; do
    PROFILE=smoke BENCHES=json ALLOCATORS=hakmem BENCH_PEERS="$bad" BENCH_NO_CHARTS=1 \
        BENCH_RESULTS_DIR="$TMPD/r9" bash "$BENCH_DIR/run.sh" >/dev/null 2>&1
    rc=$?
    [ $rc -eq 2 ] && ok "BENCH_PEERS='$bad': exit 2" || fail "BENCH_PEERS='$bad': exit $rc, expected 2"
done

# ---- 7. a real program (bench/programs.sh): sqlite3, output checked -------------------
if command -v sqlite3 >/dev/null 2>&1; then
    R10="$TMPD/r10"
    if PROFILE=quick RUNS=1 BENCHES="prog_sqlite" ALLOCATORS="hakmem glibc" BENCH_NO_CHARTS=1 BENCH_STRICT=1 \
       BENCH_PROGRAMS_DIR="$TMPD/progs" BENCH_RESULTS_DIR="$R10" bash "$BENCH_DIR/run.sh" >"$TMPD/r10.out" 2>"$TMPD/r10.err"; then
        n=$(grep -cE '^prog_sqlite,(hakmem|glibc),[0-9.]+,s/op,.*,ok,' "$R10/latest.csv")
        [ "$n" -eq 2 ] && ok "prog_sqlite: ok rows (output equal to the run without a preload) under hakmem and glibc" ||
            fail "prog_sqlite: expected 2 ok rows, got $n"
    else
        fail "run.sh with prog_sqlite exited $?"
        tail -n 20 "$TMPD/r10.out" "$TMPD/r10.err" | sed 's/^/    /'
    fi
else
    echo "smoke: note: sqlite3 not installed; the real-program check is skipped"
fi
bash "$BENCH_DIR/programs.sh" available nosuch >/dev/null 2>&1 && fail "programs.sh available nosuch: exit 0" ||
    ok "programs.sh: an unknown program is not available"

# ---- 8. bench/report.sh: the evaluation report, smoke profile -------------------
# Its learning step is bench/learn_eval.sh with one short workload, one run.
R7="$TMPD/r7" DOC="$TMPD/doc/evaluation.md"
# An extra peer (libc again, as libc2) goes through every step as mimalloc 3.4.3 would.
if env PROFILE=smoke REPORT_OUT="$DOC" BENCH_RESULTS_DIR="$R7" ${LIBC:+BENCH_PEERS="libc2=$LIBC"} \
   bash "$BENCH_DIR/report.sh" \
   >"$TMPD/r7.out" 2>"$TMPD/r7.err"; then
    W="$R7/report"
    n=$(grep -cE '^web,(lean|balanced|warm|hoard),1,fixed,(lean|balanced|warm|hoard),' "$W/learn_eval.csv")
    l=$(grep -cE '^web,elo,1,(learning|frozen),' "$W/learn_eval.csv")
    [ "$n" -eq 4 ] && [ "$l" -eq 1 ] && ok "learn_eval.csv: a fixed row per candidate and a learning row" ||
        fail "learn_eval.csv: expected 4 fixed rows and 1 learning row, got $n and $l"
    grep -qE '^web +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +(lean|balanced|warm|hoard) ' "$W/learn.out" &&
        ok "learn_eval.sh prints the costs and the best static strategy" ||
        fail "learn_eval.sh: no table row for the workload"
    for s in "## Throughput" "## Peak resident memory" "## Ablations" "## Learning against" \
             "## Resident memory through a phase change" "cliffs ("; do
        grep -qF "$s" "$DOC" || fail "report: no '$s' in evaluation.md"
    done
    for b in tiny_hot random_mixed json; do
        grep -qE "^\| $b \| (Mops/s|ns/op) \| [0-9*]" "$DOC" || fail "report: no throughput row for $b"
    done
    grep -qE '^\| tiny_hot \| Mops/s \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \|' "$DOC" ||
        fail "report: no ablation row for tiny_hot (hakmem, hakmem@fast's speed and RSS)"
    p=$(grep -cE '^(hakmem|glibc|libc2),1,[0-9.]+,[0-9]+,.*,ok$' "$W/phases.csv")
    want=2; [ -n "$LIBC" ] && want=3
    [ "$p" -eq "$want" ] && [ -s "$W/phases_hakmem_1.trace" ] && ok "report: the phase-change runs and a trace" ||
        fail "report: phases.csv has $p ok rows (expected $want: hakmem, glibc, libc2), or no trace"
    if [ $HAVE_GNUPLOT = 1 ]; then
        for c in throughput_vs_ rss_vs_ faults_vs_ rss_over_time; do
            f=$(find "$TMPD/doc/evaluation" -name "$c*.png" | head -n 1)
            if [ -n "$f" ] && is_png "$f"; then grep -qF "evaluation/${f##*/}" "$DOC" ||
                fail "report: $f not linked from evaluation.md"
            else fail "report: no $c*.png chart"; fi
        done
    fi
    ok "report.sh PROFILE=smoke wrote evaluation.md"
else
    fail "report.sh exited $?"
    tail -n 20 "$TMPD/r7.out" "$TMPD/r7.err" | sed 's/^/    /'
fi

if [ $fails -gt 0 ]; then
    echo "smoke: $fails check(s) failed"
    exit 1
fi
echo "smoke: all checks passed"
exit 0
