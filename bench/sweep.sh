#!/usr/bin/env bash
# bench/sweep.sh — throughput and peak RSS over one parameter, per allocator
# (make bench-sweep; the seed's sweep_mem_perf.sh).
#
# For each sweep of the profile (bench/profiles.sh), runs the sweep's command
# with {} replaced by each value, under each allocator (interleaved, like
# bench/run.sh), RUNS times, and writes the medians to
# bench/results/sweep_<name>.csv and a two-panel chart (throughput above,
# peak RSS below, one line per allocator) to bench/results/sweep_<name>.png.
#
# Sweeps (values from the profile; smoke has only the first, shortened):
#   random_mixed_ws  working-set size of random_mixed (slots of 16-1024 B)
#   tiny_hot_size    block size of tiny_hot
#   mid_mt_threads   thread count of mid_mt (8-32 KiB blocks)
#   larson_threads   thread count of larson
#
# Usage:  bash bench/sweep.sh          (or: make bench-sweep [PROFILE=full])
# Environment:
#   PROFILE=quick|full|smoke     workloads and runs (quick: 1 run per point,
#                                full: 3 runs and longer workloads)
#   SWEEPS="random_mixed_ws ..."   which sweeps
#   RUNS=N  ALLOCATORS=...  BENCH_TIMEOUT=S  BENCH_RESULTS_DIR=...  as run.sh
#                                (hakmem-notel and hakmem@MODE too)
#   A sweep of your own: SWEEP_NAME=mysweep SWEEP_CMD="mid_mt 2 {} 256"
#     SWEEP_VALUES="10000 100000 1000000" [SWEEP_PARAM="iterations"] [SWEEP_LOGX=1]
# CSV columns: sweep,parameter,value,allocator,throughput,throughput_unit,
#   peak_rss_kib,wall_s,runs_ok,status,command
set -u
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=bench/profiles.sh
source "$BENCH_DIR/profiles.sh"

load_profile_or_exit
RUNS=${RUNS:-$P_SWEEP_RUNS}
SWEEPS=${SWEEPS:-$P_SWEEPS}
if [ -n "${SWEEP_CMD:-}" ]; then
    n=${SWEEP_NAME:-custom}
    S_CMD[$n]=$SWEEP_CMD S_VALUES[$n]=${SWEEP_VALUES:?SWEEP_VALUES is needed with SWEEP_CMD}
    S_PARAM[$n]=${SWEEP_PARAM:-value} S_LOGX[$n]=${SWEEP_LOGX:-0}
    SWEEPS=$n
fi
T_START=$(date +%s)

for s in $SWEEPS; do
    if [ -z "${S_CMD[$s]:-}" ] || [ -z "${S_VALUES[$s]:-}" ]; then
        note "error: unknown sweep '$s' in profile $PROFILE (known: ${!S_CMD[*]})"; exit 2
    fi
done
if [ "${BENCH_NO_CHARTS:-0}" != 1 ]; then WANT_GNUPLOT=1; fi
maybe_install_peers
cmds=()
for s in $SWEEPS; do cmds+=("${S_CMD[$s]}"); done
build_progs_or_exit "${cmds[@]}"

RUN_TMP=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-sweep.XXXXXX")
trap 'rm -rf "$RUN_TMP"' EXIT
mkdir -p "$RESULTS_DIR"

# LIB: what to preload, AENV: NAME=VALUE words for the benchmark's
# environment (hakmem@MODE), LABEL: the name in the CSV and chart.
declare -A LIB AENV LABEL
ACTIVE=() LABELS=()
AW=9   # width of the allocator column in the progress line
for a in $ALLOCATORS; do
    l=$(alloc_label "$a")
    if alloc_lib "$a"; then
        LIB[$a]=$ALLOC_LIB AENV[$a]=$ALLOC_ENV LABEL[$a]=$l
        ACTIVE+=("$a") LABELS+=("$l")
        [ ${#l} -gt "$AW" ] && AW=${#l}
    else
        note "note: $l skipped: $ALLOC_WHY"
    fi
done
[ ${#ACTIVE[@]} -gt 0 ] || { note "error: no allocator available"; exit 1; }

total=0
for s in $SWEEPS; do total=$((total + $(wc -w <<<"${S_VALUES[$s]}") * RUNS * ${#ACTIVE[@]})); done
i=0
TTY=0; [ -t 2 ] && TTY=1
OUTS=""
for s in $SWEEPS; do
    raw="$RUN_TMP/raw.$s"
    : >"$raw"
    declare -A SFAILED=()
    for v in ${S_VALUES[$s]}; do
        cmdline=${S_CMD[$s]//\{\}/$v}
        read -r -a cmd <<<"$cmdline"
        for ((r = 1; r <= RUNS; r++)); do
            for a in "${ACTIVE[@]}"; do
                i=$((i + 1))
                l=${LABEL[$a]}
                prog=$(printf '[%3d/%d] %-16s %8s  run %d/%d  %-'"$AW"'s' "$i" "$total" "$s" "$v" "$r" "$RUNS" "$l")
                [ -n "${SFAILED[$v,$l]:-}" ] && continue
                [ $TTY = 1 ] && printf '\r%s ...\033[K' "$prog" >&2
                run_one "${LIB[$a]}" "${AENV[$a]}" "$BENCH_TIMEOUT" "${cmd[@]}"
                if [ "$R_STATUS" = fail ]; then
                    SFAILED[$v,$l]=$R_WHY
                    [ $TTY = 1 ] && printf '\r\033[K' >&2
                    printf '%s FAILED: %s\n' "$prog" "$R_WHY" >&2
                elif [ $TTY = 1 ]; then
                    printf '\r%s %10s %-6s %8s KiB\033[K' "$prog" "$R_TP" "$R_UNIT" "$R_KB" >&2
                else
                    printf '%s %10s %-6s %8s KiB\n' "$prog" "$R_TP" "$R_UNIT" "$R_KB" >&2
                fi
                echo "$v,$l,$R_STATUS,$R_TP,$R_UNIT,$R_KB,$R_WALL,$(printf '%s' "$R_WHY" | tr ',"\n' ';  ' | cut -c1-200)" >>"$raw"
            done
        done
    done
    [ $TTY = 1 ] && printf '\r\033[K' >&2
    csv="$RESULTS_DIR/sweep_$s.csv"
    echo "sweep,parameter,value,allocator,throughput,throughput_unit,peak_rss_kib,wall_s,runs_ok,status,command" >"$csv"
    for v in ${S_VALUES[$s]}; do
        for l in "${LABELS[@]}"; do
            awk -F, -v v="$v" -v l="$l" -v s="$s" -v p="${S_PARAM[$s]//,/;}" -v c="${S_CMD[$s]//\{\}/$v}" '
                function med(x, n,   i, j, t) {
                    for (i = 2; i <= n; i++) { t = x[i]; for (j = i - 1; j >= 1 && x[j] > t; j--) x[j + 1] = x[j]; x[j + 1] = t }
                    return n % 2 ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2 }
                $1 == v && $2 == l {
                    if ($3 == "fail") { why = $8; next }
                    n++; tp[n] = $4 + 0; kb[n] = $6 + 0; w[n] = $7 + 0; u = $5
                    if ($3 == "flag" && flag == "") flag = $8 }
                END {
                    st = why != "" ? "FAIL: " why : flag != "" ? "flagged: " flag : "ok"
                    if (n) printf "%s,%s,%s,%s,%s,%s,%s,%s,%d,%s,%s\n", s, p, v, l, med(tp, n), u, med(kb, n), med(w, n), n, st, c
                    else printf "%s,%s,%s,%s,,,,,0,%s,%s\n", s, p, v, l, st, c }' "$raw" >>"$csv"
        done
    done
    OUTS="$OUTS $csv"
    # Chart: the points that ran (ok or flagged).
    if [ "${BENCH_NO_CHARTS:-0}" != 1 ]; then
        if gnuplot_term >/dev/null; then
            pts="$RESULTS_DIR/sweep_$s.dat"
            awk -F, 'NR > 1 && $5 != "" && $10 !~ /^FAIL/ { print $3 "," $4 "," $5 "," $6 "," $7 }' "$csv" >"$pts"
            if [ -s "$pts" ] && chart_lines "$pts" "$RESULTS_DIR/sweep_$s.png" \
                "sweep $s: ${S_CMD[$s]} (median of $RUNS, profile $PROFILE)" "${S_PARAM[$s]}" "${S_LOGX[$s]:-0}" \
                "${LABELS[@]}"; then
                OUTS="$OUTS $RESULTS_DIR/sweep_$s.png"
            fi
        else
            note "note: gnuplot not found (apt-get install gnuplot-nox): no sweep charts"
        fi
    fi
    # Table.
    echo
    echo "sweep $s: ${S_CMD[$s]}  (${S_PARAM[$s]}; median of $RUNS; throughput in $(awk -F, 'NR > 1 && $6 != "" { print $6; exit }' "$csv"))"
    printf '%10s' value
    for l in "${LABELS[@]}"; do printf ' %*s' $((AW > 12 ? AW : 12)) "$l"; done
    echo "   (peak RSS MiB, same order)"
    for v in ${S_VALUES[$s]}; do
        printf '%10s' "$v"
        line="" rline=""
        for l in "${LABELS[@]}"; do
            IFS=, read -r tp kb st < <(awk -F, -v v="$v" -v l="$l" 'NR > 1 && $3 == v && $4 == l { print $5 "," $7 "," $10 }' "$csv")
            [ -n "$tp" ] && tp=$(awk -v v="$tp" 'BEGIN { if (v >= 1000) printf "%.0f", v; else if (v >= 100) printf "%.1f", v; else printf "%.2f", v }')
            case "$st" in FAIL*) tp=FAIL ;; flagged*) tp="$tp!" ;; esac
            line="$line $(printf '%*s' $((AW > 12 ? AW : 12)) "${tp:--}")"
            rline="$rline $(awk -v k="$kb" 'BEGIN { if (k != "") printf "%.1f", k / 1024; else printf "-" }')"
        done
        echo "$line   ($rline )"
    done
    unset SFAILED
done
echo
echo "($(( $(date +%s) - T_START )) s; wrote$OUTS)"
exit 0
