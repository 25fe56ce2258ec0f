#!/usr/bin/env bash
# bench/run.sh — the benchmark suite: hakmem beside glibc, mimalloc, jemalloc
# and tcmalloc, with tables and charts (make bench).
#
# Builds the programs of bench/*.c into build/bench/ and runs every benchmark
# of the profile (bench/profiles.sh) under every allocator, interleaved:
# benchmark 1's run 1 under A B C D E, its run 2 under E D C B A, its run 3
# under A B C D E, then benchmark 2, and so on.  Each run goes through build/bench/rss_run,
# which preloads the allocator (absolute path) for the benchmark alone, kills
# it on timeout and reports peak RSS, wall/user/sys time and minor faults
# from wait4(); each program prints which object provides malloc (a run whose
# malloc is not from the intended library fails), its result line
# (throughput, unit, allocator calls made, what it checked) and, under
# hakmem, malloc_stats's "os calls:" line.  Reports medians over the runs,
# and minor faults per allocator call (each run's faults / its ops).
#
# A missing peer is skipped with a note; an allocator that crashes, hangs,
# corrupts memory or is not built gives a failure row, never aborts the run.
# A run whose own check fails (the alignment benchmark's misaligned blocks)
# is "flagged": its numbers are kept, its status says what failed.
# When root with apt-get, missing peers and gnuplot are installed first:
#   apt-get install libmimalloc2.0 libjemalloc2 libtcmalloc-minimal4 gnuplot-nox
# (BENCH_NO_INSTALL=1 disables it).
#
# Usage:  bash bench/run.sh             (or: make bench; make bench PROFILE=full)
# Environment:
#   PROFILE=quick|full|smoke   see bench/profiles.sh (default quick)
#   RUNS=N                     runs per benchmark and allocator (profile: 3/5/1)
#   ALLOCATORS="hakmem mimalloc jemalloc tcmalloc glibc"   (a path to a .so works too)
#                              hakmem variants: hakmem-notel (telemetry compiled
#                              out, built with make notel), hakmem-hardened
#                              (HAKMEM_HARDEN=1 by default, make hardened),
#                              hakmem@MODE and
#                              hakmem-notel@MODE (HAKMEM_MODE=MODE for the
#                              benchmark alone; MODE: minimal fast balanced
#                              learning research)
#   BENCHES="tiny_hot json ..."  subset / order of the profile's benchmarks
#   CMD_<bench>="PROGRAM ARGS"   override one benchmark's command
#   BENCH_TIMEOUT=S            seconds before a run is killed (profile: 60/300/30)
#   BENCH_STRICT=1             exit 1 if any run failed (default: report, exit 0)
#   BENCH_NO_INSTALL=1         never apt-get install anything
#   BENCH_NO_CHARTS=1          skip the PNG charts
#   BENCH_RESULTS_DIR=bench/results   where results go
#   BENCH_REF=NAME             the allocator the printed table's ratio
#                              columns (speed, peak RSS, idle RSS) are taken
#                              against (default mimalloc; must be one of
#                              ALLOCATORS); the CSV's *_vs_mimalloc columns
#                              stay against mimalloc
#   BENCH_CHART_BASE=NAME      the charts' baseline (default BENCH_REF, else
#                              mimalloc, else glibc, else the first allocator)
#   BENCH_CPU=auto|N|none      the CPU the single-threaded benchmarks run on
#                              (profiles.sh's SINGLE_THREADED; auto: the
#                              fastest by a short probe; none: not pinned)
#   BENCH_ALTERNATE=1          (default) even runs of a benchmark take the
#                              allocators in reverse order, so that none
#                              always runs first; 0: always in order
#   BENCH_HAKMEM_LIB, BENCH_HAKMEM_NOTEL_LIB, MIMALLOC_LIB, JEMALLOC_LIB,
#   TCMALLOC_LIB               library overrides
#   BENCH_PEERS="NAME=/path/lib.so ..."   extra peers, appended to ALLOCATORS
#                              and shown as NAME (mimalloc 3.4.3:
#                              BENCH_PEERS="mimalloc3=$(../shared/peers/build.sh)")
#   BENCH_SPREAD_MAX=5         spread (%, (max - min) / median of the runs) above
#                              which a row's +-% is marked "!" and its cliff
#                              "(noisy)"
#   BENCH_SELF=LABEL           the allocator the cliff report judges (default:
#                              the first hakmem in ALLOCATORS); every
#                              non-hakmem allocator is a peer
# Output (in BENCH_RESULTS_DIR):
#   latest.csv                 one row per benchmark and allocator (medians)
#   bench_<date>_<profile>.csv dated copy of latest.csv
#   latest_runs.csv            every run
#   cliff.txt                  the cliff report (bench/cliff.awk): per benchmark
#                              hakmem's time against the fastest peer's and its
#                              peak RSS against the leanest's, then the list of
#                              benchmarks beyond 1.10x / 1.25x
#   latest.txt                 the table printed at the end (and, when a
#                              benchmark reports it (peak_idle), the table
#                              "resident after idle")
#   throughput_vs_mimalloc.png, rss_vs_mimalloc.png   (vs glibc if mimalloc
#                              is not available), with their .dat/.gp files
set -u
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=bench/profiles.sh
source "$BENCH_DIR/profiles.sh"

load_profile_or_exit
RUNS=${RUNS:-$P_RUNS}
BENCHES=${BENCHES:-$P_BENCHES}
T_START=$(date +%s)

if [ "${BENCH_NO_CHARTS:-0}" != 1 ]; then WANT_GNUPLOT=1; fi
maybe_install_peers

for b in $BENCHES; do
    if [ -z "${P_CMD[$b]:-}" ]; then
        note "error: benchmark '$b' is not in profile $PROFILE (known: $ALL_BENCHES)"; exit 2
    fi
done
cmds=()
for b in $BENCHES; do cmds+=("${P_CMD[$b]}"); done
build_progs_or_exit "${cmds[@]}"

# Real programs (bench/programs.sh): one not installed is skipped with a
# note; the others' inputs and reference outputs are made once, without a
# preload.
kept="" progs=""
for b in $BENCHES; do
    case "${P_CMD[$b]}" in
    "programs "*)
        p=${P_CMD[$b]#programs }
        if why=$("$BUILD_BENCH/programs" available "$p"); then progs="$progs $p"
        else note "note: $b skipped: not installed (apt-get install $why)"; continue; fi ;;
    esac
    kept="$kept $b"
done
BENCHES=${kept# }
if [ -n "$progs" ]; then
    note "preparing the real programs' inputs and reference outputs (no preload):$progs"
    # shellcheck disable=SC2086
    "$BUILD_BENCH/programs" prepare $progs || { note "error: programs prepare failed"; exit 1; }
fi
[ -n "$BENCHES" ] || { note "error: no benchmark left to run"; exit 1; }

RUN_TMP=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-bench.XXXXXX")
trap 'rm -rf "$RUN_TMP"' EXIT
mkdir -p "$RESULTS_DIR"

# ---- allocators ---------------------------------------------------------------
# LIB: what to preload, AENV: NAME=VALUE words for the benchmark's environment
# (hakmem@MODE's HAKMEM_MODE), LABEL: the name in the tables and charts.
declare -A LIB AENV STATUS LABEL
ACTIVE=() ALL=()
for a in $ALLOCATORS; do
    l=$(alloc_label "$a")
    LABEL[$a]=$l
    ALL+=("$a")
    if alloc_lib "$a"; then
        LIB[$a]=$ALLOC_LIB AENV[$a]=$ALLOC_ENV STATUS[$a]=ok
        ACTIVE+=("$a")
        note "using $l: ${ALLOC_LIB:-glibc (no preload)}${ALLOC_ENV:+ with $ALLOC_ENV}"
    else
        # A missing peer is skipped; a missing hakmem is a failure to report.
        if [ "$ALLOC_KIND" = missing ] && ! is_hakmem "$l"; then STATUS[$a]="skipped: $ALLOC_WHY"
        else STATUS[$a]="FAIL: $ALLOC_WHY"; fi
        note "note: $l ${STATUS[$a]}"
    fi
done
if [ ${#ACTIVE[@]} -eq 0 ]; then
    note "error: no allocator available"; exit 1
fi
# The reference of the printed table's ratio columns: BENCH_REF, else
# mimalloc (REF_COL is the columns' heading).  A name not in ALLOCATORS is
# a mistake; one that is skipped or fails leaves its ratios empty.
REF=mimalloc REF_COL="vs mi"
if [ -n "${BENCH_REF:-}" ]; then
    REF=$(alloc_label "$BENCH_REF")
    found=0
    for a in "${ALL[@]}"; do [ "${LABEL[$a]}" = "$REF" ] && found=1; done
    if [ $found = 0 ]; then
        note "error: BENCH_REF=$BENCH_REF is not one of ALLOCATORS ($ALLOCATORS)"; exit 2
    fi
    [ "$REF" != mimalloc ] && REF_COL="vs ref"
fi
REF_OK=0
for a in "${ACTIVE[@]}"; do [ "${LABEL[$a]}" = "$REF" ] && REF_OK=1; done
# Width of the allocator column: 9, or the longest name (hakmem-notel@...).
AW=9
for a in "${ALL[@]}"; do [ ${#LABEL[$a]} -gt "$AW" ] && AW=${#LABEL[$a]}; done

pkg_version() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null; }
# Single-threaded benchmarks run on one CPU, the same for every allocator:
# BENCH_CPU=N, or "auto" (default: the fastest by a short probe), or "none".
PIN_CPU="" PIN_NOTE="single-threaded benchmarks not pinned"
case "${BENCH_CPU:-auto}" in
none) ;;
auto)
    if [ "$(nproc)" -ge 2 ] && f=$(fastest_cpu) && [ -n "$f" ]; then
        PIN_CPU=${f%% *}
        PIN_NOTE="single-threaded benchmarks pinned to CPU $PIN_CPU (BENCH_CPU=auto; tiny_hot probe, Mops/s:${f#* })"
    fi ;;
*[!0-9]*|"") note "error: BENCH_CPU=$BENCH_CPU: a CPU number, auto or none"; exit 2 ;;
*)  PIN_CPU=$BENCH_CPU PIN_NOTE="single-threaded benchmarks pinned to CPU $PIN_CPU (BENCH_CPU)"
    "$BUILD_BENCH/rss_run" -c "$PIN_CPU" -o /dev/null -- true 2>/dev/null ||
        { note "error: BENCH_CPU=$PIN_CPU: this process cannot run on that CPU"; exit 2; } ;;
esac
HEADER="hakmem benchmarks, profile $PROFILE: $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -srm), $(nproc) CPUs; $PIN_NOTE
hakmem $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '(no git)'); mimalloc $(pkg_version libmimalloc2.0), jemalloc $(pkg_version libjemalloc2), tcmalloc $(pkg_version libtcmalloc-minimal4), glibc $(ldd --version 2>/dev/null | head -n 1 | awk '{ print $NF }')${BENCH_PEERS:+
extra peers (BENCH_PEERS): $BENCH_PEERS}
median of $RUNS run(s); +-% = (max - min) / median of the runs' throughput (! above ${BENCH_SPREAD_MAX:-5}%: read as a tie); $REF_COL = ratio to $REF:
speed (higher is better; for ns/op, $REF's time / ours), peak RSS (lower is better)"
printf '%s\n' "$HEADER" >&2

# ---- runs ----------------------------------------------------------------------------
sanitize() { # a CSV field: no comma, quote or newline, 300 characters at most
    local v="$*"
    v=${v//,/;} v=${v//\"/ } v=${v//$'\n'/ }
    printf '%s' "${v:0:300}"
}
RAW="$RESULTS_DIR/latest_runs.csv"
echo "run,benchmark,allocator,status,throughput,throughput_unit,peak_rss_kib,wall_s,user_s,sys_s,minor_faults,ops,faults_per_op,hakmem_mmap,hakmem_munmap,hakmem_madvise,hakmem_mremap,freed_rss_kib,idle_rss_kib,check,note" >"$RAW"
declare -A FAILED WARNED
WARNS=""
nb=$(wc -w <<<"$BENCHES")
total=$((RUNS * nb * ${#ACTIVE[@]}))
i=0
TTY=0; [ -t 2 ] && TTY=1
REVERSED=()
for ((k = ${#ACTIVE[@]} - 1; k >= 0; k--)); do REVERSED+=("${ACTIVE[$k]}"); done
for b in $BENCHES; do
    read -r -a cmd <<<"${P_CMD[$b]}"
    RUN_CPU=""
    case " $SINGLE_THREADED " in *" $b "*) RUN_CPU=$PIN_CPU ;; esac
    for ((r = 1; r <= RUNS; r++)); do
        ORDER=("${ACTIVE[@]}")
        [ "${BENCH_ALTERNATE:-1}" = 1 ] && [ $((r % 2)) = 0 ] && ORDER=("${REVERSED[@]}")
        for a in "${ORDER[@]}"; do
            i=$((i + 1))
            printf -v prog '[%3d/%d] run %d/%d  %-13s %-'"$AW"'s' "$i" "$total" "$r" "$RUNS" "$b" "${LABEL[$a]}"
            if [ -n "${FAILED[$b,${LABEL[$a]}]:-}" ]; then
                continue # failed before: do not burn time on it again
            fi
            [ $TTY = 1 ] && printf '\r%s ...\033[K' "$prog" >&2
            run_one "${LIB[$a]}" "${AENV[$a]}" "$BENCH_TIMEOUT" "${cmd[@]}"
            # hakmem's warnings (a mode it does not take, a misspelt HAKMEM_*
            # variable in the environment) mean the run is not what was
            # asked for: reported once per allocator, here and in the table.
            if [ -z "${WARNED[$a]:-}" ] && [ -n "$R_WARNING" ]; then
                WARNED[$a]=1 WARNS="$WARNS  ${LABEL[$a]}: $R_WARNING"$'\n'
                [ $TTY = 1 ] && printf '\r\033[K' >&2
                note "note: ${LABEL[$a]}: $R_WARNING"
            fi
            case $R_STATUS in
            fail)
                FAILED[$b,${LABEL[$a]}]=$R_WHY
                [ $TTY = 1 ] && printf '\r\033[K' >&2
                printf '%s FAILED: %s\n' "$prog" "$R_WHY" >&2 ;;
            flag)
                [ $TTY = 1 ] && printf '\r\033[K' >&2
                printf '%s %10s %-6s %8s KiB  FLAGGED: %s\n' "$prog" "$R_TP" "$R_UNIT" "$R_KB" "$R_WHY" >&2 ;;
            *)
                if [ $TTY = 1 ]; then
                    printf '\r%s %10s %-6s %8s KiB\033[K' "$prog" "$R_TP" "$R_UNIT" "$R_KB" >&2
                else
                    printf '%s %10s %-6s %8s KiB\n' "$prog" "$R_TP" "$R_UNIT" "$R_KB" >&2
                fi ;;
            esac
            echo "$r,$b,${LABEL[$a]},$R_STATUS,$R_TP,$R_UNIT,$R_KB,$R_WALL,$R_USER,$R_SYS,$R_MINFLT,$R_OPS,$R_FPO,$R_MMAP,$R_MUNMAP,$R_MADVISE,$R_MREMAP,$R_FREED_KB,$R_IDLE_KB,$(sanitize "$R_CHECK"),$(sanitize "$R_WHY")" >>"$RAW"
        done
    done
done
[ $TTY = 1 ] && printf '\r\033[K' >&2
T_RUNS=$(( $(date +%s) - T_START ))

# ---- medians ---------------------------------------------------------------------
# One line per benchmark,allocator label: medians of the runs that ran to the
# end (ok or flagged), the count of those runs, and the first flag reason.
MED="$RUN_TMP/medians"
awk -F, 'NR > 1 && ($4 == "ok" || $4 == "flag") {
        k = $2 SUBSEP $3; n[k]++
        for (c = 5; c <= 19; c++) if (c != 6 && $c != "") v[k, c, ++m[k, c]] = $c
        if ($5 != "") { if (!(k in lo) || $5 + 0 < lo[k]) lo[k] = $5 + 0; if (!(k in hi) || $5 + 0 > hi[k]) hi[k] = $5 + 0 }
        if ($6 != "") u[k] = $6
        if ($4 == "flag" && !(k in fl)) fl[k] = $21
    }
    function med(k, c,   cnt, i, j, t, a) {
        cnt = m[k, c]; if (!cnt) return ""
        for (i = 1; i <= cnt; i++) a[i] = v[k, c, i] + 0
        for (i = 2; i <= cnt; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
        return (cnt % 2) ? a[(cnt + 1) / 2] : (a[cnt / 2] + a[cnt / 2 + 1]) / 2
    }
    END { for (k in n) { split(k, p, SUBSEP)
        printf "%s,%s,%d,%s", p[1], p[2], n[k], u[k]
        for (c = 5; c <= 19; c++) if (c != 6) printf ",%s", (c == 12 && m[k, c]) ? sprintf("%.0f", med(k, c)) : med(k, c) # ops: no 1.2e+10
        t = med(k, 5); sp = (t > 0 && m[k, 5] > 1) ? sprintf("%.0f", 100 * (hi[k] - lo[k]) / t) : ""
        printf ",%s,%s\n", sp, fl[k] } }' "$RAW" >"$MED"
# fields: 1 bench 2 alloc 3 n 4 unit 5 tp 6 kb 7 wall 8 user 9 sys 10 minflt
#         11 ops 12 faults/op 13 mmap 14 munmap 15 madvise 16 mremap
#         17 freed_rss 18 idle_rss 19 spread% 20 flag-reason

declare -A M_TP M_UNIT M_KB M_WALL M_USER M_SYS M_FLT M_OPS M_FPO M_OS M_N M_FLAG M_SPREAD M_FREED M_IDLE
while IFS=, read -r b a n unit tp kb wall user sys flt ops fpo mm mu ma mr fr id sp fl; do
    M_N[$b,$a]=$n M_UNIT[$b,$a]=$unit M_TP[$b,$a]=$tp M_KB[$b,$a]=$kb M_SPREAD[$b,$a]=$sp
    M_FREED[$b,$a]=$fr M_IDLE[$b,$a]=$id
    M_WALL[$b,$a]=$wall M_USER[$b,$a]=$user M_SYS[$b,$a]=$sys M_FLT[$b,$a]=$flt
    M_OPS[$b,$a]=$ops M_FPO[$b,$a]=$fpo
    M_OS[$b,$a]="$mm,$mu,$ma,$mr" M_FLAG[$b,$a]=$fl
done <"$MED"

# Baselines: the CSV's ratio columns are always vs mimalloc (BASE), the
# printed table's vs REF (BENCH_REF, default mimalloc); the charts use
# BENCH_CHART_BASE, else BENCH_REF, else mimalloc, glibc, the first
# allocator, whichever ran first in that list.
BASE=mimalloc
CHART_BASE=""
for c in ${BENCH_CHART_BASE:-} ${BENCH_REF:+$REF} mimalloc glibc; do
    for a in "${ACTIVE[@]}"; do [ "${LABEL[$a]}" = "$c" ] && CHART_BASE=${CHART_BASE:-$c}; done
done
[ -z "$CHART_BASE" ] && CHART_BASE=${LABEL[${ACTIVE[0]}]}

# speed_ratio B A BASE: throughput of A relative to BASE on B, as speed
# (higher is better whatever the unit).
speed_ratio() {
    local x=${M_TP[$1,$2]:-} y=${M_TP[$1,$3]:-}
    if unit_lower_better "${M_UNIT[$1,$2]:-}"; then ratio "$y" "$x"; else ratio "$x" "$y"; fi
}

# ratios_vs B A BASE ST: sets RT (speed ratio) and RR (peak RSS ratio) of A
# against BASE on benchmark B, both "" when either has no result, A's
# status ST is a failure or BASE failed.
ratios_vs() {
    RT="" RR=""
    if [ -n "${M_TP[$1,$3]:-}" ] && [ -n "${M_TP[$1,$2]:-}" ] && [ "${4#FAIL}" = "$4" ] &&
       [ -z "${FAILED[$1,$3]:-}" ]; then
        RT=$(speed_ratio "$1" "$2" "$3")
        RR=$(ratio "${M_KB[$1,$2]:-}" "${M_KB[$1,$3]:-}")
    fi
}

fmt_num() { # fmt_num VALUE: 4 significant digits, no exponent for usual sizes
    [ -n "$1" ] && awk -v v="$1" 'BEGIN { if (v >= 1000) printf "%.0f", v; else if (v >= 100) printf "%.1f", v;
        else if (v >= 10) printf "%.2f", v; else printf "%.3f", v }'
}
fmt_fpo() { # fmt_fpo FAULTS_PER_OP: as fmt_num, 3 significant digits below 1 (1.23e-05)
    [ -n "$1" ] && awk -v v="$1" 'BEGIN { if (v >= 1) printf "%.4g", v; else if (v >= 0.001) printf "%.3f", v;
        else if (v > 0) printf "%.2e", v; else printf "0" }'
}

CSV="$RESULTS_DIR/latest.csv"
STAMP=$(date '+%Y%m%d-%H%M%S')
TXT="$RESULTS_DIR/latest.txt"
CLIFF="$RESULTS_DIR/cliff.txt"
echo "benchmark,allocator,throughput,throughput_unit,ratio_vs_mimalloc,peak_rss_kib,rss_vs_mimalloc,wall_s,user_s,sys_s,minor_faults,ops,faults_per_op,hakmem_mmap,hakmem_munmap,hakmem_madvise,hakmem_mremap,freed_rss_kib,idle_rss_kib,runs_ok,runs,throughput_spread_pct,status,command" >"$CSV"
{
    printf '%s\n\n' "$HEADER"
    printf '%-13s %-'"$AW"'s %11s %-6s %5s %6s %10s %6s %7s %7s %7s %8s %8s  %-19s %s\n' benchmark allocator throughput unit "+-%" "$REF_COL" "peakRSS KiB" "$REF_COL" "wall s" "user s" "sys s" minflt "flt/op" "hakmem mmap/munmap/madvise" status
} >"$TXT"
# Per hakmem variant: the benchmarks where it is behind REF or fatter.
declare -A BEHIND FATTER
FAILS="" FLAGS="" NOISY=0
SPREAD_MAX=${BENCH_SPREAD_MAX:-5}   # % between the runs' extremes: above, marked "!"
for b in $BENCHES; do
    for a in "${ALL[@]}"; do
        l=${LABEL[$a]}
        if [ "${STATUS[$a]}" != ok ]; then
            printf '%-13s %-'"$AW"'s %11s %-6s %5s %6s %10s %6s %7s %7s %7s %8s %8s  %-19s %s\n' "$b" "$l" - - - - - - - - - - - - "${STATUS[$a]}" >>"$TXT"
            echo "$b,$l,,,,,,,,,,,,,,,,,,0,0,,$(sanitize "${STATUS[$a]}"),$(sanitize "${P_CMD[$b]}")" >>"$CSV"
            continue
        fi
        n=${M_N[$b,$l]:-0}
        st=ok
        if [ -n "${FAILED[$b,$l]:-}" ]; then
            st="FAIL: ${FAILED[$b,$l]}"
            FAILS="$FAILS  $b / $l: ${FAILED[$b,$l]}"$'\n'
        elif [ -n "${M_FLAG[$b,$l]:-}" ]; then
            st="flagged: ${M_FLAG[$b,$l]}"
            FLAGS="$FLAGS  $b / $l: ${M_FLAG[$b,$l]}"$'\n'
        fi
        # vs mimalloc for the CSV, vs REF for the table (the same by default)
        ratios_vs "$b" "$l" "$BASE" "$st"; tm=$RT rm=$RR
        ratios_vs "$b" "$l" "$REF" "$st"; tr=$RT rr=$RR
        IFS=, read -r mm mu ma mr <<<"${M_OS[$b,$l]:-,,,}"
        os="-"; [ -n "$mm" ] && os="$mm/$mu/$ma"
        tp=$(fmt_num "${M_TP[$b,$l]:-}")
        fpo=$(fmt_fpo "${M_FPO[$b,$l]:-}")
        spr=${M_SPREAD[$b,$l]:--}     # beyond SPREAD_MAX: marked, read as a tie
        if [ "$spr" != - ] && [ "${spr%%.*}" -gt "$SPREAD_MAX" ] 2>/dev/null; then spr="$spr!" NOISY=$((NOISY + 1)); fi
        printf '%-13s %-'"$AW"'s %11s %-6s %5s %6s %10s %6s %7s %7s %7s %8s %8s  %-19s %s\n' "$b" "$l" "${tp:--}" "${M_UNIT[$b,$l]:--}" \
            "$spr" "${tr:--}" "$(fmt_num "${M_KB[$b,$l]:-}" | sed 's/^$/-/')" "${rr:--}" "${M_WALL[$b,$l]:--}" "${M_USER[$b,$l]:--}" \
            "${M_SYS[$b,$l]:--}" "${M_FLT[$b,$l]:--}" "${fpo:--}" "$os" "$st" >>"$TXT"
        runs_done=$n; [ -n "${FAILED[$b,$l]:-}" ] && runs_done=$((n + 1))
        echo "$b,$l,${M_TP[$b,$l]:-},${M_UNIT[$b,$l]:-},$tm,${M_KB[$b,$l]:-},$rm,${M_WALL[$b,$l]:-},${M_USER[$b,$l]:-},${M_SYS[$b,$l]:-},${M_FLT[$b,$l]:-},${M_OPS[$b,$l]:-},${M_FPO[$b,$l]:-},$mm,$mu,$ma,$mr,${M_FREED[$b,$l]:-},${M_IDLE[$b,$l]:-},$n,$runs_done,${M_SPREAD[$b,$l]:-},$(sanitize "$st"),$(sanitize "${P_CMD[$b]}")" >>"$CSV"
        if is_hakmem "$l" && [ "$l" != "$REF" ] && [ -n "$tr" ]; then
            awk -v x="$tr" 'BEGIN { exit !(x < 1) }' && BEHIND[$l]="${BEHIND[$l]:-} $b (${tr}x),"
            [ -n "$rr" ] && awk -v x="$rr" 'BEGIN { exit !(x > 1.1) }' && FATTER[$l]="${FATTER[$l]:-} $b (${rr}x),"
        fi
    done
    echo >>"$TXT"
done
cp "$CSV" "$RESULTS_DIR/bench_${STAMP}_$PROFILE.csv"

# ---- charts ---------------------------------------------------------------------
CHARTS=""
if [ "${BENCH_NO_CHARTS:-0}" != 1 ]; then
    if gnuplot_term >/dev/null; then
        # Bars: hakmem's variants first (the first one's value is printed),
        # then the other allocators; the baseline is the line at 1.
        bars=()
        for a in "${ACTIVE[@]}"; do
            l=${LABEL[$a]}
            is_hakmem "$l" && [ "$l" != "$CHART_BASE" ] && bars+=("$l")
        done
        for a in "${ACTIVE[@]}"; do
            l=${LABEL[$a]}
            is_hakmem "$l" || [ "$l" = "$CHART_BASE" ] || bars+=("$l")
        done
        if [ ${#bars[@]} -eq 0 ]; then
            note "note: only the baseline allocator ran; no charts"
        else
            for kind in throughput rss; do
                dat="$RESULTS_DIR/${kind}_vs_$CHART_BASE.dat"
                : >"$dat"
                CHART_NOTE="bars: ${bars[0]} (value printed) and the others, each relative to $CHART_BASE; FAIL = crashed/failed run, flag = the program's own check failed."
                j=0
                for b in $BENCHES; do
                    vals="" flags=""
                    for l in "${bars[@]}"; do
                        v="?"
                        if [ -n "${FAILED[$b,$l]:-}" ]; then
                            v=F
                        elif [ -n "${M_TP[$b,$CHART_BASE]:-}" ] && [ -n "${M_TP[$b,$l]:-}" ] && [ -z "${FAILED[$b,$CHART_BASE]:-}" ]; then
                            if [ $kind = throughput ]; then v=$(speed_ratio "$b" "$l" "$CHART_BASE")
                            else v=$(ratio "${M_KB[$b,$l]:-}" "${M_KB[$b,$CHART_BASE]:-}"); fi
                            [ -z "$v" ] && v="?"
                        fi
                        vals="$vals $v"
                        flags="$flags $([ -n "${M_FLAG[$b,$l]:-}" ] && echo 1 || echo 0)"
                    done
                    lab=$b
                    if [ -n "${FAILED[$b,$CHART_BASE]:-}" ]; then
                        lab="$b**"; CHART_NOTE="${CHART_NOTE:+$CHART_NOTE   }$b**: $CHART_BASE failed, no ratios."
                    elif [ -n "${M_FLAG[$b,$CHART_BASE]:-}" ]; then
                        lab="$b*"; CHART_NOTE="${CHART_NOTE:+$CHART_NOTE   }$b*: $CHART_BASE's result is flagged (${M_FLAG[$b,$CHART_BASE]#check failed: })."
                    fi
                    echo "$j $lab$vals$flags" >>"$dat"
                    j=$((j + 1))
                done
                png="$RESULTS_DIR/${kind}_vs_$CHART_BASE.png"
                if [ $kind = throughput ]; then
                    title="Speed relative to $CHART_BASE (median of $RUNS; higher is better; Mops/s ratio, or inverse ns/op ratio)"
                    ylab="speed / $CHART_BASE speed (log scale)"
                else
                    title="Peak RSS relative to $CHART_BASE (median of $RUNS; lower is better)"
                    ylab="peak RSS / $CHART_BASE peak RSS (log scale)"
                fi
                if chart_ratio "$dat" "$png" "$title [profile $PROFILE, $(date '+%Y-%m-%d')]" "$ylab" "$CHART_BASE" "${bars[@]}"; then
                    CHARTS="$CHARTS $png"
                fi
            done
        fi
    else
        note "note: gnuplot not found (apt-get install gnuplot-nox): no charts"
    fi
fi

# ---- resident after idle ----------------------------------------------------------
# For the benchmarks whose result line has idle_rss_kb (peak_idle): per
# allocator the medians of peak RSS (rusage), of the resident set right after
# the last free and after the idle time (the program's /proc/self/statm
# reads), in MiB, and the idle one's ratio to IDLE_REF (BENCH_REF when set,
# else the charts' baseline: BENCH_CHART_BASE, mimalloc, glibc, the first).
IDLE_REF=$CHART_BASE
[ -n "${BENCH_REF:-}" ] && IDLE_REF=$REF
IDLE_BENCHES=""
for b in $BENCHES; do
    for a in "${ACTIVE[@]}"; do
        if [ -n "${M_IDLE[$b,${LABEL[$a]}]:-}" ]; then IDLE_BENCHES="$IDLE_BENCHES $b"; break; fi
    done
done
if [ -n "$IDLE_BENCHES" ]; then
    mib() { [ -n "$1" ] && awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
    {
        echo "resident after idle (MiB, median of $RUNS; freed = right after the last free, idle = after the"
        echo "idle time, both from /proc/self/statm; vs ref = idle RSS / $IDLE_REF's, lower is leaner)"
        printf '%-13s %-'"$AW"'s %9s %9s %9s %7s  %s\n' benchmark allocator "peak" "freed" "idle" "vs ref" status
        for b in $IDLE_BENCHES; do
            for a in "${ALL[@]}"; do
                l=${LABEL[$a]} st=ok ir=""
                if [ "${STATUS[$a]}" != ok ]; then st=${STATUS[$a]}
                elif [ -n "${FAILED[$b,$l]:-}" ]; then st="FAIL: ${FAILED[$b,$l]}"
                elif [ -n "${M_FLAG[$b,$l]:-}" ]; then st="flagged"; fi
                if [ "${st#FAIL}" = "$st" ] && [ -z "${FAILED[$b,$IDLE_REF]:-}" ]; then
                    ir=$(ratio "${M_IDLE[$b,$l]:-}" "${M_IDLE[$b,$IDLE_REF]:-}")
                fi
                pk=$(mib "${M_KB[$b,$l]:-}") fr=$(mib "${M_FREED[$b,$l]:-}") id=$(mib "${M_IDLE[$b,$l]:-}")
                printf '%-13s %-'"$AW"'s %9s %9s %9s %7s  %s\n' "$b" "$l" "${pk:--}" "${fr:--}" "${id:--}" "${ir:--}" "$st"
            done
        done
        echo
    } >>"$TXT"
fi

# ---- report ---------------------------------------------------------------------
{
    for a in "${ALL[@]}"; do
        l=${LABEL[$a]}
        is_hakmem "$l" || continue
        bh=${BEHIND[$l]:-} ft=${FATTER[$l]:-}
        [ "$l" = "$REF" ] && continue
        [ -n "$bh" ] && echo "$l behind $REF (speed ratio < 1):${bh%,}"
        if [ -z "$bh" ] && [ "${STATUS[$a]}" = ok ] && [ $REF_OK = 1 ]; then
            echo "$l is not behind $REF on any benchmark"
        fi
        [ -n "$ft" ] && echo "$l peak RSS > 1.1x $REF's:${ft%,}"
    done
    [ "$NOISY" -gt 0 ] && echo "$NOISY row(s) marked ! spread more than ${SPREAD_MAX}% between their runs: read their ratios as ties (more runs: RUNS=5, or PROFILE=full)"
    [ -n "$FLAGS" ] && printf 'flagged results (ran, but the program'"'"'s check failed):\n%s' "$FLAGS"
    [ -n "$FAILS" ] && printf 'FAILED runs:\n%s' "$FAILS"
    [ -n "$WARNS" ] && printf 'library warnings (the first per allocator):\n%s' "$WARNS"
    for a in "${ALL[@]}"; do
        case "${STATUS[$a]}" in ok) ;; *) echo "${LABEL[$a]}: ${STATUS[$a]}" ;; esac
    done
    echo "($T_RUNS s for build and runs; wrote $CSV, $RAW, a dated copy bench_${STAMP}_$PROFILE.csv${CHARTS:+, and}$CHARTS)"
} >>"$TXT"

# ---- cliff report: hakmem against the fastest and the leanest peer ------------
SELF=${BENCH_SELF:-} PEERS=""
for a in "${ACTIVE[@]}"; do
    l=${LABEL[$a]}
    if is_hakmem "$l"; then [ -n "$SELF" ] || SELF=$l
    elif [ "$l" != "${BENCH_SELF:-}" ]; then PEERS="$PEERS $l"; fi
done
if [ -n "$SELF" ] && [ -n "$PEERS" ]; then
    awk -F, -v self="$SELF" -v peers="${PEERS# }" -v spread_max="$SPREAD_MAX" -f "$BENCH_DIR/cliff.awk" "$CSV" >"$CLIFF"
    { echo; cat "$CLIFF"; echo "(wrote $CLIFF)"; } >>"$TXT"
fi
echo
cat "$TXT"

if [ "${P_FASTPATH:-0}" = 1 ] && [ -z "${BENCH_NO_FASTPATH:-}" ]; then
    echo
    echo "== fast path: instructions per malloc+free pair (bench/fastpath.sh)"
    if command -v valgrind >/dev/null 2>&1; then
        ALLOCATORS="$ALLOCATORS" bash "$BENCH_DIR/fastpath.sh"
    else
        echo "note: valgrind not installed (apt-get install valgrind): fast-path count skipped"
    fi
fi

if [ "${BENCH_STRICT:-0}" = 1 ]; then
    for a in "${ALL[@]}"; do case "${STATUS[$a]}" in FAIL*) exit 1 ;; esac; done
    [ ${#FAILED[@]} -eq 0 ] || exit 1
fi
exit 0
