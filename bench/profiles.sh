# shellcheck shell=bash disable=SC2034
# bench/profiles.sh — benchmark profiles for bench/run.sh and bench/sweep.sh.
# Sourced, not executed.
#
# load_profile NAME sets:
#   P_RUNS          runs per benchmark and allocator
#   P_TIMEOUT       seconds before a run is killed
#   P_BENCHES       benchmark names, in run order
#   P_CMD[name]     "PROGRAM ARGS..." (PROGRAM is built from bench/PROGRAM.c)
#   P_ALLOCATORS    default allocator list ("" = the runner's default)
#   P_FASTPATH      1: run bench/fastpath.sh after the throughput runs
#   P_SWEEP_RUNS    runs per point in bench/sweep.sh
#   P_SWEEPS        sweep names; for each:
#     S_CMD[name]     "PROGRAM ARGS..." with {} where the swept value goes
#     S_VALUES[name]  the values
#     S_PARAM[name]   what is swept (axis label)
#     S_LOGX[name]    1: logarithmic x axis
# Any benchmark's command can be overridden from the environment with
# CMD_<name>="PROGRAM ARGS", e.g. CMD_tiny_hot="tiny_hot 64 100 500000".
#
# Profiles:
#   quick  default of `make bench`: 33 benchmarks x 5 allocators x 3 runs,
#          each measured part 0.15-0.8 s (long enough that the runs of a
#          CPU-bound benchmark agree within a few percent on this VM),
#          large_zeroed ~1 s, peak_idle and peak_idle_mt ~1.5 s (256 MiB
#          peak, 1 s idle), then the real programs (prog_*: redis 0.7 s,
#          python 0.6 s, sqlite 0.3 s, lua 0.5 s, g++ 1.7 s); 6.5 minutes
#          on 2 cores (measured 2026-12-07), build and the programs'
#          reference runs included.
#   full   5 runs, workloads ~5-20x longer (larson 5 s as in mimalloc-bench,
#          longrun 1M allocations over 5 s; peak_idle 1 GiB with 5 s idle;
#          large_zeroed 1.5-11 s, app_churn 2-3 s: ~5 minutes of the total),
#          then the callgrind fast-path count; about 20 minutes.
#   smoke  the test suite's check of the runner itself: 1 run, hakmem and
#          glibc, three tiny benchmarks; a few seconds.  Has commands for
#          peak_idle (16 MiB, 0.2 s) and the large-block benchmarks too,
#          run only when BENCHES names them.

declare -A P_CMD S_CMD S_VALUES S_PARAM S_LOGX

# The benchmarks whose process runs one thread (and the real programs that
# do): the runner pins them to one CPU (BENCH_CPU), the same for every
# allocator.  The others (threads, redis's server and client) get all CPUs.
SINGLE_THREADED="tiny_hot random_mixed json mir vm mixed fragmentation longrun webserver lifetime \
seq_access rand_access realloc zero_null alignment large_cycle large_zeroed app_churn peak_idle \
prog_python prog_sqlite prog_lua prog_gxx"

# Benchmarks common to quick and full, in run order.
ALL_BENCHES="tiny_hot random_mixed mid_mt mid_mt8 larson larson8 prodcons reqresp thread_churn \
json mir vm mixed multithread fragmentation longrun webserver lifetime seq_access rand_access \
realloc zero_null alignment large_cycle large_zeroed app_churn peak_idle peak_idle_mt \
prog_redis prog_python prog_sqlite prog_lua prog_gxx"

load_profile() {
    local p=$1 b v
    P_ALLOCATORS="" P_FASTPATH=0
    P_SWEEPS="random_mixed_ws tiny_hot_size mid_mt_threads larson_threads"
    case "$p" in
    quick)
        P_RUNS=3 P_TIMEOUT=60 P_SWEEP_RUNS=1
        P_BENCHES=$ALL_BENCHES
        P_CMD=(
            [tiny_hot]="tiny_hot 64 100 500000"
            [random_mixed]="random_mixed 25000000 400 42"
            [mid_mt]="mid_mt 2 6000000"
            [mid_mt8]="mid_mt 8 1500000"
            [larson]="larson 0.5 8 1000 5000 100 4141 2"
            [larson8]="larson 0.5 8 1000 5000 100 4141 8"
            [prodcons]="threads prodcons 1 1000000"
            [reqresp]="threads reqresp 1 800000"
            [thread_churn]="threads churn 4 1000 200"
            [json]="scenarios json 80000"
            [mir]="scenarios mir 4000"
            [vm]="scenarios vm 40000"
            [mixed]="scenarios mixed 4000000"
            [multithread]="extended multithread 600 8 1000"
            [fragmentation]="extended fragmentation 100"
            [longrun]="extended longrun 300000 500"
            [webserver]="extended webserver 200000"
            [lifetime]="extended lifetime 2000000"
            [seq_access]="extended seq_access 2400 4"
            [rand_access]="extended rand_access 800 4"
            [realloc]="extended realloc 8000000"
            [zero_null]="extended zero_null 5000000"
            [alignment]="extended alignment 5000000"
            [large_cycle]="large large_cycle 3000"
            [large_zeroed]="large large_zeroed 20"
            [app_churn]="large app_churn 150000"
            [peak_idle]="peak_idle 256 1"
            [peak_idle_mt]="peak_idle 256 1 42 2"
            # real programs (bench/programs.sh): Debian's redis-server, python3,
            # sqlite3, lua5.4 and g++, output checked against a run without
            # a preload; skipped with a note when not installed
            [prog_redis]="programs redis"
            [prog_python]="programs python"
            [prog_sqlite]="programs sqlite"
            [prog_lua]="programs lua"
            [prog_gxx]="programs gxx"
        )
        S_CMD=(
            [random_mixed_ws]="random_mixed 2000000 {} 42"
            [tiny_hot_size]="tiny_hot {} 100 200000"
            [mid_mt_threads]="mid_mt {} 600000"
            [larson_threads]="larson 1 8 1000 5000 100 4141 {}"
        )
        ;;
    full)
        P_RUNS=5 P_TIMEOUT=300 P_SWEEP_RUNS=3 P_FASTPATH=1
        P_BENCHES=$ALL_BENCHES
        P_CMD=(
            [tiny_hot]="tiny_hot 64 100 3000000"
            [random_mixed]="random_mixed 100000000 400 42"
            [mid_mt]="mid_mt 2 40000000"
            [mid_mt8]="mid_mt 8 6000000"
            [larson]="larson 5 8 1000 5000 100 4141 2"
            [larson8]="larson 5 8 1000 5000 100 4141 8"
            [prodcons]="threads prodcons 2 3000000"
            [reqresp]="threads reqresp 2 3000000"
            [thread_churn]="threads churn 4 10000 200"
            [json]="scenarios json 200000"
            [mir]="scenarios mir 16000"
            [vm]="scenarios vm 300000"
            [mixed]="scenarios mixed 16000000"
            [multithread]="extended multithread 4000 8 1000"
            [fragmentation]="extended fragmentation 600"
            [longrun]="extended longrun 1000000 5000"
            [webserver]="extended webserver 300000"
            [lifetime]="extended lifetime 16000000"
            [seq_access]="extended seq_access 3000 4"
            [rand_access]="extended rand_access 3000 4"
            [realloc]="extended realloc 30000000"
            [zero_null]="extended zero_null 16000000"
            [alignment]="extended alignment 16000000"
            [large_cycle]="large large_cycle 15000"
            [large_zeroed]="large large_zeroed 200"
            [app_churn]="large app_churn 750000"
            [peak_idle]="peak_idle 1024 5"
            [peak_idle_mt]="peak_idle 1024 5 42 2"
            # real programs: as quick (one run of each workload is the unit)
            [prog_redis]="programs redis"
            [prog_python]="programs python"
            [prog_sqlite]="programs sqlite"
            [prog_lua]="programs lua"
            [prog_gxx]="programs gxx"
        )
        S_CMD=(
            [random_mixed_ws]="random_mixed 10000000 {} 42"
            [tiny_hot_size]="tiny_hot {} 100 300000"
            [mid_mt_threads]="mid_mt {} 1500000"
            [larson_threads]="larson 2 8 1000 5000 100 4141 {}"
        )
        ;;
    smoke)
        P_RUNS=1 P_TIMEOUT=30 P_SWEEP_RUNS=1
        P_BENCHES="tiny_hot random_mixed json"
        P_ALLOCATORS="hakmem glibc"
        P_CMD=(
            [tiny_hot]="tiny_hot 64 100 2000"
            [random_mixed]="random_mixed 100000 400 42"
            [json]="scenarios json 300"
            [peak_idle]="peak_idle 16 0.2" # not run by default: smoke.sh asks for it
            # not run by default either (BENCHES="large_cycle ..." runs them)
            [large_cycle]="large large_cycle 40"
            [large_zeroed]="large large_zeroed 4 4"
            [app_churn]="large app_churn 20000"
        )
        P_SWEEPS="random_mixed_ws"
        S_CMD=([random_mixed_ws]="random_mixed 50000 {} 42")
        S_VALUES=([random_mixed_ws]="64 1024")
        ;;
    *)
        return 1 ;;
    esac
    if [ "$p" != smoke ]; then
        S_VALUES=(
            [random_mixed_ws]="16 64 256 1024 4096 16384 65536"
            [tiny_hot_size]="16 32 64 128 256 512 1024 2048"
            [mid_mt_threads]="1 2 4 8"
            [larson_threads]="1 2 4 8"
        )
    fi
    S_PARAM=(
        [random_mixed_ws]="random_mixed working set (slots of 16-1024 B)"
        [tiny_hot_size]="tiny_hot block size (bytes)"
        [mid_mt_threads]="mid_mt threads"
        [larson_threads]="larson threads"
    )
    S_LOGX=([random_mixed_ws]=1 [tiny_hot_size]=1 [mid_mt_threads]=1 [larson_threads]=1)
    # Environment overrides: CMD_<bench>="PROGRAM ARGS".
    for b in $ALL_BENCHES; do
        v="CMD_$b"
        if [ -n "${!v:-}" ]; then P_CMD[$b]=${!v}; fi
    done
    return 0
}

# The PROFILE variable (default quick) loaded, or exit 2 naming the choices.
load_profile_or_exit() {
    PROFILE=${PROFILE:-quick}
    if ! load_profile "$PROFILE"; then
        note "error: unknown PROFILE '$PROFILE' (quick, full, smoke)"; exit 2
    fi
    BENCH_TIMEOUT=${BENCH_TIMEOUT:-$P_TIMEOUT}
    ALLOCATORS=${ALLOCATORS:-${P_ALLOCATORS:-"hakmem mimalloc jemalloc tcmalloc glibc"}}
    load_bench_peers
}
