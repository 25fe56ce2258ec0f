#!/usr/bin/env bash
# Runs build/fuzz/fuzz_alloc (make fuzz builds it) for a bounded time per
# mode, from a copy of the seed corpus fuzz/corpus (which stays untouched):
# first the default mode, then HAKMEM_HARDEN=1.  Logs, working corpora and
# crash reproducers go to build/fuzz/.  Exits non-zero if libFuzzer reports
# a crash, a timeout, an out-of-memory or any other failure.
#   FUZZ_SECONDS=25   seconds per mode (-max_total_time)
#   FUZZ_BIN=build/fuzz/fuzz_alloc
#   FUZZ_ARGS=...     extra libFuzzer flags (e.g. -seed=1 -max_len=8192)
set -u
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-25}
FUZZ_BIN=${FUZZ_BIN:-build/fuzz/fuzz_alloc}
FUZZ_ARGS=${FUZZ_ARGS:-}
OUT=build/fuzz

if [ ! -x "$FUZZ_BIN" ]; then
  echo "fuzz: $FUZZ_BIN not built (make build/fuzz/fuzz_alloc)" >&2
  exit 2
fi
mkdir -p "$OUT"

failed=0
run_mode() {                       # run_mode NAME [VAR=VALUE...]
  local name=$1; shift
  local work=$OUT/corpus-$name log=$OUT/$name.log
  rm -rf "$work" && cp -r fuzz/corpus "$work"
  rm -f "$OUT/$name-"crash-* "$OUT/$name-"timeout-* "$OUT/$name-"oom-* "$OUT/$name-"leak-*
  # shellcheck disable=SC2086
  env "$@" "$FUZZ_BIN" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -timeout=10 \
      -print_final_stats=1 -artifact_prefix="$OUT/$name-" $FUZZ_ARGS "$work" >"$log" 2>&1
  local rc=$?
  local runs eps rss cov
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]* corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -1)
  local artifacts
  artifacts=$(ls "$OUT/$name-"crash-* "$OUT/$name-"timeout-* "$OUT/$name-"oom-* \
                 "$OUT/$name-"leak-* 2>/dev/null)
  if [ "$rc" -ne 0 ] || [ -n "$artifacts" ] || grep -q '^==[0-9]*== ERROR: libFuzzer' "$log"; then
    failed=1
    echo "fuzz: $name: FAILED (exit $rc) after ${runs:-?} runs; log $log"
    grep -E 'fuzz_alloc: op|hakmem|ERROR: libFuzzer|#[0-9]+ 0x' "$log" |
      grep -vE 'fuzzer::|__sanitizer_|libc\.so|libc_start|_start |in main ' | head -24 | sed 's/^/  /'
    for a in $artifacts; do echo "  reproducer: $a  (rerun: ${*:+$* }$FUZZ_BIN $a)"; done
  else
    echo "fuzz: $name: ok, ${runs:-?} runs in ${FUZZ_SECONDS}s (${eps:-?} exec/s), ${cov:-cov: ?}, peak rss ${rss:-?} MB"
  fi
}

run_mode default
run_mode harden HAKMEM_HARDEN=1

if [ "$failed" -ne 0 ]; then
  echo "fuzz: FAILED (logs and reproducers in $OUT/)"
  exit 1
fi
echo "fuzz: ok, no failure in 2 modes x ${FUZZ_SECONDS}s"
