#!/usr/bin/env bash
# bench/overhead.sh — what hakmem's telemetry costs: every benchmark of the
# profile under two hakmem builds side by side (make bench-overhead).
#
# A is the release library (hakmem), B the same sources built with the
# telemetry compiled out (hakmem-notel: build/notel/libhakmem.so, made with
# `make notel` when missing or stale).  Any two allocator names of
# bench/run.sh work, e.g. two modes:
#   A=hakmem@balanced B=hakmem@fast bash bench/overhead.sh
#
# The runs are bench/run.sh's (rss_run, medians, failure rows), with
# ALLOCATORS="$A $B", RUNS=5, interleaved, and on even rounds B before A
# (BENCH_ALTERNATE=1), so that neither always runs first; their results go to
# a directory of their own (BENCH_RESULTS_DIR/overhead), so the main run's
# latest.csv stays.  Then one table: per benchmark the two medians, their
# speed ratio A/B (as run.sh's ratio_vs_mimalloc: throughput A / B for
# Mops/s, time B / A for ns/op, so above 1 is A faster), the run-to-run
# spreads (ratios within them are noise) and the two peak RSS; at the end
# the geometric mean and the worst ratio.  Nothing is asserted about the
# numbers: the exit status is 0 unless the runs could not be made (or
# BENCH_STRICT=1 and a run failed).
#
# Usage:  bash bench/overhead.sh          (or: make bench-overhead [PROFILE=full])
# Environment:
#   A=hakmem B=hakmem-notel    the two allocators (names as in bench/run.sh)
#   PROFILE=quick|full|smoke   see bench/profiles.sh (default quick)
#   RUNS=5                     runs per benchmark and allocator
#   BENCHES, CMD_<bench>, BENCH_TIMEOUT, BENCH_STRICT, BENCH_NO_CHARTS,
#   BENCH_NO_INSTALL, BENCH_HAKMEM_LIB, BENCH_HAKMEM_NOTEL_LIB   as bench/run.sh
#   BENCH_RESULTS_DIR=bench/results   where overhead.csv/.txt go; the runs go
#                              to its overhead/ subdirectory
# Output (in BENCH_RESULTS_DIR):
#   overhead.csv   benchmark,unit,allocator_a,allocator_b,throughput_a,
#                  throughput_b,speed_ratio,spread_a_pct,spread_b_pct,
#                  peak_rss_kib_a,peak_rss_kib_b,rss_ratio,runs_ok_a,runs_ok_b,status
#   overhead.txt   the table printed at the end
#   overhead/      run.sh's latest.csv, latest_runs.csv, latest.txt (its
#                  ratio columns against B: BENCH_REF=B) and the charts
#                  relative to B
set -u
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

A=${A:-hakmem}
B=${B:-hakmem-notel}
RUNS=${RUNS:-5}
PROFILE=${PROFILE:-quick}
LA=$(alloc_label "$A") LB=$(alloc_label "$B")
if [ "$LA" = "$LB" ]; then
    note "error: A and B are the same allocator ($LA)"; exit 2
fi
RUN_DIR="$RESULTS_DIR/overhead"
CSV="$RESULTS_DIR/overhead.csv"
TXT="$RESULTS_DIR/overhead.txt"
mkdir -p "$RUN_DIR"
# A failed run.sh must not leave the previous CSV to be read as this one's.
rm -f "$RUN_DIR/latest.csv"

# ---- the runs -------------------------------------------------------------------
# The fast-path count of the full profile is not about telemetry: skipped.
# run.sh's own table goes to overhead/latest.txt; its progress to stderr.
ALLOCATORS="$A $B" RUNS=$RUNS PROFILE=$PROFILE BENCH_RESULTS_DIR="$RUN_DIR" \
    BENCH_REF="$B" BENCH_CHART_BASE="$LB" BENCH_ALTERNATE=1 BENCH_NO_FASTPATH=1 \
    bash "$BENCH_DIR/run.sh" >/dev/null
RC=$?
if [ ! -s "$RUN_DIR/latest.csv" ]; then
    note "error: bench/run.sh exited $RC without results"; exit 1
fi

# ---- the table ----------------------------------------------------------------
# Medians per benchmark and allocator from run.sh's CSV, columns by name.
declare -A TP UNIT KB SP NOK ST
BENCH_ORDER=()
# (Fields separated by \x1f, not a tab: read would merge the empty fields of
# a failed allocator's row between tabs.)
while IFS=$'\x1f' read -r b a tp u kb sp n st; do
    TP[$b,$a]=$tp UNIT[$b,$a]=$u KB[$b,$a]=$kb SP[$b,$a]=$sp NOK[$b,$a]=$n ST[$b,$a]=$st
    case " ${BENCH_ORDER[*]:-} " in *" $b "*) ;; *) BENCH_ORDER+=("$b") ;; esac
done < <(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    { printf "%s\037%s\037%s\037%s\037%s\037%s\037%s\037%s\n", $c["benchmark"], $c["allocator"], $c["throughput"],
        $c["throughput_unit"], $c["peak_rss_kib"], $c["throughput_spread_pct"], $c["runs_ok"], $c["status"] }' \
    "$RUN_DIR/latest.csv")

fmt_num() { # 4 significant digits, as run.sh's table
    [ -n "$1" ] && awk -v v="$1" 'BEGIN { if (v >= 1000) printf "%.0f", v; else if (v >= 100) printf "%.1f", v;
        else if (v >= 10) printf "%.2f", v; else printf "%.3f", v }'
}

W=$(( ${#LA} > 10 ? ${#LA} : 10 )) W2=$(( ${#LB} > 10 ? ${#LB} : 10 ))
row() { # the table's columns
    printf "%-13s %-6s %${W}s %${W2}s %7s %5s %5s %11s %11s %6s  %s\n" "$@"
}
echo "benchmark,unit,allocator_a,allocator_b,throughput_a,throughput_b,speed_ratio,spread_a_pct,spread_b_pct,peak_rss_kib_a,peak_rss_kib_b,rss_ratio,runs_ok_a,runs_ok_b,status" >"$CSV"
{
    echo "overhead: A = $LA against B = $LB; profile $PROFILE, median of $RUNS interleaved run(s); $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "hakmem $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '(no git)'), $(uname -srm), $(nproc) CPUs"
    echo "A/B = speed ratio (throughput A / B; for ns/op, B's time / A's): above 1 A is faster."
    echo "+-% = (max - min) / median of each one's runs: a ratio within that band is noise. RSS A/B: below 1 A is leaner."
    echo
    row benchmark unit "$LA" "$LB" "A/B" "+-%A" "+-%B" "RSS KiB A" "RSS KiB B" "RSS A/B" status
} >"$TXT"
WORST="" WORST_B="" RATIOS=""
for b in "${BENCH_ORDER[@]}"; do
    ua=${UNIT[$b,$LA]:-} ub=${UNIT[$b,$LB]:-}
    ta=${TP[$b,$LA]:-} tb=${TP[$b,$LB]:-}
    sa=${ST[$b,$LA]:-missing} sb=${ST[$b,$LB]:-missing}
    unit=${ua:-$ub}
    # Status: ok, or what went wrong for A and/or B (run.sh's words).
    st=""
    [ "$sa" != ok ] && st="$LA: $sa"
    [ "$sb" != ok ] && st="${st:+$st; }$LB: $sb"
    st=${st:-ok}
    r=""
    case "$sa$sb" in
    *FAIL*|*skipped*|*missing*) ;;
    *)  if [ -n "$ua" ] && [ "$ua" = "$ub" ]; then
            if unit_lower_better "$unit"; then r=$(ratio "$tb" "$ta"); else r=$(ratio "$ta" "$tb"); fi
        fi ;;
    esac
    rr=$(ratio "${KB[$b,$LA]:-}" "${KB[$b,$LB]:-}")
    if [ -n "$r" ]; then
        RATIOS="$RATIOS $r"
        if [ -z "$WORST" ] || awk -v x="$r" -v y="$WORST" 'BEGIN { exit !(x < y) }'; then
            WORST=$r WORST_B=$b
        fi
    fi
    fa=$(fmt_num "$ta") fb=$(fmt_num "$tb")
    row "$b" "${unit:--}" "${fa:--}" "${fb:--}" "${r:--}" \
        "${SP[$b,$LA]:--}" "${SP[$b,$LB]:--}" "${KB[$b,$LA]:--}" "${KB[$b,$LB]:--}" "${rr:--}" "$st" >>"$TXT"
    echo "$b,$unit,$LA,$LB,$ta,$tb,$r,${SP[$b,$LA]:-},${SP[$b,$LB]:-},${KB[$b,$LA]:-},${KB[$b,$LB]:-},$rr,${NOK[$b,$LA]:-0},${NOK[$b,$LB]:-0},$st" >>"$CSV"
done
{
    echo
    if [ -n "$WORST" ]; then
        n=$(wc -w <<<"$RATIOS")
        echo "geometric mean of A/B over $n benchmark(s): $(awk -v l="$RATIOS" 'BEGIN {
            n = split(l, v, " "); s = 0; for (i = 1; i <= n; i++) s += log(v[i]); printf "%.3f", exp(s / n) }')"
        # in time per call: 1/r - 1 more (r < 1) or 1 - 1/r less
        echo "worst A/B: $WORST on $WORST_B ($LA needs $(awk -v r="$WORST" 'BEGIN {
            if (r < 1) printf "%.1f%% more", 100 * (1 / r - 1); else printf "%.1f%% less", 100 * (1 - 1 / r) }') time per call than $LB; spreads +-${SP[$WORST_B,$LA]:-?}% and +-${SP[$WORST_B,$LB]:-?}%)"
    else
        echo "worst A/B: none (no benchmark ran to the end under both $LA and $LB)"
    fi
} >>"$TXT"
note "(wrote $CSV and $TXT; the runs and charts: $RUN_DIR/)"
echo
cat "$TXT"
exit $RC
