#!/usr/bin/env bash
# bench/report.sh — the evaluation report (make report): every measurement of
# docs/evaluation.md made in one go, and the document written from them.
#
#   1. the comparison: bench/run.sh's profile under hakmem and every peer
#      (the Debian four, plus mimalloc 3.4.3 when ../shared/peers/build.sh
#      can build it, or whatever BENCH_PEERS names): throughput, peak RSS,
#      page faults, the cliff list, and the charts against mimalloc;
#   2. the ablations, on a subset of the benchmarks, as hakmem variants of
#      one bench/run.sh run against hakmem (the default, balanced mode):
#      the adaptive thread off (hakmem@fast), telemetry compiled out
#      (hakmem-notel), hardened mode (hakmem-hardened);
#   3. learning against each static strategy (bench/learn_eval.sh);
#   4. resident memory over time through a phase change: build/bench/phases
#      under every allocator, sampled every 10 ms by rss_run -s, one chart;
#   5. docs/evaluation.md (bench/report_md.py) with the machine, versions,
#      commands and every figure from the files of this run.
#
# Usage:  bash bench/report.sh     (or: make report [PROFILE=full])
#         quick: ~15 minutes on 2 cores; full: ~45 minutes; smoke: seconds
#         (hakmem and glibc, tiny workloads: the test suite's check that the
#         document and its charts appear).
# Environment:
#   PROFILE=quick|full|smoke   bench/profiles.sh's profile of the comparison
#   REPORT_OUT=docs/evaluation.md   the document; its charts go beside it,
#                              in evaluation/ (REPORT_OUT's name without .md)
#   BENCH_PEERS                extra peers as bench/run.sh; unset: mimalloc3
#                              from ../shared/peers/build.sh when it builds
#                              (BENCH_PEERS="" runs the Debian peers alone)
#   ALLOCATORS, RUNS, BENCH_RESULTS_DIR, BENCH_NO_INSTALL   as bench/run.sh
#   ABLATION_BENCHES           the ablations' benchmarks (profile's commands)
# The runs' own files stay in BENCH_RESULTS_DIR/report/.
set -u
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=bench/profiles.sh
source "$BENCH_DIR/profiles.sh"

PROFILE=${PROFILE:-quick}
OUT=${REPORT_OUT:-$ROOT/docs/evaluation.md}
case "$OUT" in /*) ;; *) OUT=$PWD/$OUT ;; esac
FIG=${OUT%.md}
WORK=$RESULTS_DIR/report
T0=$(date +%s)
mkdir -p "$WORK" "$FIG" || exit 1
rm -f "$WORK"/*.csv "$WORK"/*.txt "$WORK"/*/latest.csv "$FIG"/*.png
RUN_TMP=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-report.XXXXXX") || exit 1
trap 'rm -rf "$RUN_TMP"' EXIT

command -v python3 >/dev/null || apt_install python3
command -v python3 >/dev/null || { note "error: python3 is needed to write the report"; exit 1; }

# mimalloc 3.4.3, when the workplace's peer script is there and builds it.
if [ -z "${BENCH_PEERS+set}" ] && [ "$PROFILE" != smoke ] && [ -x "$ROOT/../shared/peers/build.sh" ]; then
    command -v cmake >/dev/null || apt_install cmake
    if lib=$("$ROOT/../shared/peers/build.sh" 2>"$RUN_TMP/peer.err") && [ -e "$lib" ]; then
        export BENCH_PEERS="mimalloc3=$lib"
    else
        note "note: ../shared/peers/build.sh failed ($(tail -n 1 "$RUN_TMP/peer.err")): no mimalloc3"
    fi
fi

case "$PROFILE" in
smoke)
    ABL_RUNS=1 LEARN_RUNS=1 PH_RUNS=1 PH_CMD="phases 8 100"
    ABL_DEFAULT="tiny_hot json"
    LEARN_WL="web=extended webserver 400000" ;;
full)
    ABL_RUNS=5 LEARN_RUNS=3 PH_RUNS=5 PH_CMD="phases 256 2000"
    ABL_DEFAULT="tiny_hot random_mixed mid_mt larson larson8 prodcons reqresp json mir mixed webserver
        fragmentation longrun lifetime realloc large_cycle app_churn peak_idle_mt prog_python prog_gxx"
    LEARN_WL="" ;;
*)
    ABL_RUNS=3 LEARN_RUNS=1 PH_RUNS=3 PH_CMD="phases 128 1000"
    ABL_DEFAULT="tiny_hot random_mixed mid_mt larson8 prodcons reqresp json mixed webserver fragmentation
        longrun large_cycle peak_idle_mt prog_python"
    LEARN_WL="" ;;
esac
ABL_BENCHES=${ABLATION_BENCHES:-$(echo $ABL_DEFAULT)}   # one line

# Each step's command, as the document quotes it.
run_step() {   # name command...
    local name=$1 a shown=""; shift
    for a in "$@"; do   # as a shell would take it, paths from the root
        a=${a//$ROOT\//}
        case "$a" in *" "*|"") case "$a" in [A-Z_]*=*) a="${a%%=*}='${a#*=}'" ;; *) a="'$a'" ;; esac ;; esac
        shown="$shown $a"
    done
    note "== report: $name:$shown"
    printf '%s\t%s\n' "$name" "${shown# }" >>"$WORK/commands.txt"
    "$@"
}
: >"$WORK/commands.txt"

# ---- 1. the comparison -----------------------------------------------------------
run_step comparison env PROFILE="$PROFILE" BENCH_RESULTS_DIR="$WORK/main" \
    ${RUNS:+RUNS=$RUNS} ${BENCH_PEERS:+BENCH_PEERS="$BENCH_PEERS"} bash "$BENCH_DIR/run.sh" \
    >"$WORK/main.out" || { note "error: the comparison failed"; exit 1; }
[ -s "$WORK/main/latest.csv" ] || { note "error: the comparison wrote no CSV"; exit 1; }
cp "$WORK/main"/*.png "$FIG/" 2>/dev/null
# the allocators of the comparison, in its order (labels; glibc included)
COMP_ALLOCS=$(awk -F, 'NR > 1 && !seen[$2]++ && $0 !~ /skipped/ { printf "%s ", $2 }' "$WORK/main/latest.csv")

# Page faults: each allocator's minor faults over mimalloc's (glibc's when
# mimalloc did not run), per benchmark, as run.sh's charts.
FBASE=mimalloc
case " $COMP_ALLOCS " in *" mimalloc "*) ;; *) FBASE=glibc ;; esac
FBARS=$(echo " $COMP_ALLOCS " | sed "s/ $FBASE / /")   # the baseline is the line at 1
awk -F, -v base="$FBASE" -v allocs="$FBARS" '
    NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    { b = $c["benchmark"]; if (!(b in seen)) { seen[b] = 1; order[++nb] = b }
      st = $c["status"]; f[b, $c["allocator"]] = (st ~ /^FAIL/ ? "F" : $c["minor_faults"]) }
    END { n = split(allocs, a, " ")
          for (j = 1; j <= nb; j++) { b = order[j]; line = (j - 1) " " b; fl = ""
              for (i = 1; i <= n; i++) { v = f[b, a[i]]; r = "?"
                  if (v == "F") r = "F"
                  else if (v > 0 && f[b, base] > 0) r = sprintf("%.3f", v / f[b, base])
                  line = line " " r; fl = fl " 0" }
              print line fl } }' "$WORK/main/latest.csv" >"$WORK/faults.dat"
# shellcheck disable=SC2086  # the allocators' names
chart_ratio "$WORK/faults.dat" "$WORK/faults_vs_$FBASE.png" \
    "Minor page faults relative to $FBASE (whole process, median of the runs; lower is fewer) [profile $PROFILE, $(date '+%Y-%m-%d')]" \
    "minor faults / $FBASE's (log scale)" "$FBASE" $FBARS && cp "$WORK/faults_vs_$FBASE.png" "$FIG/" ||
    note "note: no faults chart"

# ---- 2. the ablations ------------------------------------------------------------
load_profile "$PROFILE"
for b in $ABL_BENCHES; do
    [ -n "${P_CMD[$b]:-}" ] || { note "error: ablation benchmark '$b' is not in profile $PROFILE"; exit 2; }
done
run_step ablations env PROFILE="$PROFILE" BENCH_RESULTS_DIR="$WORK/ablation" \
    ALLOCATORS="hakmem hakmem@fast hakmem-notel hakmem-hardened" BENCH_REF=hakmem \
    BENCHES="$ABL_BENCHES" RUNS=$ABL_RUNS BENCH_NO_CHARTS=1 BENCH_NO_FASTPATH=1 BENCH_PEERS= \
    bash "$BENCH_DIR/run.sh" >"$WORK/ablation.out" || note "warning: the ablation run failed"

# ---- 3. learning against the static strategies ---------------------------------------
run_step learning env RUNS=$LEARN_RUNS BENCH_RESULTS_DIR="$WORK" ${LEARN_WL:+WORKLOADS="$LEARN_WL"} \
    bash "$BENCH_DIR/learn_eval.sh" >"$WORK/learn.out" || note "warning: the learning evaluation failed"

# ---- 4. resident memory through a phase change ---------------------------------------
# Every allocator of the comparison, interleaved, PH_RUNS times; the chart
# shows each one's first run, the table the medians.
build_prog phases || { note "error: cannot build phases"; exit 1; }
ALLOCATORS="" load_bench_peers   # BENCH_PEERS' names, for alloc_lib
PH_CSV=$WORK/phases.csv
echo "allocator,run,ns_per_op,peak_rss_kib,wall_s,minor_faults,rss_load_kb,rss_thin_kb,rss_mid_kb,rss_idle_kb,rss_again_kb,status" >"$PH_CSV"
printf '%s\t%s\n' phases "for each allocator: build/bench/rss_run -p LIB -s TRACE -- build/bench/$PH_CMD ($PH_RUNS runs, interleaved)" \
    >>"$WORK/commands.txt"
for ((r = 1; r <= PH_RUNS; r++)); do
    for a in $COMP_ALLOCS; do
        alloc_lib "$a" || { note "note: phases: $a: $ALLOC_WHY"; continue; }
        note "== report: phases run $r/$PH_RUNS: $a"
        # run_one as every benchmark run (preload, origin and tag checks), traced
        # shellcheck disable=SC2086  # the command's words
        RUN_TRACE=$WORK/phases_${a}_$r.trace run_one "$ALLOC_LIB" "$ALLOC_ENV" 120 $PH_CMD
        st=ok
        [ "$R_STATUS" = ok ] || st="FAIL: $R_WHY"
        printf '%s,%d,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n' "$a" "$r" "$R_TP" "$R_KB" "$R_WALL" "$R_MINFLT" \
            "$(kv rss_load_kb "$RUN_TMP/out")" "$(kv rss_thin_kb "$RUN_TMP/out")" \
            "$(kv rss_mid_kb "$RUN_TMP/out")" "$(kv rss_idle_kb "$RUN_TMP/out")" \
            "$(kv rss_again_kb "$RUN_TMP/out")" "$(printf '%s' "$st" | tr ',\n' '; ')" >>"$PH_CSV"
    done
done

# The chart: resident set (MiB) against seconds since start, one line each.
if term=$(gnuplot_term); then
    plot=""
    for a in $COMP_ALLOCS; do
        tr=$WORK/phases_${a}_1.trace
        [ -s "$tr" ] || continue
        plot="$plot '$tr' using 1:(\$2 / 1024.0) with lines lw 2 lc rgb '$(alloc_color "$a")' title '$a',"
    done
    if [ -n "$plot" ]; then
        cat >"$WORK/phases.gp" <<EOF
set terminal $term size 1000,560 font "sans,10" noenhanced
set output '$FIG/rss_over_time.png'
set title "Resident set over time: $PH_CMD (load, thin, mid, idle, again), sampled every 10 ms"
set xlabel "seconds since start"
set ylabel "resident set (MiB)"
set grid lc rgb '#d0d0d0'
set key outside right top
set yrange [0:*]
plot ${plot%,}
EOF
        gnuplot "$WORK/phases.gp" 2>"$RUN_TMP/gp.err" || note "gnuplot failed: $(head -n 3 "$RUN_TMP/gp.err")"
    fi
fi

# ---- 5. the document ------------------------------------------------------------------
{
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "kernel=$(uname -srm)"
    echo "cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo) ($(nproc) CPUs)"
    echo "memory=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "thp=$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)"
    # A VM that reports free pages to its host (virtio-balloon) refaults them
    # from the host when they are used again: a cost no allocator controls.
    pr=/sys/module/page_reporting/parameters
    [ -r $pr/page_reporting_order ] &&
        echo "page_reporting=free pages reported to the host: order $(cat $pr/page_reporting_order) ($((4 << $(cat $pr/page_reporting_order))) KiB blocks)$([ -r $pr/min_free_ms ] && echo ", after $(cat $pr/min_free_ms) ms free")"
    echo "cc=$($CC --version 2>/dev/null | head -n 1)"
    echo "profile=$PROFILE"
    echo "seconds=$(($(date +%s) - T0))"
} >"$WORK/machine.txt"
head -n 4 "$WORK/main.out" | grep -E '^hakmem [^ ]+; |^extra peers' >>"$WORK/machine.txt"
# the fragmentation benchmark's live peak (the same for every allocator)
cmd=${P_CMD[fragmentation]:-}
[ -n "$cmd" ] && build_prog "${cmd%% *}" &&
    # shellcheck disable=SC2086
    echo "fragmentation_live_kib=$(env -u LD_PRELOAD "$BUILD_BENCH/"$cmd 2>/dev/null | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^peak_live_kib=/) print substr($i, 15) }')" \
        >>"$WORK/machine.txt"
python3 "$BENCH_DIR/report_md.py" "$WORK" "$FIG" "$OUT" || { note "error: report_md.py failed"; exit 1; }
note "wrote $OUT and $(find "$FIG" -name '*.png' | wc -l) charts in $FIG ($(($(date +%s) - T0)) s)"
