# shellcheck shell=bash disable=SC2034
# bench/lib.sh — shared helpers for bench/run.sh and bench/fastpath.sh.
# Sourced, not executed.  Needs bash.
#
# Allocators are named hakmem, mimalloc, jemalloc, tcmalloc and glibc.
# alloc_lib NAME prints the absolute path to preload for NAME ("" for glibc,
# which means: no preload) or fails when it cannot be found.  Overrides:
#   HAKMEM_LIB=/path/libhakmem.so   (default: $ROOT/build/libhakmem.so)
#   MIMALLOC_LIB=... JEMALLOC_LIB=... TCMALLOC_LIB=...

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
BUILD_BENCH="$ROOT/build/bench"
RESULTS_DIR=${BENCH_RESULTS_DIR:-$BENCH_DIR/results}   # override with BENCH_RESULTS_DIR
CC=${CC:-cc}
case ":$PATH:" in *:/sbin:*) ;; *) PATH="$PATH:/usr/sbin:/sbin" ;; esac

note() { printf '%s\n' "$*" >&2; }

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

# Sets ALLOC_LIB (path, or "" for glibc), and on failure ALLOC_WHY (reason)
# and ALLOC_KIND: "missing" (not built / not installed) or "broken".
alloc_lib() {
    local name=$1 var p
    ALLOC_LIB="" ALLOC_WHY="" ALLOC_KIND=""
    case "$name" in
    glibc|system|libc) return 0 ;;
    hakmem)
        p=${HAKMEM_LIB:-$ROOT/build/libhakmem.so}
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
    *)  # anything else: treat as a path to a shared object
        if [ -e "$name" ] && preloadable "$name"; then ALLOC_LIB=$(readlink -f "$name"); return 0; fi
        ALLOC_WHY="unknown allocator or unloadable library"; ALLOC_KIND=broken; return 1 ;;
    esac
}

# If a peer is missing and we may, try to install the Debian packages once.
# Disable with BENCH_NO_INSTALL=1.  Never fails.
maybe_install_peers() {
    local missing="" n
    for n in mimalloc jemalloc tcmalloc; do
        find_peer "$n" >/dev/null || missing="$missing $n"
    done
    [ -z "$missing" ] && return 0
    if [ "${BENCH_NO_INSTALL:-0}" != 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        note "note: missing peer(s):$missing; trying apt-get install (set BENCH_NO_INSTALL=1 to skip)"
        DEBIAN_FRONTEND=noninteractive timeout 120 apt-get install -y -qq \
            libmimalloc2.0 libjemalloc2 libtcmalloc-minimal4 >/dev/null 2>&1 ||
            note "note: apt-get install failed; missing peers will be skipped"
    else
        note "note: missing peer(s):$missing; they will be skipped"
    fi
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

# Does the malloc_from= line in file $2 name the object we preloaded ($1)?
origin_ok() {
    local lib=$1 file=$2 from
    from=$(sed -n 's/^malloc_from=//p' "$file" | head -n 1)
    [ -n "$from" ] || return 1
    if [ -z "$lib" ]; then
        case "$from" in */libc.so*|libc.so*) return 0 ;; *) return 1 ;; esac
    fi
    [ "$(readlink -f "$from")" = "$(readlink -f "$lib")" ]
}

# Median of the numbers on stdin (one per line); "" when there are none.
median() {
    sort -g | awk '{ a[NR] = $1 } END {
        if (NR == 0) exit
        if (NR % 2) printf "%s\n", a[(NR + 1) / 2]
        else printf "%.6g\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# Build one benchmark program from bench/NAME.c into build/bench/NAME.
build_prog() {
    local name=$1; shift
    mkdir -p "$BUILD_BENCH"
    $CC -std=gnu11 -O2 -g -fno-builtin -D_GNU_SOURCE -pthread -Wall -Wextra \
        "$@" "$BENCH_DIR/$name.c" -o "$BUILD_BENCH/$name" -ldl -lm
}
