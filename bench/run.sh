#!/usr/bin/env bash
# bench/run.sh — short throughput/RSS demo of hakmem beside its peers.
#
# Builds bench/{tiny_hot,random_mixed,mid_mt,rss_run}.c into build/bench/ and
# runs every benchmark under every allocator, interleaved (run 1: each
# benchmark under glibc, hakmem, mimalloc, jemalloc, tcmalloc; run 2: ...),
# RUNS times.  Each run goes through build/bench/rss_run, which sets
# LD_PRELOAD (absolute path) for the benchmark alone and measures its peak RSS
# with wait4(); each benchmark prints which object provides malloc, and a run
# whose malloc does not come from the intended library counts as failed.
# Reports median throughput and median peak RSS, and both as ratios against
# mimalloc; writes bench/results/demo.csv (medians) and demo_runs.csv (raw).
#
# A missing peer is skipped with a note; an allocator that crashes, hangs or
# is not built is reported as such, never aborts the script.  If a peer is
# missing and we are root with apt-get, one quiet
#   apt-get install -y libmimalloc2.0 libjemalloc2 libtcmalloc-minimal4
# is attempted (BENCH_NO_INSTALL=1 disables it).
#
# Usage:  bash bench/run.sh      (or: make bench)
# Environment:
#   RUNS=3                     runs per benchmark and allocator
#   ALLOCATORS="glibc hakmem mimalloc jemalloc tcmalloc"  (paths to .so work too)
#   BENCHES="tiny_hot random_mixed mid_mt"
#   TINY_ARGS="64 100 500000"        tiny_hot SIZE BATCH ITERS
#   MIXED_ARGS="10000000 8192 42"    random_mixed ITERS WS SEED
#   MIDMT_ARGS="2 4000000"           mid_mt THREADS ITERS [WS] [SEED]
#   BENCH_TIMEOUT=30           seconds before a run is killed (and counted failed)
#   BENCH_STRICT=1             exit 1 if any allocator failed (default: report, exit 0)
#   BENCH_NO_INSTALL=1         never try apt-get for missing peers
#   BENCH_RESULTS_DIR=bench/results   where the CSV files go
#   HAKMEM_LIB, MIMALLOC_LIB, JEMALLOC_LIB, TCMALLOC_LIB   library overrides
set -u
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS=${RUNS:-3}
ALLOCATORS=${ALLOCATORS:-"glibc hakmem mimalloc jemalloc tcmalloc"}
BENCHES=${BENCHES:-"tiny_hot random_mixed mid_mt"}
TINY_ARGS=${TINY_ARGS:-"64 100 500000"}
MIXED_ARGS=${MIXED_ARGS:-"10000000 8192 42"}
MIDMT_ARGS=${MIDMT_ARGS:-"2 4000000"}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-30}

bench_args() {
    case "$1" in
    tiny_hot) echo "$TINY_ARGS" ;;
    random_mixed) echo "$MIXED_ARGS" ;;
    mid_mt) echo "$MIDMT_ARGS" ;;
    *) note "error: unknown benchmark $1"; return 1 ;;
    esac
}

maybe_install_peers
for p in rss_run tiny_hot random_mixed mid_mt; do
    build_prog "$p" || { note "error: cannot build bench/$p.c"; exit 1; }
done
RSS_RUN="$BUILD_BENCH/rss_run"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$RESULTS_DIR"

declare -A LIB STATUS FAILED   # LIB[alloc]; STATUS[alloc]; FAILED[bench,alloc]=reason
ACTIVE=""
for a in $ALLOCATORS; do
    if alloc_lib "$a"; then
        LIB[$a]=$ALLOC_LIB STATUS[$a]=ok
        ACTIVE="$ACTIVE $a"
        note "using $a: ${ALLOC_LIB:-glibc (no preload)}"
    else
        if [ "$ALLOC_KIND" = missing ]; then STATUS[$a]="skipped: $ALLOC_WHY"
        else STATUS[$a]="FAIL: $ALLOC_WHY"; fi
        note "note: $a ${STATUS[$a]}"
    fi
done

RAW="$RESULTS_DIR/demo_runs.csv"
echo "run,benchmark,allocator,mops_per_s,peak_rss_kb,status" >"$RAW"

{
    echo "# hakmem bench demo: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(uname -srm), $(nproc) CPUs"
    echo "# hakmem $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '(no commit)')," \
         "runs=$RUNS, tiny_hot $TINY_ARGS, random_mixed $MIXED_ARGS, mid_mt $MIDMT_ARGS"
} >&2

start=$(date +%s)
for ((r = 1; r <= RUNS; r++)); do
    for b in $BENCHES; do
        args=$(bench_args "$b") || exit 2
        for a in $ACTIVE; do
            if [ -n "${FAILED[$b,$a]:-}" ]; then
                continue # failed before: do not burn time on it again
            fi
            lib=${LIB[$a]}
            out="$TMP/out" err="$TMP/err" rss="$TMP/rss"
            rm -f "$out" "$err" "$rss"
            # shellcheck disable=SC2086
            "$RSS_RUN" -t "$BENCH_TIMEOUT" -p "$lib" -o "$rss" -- \
                "$BUILD_BENCH/$b" $args >"$out" 2>"$err"
            rc=$?
            st=$(sed -n 's/.*status=//p' "$rss" 2>/dev/null)
            kb=$(sed -n 's/^maxrss_kb=\([0-9]*\).*/\1/p' "$rss" 2>/dev/null)
            mops=$(sed -n 's/.*mops_per_s=\([0-9.]*\).*/\1/p' "$out")
            why=""
            if [ $rc -ne 0 ]; then
                [ "$st" = timeout ] && rc=124
                why=$(fail_reason "$err" "$rc")
            elif ! origin_ok "$lib" "$err"; then
                why="malloc not from ${lib:-libc}: $(grep -m1 '^malloc_from=' "$err")"
            elif [ -z "$mops" ]; then
                why="no result line"
            fi
            if [ -n "$why" ]; then
                FAILED[$b,$a]=$why
                printf '[run %d/%d] %-12s %-9s FAILED: %s\n' "$r" "$RUNS" "$b" "$a" "$why" >&2
                echo "$r,$b,$a,,${kb},fail" >>"$RAW"
                continue
            fi
            printf '[run %d/%d] %-12s %-9s %9.2f Mops/s %9s KiB peak RSS\n' \
                "$r" "$RUNS" "$b" "$a" "$mops" "$kb" >&2
            echo "$r,$b,$a,$mops,$kb,ok" >>"$RAW"
        done
    done
done
elapsed=$(( $(date +%s) - start ))

# ---- medians, ratios, table, CSV ----------------------------------------------
CSV="$RESULTS_DIR/demo.csv"
echo "benchmark,allocator,runs_ok,mops_per_s_median,peak_rss_kb_median,throughput_vs_mimalloc,rss_vs_mimalloc,status" >"$CSV"
declare -A MOPS KB NOK
for b in $BENCHES; do
    for a in $ACTIVE; do
        sel=$(awk -F, -v b="$b" -v a="$a" '$2 == b && $3 == a && $6 == "ok"' "$RAW")
        NOK[$b,$a]=$(printf '%s' "$sel" | grep -c . )
        MOPS[$b,$a]=$(printf '%s\n' "$sel" | cut -d, -f4 | grep . | median)
        KB[$b,$a]=$(printf '%s\n' "$sel" | cut -d, -f5 | grep . | median)
    done
done

ratio() { # ratio X Y -> X/Y with 2 decimals, "" if either is missing
    [ -n "$1" ] && [ -n "$2" ] && awk -v x="$1" -v y="$2" 'BEGIN { if (y > 0) printf "%.2f", x / y }'
}

echo
echo "hakmem bench demo — median of $RUNS runs; ratios are vs mimalloc (throughput: higher is better; RSS: lower is better)"
printf '%-13s %-9s %10s %8s %12s %8s  %s\n' benchmark allocator "Mops/s" "vs mi" "peakRSS KiB" "vs mi" status
for b in $BENCHES; do
    for a in $ALLOCATORS; do
        if [ "${STATUS[$a]}" != ok ]; then
            printf '%-13s %-9s %10s %8s %12s %8s  %s\n' "$b" "${a##*/}" - - - - "${STATUS[$a]}"
            echo "$b,$a,0,,,,,\"${STATUS[$a]//\"/\'}\"" >>"$CSV"
            continue
        fi
        m=${MOPS[$b,$a]:-} k=${KB[$b,$a]:-} n=${NOK[$b,$a]:-0}
        mm=${MOPS[$b,mimalloc]:-} mk=${KB[$b,mimalloc]:-}
        tr=$(ratio "$m" "$mm") rr=$(ratio "$k" "$mk")
        st=ok
        if [ -n "${FAILED[$b,$a]:-}" ]; then
            st="FAIL: ${FAILED[$b,$a]}"
        fi
        [ -n "$m" ] && m=$(printf '%.2f' "$m")
        [ -n "$k" ] && k=$(printf '%.0f' "$k")
        trs=${tr:+${tr}x} rrs=${rr:+${rr}x}
        printf '%-13s %-9s %10s %8s %12s %8s  %s\n' "$b" "${a##*/}" "${m:--}" "${trs:--}" \
            "${k:--}" "${rrs:--}" "$st"
        echo "$b,$a,$n,$m,$k,$tr,$rr,\"${st//\"/\'}\"" >>"$CSV"
    done
done
echo "($elapsed s of benchmark runs; wrote $CSV and $RAW)"
if [ "${BENCH_STRICT:-0}" = 1 ]; then
    for a in $ALLOCATORS; do case "${STATUS[$a]}" in FAIL*) exit 1 ;; esac; done
    [ ${#FAILED[@]} -eq 0 ] || exit 1
fi
exit 0
