#!/usr/bin/env bash
# bench/fastpath.sh — instructions per malloc+free pair, per allocator and size.
#
# Runs build/bench/fastpath_loop SIZE N under `valgrind --tool=callgrind`
# with each allocator preloaded (glibc: no preload) at two loop lengths N1
# and N2; (Ir(N2) - Ir(N1)) / (N2 - N1) is the cost of one pair with all
# start-up and warm-up cost cancelled.  The count includes the harness's own
# loop (~20 instructions: the loop, two wrapper calls, one byte touched),
# which is the same for every allocator; the split table separates it out,
# using callgrind_annotate's inclusive cost of the fp_malloc/fp_free wrappers.
#
# Usage:  bash bench/fastpath.sh        (or: make bench-fastpath)
# Environment:
#   SIZES="16 64 256 1024 8192"     block sizes
#   ALLOCATORS="hakmem mimalloc jemalloc tcmalloc glibc"
#                                    (a path to any .so also works; and
#                                    hakmem-notel, hakmem@MODE as in run.sh)
#   N1=100000 N2=200000              the two loop lengths
#   WARMUP=1000                      pairs run before the measured loop
#   HOLD=16                          blocks of SIZE kept live during the loop
#                                    (see fastpath_loop.c; 0 = none)
#   SPLIT=1                          0 skips the malloc/free split
#   FASTPATH_TIMEOUT=120             seconds per callgrind run
#   BENCH_HAKMEM_LIB, BENCH_HAKMEM_NOTEL_LIB, MIMALLOC_LIB, JEMALLOC_LIB,
#   TCMALLOC_LIB                     library overrides
#   BENCH_NO_INSTALL=1               never try apt-get for missing peers
#   BENCH_RESULTS_DIR=bench/results  where the CSV files go
#   BENCH_STRICT=1                   exit 1 if any allocator failed (default:
#                                    report the failure, exit 0)
# Output: a table on stdout, bench/results/fastpath.csv
#   (allocator,size,instructions_per_pair), bench/results/fastpath_split.csv
#   (allocator,size,instructions_per_pair,malloc,free,harness) and, with
#   gnuplot, bench/results/fastpath.png (bars per size, one per allocator).
set -u
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SIZES=${SIZES:-"16 64 256 1024 8192"}
ALLOCATORS=${ALLOCATORS:-"hakmem mimalloc jemalloc tcmalloc glibc"}
N1=${N1:-100000}
N2=${N2:-200000}
WARMUP=${WARMUP:-1000}
HOLD=${HOLD:-16}
SPLIT=${SPLIT:-1}
FASTPATH_TIMEOUT=${FASTPATH_TIMEOUT:-120}

if [ "$N2" -le "$N1" ]; then
    note "error: N2 ($N2) must be larger than N1 ($N1)"; exit 2
fi
if ! command -v valgrind >/dev/null 2>&1; then
    note "error: valgrind not found (apt-get install valgrind)"; exit 1
fi
if [ "$SPLIT" = 1 ] && ! command -v callgrind_annotate >/dev/null 2>&1; then
    note "note: callgrind_annotate not found; skipping the malloc/free split"
    SPLIT=0
fi

maybe_install_peers
build_prog fastpath_loop -fno-optimize-sibling-calls || { note "error: cannot build fastpath_loop"; exit 1; }
LOOP="$BUILD_BENCH/fastpath_loop"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-fastpath.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
RUN_TMP=$TMP
mkdir -p "$RESULTS_DIR"

declare -A TOTAL MAL FRE HAR     # key "alloc,size"
declare -A STATUS                # per allocator: ok / skip:reason / fail:reason
ACTIVE=""

# Total Ir from a callgrind output file.
cg_total() {
    awk '/^totals:/ { print $2; f = 1; exit } /^summary:/ { s = $2 }
         END { if (!f && s != "") print s }' "$1"
}

# Cost of function $2 (inclusive when $3 = yes) in callgrind file $1.
cg_fn() {
    callgrind_annotate --auto=no --threshold=100 --inclusive="$3" "$1" 2>/dev/null |
        awk -v fn="$2" '
            $0 ~ ("^ *[0-9,]+ .*:" fn " \\[") { gsub(",", "", $1); print $1; exit }'
}

# One callgrind run: run_cg ALLOC LIB SIZE N -> $TMP/cg.ALLOC.SIZE.N, with
# the allocator's ENV words (hakmem@MODE's HAKMEM_MODE) from AENV.
run_cg() {
    local a=$1 lib=$2 s=$3 n=$4 base="$TMP/cg.$1.$3.$4" rc
    # shellcheck disable=SC2086
    env LD_PRELOAD="$lib" $AENV timeout "$FASTPATH_TIMEOUT" valgrind -q --tool=callgrind \
        --callgrind-out-file="$base" "$LOOP" "$s" "$n" "$WARMUP" "$HOLD" \
        >"$base.out" 2>"$base.err"
    rc=$?
    echo "$rc" >"$base.rc"
}

for a in $ALLOCATORS; do
    if ! alloc_lib "$a"; then
        if [ "$ALLOC_KIND" = missing ]; then STATUS[$a]="skip:$ALLOC_WHY"; note "skip $a: $ALLOC_WHY"
        else STATUS[$a]="fail:$ALLOC_WHY"; note "FAIL $a: $ALLOC_WHY"; fi
        continue
    fi
    lib=$ALLOC_LIB AENV=$ALLOC_ENV
    STATUS[$a]=ok
    ACTIVE="$ACTIVE $a"
    note "== $a (${lib:-glibc, no preload}${AENV:+, $AENV})"
    gave_up=""
    for s in $SIZES; do
        if [ -n "$gave_up" ]; then
            TOTAL[$a,$s]=FAIL
            note "  $a size $s: not run ($gave_up earlier)"
            continue
        fi
        # Native sanity run first: catches crashes and hangs cheaply, and
        # checks that the preloaded library really provides malloc.
        # shellcheck disable=SC2086
        env LD_PRELOAD="$lib" $AENV timeout 30 "$LOOP" "$s" 20000 "$WARMUP" "$HOLD" \
            >"$TMP/sanity.out" 2>"$TMP/sanity.err"
        rc=$?
        bad=""
        if [ $rc -ne 0 ]; then
            bad="native run: $(fail_reason "$TMP/sanity.err" $rc)"
            [ $rc = 124 ] && gave_up="a timeout"
        elif ! origin_ok "$lib" "$TMP/sanity.err"; then
            bad="malloc not provided by ${lib:-libc} ($(grep -m1 malloc_from "$TMP/sanity.err"))"
            gave_up="wrong malloc"
        else
            # The two loop lengths run side by side (counts are deterministic).
            run_cg "$a" "$lib" "$s" "$N1" &
            run_cg "$a" "$lib" "$s" "$N2" &
            wait
            b1="$TMP/cg.$a.$s.$N1" b2="$TMP/cg.$a.$s.$N2"
            for b in "$b1" "$b2"; do
                rc=$(cat "$b.rc")
                if [ "$rc" != 0 ]; then
                    bad="under callgrind (N=${b##*.}): $(fail_reason "$b.err" "$rc")"
                    [ "$rc" = 124 ] && gave_up="a callgrind timeout"
                elif ! origin_ok "$lib" "$b.err"; then
                    bad="malloc not provided by ${lib:-libc} under valgrind"
                fi
            done
            if [ -z "$bad" ]; then
                t1=$(cg_total "$b1"); t2=$(cg_total "$b2")
                [ -n "$t1" ] && [ -n "$t2" ] || bad="no totals in callgrind output"
            fi
        fi
        if [ -n "$bad" ]; then
            TOTAL[$a,$s]=FAIL
            FAILS="${FAILS:-}$a size $s: $bad"$'\n'
            note "  $a size $s: FAIL: $bad"
            continue
        fi
        TOTAL[$a,$s]=$(awk -v a="$t1" -v b="$t2" -v n1="$N1" -v n2="$N2" \
            'BEGIN { printf "%.1f", (b - a) / (n2 - n1) }')
        msg="  $a size $s: ${TOTAL[$a,$s]} instructions/pair"
        if [ "$SPLIT" = 1 ]; then
            mi1=$(cg_fn "$b1" fp_malloc yes); mi2=$(cg_fn "$b2" fp_malloc yes)
            ms1=$(cg_fn "$b1" fp_malloc no);  ms2=$(cg_fn "$b2" fp_malloc no)
            fi1=$(cg_fn "$b1" fp_free yes);   fi2=$(cg_fn "$b2" fp_free yes)
            fs1=$(cg_fn "$b1" fp_free no);    fs2=$(cg_fn "$b2" fp_free no)
            if [ -n "$mi1" ] && [ -n "$mi2" ] && [ -n "$ms1" ] && [ -n "$ms2" ] &&
               [ -n "$fi1" ] && [ -n "$fi2" ] && [ -n "$fs1" ] && [ -n "$fs2" ]; then
                read -r m f h < <(awk -v d="$((N2 - N1))" -v t="${TOTAL[$a,$s]}" \
                    -v mi="$((mi2 - mi1))" -v ms="$((ms2 - ms1))" \
                    -v fi="$((fi2 - fi1))" -v fs="$((fs2 - fs1))" 'BEGIN {
                        m = (mi - ms) / d; f = (fi - fs) / d
                        printf "%.1f %.1f %.1f\n", m, f, t - m - f }')
                MAL[$a,$s]=$m FRE[$a,$s]=$f HAR[$a,$s]=$h
                msg="$msg (malloc $m + free $f + harness $h)"
            fi
        fi
        note "$msg"
    done
done

# ---- report ----------------------------------------------------------------
CSV="$RESULTS_DIR/fastpath.csv"
SCSV="$RESULTS_DIR/fastpath_split.csv"
echo "allocator,size,instructions_per_pair" >"$CSV"
echo "allocator,size,instructions_per_pair,malloc,free,harness" >"$SCSV"
for a in $ACTIVE; do
    for s in $SIZES; do
        v=${TOTAL[$a,$s]:-FAIL}
        [ "$v" = FAIL ] && continue
        echo "$a,$s,$v" >>"$CSV"
        echo "$a,$s,$v,${MAL[$a,$s]:-},${FRE[$a,$s]:-},${HAR[$a,$s]:-}" >>"$SCSV"
    done
done

# Column widths: 11 and 13, or wider for long names (hakmem-notel@...).
CW=11 SW=13
for a in $ACTIVE; do
    [ $((${#a} + 1)) -gt $CW ] && CW=$((${#a} + 1))
    [ $((${#a} + 1)) -gt $SW ] && SW=$((${#a} + 1))
done
echo
echo "Instructions per malloc+free pair (callgrind Ir, (Ir(N=$N2)-Ir(N=$N1))/$((N2 - N1)); hold=$HOLD; incl. ~20-instruction harness)"
printf '%8s' size
for a in $ACTIVE; do printf '%*s' "$CW" "$a"; done
echo
for s in $SIZES; do
    printf '%8s' "$s"
    for a in $ACTIVE; do printf '%*s' "$CW" "${TOTAL[$a,$s]:-FAIL}"; done
    echo
done
if [ "$SPLIT" = 1 ] && [ -n "$ACTIVE" ]; then
    echo
    echo "Split: instructions inside malloc / inside free (harness excluded)"
    printf '%8s' size
    for a in $ACTIVE; do printf '%*s' "$SW" "$a"; done
    echo
    for s in $SIZES; do
        printf '%8s' "$s"
        for a in $ACTIVE; do
            if [ -n "${MAL[$a,$s]:-}" ]; then
                printf '%*s' "$SW" "${MAL[$a,$s]}/${FRE[$a,$s]}"
            else
                printf '%*s' "$SW" "-"
            fi
        done
        echo
    done
fi
for a in $ALLOCATORS; do
    case "${STATUS[$a]:-}" in
    skip:*) echo "note: $a skipped: ${STATUS[$a]#skip:}" ;;
    fail:*) echo "note: $a FAILED: ${STATUS[$a]#fail:}" ;;
    esac
done
[ -n "${FAILS:-}" ] && printf '%s' "$FAILS" | sed 's/^/FAILED: /'
# Chart: instructions per pair, grouped by size, one bar per allocator.
PNG=""
if [ -n "$ACTIVE" ] && [ "${BENCH_NO_CHARTS:-0}" != 1 ] && term=$(gnuplot_term); then
    dat="$RESULTS_DIR/fastpath.dat"
    {
        printf 'size'
        for a in $ACTIVE; do printf ' %s' "$a"; done
        echo
        for s in $SIZES; do
            printf '%s' "$s"
            for a in $ACTIVE; do
                v=${TOTAL[$a,$s]:-FAIL}
                [ "$v" = FAIL ] && v="?"
                printf ' %s' "$v"
            done
            echo
        done
    } >"$dat"
    n=0 plot=""
    for a in $ACTIVE; do
        n=$((n + 1))
        plot="$plot '$dat' using $((n + 1)):xtic(1) title columnheader($((n + 1))) lc rgb '$(alloc_color "$a")',"
    done
    cat >"$RESULTS_DIR/fastpath.gp" <<EOF
set terminal $term size 1000,560 font "sans,10" noenhanced
set output '$RESULTS_DIR/fastpath.png'
set title "Instructions per malloc+free pair (callgrind; hold=$HOLD; includes ~20 instructions of harness; lower is better)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border rgb '#333333'
set datafile missing '?'
set xlabel "block size (bytes)"
set ylabel "instructions per pair"
set yrange [0:*]
set grid ytics lc rgb '#d0d0d0'
set key outside right top
plot ${plot%,}
EOF
    if gnuplot "$RESULTS_DIR/fastpath.gp" 2>"$TMP/gp.err"; then
        PNG=" and $RESULTS_DIR/fastpath.png"
    else
        note "gnuplot failed: $(head -n 3 "$TMP/gp.err")"
    fi
fi
echo "wrote $CSV and $SCSV$PNG"
if [ "${BENCH_STRICT:-0}" = 1 ]; then
    for a in $ALLOCATORS; do case "${STATUS[$a]:-}" in fail:*) exit 1 ;; esac; done
    [ -z "${FAILS:-}" ] || exit 1
fi
exit 0
