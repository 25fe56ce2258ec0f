#!/usr/bin/env bash
# bench/overhead_ir.sh — telemetry's cost in instructions, which unlike time is
# not blurred by a shared machine: every benchmark of the profile (default
# quick) under valgrind --tool=callgrind, preloading A (default
# build/libhakmem.so) and B (default build/notel/libhakmem.so, make notel);
# prints the whole process's instruction counts and A/B.  Benchmarks that run
# for a fixed time (larson) count work done, not cost.  ~12 min for quick.
#   make all notel bench-progs && bash bench/overhead_ir.sh
# A_ENV / B_ENV: NAME=VALUE words for each side's benchmark, e.g. two modes:
#   B=build/libhakmem.so A_ENV=HAKMEM_MODE=balanced B_ENV=HAKMEM_MODE=fast \
#     bash bench/overhead_ir.sh
# (a background thread's instructions count too; under valgrind the program
# runs ~50x slower while the thread's epochs keep wall-clock time, so its
# share is overstated.)
set -u
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=bench/profiles.sh
source "$BENCH_DIR/profiles.sh"
load_profile_or_exit
A=${A:-$ROOT/build/libhakmem.so}
B=${B:-$ROOT/build/notel/libhakmem.so}
command -v valgrind >/dev/null || { note "error: valgrind is not installed"; exit 1; }

instructions() { # LIB ENV CMD...
    local lib=$1 envs=(); read -r -a envs <<<"$2"; shift 2
    valgrind --tool=callgrind --trace-children=yes --callgrind-out-file=/dev/null \
        env LD_PRELOAD="$lib" ${envs[@]+"${envs[@]}"} "$BUILD_BENCH/$@" 2>&1 |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p' | tail -n 1
}

printf '%-14s %15s %15s %8s\n' benchmark A B A/B
for b in ${BENCHES:-$P_BENCHES}; do
    # shellcheck disable=SC2086
    a=$(instructions "$A" "${A_ENV:-}" ${P_CMD[$b]})
    # shellcheck disable=SC2086
    c=$(instructions "$B" "${B_ENV:-}" ${P_CMD[$b]})
    awk -v b="$b" -v a="${a:-0}" -v c="${c:-0}" \
        'BEGIN { printf "%-14s %15.0f %15.0f %8s\n", b, a, c, (c > 0 ? sprintf("%.4f", a / c) : "-") }'
done
