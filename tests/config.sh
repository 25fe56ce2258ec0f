#!/usr/bin/env bash
# tests/config.sh — hakmem's HAKMEM_* configuration, seen from outside: run
# build/tests/config_probe (tests/api/config_probe.c) under controlled
# environments (env -i) and compare what hakmem writes on stderr.
#
#   bash tests/config.sh VARIANT    VARIANT: release-preload (default),
#                                   release-static, debug-preload, debug-static
#
# Checks:
#   - good values (every knob's accepted forms, every mode but research,
#     names that are not HAKMEM_*) give no output on stderr at all;
#   - an unknown HAKMEM_* name that looks like a misspelling of a known one
#     (case, a letter or two, a prefix) gives one line naming it; any other
#     unknown HAKMEM_* name (other programs', HAKMEM_SO) gives nothing;
#   - every knob with each kind of bad value
#     (garbage, empty, negative, trailing garbage, overflow, out of range,
#     spaces, wrong case), give exactly one warning line with the exact text,
#     "keeping" the mode's value (whatever the order of the variables);
#     several bad variables give one line each; values longer than 64
#     characters may be shown truncated, not shorter ones;
#   - HAKMEM_VERBOSE=1 lists every knob with its value and its source (mode
#     default, mode from the environment, override from the environment),
#     and each mode's values are those of the table in the spec;
#   - HAKMEM_STATS=1 (and mode research) prints a table on stderr at exit;
#     HAKMEM_STATS=json:PATH writes JSON that python3 parses, with the
#     expected keys and the probe's workload (tests/check_stats_json.py);
#   - the probe's exit status is 0 and hak_stats_get reports the mode.
# Last line: "config VARIANT: N checks, N failed"; exit status 1 on failure.

set -u
export LC_ALL=C
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
VARIANT=${1:-release-preload}

case $VARIANT in
release-preload) PRELOAD=$ROOT/build/libhakmem.so BIN=$ROOT/build/tests/config_probe ;;
release-static) PRELOAD='' BIN=$ROOT/build/tests/config_probe.static ;;
debug-preload) PRELOAD=$ROOT/build/debug/libhakmem.so BIN=$ROOT/build/tests/config_probe ;;
debug-static) PRELOAD='' BIN=$ROOT/build/debug/tests/config_probe.static ;;
*) echo "usage: $0 release-preload|release-static|debug-preload|debug-static"; exit 2 ;;
esac
[ -x "$BIN" ] || { echo "missing $BIN (run make test)"; exit 1; }
[ -z "$PRELOAD" ] || [ -f "$PRELOAD" ] || { echo "missing $PRELOAD"; exit 1; }

WORK=$ROOT/build/test-logs/config.$VARIANT
rm -rf "$WORK" && mkdir -p "$WORK" || exit 2
OUT=$WORK/stdout ERR=$WORK/stderr

PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3 || true)

checks=0
failed=0

fail() { # what details...
    failed=$((failed + 1))
    echo "FAIL: $1"
    shift
    local l
    for l in "$@"; do
        printf '      %s\n' "$l"
    done
}

# probe ENV... — run the probe with exactly these variables (plus LD_PRELOAD).
probe() {
    if [ -n "$PRELOAD" ]; then
        env -i LD_PRELOAD="$PRELOAD" "$@" "$BIN" </dev/null >"$OUT" 2>"$ERR"
    else
        env -i "$@" "$BIN" </dev/null >"$OUT" 2>"$ERR"
    fi
    RC=$?
}

show_stderr() { sed 's/^/      | /' "$ERR" | head -n 40; }

# The probe ran fine: exit status 0, stdout "mode=MODE telemetry=1".
check_run() { # desc mode
    if [ "$RC" -ne 0 ]; then
        fail "$1: exit status $RC"
        show_stderr
        return 1
    fi
    if ! grep -qx "mode=$2 telemetry=1" "$OUT"; then
        fail "$1: the probe's stdout is not \"mode=$2 telemetry=1\"" "$(head -c 300 "$OUT")"
        show_stderr
        return 1
    fi
    return 0
}

# expect DESC MODE EXPECTED ENV... — stderr must be exactly EXPECTED (lines,
# in that order; "" for nothing at all).
expect() {
    local desc=$1 mode=$2 want=$3
    shift 3
    checks=$((checks + 1))
    probe "$@"
    check_run "$desc" "$mode" || return
    if [ -z "$want" ]; then
        if [ -s "$ERR" ]; then
            fail "$desc: stderr should be empty [$*]"
            show_stderr
        fi
        return
    fi
    if [ "$(cat "$ERR")" != "$want" ]; then
        fail "$desc: stderr differs [$*]"
        diff <(printf '%s\n' "$want") "$ERR" | sed 's/^/      diff| /' | head -n 40
    fi
}

# expect_sorted — the same, in any order (several warnings).
expect_sorted() {
    local desc=$1 mode=$2 want=$3
    shift 3
    checks=$((checks + 1))
    probe "$@"
    check_run "$desc" "$mode" || return
    if [ "$(sort "$ERR")" != "$(printf '%s\n' "$want" | sort)" ]; then
        fail "$desc: stderr differs (order ignored) [$*]"
        diff <(printf '%s\n' "$want" | sort) <(sort "$ERR") | sed 's/^/      diff| /' | head -n 40
    fi
}

# expect_lines DESC MODE PREFIX EXPECTED ENV... — the lines of stderr that
# start with PREFIX must be exactly EXPECTED (other lines: a stats table).
expect_lines() {
    local desc=$1 mode=$2 prefix=$3 want=$4
    shift 4
    checks=$((checks + 1))
    probe "$@"
    check_run "$desc" "$mode" || return
    local got
    got=$(awk -v p="$prefix" 'index($0, p) == 1' "$ERR")
    if [ "$got" != "$want" ]; then
        fail "$desc: the \"$prefix\" lines of stderr differ [$*]"
        diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") | sed 's/^/      diff| /' | head -n 40
    fi
}

KNOBS="HAKMEM_MODE HAKMEM_PURGE_DELAY_MS HAKMEM_RETAIN_MB HAKMEM_CACHE_MB HAKMEM_LIMIT_MB HAKMEM_THP HAKMEM_STATS HAKMEM_VERBOSE HAKMEM_STRATEGY HAKMEM_LOG HAKMEM_HARDEN HAKMEM_ACE_THREAD"

unknown() { # NAME=VALUE MEANT
    echo "hakmem: warning: unknown variable $1 ignored; did you mean $2?"
}
accepted() { # knob
    case $1 in
    HAKMEM_MODE) echo "minimal|fast|balanced|learning|research" ;;
    HAKMEM_PURGE_DELAY_MS) echo "0..60000" ;;
    HAKMEM_RETAIN_MB) echo "0..4096" ;;
    HAKMEM_CACHE_MB) echo "0..1024" ;;
    HAKMEM_LIMIT_MB) echo "0..16777216" ;;
    HAKMEM_THP) echo "off|auto|on" ;;
    HAKMEM_STATS) echo "0|1|json:PATH" ;;
    HAKMEM_VERBOSE) echo "0|1" ;;
    HAKMEM_STRATEGY) echo "elo|ucb1|lean|balanced|warm|hoard" ;;
    HAKMEM_LOG) echo "PATH|stderr" ;;
    HAKMEM_HARDEN) echo "0|1|zero" ;;
    HAKMEM_ACE_THREAD) echo "off|auto|on" ;;
    esac
}
# The spec's table: a mode's value of a knob.
mode_value() { # mode knob
    local m=$1
    [ "$2" = HAKMEM_MODE ] && { echo "$m"; return; }
    [ "$m" = learning ] && m=balanced
    case $m.$2 in
    minimal.HAKMEM_PURGE_DELAY_MS) echo 0 ;;
    minimal.HAKMEM_RETAIN_MB) echo 0 ;;
    minimal.HAKMEM_THP) echo off ;;
    fast.HAKMEM_PURGE_DELAY_MS) echo 1000 ;;
    fast.HAKMEM_RETAIN_MB) echo 64 ;;
    fast.HAKMEM_THP) echo auto ;;
    minimal.HAKMEM_ACE_THREAD | fast.HAKMEM_ACE_THREAD) echo off ;;
    *.HAKMEM_ACE_THREAD) echo auto ;;
    *.HAKMEM_PURGE_DELAY_MS) echo 100 ;;
    *.HAKMEM_RETAIN_MB) echo 8 ;;
    *.HAKMEM_CACHE_MB) echo 64 ;;
    research.HAKMEM_THP) echo on ;;
    *.HAKMEM_THP) echo auto ;;
    research.HAKMEM_STATS | research.HAKMEM_VERBOSE) echo 1 ;;
    *.HAKMEM_STRATEGY) echo elo ;;
    *.HAKMEM_LOG) echo stderr ;;
    *) echo 0 ;;
    esac
}
bad() { # knob value mode
    echo "hakmem: warning: $1=$2 is not valid (accepted: $(accepted "$1")); keeping $(mode_value "$3" "$1")"
}
# The config lines HAKMEM_VERBOSE=1 prints: config MODE MODE_SOURCE [KNOB=VALUE...]
# (the listed knobs come from the environment with that value).
config_lines() {
    local mode=$1 msrc=$2 k v src o
    shift 2
    for k in $KNOBS; do
        v=$(mode_value "$mode" "$k")
        if [ "$k" = HAKMEM_MODE ]; then
            src=$msrc
        elif [ "$k" = HAKMEM_HARDEN ]; then
            src="build default"
        else
            src="mode $mode"
        fi
        for o in "$@"; do
            if [ "${o%%=*}" = "$k" ]; then
                v=${o#*=}
                src=environment
            fi
        done
        echo "hakmem: config $k=$v ($src)"
    done
}

echo "== config [$VARIANT]: $BIN${PRELOAD:+ with LD_PRELOAD=$PRELOAD}"

# ---- good values: nothing on stderr -------------------------------------------
expect "no HAKMEM_ variable" balanced ""
for m in minimal fast balanced learning; do
    expect "HAKMEM_MODE=$m" "$m" "" HAKMEM_MODE=$m
done
for v in 0 1 100 60000; do expect "HAKMEM_PURGE_DELAY_MS=$v" balanced "" HAKMEM_PURGE_DELAY_MS=$v; done
for v in 0 8 4096; do
    expect "HAKMEM_RETAIN_MB=$v" balanced "" HAKMEM_RETAIN_MB=$v
done
for v in off auto on; do expect "HAKMEM_THP=$v" balanced "" HAKMEM_THP=$v; done
expect "HAKMEM_STATS=0" balanced "" HAKMEM_STATS=0
expect "HAKMEM_VERBOSE=0" balanced "" HAKMEM_VERBOSE=0
for v in elo ucb1 lean balanced warm hoard; do
    expect "HAKMEM_STRATEGY=$v" learning "" HAKMEM_MODE=learning HAKMEM_STRATEGY=$v
done
for v in 0 1 zero; do expect "HAKMEM_HARDEN=$v" balanced "" HAKMEM_HARDEN=$v; done
for v in off auto on; do expect "HAKMEM_ACE_THREAD=$v" balanced "" HAKMEM_ACE_THREAD=$v; done
expect "every knob at once" fast "" HAKMEM_MODE=fast HAKMEM_PURGE_DELAY_MS=250 \
    HAKMEM_RETAIN_MB=1 HAKMEM_THP=off HAKMEM_STATS=0 HAKMEM_VERBOSE=0
expect "names that are not HAKMEM_*" balanced "" HAKMEMX=1 XHAKMEM_FOO=1 hakmem_mode=fast \
    HAKMEM=1 MY_HAKMEM_MODE=fast

# ---- unknown names ----------------------------------------------------------------
for e in HAKMEM_mode=fast:HAKMEM_MODE HAKMEM_MODES=fast:HAKMEM_MODE HAKMEM_MDOE=fast:HAKMEM_MODE \
    HAKMEM_PURGE_DELAY=5:HAKMEM_PURGE_DELAY_MS HAKMEM_PURGE_DELAY_MSEC=5:HAKMEM_PURGE_DELAY_MS \
    HAKMEM_THP_=on:HAKMEM_THP HAKMEM_THPP=on:HAKMEM_THP HAKMEM_RETIAN_MB=1:HAKMEM_RETAIN_MB \
    HAKMEM_ACE_THREADS=on:HAKMEM_ACE_THREAD HAKMEM_STRATEGIE=elo:HAKMEM_STRATEGY \
    HAKMEM_hardened=1:HAKMEM_HARDEN HAKMEM_VERBOS=1:HAKMEM_VERBOSE; do
    expect "misspelt ${e%:*}" balanced "$(unknown "${e%:*}" "${e##*:}")" "${e%:*}"
done
# Not a misspelling of a known name: silence (a script's HAKMEM_SO, another
# program's variables, a name of an old version).
for e in HAKMEM_FOO=bar HAKMEM_FOO= HAKMEM_=x HAKMEM_SO=/x/libhakmem.so HAKMEM_BIGCACHE=1 \
    HAKMEM_BIGCACHE_MB=64 HAKMEM_LIB=/x HAKMEM_DIR=/x HAKMEM_TEST_ARGS=-v HAKMEM_X=1; do
    expect "unknown $e: silent" balanced "" "$e"
done
expect "misspelt name beside good values" fast "$(unknown HAKMEM_STAT=1 HAKMEM_STATS)" \
    HAKMEM_MODE=fast HAKMEM_STAT=1 HAKMEM_THP=on

# ---- bad values, one knob at a time (mode balanced) --------------------------------
long100=$(printf 'x%.0s' $(seq 100))
for v in abc "" -1 12x 99999999999999999999 4294967296 0x10 1.5 " 5" "5 " 1e3; do
    for k in HAKMEM_PURGE_DELAY_MS HAKMEM_RETAIN_MB; do
        expect "$k='$v'" balanced "$(bad $k "$v" balanced)" "$k=$v"
    done
done
expect "HAKMEM_PURGE_DELAY_MS=60001" balanced "$(bad HAKMEM_PURGE_DELAY_MS 60001 balanced)" \
    HAKMEM_PURGE_DELAY_MS=60001
expect "HAKMEM_RETAIN_MB=4097" balanced "$(bad HAKMEM_RETAIN_MB 4097 balanced)" HAKMEM_RETAIN_MB=4097
for v in turbo "" Fast "fast " " fast" balanced,fast 1 research1; do
    expect "HAKMEM_MODE='$v'" balanced "$(bad HAKMEM_MODE "$v" balanced)" "HAKMEM_MODE=$v"
done
for v in yes "" Auto always 1 -1; do
    expect "HAKMEM_THP='$v'" balanced "$(bad HAKMEM_THP "$v" balanced)" "HAKMEM_THP=$v"
done
for v in 2 "" yes json -1 " 1" JSON:/tmp/x; do
    expect "HAKMEM_STATS='$v'" balanced "$(bad HAKMEM_STATS "$v" balanced)" "HAKMEM_STATS=$v"
done
for v in 2 "" yes true -1 " 1" 10; do
    expect "HAKMEM_VERBOSE='$v'" balanced "$(bad HAKMEM_VERBOSE "$v" balanced)" "HAKMEM_VERBOSE=$v"
done
for v in "" ELO ucb fast 0 " elo"; do
    expect "HAKMEM_STRATEGY='$v'" balanced "$(bad HAKMEM_STRATEGY "$v" balanced)" "HAKMEM_STRATEGY=$v"
done
expect "HAKMEM_LOG=''" balanced "$(bad HAKMEM_LOG "" balanced)" "HAKMEM_LOG="
for v in "" 2 yes on Zero " 1" -1; do
    expect "HAKMEM_HARDEN='$v'" balanced "$(bad HAKMEM_HARDEN "$v" balanced)" "HAKMEM_HARDEN=$v"
done
for v in "" 1 yes always Auto thread; do
    expect "HAKMEM_ACE_THREAD='$v'" balanced "$(bad HAKMEM_ACE_THREAD "$v" balanced)" "HAKMEM_ACE_THREAD=$v"
done
expect "fast, bad adaptive thread" fast "$(bad HAKMEM_ACE_THREAD never fast)" \
    HAKMEM_MODE=fast HAKMEM_ACE_THREAD=never

# ---- "keeping" the mode's value, whatever the order ------------------------------
expect "fast, bad purge delay" fast "$(bad HAKMEM_PURGE_DELAY_MS abc fast)" \
    HAKMEM_MODE=fast HAKMEM_PURGE_DELAY_MS=abc
expect "bad purge delay, then fast" fast "$(bad HAKMEM_PURGE_DELAY_MS abc fast)" \
    HAKMEM_PURGE_DELAY_MS=abc HAKMEM_MODE=fast
expect "bad retain, then fast" fast "$(bad HAKMEM_RETAIN_MB -1 fast)" \
    HAKMEM_RETAIN_MB=-1 HAKMEM_MODE=fast
expect "fast, bad retain" fast "$(bad HAKMEM_RETAIN_MB 9999 fast)" \
    HAKMEM_MODE=fast HAKMEM_RETAIN_MB=9999
expect "bad thp, then minimal" minimal "$(bad HAKMEM_THP yes minimal)" \
    HAKMEM_THP=yes HAKMEM_MODE=minimal
expect "minimal, bad retain" minimal "$(bad HAKMEM_RETAIN_MB x minimal)" \
    HAKMEM_MODE=minimal HAKMEM_RETAIN_MB=x
expect "learning, bad retain" learning "$(bad HAKMEM_RETAIN_MB 12x learning)" \
    HAKMEM_MODE=learning HAKMEM_RETAIN_MB=12x
expect_lines "research, bad verbose" research "hakmem: warning:" \
    "$(bad HAKMEM_VERBOSE 2 research)" HAKMEM_VERBOSE=2 HAKMEM_MODE=research
expect_lines "research, bad stats" research "hakmem: warning:" \
    "$(bad HAKMEM_STATS 2 research)" HAKMEM_MODE=research HAKMEM_STATS=2
expect_lines "research, bad thp" research "hakmem: warning:" \
    "$(bad HAKMEM_THP 0 research)" HAKMEM_MODE=research HAKMEM_THP=0

# ---- several bad variables: one line each ------------------------------------------
expect_sorted "four bad variables" balanced "$(unknown HAKMEM_MOD=1 HAKMEM_MODE)
$(bad HAKMEM_PURGE_DELAY_MS abc balanced)
$(bad HAKMEM_THP yes balanced)
$(unknown HAKMEM_STAT=2 HAKMEM_STATS)" HAKMEM_MOD=1 HAKMEM_PURGE_DELAY_MS=abc HAKMEM_THP=yes HAKMEM_STAT=2 \
    HAKMEM_FOO=3
expect_sorted "bad mode and bad knobs" balanced "$(bad HAKMEM_MODE turbo balanced)
$(bad HAKMEM_RETAIN_MB x balanced)
$(bad HAKMEM_VERBOSE 7 balanced)" HAKMEM_RETAIN_MB=x HAKMEM_MODE=turbo HAKMEM_VERBOSE=7
expect_sorted "every knob bad" minimal "$(bad HAKMEM_PURGE_DELAY_MS 60001 minimal)
$(bad HAKMEM_RETAIN_MB '' minimal)
$(bad HAKMEM_THP maybe minimal)
$(bad HAKMEM_STATS 3 minimal)
$(bad HAKMEM_VERBOSE x minimal)" HAKMEM_PURGE_DELAY_MS=60001 HAKMEM_RETAIN_MB= \
    HAKMEM_THP=maybe HAKMEM_STATS=3 HAKMEM_VERBOSE=x HAKMEM_MODE=minimal

# ---- long values: up to 64 characters shown in full, longer ones may be cut ---------
long64=$(printf '%.64s' "1234567890$long100")
expect "64-character bad value" balanced "$(bad HAKMEM_PURGE_DELAY_MS "$long64" balanced)" \
    "HAKMEM_PURGE_DELAY_MS=$long64"
expect "64-character bad mode" balanced "$(bad HAKMEM_MODE "$long64" balanced)" \
    "HAKMEM_MODE=$long64"
expect "misspelt name, 64-character value" balanced "$(unknown "HAKMEM_MODES=$long64" HAKMEM_MODE)" \
    "HAKMEM_MODES=$long64"

# check_long DESC NAME VALUE SUFFIX ENV... — one line, "PREFIX NAME=SHOWN SUFFIX",
# SHOWN being VALUE or a cut of it (an optional "..." after a prefix of at least
# 32 characters).
check_long() {
    local desc=$1 lead=$2 name=$3 value=$4 tail=$5
    shift 5
    checks=$((checks + 1))
    probe "$@"
    check_run "$desc" balanced || return
    local n line shown
    n=$(wc -l <"$ERR")
    line=$(head -n 1 "$ERR")
    if [ "$n" -ne 1 ] || [ "${line#"$lead$name="}" = "$line" ] || [ "${line%"$tail"}" = "$line" ]; then
        fail "$desc: expected one line \"$lead$name=...$tail\""
        show_stderr
        return
    fi
    shown=${line#"$lead$name="}
    shown=${shown%"$tail"}
    shown=${shown%...}
    if [ "${#shown}" -lt 32 ] || [ "${value#"$shown"}" = "$value" ]; then
        fail "$desc: the value shown is not a prefix (32+ characters) of the value" "$line"
    fi
}
long300=$long100$long100$long100
check_long "100-character bad value" "hakmem: warning: " HAKMEM_PURGE_DELAY_MS "$long100" \
    " is not valid (accepted: 0..60000); keeping 100" "HAKMEM_PURGE_DELAY_MS=$long100"
check_long "300-character bad stats value" "hakmem: warning: " HAKMEM_STATS "$long300" \
    " is not valid (accepted: 0|1|json:PATH); keeping 0" "HAKMEM_STATS=$long300"
check_long "misspelt name, 300-character value" "hakmem: warning: unknown variable " HAKMEM_MODES \
    "$long300" " ignored; did you mean HAKMEM_MODE?" "HAKMEM_MODES=$long300"

# ---- HAKMEM_VERBOSE=1: every knob, its value and its source ---------------------------
expect "verbose, default mode" balanced "$(config_lines balanced default HAKMEM_VERBOSE=1)" \
    HAKMEM_VERBOSE=1
for m in minimal fast balanced learning; do
    expect "verbose, mode $m" "$m" "$(config_lines "$m" environment HAKMEM_VERBOSE=1)" \
        HAKMEM_MODE=$m HAKMEM_VERBOSE=1
done
# research: verbose and stats from the mode; the table follows at exit
expect_lines "verbose from mode research" research "hakmem: config " \
    "$(config_lines research environment)" HAKMEM_MODE=research
expect_lines "mode research, no warning" research "hakmem: warning" "" HAKMEM_MODE=research
expect_lines "research with verbose and stats overridden" research "hakmem: config " \
    "$(config_lines research environment HAKMEM_STATS=0 HAKMEM_VERBOSE=1)" \
    HAKMEM_MODE=research HAKMEM_STATS=0 HAKMEM_VERBOSE=1
expect_lines "research with stats overridden: no table" research "  operations" "" \
    HAKMEM_MODE=research HAKMEM_STATS=0 HAKMEM_VERBOSE=1
expect "research, verbose 0 and stats 0: silent" research "" \
    HAKMEM_MODE=research HAKMEM_STATS=0 HAKMEM_VERBOSE=0
expect "overrides from the environment" minimal \
    "$(config_lines minimal environment HAKMEM_PURGE_DELAY_MS=0 HAKMEM_RETAIN_MB=16 HAKMEM_THP=on HAKMEM_VERBOSE=1)" \
    HAKMEM_RETAIN_MB=16 HAKMEM_VERBOSE=1 HAKMEM_MODE=minimal HAKMEM_PURGE_DELAY_MS=0 HAKMEM_THP=on
expect "every knob from the environment" fast \
    "$(config_lines fast environment HAKMEM_PURGE_DELAY_MS=60000 HAKMEM_RETAIN_MB=4096 \
        HAKMEM_THP=off HAKMEM_STATS=0 HAKMEM_VERBOSE=1)" \
    HAKMEM_MODE=fast HAKMEM_PURGE_DELAY_MS=60000 HAKMEM_RETAIN_MB=4096 \
    HAKMEM_THP=off HAKMEM_STATS=0 HAKMEM_VERBOSE=1
expect "verbose with a bad value: the warning, then the mode's value" balanced \
    "$(bad HAKMEM_RETAIN_MB abc balanced)
$(config_lines balanced default HAKMEM_VERBOSE=1)" HAKMEM_VERBOSE=1 HAKMEM_RETAIN_MB=abc
expect "verbose with a bad mode" balanced \
    "$(bad HAKMEM_MODE turbo balanced)
$(config_lines balanced default HAKMEM_VERBOSE=1)" HAKMEM_MODE=turbo HAKMEM_VERBOSE=1
json=$WORK/verbose.json
expect "verbose with json stats" balanced \
    "$(config_lines balanced default HAKMEM_STATS="json:$json" HAKMEM_VERBOSE=1)" \
    HAKMEM_VERBOSE=1 HAKMEM_STATS="json:$json"

# ---- HAKMEM_STATS=1: a table on stderr at exit -----------------------------------------
# check_table DESC MODE ENV... — stderr, less "hakmem: config" lines, is a table
# naming the mode, with "allocs" and "frees" and the probe's 3072 B row.
check_table() {
    local desc=$1 mode=$2 w
    shift 2
    checks=$((checks + 1))
    probe "$@"
    check_run "$desc" "$mode" || return
    if grep -q "hakmem: warning" "$ERR"; then
        fail "$desc: a warning"
        show_stderr
        return
    fi
    grep -v "^hakmem: config " "$ERR" >"$WORK/table"
    if [ "$(wc -l <"$WORK/table")" -lt 5 ]; then
        fail "$desc: no table on stderr"
        show_stderr
        return
    fi
    for w in allocs frees 3072 "$mode"; do
        if ! grep -q -- "$w" "$WORK/table"; then
            fail "$desc: the table has no \"$w\""
            show_stderr
            return
        fi
    done
}
check_table "HAKMEM_STATS=1" balanced HAKMEM_STATS=1
check_table "HAKMEM_STATS=1, mode fast" fast HAKMEM_STATS=1 HAKMEM_MODE=fast
check_table "mode research" research HAKMEM_MODE=research
check_table "mode research, verbose 0" research HAKMEM_MODE=research HAKMEM_VERBOSE=0

# ---- HAKMEM_STATS=json:PATH: a JSON file at exit ----------------------------------------
# check_json DESC MODE PATH ENV...
check_json() {
    local desc=$1 mode=$2 path=$3
    shift 3
    checks=$((checks + 1))
    rm -f "$path"
    probe "$@"
    check_run "$desc" "$mode" || return
    if [ -s "$ERR" ]; then
        fail "$desc: stderr should be empty"
        show_stderr
        return
    fi
    if [ ! -s "$path" ]; then
        fail "$desc: $path not written"
        return
    fi
    if [ -z "$PY" ]; then
        if [ -n "${CI:-}" ]; then
            fail "$desc: python3 not installed (CI installs it)"
        else
            echo "note: $desc: python3 not installed, JSON not parsed"
        fi
        return
    fi
    local msg
    if ! msg=$("$PY" tests/check_stats_json.py "$path" --mode "$mode" \
        --row-allocs 3000 1000 --row-allocs 200 100 --row-allocs 3145728 1 2>&1); then
        fail "$desc: $path" "$msg"
    fi
}
check_json "HAKMEM_STATS=json:PATH" balanced "$WORK/stats.json" HAKMEM_STATS="json:$WORK/stats.json"
check_json "HAKMEM_STATS=json:PATH, mode minimal" minimal "$WORK/minimal.json" \
    HAKMEM_MODE=minimal HAKMEM_STATS="json:$WORK/minimal.json"
check_json "HAKMEM_STATS=json:PATH, mode research" research "$WORK/research.json" \
    HAKMEM_STATS="json:$WORK/research.json" HAKMEM_MODE=research HAKMEM_VERBOSE=0
checks=$((checks + 1))
if [ ! -s "$json" ]; then
    fail "HAKMEM_STATS=json:PATH with HAKMEM_VERBOSE=1: $json not written"
fi

# ---- HAKMEM_LOG=PATH: messages go to the file (appended), stderr stays quiet ----
log=$WORK/hakmem.log
rm -f "$log"
expect "HAKMEM_LOG with a bad value: nothing on stderr" balanced "" \
    HAKMEM_LOG="$log" HAKMEM_THP=yes
checks=$((checks + 1))
if [ "$(cat "$log" 2>/dev/null)" != "$(bad HAKMEM_THP yes balanced)" ]; then
    fail "HAKMEM_LOG=$log: the warning is not in the file" "$(head -c 300 "$log" 2>/dev/null)"
fi
expect "HAKMEM_LOG appends" balanced "" HAKMEM_LOG="$log" HAKMEM_TPH=1
checks=$((checks + 1))
if [ "$(cat "$log" 2>/dev/null)" != "$(bad HAKMEM_THP yes balanced)
$(unknown HAKMEM_TPH=1 HAKMEM_THP)" ]; then
    fail "HAKMEM_LOG=$log: the second warning was not appended" "$(head -c 600 "$log" 2>/dev/null)"
fi
expect "HAKMEM_LOG=stderr: messages on stderr" balanced "$(bad HAKMEM_THP yes balanced)" \
    HAKMEM_LOG=stderr HAKMEM_THP=yes
expect "HAKMEM_LOG that cannot be opened" balanced \
    "hakmem: warning: HAKMEM_LOG=$WORK/no/such/dir/log cannot be opened (errno 2); logging to stderr" \
    HAKMEM_LOG="$WORK/no/such/dir/log"

echo "config [$VARIANT]: $checks checks, $failed failed"
[ "$failed" -eq 0 ]
