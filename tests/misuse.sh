#!/usr/bin/env bash
# tests/misuse.sh — run the misuse programs (tests/misuse/NAME.c, one heap
# misuse each: double free, free of a foreign/interior/misaligned pointer...)
# with hakmem preloaded and check what happens.
#
#   bash tests/misuse.sh LIB BINDIR [PATTERN]
#
# LIB: the libhakmem.so to LD_PRELOAD; BINDIR: the compiled programs
# (BINDIR/NAME for tests/misuse/NAME.c); PATTERN (or $MISUSE_ONLY): a shell
# pattern selecting the programs to run (default: all).
#
# Each program prints the pointer P it misuses (first stdout line), misuses
# it, and prints "survived" if still alive.  Its line "/* expect: WHAT */"
# gives the message expected in hardened mode.  Two runs per program:
#   hardened  HAKMEM_HARDEN=1: must die of SIGABRT with stderr exactly the one
#             line "hakmem: WHAT (pointer P)".
#   default   no HAKMEM_HARDEN: must not crash (SIGSEGV, SIGBUS...) or hang;
#             either exits 0 after "survived" (not detected), or dies of
#             SIGABRT with one stderr line "hakmem: ... (pointer P)".
# Then a detection table (markdown, pointers left out) and the last line
# "misuse: N passed, M failed".  Exit status 1 if anything failed.
# Environment: MISUSE_TIMEOUT (seconds per run, default 30).

set -u
export LC_ALL=C
ulimit -c 0

if [[ $# -lt 2 || $# -gt 3 ]]; then
    echo "usage: bash tests/misuse.sh LIB BINDIR [PATTERN]" >&2
    exit 2
fi
LIB=$1
BINDIR=$2
ONLY=${3:-${MISUSE_ONLY:-*}}
SRCDIR=$(cd "$(dirname "$0")" && pwd)/misuse
TIMEOUT=${MISUSE_TIMEOUT:-30}

if [[ ! -f $LIB ]]; then
    echo "misuse: no library $LIB" >&2
    exit 2
fi
LIB=$(realpath "$LIB")   # LD_PRELOAD must not depend on the directory

TMP=$(mktemp -d "${TMPDIR:-/tmp}/misuse.XXXXXX") || exit 2
trap 'rm -rf "$TMP"' EXIT

passed=0 failed=0
declare -A cell   # "NAME mode" -> table entry
names=()

pass() { echo "PASS $1 $2${3:+ ($3)}"; passed=$((passed + 1)); cell["$2 $1"]=$4; }
fail() { echo "FAIL $1 $2: $3"; failed=$((failed + 1)); cell["$2 $1"]="FAIL: $4"; }

# How a run ended, from the shell's exit status.
status_text() {
    case $1 in
        0) echo "exit 0" ;;
        124) echo "timed out after ${TIMEOUT}s" ;;
        *) if (($1 > 128)); then echo "signal SIG$(kill -l $(($1 - 128)))"; else echo "exit $1"; fi ;;
    esac
}

# run MODE NAME: runs BINDIR/NAME, sets rc, out (stdout), err (stderr, exact,
# with a trailing "|" so that trailing newlines are kept) and ptr.  timeout's
# own messages go elsewhere: only the program's stderr lands in $TMP/err.
run() {
    local -a envs=("LD_PRELOAD=$LIB")
    [[ $1 == hardened ]] && envs+=(HAKMEM_HARDEN=1)
    # shellcheck disable=SC2016  # expanded by sh, not here
    # (the outer 2>/dev/null silences bash's "Segmentation fault" notices)
    { timeout "$TIMEOUT" sh -c 'f=$1; shift; exec "$@" 2>"$f"' sh "$TMP/err" \
        env -u HAKMEM_HARDEN "${envs[@]}" "$BINDIR/$2" >"$TMP/out" 2>"$TMP/timeout.err"; } 2>/dev/null
    rc=$?
    out=$(cat "$TMP/out")
    err=$(cat "$TMP/err" 2>/dev/null; echo "|")
    ptr=$(head -n 1 "$TMP/out")
    shown=${err%|}
    shown=${shown%$'\n'}
    shown=${shown//$'\n'/\\n}   # stderr on one line, for messages
}

check_hardened() {
    local name=$1 what=$2 want
    run hardened "$name"
    if [[ ! $ptr =~ ^0x[0-9a-f]{16}$ ]]; then
        fail hardened "$name" "no pointer on stdout (got '$ptr', $(status_text $rc))" "no pointer"
        return
    fi
    want="hakmem: $what (pointer $ptr)"
    if [[ $rc -eq 134 && $err == "$want"$'\n|' ]]; then
        pass hardened "$name" "" "abort: hakmem: $what"
    else
        fail hardened "$name" "expected SIGABRT, stderr '$want'; got $(status_text $rc), stderr '$shown'" \
            "$(status_text $rc)"
    fi
}

check_default() {
    local name=$1 line
    run default "$name"
    line=${err%$'\n|'}
    if [[ ! $ptr =~ ^0x[0-9a-f]{16}$ ]]; then
        fail default "$name" "no pointer on stdout (got '$ptr', $(status_text $rc))" "no pointer"
    elif [[ $rc -eq 0 && $out == *survived ]]; then
        pass default "$name" "not detected" "survived"
    elif [[ $rc -eq 134 && $err == *$'\n|' && $line != *$'\n'* &&
            $line == "hakmem: "* && $line == *" (pointer $ptr)" ]]; then
        pass default "$name" "detected" "abort: ${line% (pointer *}"
    else
        fail default "$name" "expected survival or SIGABRT with one 'hakmem: ... (pointer $ptr)' line; got $(status_text $rc), stderr '$shown'" \
            "$(status_text $rc)"
    fi
}

for src in "$SRCDIR"/*.c; do
    name=$(basename "$src" .c)
    # shellcheck disable=SC2053  # $ONLY is a pattern on purpose
    [[ $name == $ONLY ]] || continue
    names+=("$name")
    what=$(sed -n 's|^/\* expect: \(.*\) \*/$|\1|p' "$src" | head -n 1)
    if [[ -z $what ]]; then
        fail hardened "$name" "no '/* expect: ... */' line in $src" "no expect line"
        fail default "$name" "(skipped)" "no expect line"
    elif [[ ! -x $BINDIR/$name ]]; then
        fail hardened "$name" "no program $BINDIR/$name" "not built"
        fail default "$name" "no program $BINDIR/$name" "not built"
    else
        check_hardened "$name" "$what"
        check_default "$name"
    fi
done

if [[ ${#names[@]} -eq 0 ]]; then
    echo "misuse: no program matches '$ONLY'" >&2
    exit 2
fi

echo
echo "| program | HAKMEM_HARDEN=1 | default |"
echo "|---|---|---|"
for name in "${names[@]}"; do
    echo "| $name | ${cell["$name hardened"]} | ${cell["$name default"]} |"
done
echo
echo "misuse: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
