# shellcheck shell=bash disable=SC2034
# bench/lib.sh — shared helpers for bench/run.sh, sweep.sh, fastpath.sh and smoke.sh.
# Sourced, not executed.  Needs bash.
#
# Allocators are named hakmem, mimalloc, jemalloc, tcmalloc and glibc, plus
# the hakmem variants:
#   hakmem-notel   build/notel/libhakmem.so, telemetry compiled out (built
#                  with `make notel` when missing or older than the sources)
#   hakmem-hardened  build/hardened/libhakmem.so, hardened mode by default
#                  (`make hardened`, likewise)
#   hakmem@MODE, hakmem-notel@MODE, hakmem-hardened@MODE   the library with HAKMEM_MODE=MODE in the
#                  benchmark's environment alone (MODE: minimal fast
#                  balanced learning research)
#   hakmem@MODE:STRATEGY   also HAKMEM_STRATEGY=STRATEGY (e.g. learning:warm
#                  runs learning mode's "warm" candidate statically)
# alloc_lib NAME sets ALLOC_LIB, the absolute path to preload for NAME (""
# for glibc, which means: no preload), and ALLOC_ENV, NAME=VALUE words for
# the benchmark's environment, or fails when it cannot be found.  Overrides:
#   BENCH_HAKMEM_LIB=/path/libhakmem.so   (default: $ROOT/build/libhakmem.so)
#   BENCH_HAKMEM_NOTEL_LIB=...            (default: $ROOT/build/notel/libhakmem.so)
#   BENCH_HAKMEM_HARDENED_LIB=...         (default: $ROOT/build/hardened/libhakmem.so)
#   MIMALLOC_LIB=... JEMALLOC_LIB=... TCMALLOC_LIB=...
# The hakmem overrides are not named HAKMEM_*: those names are the library's
# own (it warns about one that looks like a misspelling of its options), and
# the runner's environment reaches the benchmarks.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
BUILD_BENCH="$ROOT/build/bench"
RESULTS_DIR=${BENCH_RESULTS_DIR:-$BENCH_DIR/results}   # override with BENCH_RESULTS_DIR
CC=${CC:-cc}
case ":$PATH:" in *:/sbin:*) ;; *) PATH="$PATH:/usr/sbin:/sbin" ;; esac

note() { printf '%s\n' "$*" >&2; }

# The modes hakmem@MODE accepts (the library's HAKMEM_MODE values), and the
# strategies of hakmem@MODE:STRATEGY (HAKMEM_STRATEGY: learning's selector,
# or one candidate run as is).
BENCH_MODES="minimal fast balanced learning research"
BENCH_STRATEGIES="elo ucb1 lean balanced warm hoard"

# The old name of BENCH_HAKMEM_LIB: honoured once more with a note, and taken
# out of the environment so that the library does not warn about it in every
# run.
if [ -n "${HAKMEM_LIB:-}" ]; then
    if [ -z "${BENCH_HAKMEM_LIB:-}" ]; then
        note "note: HAKMEM_LIB is now BENCH_HAKMEM_LIB; using HAKMEM_LIB=$HAKMEM_LIB"
        export BENCH_HAKMEM_LIB=$HAKMEM_LIB
    else
        note "note: HAKMEM_LIB ignored (renamed BENCH_HAKMEM_LIB, which is set)"
    fi
fi
unset HAKMEM_LIB

# Sonames to look for, best first.
peer_sonames() {
    case "$1" in
    mimalloc) echo "libmimalloc.so.2 libmimalloc.so" ;;
    jemalloc) echo "libjemalloc.so.2 libjemalloc.so" ;;
    tcmalloc) echo "libtcmalloc_minimal.so.4 libtcmalloc_minimal.so libtcmalloc.so.4 libtcmalloc.so" ;;
    esac
}

# Directories where a library for this machine's ABI may live.
lib_dirs() {
    local ma=""
    if command -v dpkg-architecture >/dev/null 2>&1; then
        ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null)
    fi
    if [ -z "$ma" ] && command -v "$CC" >/dev/null 2>&1; then
        ma=$($CC -print-multiarch 2>/dev/null)
    fi
    [ -z "$ma" ] && ma="$(uname -m)-linux-gnu"
    echo "/usr/lib/$ma /lib/$ma /usr/local/lib/$ma /usr/lib64 /lib64 /usr/local/lib /usr/lib /lib"
}

# ldconfig's tag for this machine's ABI, e.g. "x86-64" or "AArch64".
ldconfig_tag() {
    ldconfig -p 2>/dev/null | awk '$1 == "libc.so.6" { print }' |
        sed -n 's/.*(\([^)]*\)).*/\1/p' | head -n 1
}

# Does LD_PRELOAD=$1 load cleanly (right ELF class, no missing deps)?
# On failure PRELOAD_WHY says why.
preloadable() {
    local out rc
    out=$(env LD_PRELOAD="$1" /bin/true 2>&1)
    rc=$?
    PRELOAD_WHY=""
    case "$out" in
    *"cannot be preloaded"*|*"ERROR: ld.so"*)
        PRELOAD_WHY=$(printf '%s' "$out" | head -n 2 | tr '\n' ' '); return 1 ;;
    esac
    if [ $rc -ne 0 ]; then
        PRELOAD_WHY="/bin/true exited with status $rc under it"
        [ $rc -gt 128 ] && PRELOAD_WHY="$PRELOAD_WHY (signal $((rc - 128)))"
        return 1
    fi
    return 0
}

find_peer() {
    local name=$1 so d p tag line
    for so in $(peer_sonames "$name"); do
        for d in $(lib_dirs); do
            p="$d/$so"
            if [ -e "$p" ] && preloadable "$p"; then
                echo "$p"; return 0
            fi
        done
    done
    # ldconfig cache (only entries for our ABI).
    if command -v ldconfig >/dev/null 2>&1; then
        tag=$(ldconfig_tag)
        for so in $(peer_sonames "$name"); do
            while IFS= read -r line; do
                case "$line" in *"$tag"*) ;; *) continue ;; esac
                p=${line##*=> }
                if [ -e "$p" ] && preloadable "$p"; then
                    echo "$p"; return 0
                fi
            done < <(ldconfig -p 2>/dev/null | awk -v so="$so" '$1 == so')
        done
    fi
    return 1
}

# Is NAME one of hakmem's variants (hakmem, hakmem-notel, hakmem-hardened,
# with or without @MODE)?  They share the hakmem-only columns, and a missing
# one is a failure, not a skipped peer.
is_hakmem() {
    case "$1" in hakmem|hakmem@*|hakmem-notel|hakmem-notel@*|hakmem-hardened|hakmem-hardened@*) return 0 ;; esac
    return 1
}

# Bring build/VARIANT/libhakmem.so (notel, hardened) up to date with `make
# VARIANT`, as the runner builds its programs: missing, or older than the
# sources (a stale library would compare old code with new).  Once per
# runner and variant; on failure VARIANT_WHY says why.
declare -A VARIANT_WHY
ensure_variant() {
    local v=$1 so="$ROOT/build/$1/libhakmem.so" log
    if [ -z "${VARIANT_WHY[$v]+set}" ]; then
        VARIANT_WHY[$v]=""
        if ! command -v make >/dev/null 2>&1; then
            [ -e "$so" ] || VARIANT_WHY[$v]="$so not built, and no make to build it"
        elif ! make -C "$ROOT" -q "build/$v/libhakmem.so" >/dev/null 2>&1; then
            note "note: building $so (make $v)"
            log=$(mktemp "${TMPDIR:-/tmp}/hakmem-$v.XXXXXX")
            if ! make -C "$ROOT" "$v" >"$log" 2>&1; then
                VARIANT_WHY[$v]="make $v failed: $(grep -m1 -E 'error|undefined reference' "$log" || tail -n 1 "$log")"
            fi
            rm -f "$log"
        fi
    fi
    [ -z "${VARIANT_WHY[$v]}" ]
}

# BENCH_PEERS="NAME=/path/lib.so ...": peers beyond the Debian packages (say,
# mimalloc 3.4.3 from ../shared/peers/build.sh), appended to ALLOCATORS and
# shown under NAME like the Debian ones.  A library that is not there is
# skipped with a note, as a missing Debian peer is; a malformed entry or a
# name the runner already uses exits 2.
declare -A PEER_PATH
load_bench_peers() {
    local e n p
    for e in ${BENCH_PEERS:-}; do
        n=${e%%=*} p=${e#*=}
        case "$e" in *=?*) ;; *) note "error: BENCH_PEERS entry '$e' is not NAME=/path/lib.so"; exit 2 ;; esac
        case "$n" in
        ""|*[!A-Za-z0-9._-]*) note "error: BENCH_PEERS name '$n': letters, digits, '.', '_', '-' only"; exit 2 ;;
        glibc|system|libc|mimalloc|jemalloc|tcmalloc|hakmem*)
            note "error: BENCH_PEERS name '$n' is the runner's own; choose another (e.g. ${n}3)"; exit 2 ;;
        esac
        PEER_PATH[$n]=$p
        case " $ALLOCATORS " in *" $n "*) ;; *) ALLOCATORS="$ALLOCATORS $n" ;; esac
    done
}

# The label of allocator NAME in tables and charts: the name itself, or for a
# path the library's name (/usr/lib/libfoo.so.2 -> foo).
alloc_label() {
    local l=${1##*/}
    l=${l%%.so*}; l=${l#lib}
    case "$1" in */*) echo "$l" ;; *) echo "$1" ;; esac
}

# Note once when build/libhakmem.so is older than the sources: a comparison
# with a freshly built variant (hakmem-notel) would compare old code with new.
note_stale_release() {
    [ -z "${STALE_NOTED:-}" ] || return 0
    STALE_NOTED=1
    command -v make >/dev/null 2>&1 || return 0
    make -C "$ROOT" -q build/libhakmem.so >/dev/null 2>&1 ||
        note "note: $ROOT/build/libhakmem.so is older than the sources (run make)"
}

# Sets ALLOC_LIB (path, or "" for glibc) and ALLOC_ENV (NAME=VALUE words for
# the benchmark alone, usually ""), and on failure ALLOC_WHY (reason) and
# ALLOC_KIND: "missing" (not built / not installed) or "broken".
alloc_lib() {
    local name=$1 var p base mode strategy variant
    ALLOC_LIB="" ALLOC_ENV="" ALLOC_WHY="" ALLOC_KIND=""
    case "$name" in
    glibc|system|libc) return 0 ;;
    hakmem|hakmem@*|hakmem-notel|hakmem-notel@*|hakmem-hardened|hakmem-hardened@*)
        base=${name%%@*}
        if [ "$base" != "$name" ]; then
            mode=${name#*@}
            strategy=""
            case "$mode" in *:*) strategy=${mode#*:} mode=${mode%%:*} ;; esac
            case " $BENCH_MODES " in
            *" $mode "*) ;;
            *) ALLOC_WHY="unknown mode '$mode' (modes: $BENCH_MODES)"; ALLOC_KIND=broken; return 1 ;;
            esac
            ALLOC_ENV="HAKMEM_MODE=$mode"
            if [ -n "$strategy" ]; then
                case " $BENCH_STRATEGIES " in
                *" $strategy "*) ;;
                *) ALLOC_WHY="unknown strategy '$strategy' (strategies: $BENCH_STRATEGIES)"
                   ALLOC_KIND=broken; return 1 ;;
                esac
                ALLOC_ENV="$ALLOC_ENV HAKMEM_STRATEGY=$strategy"
            fi
        fi
        variant=${base#hakmem-}
        var=BENCH_HAKMEM_$(echo "$variant" | tr '[:lower:]' '[:upper:]')_LIB
        if [ "$base" = hakmem ]; then
            p=${BENCH_HAKMEM_LIB:-$ROOT/build/libhakmem.so}
            [ -n "${BENCH_HAKMEM_LIB:-}" ] || note_stale_release
        elif [ -n "${!var:-}" ]; then
            p=${!var}
        else
            p=$ROOT/build/$variant/libhakmem.so
            if ! ensure_variant "$variant"; then
                ALLOC_WHY=${VARIANT_WHY[$variant]}; ALLOC_KIND=missing; return 1
            fi
        fi
        if [ ! -e "$p" ]; then ALLOC_WHY="$p not built"; ALLOC_KIND=missing; return 1; fi
        p=$(readlink -f "$p")
        if ! preloadable "$p"; then
            ALLOC_WHY="$p cannot be preloaded: $PRELOAD_WHY"; ALLOC_KIND=broken
            return 1
        fi
        ALLOC_LIB=$p; return 0 ;;
    mimalloc|jemalloc|tcmalloc)
        var="$(echo "$name" | tr '[:lower:]' '[:upper:]')_LIB"
        p=${!var:-}
        if [ -n "$p" ]; then
            p=$(readlink -f "$p")
            if [ -e "$p" ] && preloadable "$p"; then ALLOC_LIB=$p; return 0; fi
            ALLOC_WHY="$var=$p is not preloadable"; ALLOC_KIND=broken; return 1
        fi
        if p=$(find_peer "$name"); then ALLOC_LIB=$p; return 0; fi
        ALLOC_WHY="not installed"; ALLOC_KIND=missing; return 1 ;;
    *)  if [ -n "${PEER_PATH[$name]+set}" ]; then   # BENCH_PEERS
            p=${PEER_PATH[$name]}
            if [ ! -e "$p" ]; then ALLOC_WHY="BENCH_PEERS: $p not found"; ALLOC_KIND=missing; return 1; fi
            p=$(readlink -f "$p")
            if preloadable "$p"; then ALLOC_LIB=$p; return 0; fi
            ALLOC_WHY="BENCH_PEERS: $p cannot be preloaded: $PRELOAD_WHY"; ALLOC_KIND=broken; return 1
        fi
        # anything else: treat as a path to a shared object
        if [ -e "$name" ] && preloadable "$name"; then ALLOC_LIB=$(readlink -f "$name"); return 0; fi
        ALLOC_WHY="unknown allocator or unloadable library"; ALLOC_KIND=broken; return 1 ;;
    esac
}

# Quietly apt-get install the Debian packages $@ (when root with apt-get and
# BENCH_NO_INSTALL is not 1).  If the first try fails (e.g. no package lists
# yet on a fresh machine), run apt-get update once and try again, then each
# package alone.  Never fails.
apt_install() {
    [ $# -gt 0 ] || return 0
    if [ "${BENCH_NO_INSTALL:-0}" = 1 ] || [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        note "note: not installing $* (needs root and apt-get, and BENCH_NO_INSTALL unset)"
        return 0
    fi
    note "note: installing $* with apt-get (BENCH_NO_INSTALL=1 skips this)"
    local pkg
    apt_get() { env DEBIAN_FRONTEND=noninteractive timeout 300 apt-get -y -qq "$@" >/dev/null 2>&1; }
    apt_get install "$@" && return 0
    apt_get update
    apt_get install "$@" && return 0
    for pkg in "$@"; do
        apt_get install "$pkg" || note "note: apt-get install $pkg failed; going on without it"
    done
    return 0
}

# If a peer named in ALLOCATORS (default: all three) is missing (or gnuplot,
# when WANT_GNUPLOT=1, or a real program of BENCHES) and we may, install the
# Debian packages: libmimalloc2.0 libjemalloc2 libtcmalloc-minimal4
# gnuplot-nox, and redis-server redis-tools python3 sqlite3 lua5.4 g++.
# Never fails; what is still missing is skipped later.
maybe_install_peers() {
    local missing="" pkgs="" n
    for n in mimalloc jemalloc tcmalloc; do
        # a run of hakmem's variants alone (bench/overhead.sh) needs no peer
        case " ${ALLOCATORS:-$n} " in *" $n "*) ;; *) continue ;; esac
        if ! find_peer "$n" >/dev/null; then
            missing="$missing $n"
            case $n in
            mimalloc) pkgs="$pkgs libmimalloc2.0" ;;
            jemalloc) pkgs="$pkgs libjemalloc2" ;;
            tcmalloc) pkgs="$pkgs libtcmalloc-minimal4" ;;
            esac
        fi
    done
    if [ "${WANT_GNUPLOT:-0}" = 1 ] && ! command -v gnuplot >/dev/null 2>&1; then
        pkgs="$pkgs gnuplot-nox"
    fi
    local b why   # the real programs of the run (bench/programs.sh names their packages)
    for b in ${BENCHES:-}; do
        case "${P_CMD[$b]:-}" in
        "programs "*) why=$(bash "$BENCH_DIR/programs.sh" available "${P_CMD[$b]#programs }") || pkgs="$pkgs $why" ;;
        esac
    done
    [ -z "$pkgs" ] && return 0
    [ -n "$missing" ] && note "note: missing peer(s):$missing"
    # shellcheck disable=SC2086
    apt_install $pkgs
    return 0
}

# One line explaining how a run ended, from its stderr file $1 and status $2.
fail_reason() {
    local err=$1 rc=$2 line
    case $rc in
    124) echo "timed out"; return ;;
    1[3-9][0-9]|2[0-5][0-9]) line="killed by signal $((rc - 128))" ;;
    *) line="exit status $rc" ;;
    esac
    local msg
    msg=$(grep -m1 -E 'Process terminating|CORRUPTION|returned NULL|Assertion|assert|error|fatal' "$err" 2>/dev/null |
          sed 's/^==[0-9]*== *//')
    [ -z "$msg" ] && msg=$(grep -v '^malloc_from=' "$err" 2>/dev/null | tail -n 1 | sed 's/^==[0-9]*== *//')
    [ -n "$msg" ] && line="$line: $msg"
    echo "$line"
}

# Does FROM (a malloc_from= value) name the object we preloaded, LIB (an
# absolute path from alloc_lib, already resolved; "" = glibc)?
origin_is() {
    local lib=$1 from=$2
    [ -n "$from" ] || return 1
    if [ -z "$lib" ]; then
        case "$from" in */libc.so*|libc.so*) return 0 ;; *) return 1 ;; esac
    fi
    [ "$from" = "$lib" ] || [ "$(readlink -f "$from")" = "$(readlink -f "$lib")" ]
}

# Does the malloc_from= line in file $2 name the object we preloaded ($1)?
origin_ok() {
    local from
    from=$(sed -n 's/^malloc_from=//p' "$2" | head -n 1)
    origin_is "$1" "$from"
}

# Median of the numbers on stdin (one per line); "" when there are none.
median() {
    sort -g | awk '{ a[NR] = $1 } END {
        if (NR == 0) exit
        if (NR % 2) printf "%s\n", a[(NR + 1) / 2]
        else printf "%.6g\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# Build one benchmark program from bench/NAME.c into build/bench/NAME, unless
# the binary is newer than its source and bench_common.h.
build_prog() {
    local name=$1; shift
    local out="$BUILD_BENCH/$name" src="$BENCH_DIR/$name.c"
    mkdir -p "$BUILD_BENCH"
    if [ -f "$BENCH_DIR/$name.sh" ]; then      # a driver script (programs.sh)
        [ -x "$out" ] && [ "$out" -nt "$BENCH_DIR/$name.sh" ] && return 0
        cp "$BENCH_DIR/$name.sh" "$out.tmp.$$" && chmod +x "$out.tmp.$$" && mv -f "$out.tmp.$$" "$out"
        return
    fi
    if [ -x "$out" ] && [ "$out" -nt "$src" ] && [ "$out" -nt "$BENCH_DIR/bench_common.h" ]; then
        return 0
    fi
    $CC -std=gnu11 -O2 -g -fno-builtin -D_GNU_SOURCE -pthread -Wall -Wextra \
        "$@" "$src" -o "$out.tmp.$$" -ldl -lm && mv -f "$out.tmp.$$" "$out"
}

# build_progs_or_exit "CMD"...: rss_run and the program of every command
# (its first word), each once; exit 1 if one does not build.
build_progs_or_exit() {
    local progs="rss_run" cmd p
    for cmd in "$@"; do
        p=${cmd%% *}
        [ "$p" = programs ] && p="programs tiny_hot"   # its malloc_from probe
        for p in $p; do
            case " $progs " in *" $p "*) ;; *) progs="$progs $p" ;; esac
        done
    done
    for p in $progs; do
        build_prog "$p" || { note "error: cannot build bench/$p.c"; exit 1; }
    done
}

# fastest_cpu: the CPU (of the first 16 this process may use) on which a
# short single-threaded probe (tiny_hot under glibc, 3 runs each,
# interleaved, the median) runs fastest; prints "CPU MOPS_BY_CPU".  Two
# vCPUs of one VM can differ by 40% for the same loop (2026-12-07: 335
# against 480 Mops/s, steadily), so a process that migrates between them
# measures the scheduler.
fastest_cpu() {
    local c r v best="" bestv=0 list="" shown=""
    local -A vals
    for c in $(seq 0 15); do   # the CPUs this process may run on
        "$BUILD_BENCH/rss_run" -c "$c" -o /dev/null -- true 2>/dev/null && list="$list $c"
    done
    for r in 1 2 3; do
        for c in $list; do
            v=$("$BUILD_BENCH/rss_run" -c "$c" -o /dev/null -- "$BUILD_BENCH/tiny_hot" 64 100 100000 2>/dev/null |
                awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^throughput=/) print substr($i, 12) }')
            vals[$c]="${vals[$c]:-} ${v:-0}"
        done
    done
    for c in $list; do
        # shellcheck disable=SC2086  # the values' words
        v=$(printf '%s\n' ${vals[$c]} | median)
        shown="$shown cpu$c=$v"
        if awk -v a="$v" -v b="$bestv" 'BEGIN { exit !(a > b) }'; then best=$c bestv=$v; fi
    done
    [ -n "$best" ] && echo "$best$shown"
}

# kv KEY FILE: the value of the first KEY=VALUE word in FILE ("" if none).
kv() {
    awk -v k="$1" '{ for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) {
        print substr($i, length(k) + 2); exit } }' "$2" 2>/dev/null
}

# run_one LIB ENV TIMEOUT PROGRAM ARGS... — one benchmark run with allocator
# library LIB preloaded ("" = glibc) and the NAME=VALUE words of ENV (alloc_lib's
# ALLOC_ENV, e.g. HAKMEM_MODE=fast) in its environment, through rss_run.
# ENV is given to rss_run, which passes it on to the benchmark: nothing runs
# between rss_run's fork and the benchmark, so its rusage stays the
# benchmark's alone, and the runner's own environment is untouched.  Sets
#   R_STATUS   ok | flag (ran to the end, but its own check failed, e.g.
#              misaligned blocks: numbers kept, result flagged) | fail
#   R_WHY      the reason, for flag and fail
#   R_TP R_UNIT R_CHECK             throughput, its unit, the check field
#   R_KB R_WALL R_USER R_SYS R_MINFLT   peak RSS and times from rusage
#   R_OPS R_FPO  the result line's ops (allocator calls of the measured
#              part) and minor faults per op, R_MINFLT / R_OPS (the faults
#              are the whole process's: start-up and set-up included);
#              both "" when the line has no ops count (or ops=0)
#   R_MMAP R_MUNMAP R_MADVISE R_MREMAP  hakmem's OS calls (malloc_stats;
#                                       "" under the peers)
#   R_FREED_KB R_IDLE_KB  the result line's freed_rss_kb and idle_rss_kb
#              (resident set after the last free and after an idle time,
#              peak_idle); "" for the programs that do not print them
#   R_WARNING  the first "hakmem: warning" line of its stderr, or ""
# RUN_CPU, when set, is the CPU the benchmark runs on alone (rss_run -c);
# RUN_TRACE a file for its resident set every 10 ms (rss_run -s).
# The run's stdout, stderr and rusage line stay in $RUN_TMP/{out,err,rss}.
run_one() {
    local lib=$1 envw=$2 tmo=$3 prog=$4; shift 4
    local out="$RUN_TMP/out" err="$RUN_TMP/err" rss="$RUN_TMP/rss" rc st from envs=()
    rm -f "$out" "$err" "$rss"
    read -r -a envs <<<"$envw"
    env BENCH_MALLOC_STATS=1 ${envs[@]+"${envs[@]}"} "$BUILD_BENCH/rss_run" -t "$tmo" -p "$lib" -o "$rss" \
        ${RUN_CPU:+-c "$RUN_CPU"} ${RUN_TRACE:+-s "$RUN_TRACE"} -- \
        "$BUILD_BENCH/$prog" "$@" >"$out" 2>"$err" </dev/null
    rc=$?
    : >>"$rss"   # mawk stops at a missing file (rss_run could not start)
    # One awk reads the three files (a process per field would cost more than
    # a short benchmark: ~10 ms each here): the result line's fields (the
    # first of each key), rss_run's, the malloc_from= line and hakmem's
    # "os calls:" line, separated by \x1f (empty fields kept).
    IFS=$'\x1f' read -r R_TP R_UNIT R_CHECK R_FREED_KB R_IDLE_KB R_OPS R_KB R_WALL R_USER R_SYS R_MINFLT st \
        R_FPO R_WARNING from R_MMAP R_MUNMAP R_MADVISE R_MREMAP < <(awk '
        BEGIN { n = split("throughput unit check freed_rss_kb idle_rss_kb ops", ko, " ")
                split("maxrss_kb wall_s user_s sys_s minflt status", kr, " ") }
        FILENAME == ARGV[1] || FILENAME == ARGV[2] {
            for (i = 1; i <= NF; i++) { e = index($i, "="); if (e > 1) { k = FILENAME "\034" substr($i, 1, e - 1)
                if (!(k in v)) v[k] = substr($i, e + 1) } } }
        FILENAME == ARGV[3] && /^malloc_from=/ && from == "" { from = substr($0, 13) }
        FILENAME == ARGV[3] && /^hakmem: warning/ && warn == "" { warn = $0; gsub(/\037/, " ", warn) }
        FILENAME == ARGV[3] && /^os calls: mmap / && os == "" { gsub(/,/, ""); os = $4 "\037" $6 "\037" $8 "\037" $10 }
        END { for (i = 1; i <= n; i++) printf "%s\037", v[ARGV[1] "\034" ko[i]]
              for (i = 1; i <= 6; i++) printf "%s\037", v[ARGV[2] "\034" kr[i]]
              ops = v[ARGV[1] "\034ops"] + 0; flt = v[ARGV[2] "\034minflt"]
              printf "%s\037", (ops > 0 && flt != "" ? sprintf("%.6g", flt / ops) : "")
              printf "%s\037%s\037%s\n", warn, from, (os == "" ? "\037\037\037" : os) }' "$out" "$rss" "$err" 2>/dev/null)
    case $R_FREED_KB in *[!0-9]*) R_FREED_KB="" ;; esac # -1: statm unreadable
    case $R_IDLE_KB in *[!0-9]*) R_IDLE_KB="" ;; esac
    case $R_OPS in ''|*[!0-9]*|0) R_OPS="" R_FPO="" ;; esac
    R_STATUS=ok R_WHY=""
    [ "$st" = timeout ] && rc=124
    if [ $rc -eq 124 ]; then
        R_STATUS=fail R_WHY="timed out after ${tmo}s"
    elif ! origin_is "$lib" "$from"; then
        R_STATUS=fail
        if [ $rc -ne 0 ]; then R_WHY=$(fail_reason "$err" "$rc")
        else R_WHY="malloc not from ${lib:-libc}: malloc_from=$from"; fi
    elif [ -n "$R_TP" ] && [ "${R_CHECK#*FAIL}" != "$R_CHECK" ] && [ $rc -le 1 ]; then
        R_STATUS=flag R_WHY="check failed: $R_CHECK"
    elif [ $rc -ne 0 ]; then
        R_STATUS=fail R_WHY=$(fail_reason "$err" "$rc")
    elif [ -z "$R_TP" ] || [ -z "$R_UNIT" ]; then
        R_STATUS=fail R_WHY="no result line"
    fi
    return 0
}

# Is a unit "lower is better" (time per operation)?
unit_lower_better() { case "$1" in */op) return 0 ;; esac; return 1; }

# ratio X Y -> X/Y with 3 decimals, "" if either is missing or Y is 0.
ratio() {
    [ -n "$1" ] && [ -n "$2" ] && awk -v x="$1" -v y="$2" 'BEGIN { if (y > 0) printf "%.3f", x / y }'
}

# ---- charts (gnuplot) ----------------------------------------------------------

# The PNG terminal that works here: pngcairo (Debian's gnuplot-nox has it),
# else png.  Fails when gnuplot is missing or has neither.
gnuplot_term() {
    if [ -z "${GNUPLOT_TERM:-}" ]; then
        GNUPLOT_TERM=none
        if command -v gnuplot >/dev/null 2>&1; then
            local t
            for t in pngcairo png; do
                if [ -z "$(printf 'set terminal %s\n' "$t" | gnuplot 2>&1)" ]; then
                    GNUPLOT_TERM=$t; break
                fi
            done
        fi
    fi
    [ "$GNUPLOT_TERM" != none ] && echo "$GNUPLOT_TERM"
}

# Fixed colours per allocator, so that all charts agree.  hakmem's variants
# get reds, browns and pinks of their own, so that two of them in one chart
# stay apart.
alloc_color() {
    case "$1" in
    hakmem) echo '#d62728' ;; mimalloc) echo '#1f77b4' ;; jemalloc) echo '#2ca02c' ;;
    tcmalloc) echo '#ff7f0e' ;; glibc) echo '#7f7f7f' ;;
    hakmem-notel) echo '#8c1c13' ;; hakmem-notel@*) echo '#5c2a2a' ;;
    hakmem-hardened) echo '#17becf' ;; hakmem-hardened@*) echo '#0e7c86' ;;
    *@minimal) echo '#f4a3a8' ;; *@fast) echo '#e377c2' ;; *@balanced) echo '#8c564b' ;;
    *@learning) echo '#bc5090' ;; *@research) echo '#c49c94' ;;
    *) echo '#9467bd' ;;
    esac
}

# chart_ratio DAT OUT TITLE YLABEL BASELINE ALLOC...
# DAT has one line per benchmark: "INDEX LABEL V1 .. Vn F1 .. Fn" with one
# value per ALLOC (a ratio to BASELINE; "?" = no value, "F" = failed) and
# one flag per ALLOC (1 = result flagged by the program's own check).
# Draws grouped bars that grow up or down from 1.0 (BASELINE, dashed line)
# on a log2 axis; the first ALLOC's value is written at its bar; a failed
# result is a FAIL label, a flagged one a "flag" label; CHART_NOTE, if set,
# is printed at the bottom.  Writes OUT and the gnuplot script next to it
# (OUT with .gp).
chart_ratio() {
    local dat=$1 out=$2 title=$3 ylabel=$4 base=$5; shift 5
    local allocs=("$@") term n nb w i a c plot cols labels xt lo hi note gpf="${out%.png}.gp"
    term=$(gnuplot_term) || return 1
    n=${#allocs[@]}
    nb=$(grep -c . "$dat")
    [ "$nb" -gt 0 ] && [ "$n" -gt 0 ] || return 1
    w=$((260 + nb * (n * 14 + 24)))
    [ $w -lt 900 ] && w=900
    xt=$(awk '{ printf "%s\"%s\" %d", (NR > 1 ? ", " : ""), $2, $1 }' "$dat")
    read -r lo hi < <(awk -v n="$n" '{ for (i = 3; i < 3 + n; i++) if ($i + 0 > 0) {
            if (lo == "" || $i + 0 < lo) lo = $i + 0; if (hi == "" || $i + 0 > hi) hi = $i + 0 } }
        END { if (lo == "") { lo = 1; hi = 1 }
              if (lo > 0.8) lo = 0.8; if (hi < 1.25) hi = 1.25
              printf "%g %g\n", lo / 1.4, hi * 1.4 }' "$dat")
    note=""
    if [ -n "${CHART_NOTE:-}" ]; then
        # shellcheck disable=SC1003
        note="set label 99 \"$(printf '%s' "$CHART_NOTE" | tr -d '"\\')\" at screen 0.005, screen 0.015 left font ',9'"
    fi
    # Bars, one plot per allocator.  Labels (hakmem's values, FAIL, flag) are
    # "set label" commands: gnuplot 5.4.4 crashes on a "with labels" plot
    # whose points are all invalid in a one-line data file.
    plot="" cols=""
    for ((i = 0; i < n; i++)); do
        a=${allocs[$i]} c=$(alloc_color "$a")
        cols="$cols $c"
        plot="$plot '$dat' using (xb(\$1,$i)):(1):(xb(\$1,$i)-bw/2):(xb(\$1,$i)+bw/2):(1):$((i + 3)) with boxxyerror lc rgb '$c' title '$a',"
    done
    labels=$(awk -v n="$n" -v cols="$cols" 'BEGIN { split(cols, c, " "); bw = 0.84 / n }
        function lab(v) { return v >= 1 ? v * 1.06 : v / 1.06 }
        { for (i = 0; i < n; i++) {
            v = $(3 + i); f = $(3 + n + i); x = $1 + (i - (n - 1) / 2.0) * bw
            if (v == "F")
                printf "set label \"FAIL\" at first %g, first 1 rotate by 90 left offset 0,0.4 front font \",8\" tc rgb \"%s\"\n", x, c[i + 1]
            else if (v != "?" && v + 0 > 0) {
                t = ""
                if (i == 0) t = sprintf("%.2f", v)
                if (f == 1) t = (t == "" ? "flag" : t " flag")
                if (t != "" && i == 0 && f != 1)
                    printf "set label \"%s\" at first %g, first %g center front font \",8\" tc rgb \"%s\"\n", t, x, lab(v), c[i + 1]
                else if (t != "")
                    printf "set label \"%s\" at first %g, first %g rotate by 90 %s front font \",8\" tc rgb \"%s\"\n", t, x, (v >= 1 ? v * 1.04 : v / 1.04), (v >= 1 ? "left" : "right"), c[i + 1]
            } } }' "$dat")
    cat >"$gpf" <<EOF
# generated by bench/lib.sh chart_ratio; data: $dat
set terminal $term size $w,640 font "sans,10" noenhanced
set output '$out'
set title "$title"
set ylabel "$ylabel"
set datafile missing '?'
set style fill solid 0.85 border rgb '#333333'
set logscale y 2
set yrange [$lo:$hi]
set format y "%g"
set grid ytics lc rgb '#d0d0d0'
set xtics rotate by -35 nomirror ($xt)
set xrange [-0.6:$nb - 0.4]
set key outside top center horizontal width 2
set bmargin 8
set rmargin 9
$note
$labels
N = $n
bw = 0.84 / N
xb(j, i) = j + (i - (N - 1) / 2.0) * bw
plot $plot \
  1 with lines dt 2 lw 1.5 lc rgb 'black' title '$base = 1'
EOF
    if ! gnuplot "$gpf" 2>"$RUN_TMP/gnuplot.err"; then
        note "gnuplot failed for $out: $(head -n 5 "$RUN_TMP/gnuplot.err")"
        return 1
    fi
    [ -s "$out" ]
}

# chart_lines CSV OUT TITLE XLABEL LOGX ALLOC...
# CSV (no header): "VALUE,ALLOC,THROUGHPUT,UNIT,PEAK_RSS_KIB" per point.  Two
# panels: throughput against VALUE (linear, from 0) and peak RSS against
# VALUE (log scale), one line per allocator.
chart_lines() {
    local csv=$1 out=$2 title=$3 xlabel=$4 logx=$5; shift 5
    local term a c p1="" p2="" unit gpf="${out%.png}.gp" dat="${out%.png}.lines" lower="" idx=0
    term=$(gnuplot_term) || return 1
    unit=$(awk -F, '$4 != "" { print $4; exit }' "$csv")
    unit_lower_better "$unit" && lower=" (lower is better)"
    [ -n "$unit" ] && [ -z "$lower" ] && lower=" (higher is better)"
    : >"$dat"
    for a in "$@"; do
        grep -q ",$a," "$csv" || continue
        # one data block per allocator, sorted by value
        awk -F, -v a="$a" '$2 == a { print $1, $3, $5 }' "$csv" | sort -g >>"$dat"
        printf '\n\n' >>"$dat"
        c=$(alloc_color "$a")
        p1="$p1 '$dat' index $idx using 1:2 with linespoints lw 2 pt 7 ps 0.9 lc rgb '$c' title '$a',"
        p2="$p2 '$dat' index $idx using 1:(\$3 / 1024.0) with linespoints lw 2 pt 7 ps 0.9 lc rgb '$c' title '$a',"
        idx=$((idx + 1))
    done
    [ -n "$p1" ] || return 1
    cat >"$gpf" <<EOF
# generated by bench/lib.sh chart_lines; data: $dat (from $csv)
set terminal $term size 1000,780 font "sans,10" noenhanced
set output '$out'
set multiplot layout 2,1 title "$title"
set grid lc rgb '#d0d0d0'
set key outside right top
set offsets graph 0.03, graph 0.03, graph 0.05, graph 0.05
$( [ "$logx" = 1 ] && echo "set logscale x 2" )
set xlabel "$xlabel"
set ylabel "$unit$lower"
set yrange [0:*]
plot ${p1%,}
set ylabel "peak RSS (MiB, log scale; lower is better)"
set logscale y 2
set yrange [*:*]
set format y "%g"
plot ${p2%,}
unset multiplot
EOF
    if ! gnuplot "$gpf" 2>"$RUN_TMP/gnuplot.err"; then
        note "gnuplot failed for $out: $(head -n 5 "$RUN_TMP/gnuplot.err")"
        return 1
    fi
    [ -s "$out" ]
}
