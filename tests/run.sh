#!/usr/bin/env bash
# tests/run.sh — run hakmem's tests (called by `make test` from the repo root
# after everything is built).
#
#   bash tests/run.sh [PATTERN...]     run only tests whose name matches one of
#                                      the shell patterns (e.g. 'mt_*' 'python')
#
# For every program tests/api/NAME.c and tests/stress/NAME.c, four runs:
#   [release-preload]  LD_PRELOAD=build/libhakmem.so build/tests/NAME
#   [release-static]   build/tests/NAME.static
#   [debug-preload]    LD_PRELOAD=build/debug/libhakmem.so build/tests/NAME
#   [debug-static]     build/debug/tests/NAME.static
# (every program gets HK_TEST_OUT=build/test-logs/NAME.VARIANT, a prefix for
# files it leaves for a check here: stats writes .json and .expect, parsed by
# tests/check_stats_json.py).  Every mode runs the stress and conformance
# tests: conformance, aligned, errors, options, mt_stress, fork, thread_exit, ace and
# ace_thread again under HAKMEM_MODE=minimal, fast, learning and research
#   [release-preload mode=MODE]  (balanced, the default, is the runs above)
# and in hardened mode, with churn and hak_api:
#   [release-preload harden=1], [debug-preload harden=zero] and
#   [hardened-build-preload] (make hardened: fast paths of its own)
# (these repeats of fork, mt_stress and thread_exit run at half
# HK_TEST_SCALE); ace and
# ace_thread run with the adaptive thread always and never too
#   [release-preload ace_thread=on|off]  (HAKMEM_ACE_THREAD; auto is the default)
# then misuse: tests/misuse.sh runs each tests/misuse/*.c (one heap misuse
# each) with the release, the debug and the hardened library, hardened and
# default; then
# fuzz: fuzz/run.sh, the libFuzzer target for HK_FUZZ_SECONDS (14) per mode;
# then sanitizers: build/tsan/tests/* [tsan] (mt_stress also [tsan harden=1])
# and build/asan/tests/* [asan] (HK_DEBUG=3: the heap validator), at
# HK_TEST_SCALE/8 (tests/sanitizers.mk);
# then config: tests/config.sh checks the HAKMEM_* variables (warnings,
# HAKMEM_VERBOSE, HAKMEM_STATS) for [release-preload] and [release-static];
# then every build/tests/unit_* and build/debug/tests/unit_* binary, then the
# real programs (python3, sqlite3, lua5.4; skipped when not installed): each
# run without hakmem, with the release, the debug and the hardened library preloaded;
# stdout must be byte-identical to the run without hakmem, exit status 0
# (preloaded runs get HK_EXPECT_HAKMEM=1; alloc_heavy.py then checks that
# hakmem is really loaded); and CPython's test_threading with the release
# library (needs libpython3.11-testsuite).
# Then bench_smoke: bench/smoke.sh runs the
# benchmark runner on a tiny profile and checks its CSV and PNG output (the
# PNG checks need gnuplot: skipped without it unless $CI is set).
# Last, the checks of the build: hardened_build, install (make install, the
# soname, pkg-config, a program linked both ways; a C++ program built with
# the CMake package and with pkg-config, tests/install/cxx.cpp: new and
# delete are hakmem's), limit_cgroup (the memory budget under a memory
# cgroup of 160 MiB; root only), valgrind_memcheck (make valgrind: memcheck
# sees hakmem's blocks), clang_build (-Werror), format (clang-format 14
# --dry-run over src/ and tests/) and
# fastpath_budget (tests/fastpath_budget.sh: instructions per malloc+free pair
# within tests/fastpath_budget.txt, under callgrind; needs valgrind).
#
# Environment: HK_TEST_TIMEOUT (seconds per run, default 180),
#              HK_TEST_SCALE (length of the stress tests, default 1),
#              HK_TEST_TAIL (log lines shown for a failure, default 30).
# Logs: build/test-logs/.  Last line of output: "N passed, N failed".

set -u
export LC_ALL=C
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD

TIMEOUT=${HK_TEST_TIMEOUT:-180}
TAIL=${HK_TEST_TAIL:-30}
LOGDIR=build/test-logs
REL_SO=$ROOT/build/libhakmem.so
DBG_SO=$ROOT/build/debug/libhakmem.so
HARD_SO=$ROOT/build/hardened/libhakmem.so
mkdir -p "$LOGDIR"

passed=0
failed=0
skipped=0
failures=()
patterns=("$@")

selected() { # name
    [ ${#patterns[@]} -eq 0 ] && return 0
    local p
    for p in "${patterns[@]}"; do
        # shellcheck disable=SC2053
        [[ $1 == $p ]] && return 0
    done
    return 1
}

now() { printf '%s' "${EPOCHREALTIME:-$(date +%s.%N)}"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fs", b - a }'; }

# Describe an exit status.
status_text() { # rc
    local rc=$1
    if [ "$rc" -eq 124 ]; then
        echo "timed out after ${TIMEOUT}s"
    elif [ "$rc" -gt 128 ] && [ "$rc" -lt 160 ]; then
        echo "killed by signal $((rc - 128)) (SIG$(kill -l $((rc - 128)) 2>/dev/null))"
    else
        echo "exit status $rc"
    fi
}

report_pass() { # name variant t0
    passed=$((passed + 1))
    echo "PASS $1 [$2] $(elapsed "$3" "$(now)")"
}

report_fail() { # name variant t0 reason log...
    local name=$1 variant=$2 t0=$3 reason=$4
    shift 4
    failed=$((failed + 1))
    failures+=("$name [$variant]")
    echo "FAIL $name [$variant] $(elapsed "$t0" "$(now)") ($reason)"
    local f
    for f in "$@"; do
        [ -s "$f" ] || continue
        echo "    --- tail of $f"
        tail -n "$TAIL" "$f" | sed 's/^/    | /'
    done
}

report_skip() { # name variant reason
    skipped=$((skipped + 1))
    echo "SKIP $1 [$2] ($3)"
}

# Run "$@" under timeout.  The extra shell reaps the test, so a test killed
# by a signal is reported by us (with its exit status) and not by bash with a
# "line N: PID Aborted ..." message.
run_timed() {
    bash -c '"$@"; exit $?' run-test timeout -k 10 "$TIMEOUT" "$@"
}

# A preload that the dynamic linker could not perform only prints a warning
# and runs the program without hakmem: treat that as a failure.
preload_failed() { # log
    grep -q "cannot be preloaded\|ld.so: object" "$1" 2>/dev/null
}

# Debian's interpreter, not a pyenv one that may come first on PATH.
PY=/usr/bin/python3

# Checks run after a program passed, on the files it left ($HK_TEST_OUT...):
# postcheck_NAME OUT LOG — returns nonzero (reason on stdout) on failure.
postcheck_stats() { # out log
    local out=$1 log=$2
    if [ ! -x "$PY" ]; then
        if [ -n "${CI:-}" ]; then
            echo "$PY not installed: JSON not checked (CI installs it: see .ci/run)"
            return 1
        fi
        echo "note: $PY not installed, $out.json not parsed" >>"$log"
        return 0
    fi
    if [ ! -s "$out.json" ] || [ ! -s "$out.expect" ]; then
        echo "no $out.json or $out.expect"
        return 1
    fi
    if ! "$PY" tests/check_stats_json.py "$out.json" --expect "$out.expect" >>"$log" 2>&1; then
        echo "hak_stats_print_json output wrong: see $log"
        return 1
    fi
}

# run_prog NAME VARIANT PRELOAD BINARY [VAR=VALUE...] — one run of a test
# program, with the variables given added to the environment.
run_prog() {
    local name=$1 variant=$2 preload=$3 bin=$4
    shift 4
    local tag=${variant// /.}
    local log="$LOGDIR/$name.$tag.log" out="$LOGDIR/$name.$tag"
    local t0
    t0=$(now)
    rm -f "$out.json" "$out.expect"
    if [ ! -x "$bin" ]; then
        report_fail "$name" "$variant" "$t0" "missing binary $bin (run make test)"
        return
    fi
    if [ -n "$preload" ] && [ ! -f "$preload" ]; then
        report_fail "$name" "$variant" "$t0" "missing library $preload"
        return
    fi
    local rc why
    if [ -n "$preload" ]; then
        run_timed env HK_TEST_OUT="$ROOT/$out" LD_PRELOAD="$preload" "$@" "$bin" \
            </dev/null >"$log" 2>&1
        rc=$?
    else
        run_timed env HK_TEST_OUT="$ROOT/$out" "$@" "$bin" </dev/null >"$log" 2>&1
        rc=$?
    fi
    if [ "$rc" -ne 0 ]; then
        report_fail "$name" "$variant" "$t0" "$(status_text "$rc")" "$log"
    elif [ -n "$preload" ] && preload_failed "$log"; then
        report_fail "$name" "$variant" "$t0" "LD_PRELOAD did not take effect" "$log"
    elif declare -F "postcheck_$name" >/dev/null && ! why=$("postcheck_$name" "$out" "$log"); then
        report_fail "$name" "$variant" "$t0" "$why" "$log"
    else
        report_pass "$name" "$variant" "$t0"
    fi
}

echo "== hakmem tests (timeout ${TIMEOUT}s per run, HK_TEST_SCALE=${HK_TEST_SCALE:-1})"

# ---- API and stress programs ----------------------------------------------
for src in tests/api/*.c tests/stress/*.c; do
    [ -e "$src" ] || continue
    name=$(basename "$src" .c)
    selected "$name" || continue
    run_prog "$name" release-preload "$REL_SO" "build/tests/$name"
    run_prog "$name" release-static "" "build/tests/$name.static"
    run_prog "$name" debug-preload "$DBG_SO" "build/tests/$name"
    run_prog "$name" debug-static "" "build/debug/tests/$name.static"
done

# ---- every mode runs the stress and conformance tests ------------------------
# (the runs above are mode balanced, the default)
MODE_TESTS="conformance aligned errors options mt_stress fork thread_exit ace ace_thread"
# The repeats of the longest (fork, mt_stress, thread_exit: ~7-11 s, ~6-37 s
# and 6 s a run) run at half length: the four runs above have their full
# length.  Minimal
# mode's mt_stress at a quarter: it gives every emptied slab's pages back at
# once and faults them in again (~12 us a fault here), 25 s at half length.
HALF_SCALE=$(awk -v s="${HK_TEST_SCALE:-1}" 'BEGIN { print s / 2 }')
QUARTER_SCALE=$(awk -v s="${HK_TEST_SCALE:-1}" 'BEGIN { print s / 4 }')
half() { # name mode -> the variable to add for a repeat
    case $1/${2:-} in
    mt_stress/minimal) echo "HK_TEST_SCALE=$QUARTER_SCALE" ;;
    fork/* | mt_stress/* | thread_exit/*) echo "HK_TEST_SCALE=$HALF_SCALE" ;;
    *) echo "HK_TEST_SCALE=${HK_TEST_SCALE:-1}" ;;
    esac
}
for mode in minimal fast learning research; do
    for name in $MODE_TESTS; do
        selected "$name" || continue
        run_prog "$name" "release-preload mode=$mode" "$REL_SO" "build/tests/$name" \
            HAKMEM_MODE="$mode" "$(half "$name" "$mode")"
    done
done

# ---- the memory budget from the environment (tests/api/limit.c checks it) --
if selected limit; then
    run_prog limit "release-preload limit=256" "$REL_SO" build/tests/limit HAKMEM_LIMIT_MB=256
fi

# ---- where the adaptive layer runs (HAKMEM_ACE_THREAD; auto, the default, is
# the runs above): in a thread even in a single-threaded program, or never ----
for knob in on off; do
    for name in ace ace_thread; do
        selected "$name" || continue
        run_prog "$name" "release-preload ace_thread=$knob" "$REL_SO" "build/tests/$name" \
            HAKMEM_ACE_THREAD="$knob"
    done
done

# ---- hardened mode (HAKMEM_HARDEN): the same tests, every malloc and free
# checked; the debug library zeroes freed blocks too --------------------------
HARDEN_TESTS="$MODE_TESTS churn hak_api"
for name in $HARDEN_TESTS; do
    selected "$name" || continue
    run_prog "$name" "release-preload harden=1" "$REL_SO" "build/tests/$name" HAKMEM_HARDEN=1 \
        "$(half "$name")"
    run_prog "$name" "debug-preload harden=zero" "$DBG_SO" "build/tests/$name" HAKMEM_HARDEN=zero \
        "$(half "$name")"
    run_prog "$name" "hardened-build-preload" "$HARD_SO" "build/tests/$name" "$(half "$name")"
done

# ---- misuse: tests/misuse.sh runs each tests/misuse/*.c (one misuse each):
# hardened, SIGABRT and the exact message; default mode, no SIGSEGV -----------
if selected misuse; then
    for lib in "$REL_SO" "$DBG_SO" "$HARD_SO"; do
        case $lib in "$DBG_SO") variant=debug ;; "$HARD_SO") variant=hardened ;; *) variant=release ;; esac
        t0=$(now)
        log="$LOGDIR/misuse.$variant.log"
        if run_timed bash tests/misuse.sh "$lib" build/tests/misuse </dev/null >"$log" 2>&1; then
            report_pass misuse "$variant" "$t0"
        else
            report_fail misuse "$variant" "$t0" "$(status_text $?)" "$log"
        fi
    done
fi

# ---- fuzz: fuzz/run.sh runs the libFuzzer target (fuzz/fuzz_alloc.c, the debug
# build's hak_* API, contents checked against a shadow) ~20 s per mode ---------
if selected fuzz; then
    t0=$(now)
    log="$LOGDIR/fuzz.log"
    if run_timed env FUZZ_SECONDS="${HK_FUZZ_SECONDS:-14}" bash fuzz/run.sh </dev/null >"$log" 2>&1; then
        report_pass fuzz "default+harden" "$t0"
    else
        report_fail fuzz "default+harden" "$t0" "$(status_text $?)" "$log"
    fi
fi

# ---- sanitizers (tests/sanitizers.mk): hakmem and the test instrumented as
# one program, hakmem's malloc family renamed hks_* (the sanitizer owns
# malloc).  TSan over the multi-thread tests, in the default mode and
# mt_stress hardened too; its suppressions, each with its reason, in
# tests/tsan.supp.  ASan over the other programs (the stress tests
# included), built at HK_DEBUG=3: the heap validator (src/validate.c) walks
# the heap on every slow path, and unit_validate checks that it catches
# each corruption it is there for.  At an eighth of
# HK_TEST_SCALE: the sanitizers run them 5-15x slower.  Any report fails the
# run (halt_on_error; TSan exits 66). -----------------------------------------
SAN_SCALE=$(awk -v s="${HK_TEST_SCALE:-1}" 'BEGIN { print s / 8 }')
TSAN_ENV="TSAN_OPTIONS=halt_on_error=1 history_size=4 suppressions=$ROOT/tests/tsan.supp"
ASAN_ENV="ASAN_OPTIONS=halt_on_error=1 detect_leaks=1 abort_on_error=0"
for bin in build/tsan/tests/*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    selected "$name" || continue
    run_prog "$name" tsan "" "$bin" "$TSAN_ENV" "HK_TEST_SCALE=$SAN_SCALE"
    [ "$name" = mt_stress ] &&
        run_prog "$name" "tsan harden=1" "" "$bin" "$TSAN_ENV" "HK_TEST_SCALE=$SAN_SCALE" HAKMEM_HARDEN=1
done
for bin in build/asan/tests/*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    selected "$name" || continue
    run_prog "$name" asan "" "$bin" "$ASAN_ENV" "HK_TEST_SCALE=$SAN_SCALE"
done

# ---- configuration: tests/config.sh (HAKMEM_* warnings, verbose, stats) --------
if selected config; then
    for variant in release-preload release-static; do
        t0=$(now)
        log="$LOGDIR/config.$variant.log"
        run_timed bash tests/config.sh "$variant" </dev/null >"$log" 2>&1
        rc=$?
        if [ "$rc" -eq 0 ]; then
            report_pass config "$variant" "$t0"
        else
            report_fail config "$variant" "$t0" "$(status_text "$rc")" "$log"
        fi
    done
fi

# ---- unit tests (tests/unit/*.c, linked with the library) -------------------
for bin in build/tests/unit_* build/debug/tests/unit_*; do
    if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then
        continue
    fi
    name=$(basename "$bin")
    selected "$name" || continue
    case "$bin" in
    build/debug/*) variant=debug ;;
    *) variant=release ;;
    esac
    run_prog "$name" "$variant" "" "$bin"
done

# ---- real programs under LD_PRELOAD -----------------------------------------
# run_real NAME STDIN CMD... — run CMD without hakmem, then with each library;
# stdout must match the run without hakmem.
run_real() {
    local name=$1 input=$2
    shift 2
    selected "$name" || return 0
    local base="$LOGDIR/prog.$name"
    local variant preload t0 rc
    for variant in baseline release-preload debug-preload hardened-preload; do
        case $variant in
        baseline) preload= ;;
        release-preload) preload=$REL_SO ;;
        debug-preload) preload=$DBG_SO ;;
        hardened-preload) preload=$HARD_SO ;;
        esac
        local out="$base.$variant.out" err="$base.$variant.err"
        t0=$(now)
        if [ -n "$preload" ] && [ ! -f "$preload" ]; then
            report_fail "$name" "$variant" "$t0" "missing library $preload"
            continue
        fi
        if [ -n "$preload" ]; then
            run_timed env LD_PRELOAD="$preload" HK_EXPECT_HAKMEM=1 "$@" \
                <"$input" >"$out" 2>"$err"
            rc=$?
        else
            run_timed "$@" <"$input" >"$out" 2>"$err"
            rc=$?
        fi
        if [ "$rc" -ne 0 ]; then
            report_fail "$name" "$variant" "$t0" "$(status_text "$rc")" "$err" "$out"
        elif [ -n "$preload" ] && preload_failed "$err"; then
            report_fail "$name" "$variant" "$t0" "LD_PRELOAD did not take effect" "$err"
        elif [ "$variant" = baseline ] && [ ! -s "$out" ]; then
            report_fail "$name" "$variant" "$t0" "no output" "$err"
        elif [ "$variant" != baseline ] && ! cmp -s "$base.baseline.out" "$out"; then
            report_fail "$name" "$variant" "$t0" \
                "stdout differs from the run without hakmem ($base.baseline.out vs $out)" "$err"
            diff "$base.baseline.out" "$out" | head -n 20 | sed 's/^/    diff| /'
        else
            report_pass "$name" "$variant" "$t0"
        fi
    done
}

# A missing program is skipped on a developer's machine, but fails under CI,
# whose .ci/run installs every one of them.
missing() { # name reason
    selected "$1" || return 0
    if [ -n "${CI:-}" ]; then
        report_fail "$1" all "$(now)" "$2 (CI installs it: see .ci/run)"
    else
        report_skip "$1" all "$2"
    fi
}

if [ -x "$PY" ]; then
    run_real python /dev/null env -u PYTHONHOME -u PYTHONPATH PYTHONMALLOC=malloc \
        PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1 "$PY" tests/programs/alloc_heavy.py
else
    missing python "$PY not installed"
fi

# CPython's own threading tests (pthread_exit from main, fork from a worker
# thread, threads left running at exit): they pass and the process ends
# (issue 22: the adaptive thread once kept such processes alive).  The
# output holds timings: the summary line is checked, not compared.
if selected python_threading; then
    if [ -x "$PY" ] && "$PY" -c 'import test.test_threading' 2>/dev/null; then
        t0=$(now)
        log="$LOGDIR/python_threading.log"
        run_timed env -u PYTHONHOME -u PYTHONPATH PYTHONMALLOC=malloc LD_PRELOAD="$REL_SO" \
            "$PY" -m test test_threading </dev/null >"$log" 2>&1
        rc=$?
        if [ "$rc" -ne 0 ] || ! grep -q "Tests result: SUCCESS" "$log"; then
            report_fail python_threading release-preload "$t0" "$(status_text "$rc")" "$log"
        else
            report_pass python_threading release-preload "$t0"
        fi
    else
        missing python_threading "CPython's test package (libpython3.11-testsuite) not installed"
    fi
fi

SQLITE=$(command -v sqlite3 || true)
if [ -n "$SQLITE" ]; then
    run_real sqlite tests/programs/sqlite.sql "$SQLITE" -batch -init /dev/null :memory:
else
    missing sqlite "sqlite3 not installed"
fi

LUA=$(command -v lua5.4 || true)
if [ -n "$LUA" ]; then
    run_real lua /dev/null "$LUA" tests/programs/alloc.lua
else
    missing lua "lua5.4 not installed"
fi

# ---- benchmark runner smoke test: bench/smoke.sh (make bench on a tiny profile;
# checks its CSV and PNG output, asserts no timing) ------------------------------
if selected bench_smoke; then
    t0=$(now)
    log="$LOGDIR/bench_smoke.log"
    if run_timed bash bench/smoke.sh </dev/null >"$log" 2>&1; then
        report_pass bench_smoke runner "$t0"
    else
        report_fail bench_smoke runner "$t0" "$(status_text $?)" "$log"
    fi
fi

# ---- build checks: install + pkg-config, and a warning-free clang build ----------
check_cmd() { # name variant cmd...
    local name=$1 variant=$2 t0 log="$LOGDIR/$1.$2.log"
    shift 2
    selected "$name" || return 0
    t0=$(now)
    if ( "$@" ) >"$log" 2>&1; then
        report_pass "$name" "$variant" "$t0"
    else
        report_fail "$name" "$variant" "$t0" "exit status $?" "$log"
    fi
}

install_check() {
    local prefix=$ROOT/build/test-install
    rm -rf "$prefix"
    make -s install PREFIX="$prefix" || return 1
    local version
    version=$(make -s -C "$ROOT" print-version) || return 1
    for f in lib/libhakmem.so "lib/libhakmem.so.$version" lib/libhakmem.so.0 lib/libhakmem.a include/hakmem.h \
        lib/pkgconfig/hakmem.pc; do
        [ -f "$prefix/$f" ] || { echo "missing $prefix/$f"; return 1; }
    done
    [ -L "$prefix/lib/libhakmem.so" ] && [ -L "$prefix/lib/libhakmem.so.0" ] ||
        { echo "libhakmem.so and libhakmem.so.0 should be links to libhakmem.so.$version"; return 1; }
    [ "$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --modversion hakmem)" = "$version" ] ||
        { echo "hakmem.pc's version is not $version"; return 1; }
    local flags
    flags=$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs hakmem) || return 1
    echo "pkg-config: $flags"
    # shellcheck disable=SC2086
    cc -o "$prefix/linked" tests/install/linked.c $flags -Wl,-rpath,"$prefix/lib" || return 1
    cc -o "$prefix/linked.static" tests/install/linked.c -I"$prefix/include" \
        "$prefix/lib/libhakmem.a" -pthread || return 1
    # a program linked with -lhakmem needs the soname, not the development link
    readelf -d "$prefix/linked" | grep -q 'NEEDED.*\[libhakmem\.so\.0\]' ||
        { echo "linked does not need libhakmem.so.0"; readelf -d "$prefix/linked" | grep NEEDED; return 1; }
    "$prefix/linked" && "$prefix/linked.static" || return 1
    # C++: new and delete, every form, from the library (tests/install/cxx.cpp),
    # built through the CMake package (both targets) and through pkg-config
    [ -f "$prefix/lib/cmake/hakmem/hakmem-config.cmake" ] || { echo "no CMake package"; return 1; }
    cmake -S tests/install -B "$prefix/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null || return 1
    cmake --build "$prefix/cmake-build" || return 1
    # shellcheck disable=SC2086
    c++ -std=c++17 -o "$prefix/cxx_pkgconfig" tests/install/cxx.cpp $flags -ldl \
        -Wl,-rpath,"$prefix/lib" || return 1
    "$prefix/cmake-build/cxx_shared" && "$prefix/cmake-build/cxx_static" &&
        "$prefix/cxx_pkgconfig"
}

clang_check() {
    local out=$ROOT/build/test-clang
    rm -rf "$out" && mkdir -p "$out" || return 1
    local f
    for f in src/*.c; do
        clang -std=c11 -D_GNU_SOURCE -fPIC -pthread -fvisibility=hidden -ftls-model=initial-exec \
            -Iinclude -Isrc -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Werror -O2 -c "$f" -o "$out/$(basename "$f" .c).o" || return 1
    done
}

# The memory budget under a real memory cgroup of 160 MiB (root; the v1
# memory controller or a v2 one that takes a child): tests/api/limit.c
# --cgroup keeps every free byte and touches 400 MiB in turns; the kernel
# kills it unless hakmem's soft limit (90 % of the cgroup's) gives memory
# back.  Returns 2 (skipped) when no such cgroup can be made here.
cgroup_check() {
    local rel parent dir limit_file
    if rel=$(grep -m1 '^[0-9]*:memory:' /proc/self/cgroup | cut -d: -f3) &&
        [ -n "$rel" ] && [ -d "/sys/fs/cgroup/memory$rel" ]; then
        parent=/sys/fs/cgroup/memory${rel%/}
        limit_file=memory.limit_in_bytes
    elif rel=$(grep -m1 '^0::' /proc/self/cgroup | cut -d: -f3) &&
        grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
        parent=/sys/fs/cgroup${rel%/}
        limit_file=memory.max
        grep -qw memory "$parent/cgroup.subtree_control" 2>/dev/null ||
            echo +memory >"$parent/cgroup.subtree_control" 2>/dev/null || return 2
    else
        return 2
    fi
    dir=$parent/hakmem-limit-$$
    mkdir "$dir" 2>/dev/null || return 2
    if ! echo $((160 << 20)) >"$dir/$limit_file" 2>/dev/null; then
        rmdir "$dir"
        return 2
    fi
    echo "cgroup $dir, $limit_file = $(cat "$dir/$limit_file")"
    # shellcheck disable=SC2016  # expanded by sh
    run_timed sh -c 'echo $$ >"$1/cgroup.procs" && exec env LD_PRELOAD="$3" "$2" --cgroup' \
        sh "$dir" "$ROOT/build/tests/limit" "$REL_SO"
    local rc=$?
    rmdir "$dir" 2>/dev/null
    return $rc
}
if selected limit_cgroup; then
    t0=$(now)
    log="$LOGDIR/limit_cgroup.log"
    if [ "$(id -u)" != 0 ]; then
        report_skip limit_cgroup release-preload "not root: no memory cgroup can be made"
    else
        cgroup_check >"$log" 2>&1
        rc=$?
        case $rc in
        0) report_pass limit_cgroup release-preload "$t0" ;;
        2) report_skip limit_cgroup release-preload "no writable memory cgroup here (see $log)" ;;
        *) report_fail limit_cgroup release-preload "$t0" "$(status_text "$rc")" "$log" ;;
        esac
    fi
fi

# make valgrind: memcheck on a program preloading the valgrind build reports
# what it reports with glibc (tests/valgrind/memcheck.c): nothing for a clean
# program; a read after free, a read past the block and a 1000-byte leak.
memcheck_check() {
    local vg=(valgrind --leak-check=full --error-exitcode=9) out
    out=$(LD_PRELOAD=$ROOT/build/valgrind/libhakmem.so "${vg[@]}" build/tests/memcheck clean 2>&1) ||
        { echo "$out"; echo "clean: memcheck reported errors"; return 1; }
    echo "$out" | grep -q "ERROR SUMMARY: 0 errors" || { echo "$out"; return 1; }
    out=$(LD_PRELOAD=$ROOT/build/valgrind/libhakmem.so "${vg[@]}" build/tests/memcheck bugs 2>&1)
    echo "$out"
    echo "$out" | grep -q "16 bytes inside a block of size 64 free'd" || { echo "no read after free"; return 1; }
    echo "$out" | grep -q "0 bytes after a block of size 40 alloc'd" || { echo "no read past the block"; return 1; }
    echo "$out" | grep -q "definitely lost: 1,000 bytes in 1 blocks" || { echo "no leak"; return 1; }
}

# The sources as .clang-format has them (clang-format 14, Debian bookworm's,
# the version they were formatted with: another may lay them out otherwise).
format_check() {
    clang-format --dry-run -Werror src/*.c src/*.h tests/*.h tests/*/*.c tests/*/*.h
}

# make hardened: without HAKMEM_HARDEN a double free aborts with its message
hardened_build_check() {
    local lib=$HARD_SO out
    env -u HAKMEM_HARDEN LD_PRELOAD="$lib" HAKMEM_VERBOSE=1 true 2>&1 |
        grep -F 'config HAKMEM_HARDEN=1 (build default)' || return 1
    out=$(env -u HAKMEM_HARDEN LD_PRELOAD="$lib" build/tests/misuse/double_free_tiny 2>&1)
    echo "$out"
    case $out in *"hakmem: double free (pointer"*) return 0 ;; esac
    return 1
}
check_cmd hardened_build default hardened_build_check

if ! command -v pkg-config >/dev/null 2>&1; then
    missing install "pkg-config not installed"
elif ! command -v cmake >/dev/null 2>&1 || ! command -v c++ >/dev/null 2>&1; then
    missing install "cmake or a C++ compiler (g++) not installed"
else
    check_cmd install pkg-config+cmake install_check
fi
if command -v clang >/dev/null 2>&1; then
    check_cmd clang_build warnings clang_check
else
    missing clang_build "clang not installed"
fi
if command -v valgrind >/dev/null 2>&1; then
    check_cmd valgrind_memcheck valgrind-build memcheck_check
else
    missing valgrind_memcheck "valgrind not installed"
fi
if clang-format --version 2>/dev/null | grep -q 'version 14\.'; then
    check_cmd format clang-format-14 format_check
else
    missing format "clang-format 14 not installed"
fi
# instructions per malloc+free pair within tests/fastpath_budget.txt (callgrind)
if command -v valgrind >/dev/null 2>&1; then
    check_cmd fastpath_budget callgrind bash tests/fastpath_budget.sh
else
    missing fastpath_budget "valgrind not installed"
fi

# ---- summary -------------------------------------------------------------------
if [ "$failed" -gt 0 ]; then
    echo "failed runs:"
    for f in "${failures[@]}"; do
        echo "  $f"
    done
fi
[ "$skipped" -gt 0 ] && echo "($skipped skipped)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
