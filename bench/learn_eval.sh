#!/usr/bin/env bash
# bench/learn_eval.sh — does learning mode end near the best static strategy?
#
# For each workload, every candidate strategy of learning mode runs
# statically (HAKMEM_MODE=learning HAKMEM_STRATEGY=NAME) and learning mode
# itself runs (HAKMEM_STRATEGY=elo, or SELECTOR=ucb1), interleaved, RUNS
# times.  A run's figure is the cost per allocation the adaptive thread
# scores every epoch (ace.c: CPU ns of the program's threads, plus 200 ns
# per minor fault, plus memory held), its mean over the run's epochs, read
# from the run's JSON statistics: a static run is measured exactly as
# learning measures its candidates.  Per workload it prints each
# candidate's median cost, the best in hindsight, what learning chose at
# the end (its winner if frozen, else the best rated so far: the stats'
# "leader"; in how many runs) and three ratios against the best static
# median:
#   chose  the static median of the strategy learning ended on (median over
#          the learning runs): how good its choice is;
#   end    the winner's mean cost in the learning runs (median): where
#          learning ends, the cost of having explored included;
#   whole  the learning run's mean cost over all its epochs, exploration
#          included (median).
# The CSV goes to bench/results/learn_eval.csv (one row per run).
#
# Usage:  bash bench/learn_eval.sh       (~9 minutes with the defaults)
# Environment:
#   RUNS=3                 runs per workload and configuration
#   SELECTOR=elo|ucb1      learning mode's selector
#   WORKLOADS="name=PROGRAM ARGS;..."   default: bursts, webserver,
#                          fragmentation, larson (about 8 s each: learning
#                          needs 50-90 epochs of 50 ms to converge).  bursts
#                          is where the candidates differ most (freed memory
#                          purged and faulted back, or kept); on the others
#                          they are within a few percent of each other.
#   BENCH_HAKMEM_LIB       the library (default build/libhakmem.so)
#   BENCH_RESULTS_DIR      where the CSV goes
set -u
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS=${RUNS:-3}
SELECTOR=${SELECTOR:-elo}
WORKLOADS=${WORKLOADS:-"bursts=extended bursts 70;webserver=extended webserver 5000000;fragmentation=extended fragmentation 40000;larson=larson 8 8 1000 5000 100 4141 2"}
LIB=${BENCH_HAKMEM_LIB:-$ROOT/build/libhakmem.so}
CONFIGS="lean balanced warm hoard $SELECTOR"

[ -f "$LIB" ] || { note "error: no $LIB (make first)"; exit 1; }
LIB=$(realpath "$LIB")
command -v python3 >/dev/null || { note "error: python3 is needed to read the JSON statistics"; exit 1; }
IFS=';' read -r -a WL <<< "$WORKLOADS"
for w in "${WL[@]}"; do
    cmd=${w#*=}
    build_prog "${cmd%% *}" || { note "error: cannot build ${cmd%% *}"; exit 1; }
done

mkdir -p "$RESULTS_DIR"
CSV="$RESULTS_DIR/learn_eval.csv"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/learn_eval.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
echo "workload,config,run,state,strategy,epochs,cost,winner_cost,wall_s" > "$CSV"

# One run: appends its CSV row.  cost: the run's mean over every epoch;
# winner_cost: the mean cost of the strategy it ran at the end.
run_config() {   # workload-name config run command...
    local name=$1 config=$2 run=$3; shift 3
    local json="$TMP/stats.json" t0 t1
    rm -f "$json"
    t0=$(date +%s.%N)
    env HAKMEM_MODE=learning HAKMEM_STRATEGY="$config" HAKMEM_STATS="json:$json" \
        LD_PRELOAD="$LIB" "$BUILD_BENCH/$@" > /dev/null 2> "$TMP/err" ||
        { note "warning: $name under $config failed: $(tail -n 1 "$TMP/err")"; return; }
    t1=$(date +%s.%N)
    python3 - "$json" "$name" "$config" "$run" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')" >> "$CSV" <<'EOF'
import json, sys
f, name, config, run, wall = sys.argv[1:]
ace = json.load(open(f))["ace"]
plays = sum(s["plays"] for s in ace["strategies"])
total = sum(s["mean_cost"] * s["plays"] for s in ace["strategies"])
choice = ace.get("leader", ace["strategy"])   # still learning: the best rated so far
end = next(s for s in ace["strategies"] if s["name"] == choice)
print("%s,%s,%s,%s,%s,%d,%.3f,%.3f,%s" % (name, config, run, ace["learning"], choice,
      plays, total / plays if plays else 0, end["mean_cost"], wall))
EOF
}

for ((r = 1; r <= RUNS; r++)); do
    for w in "${WL[@]}"; do
        name=${w%%=*}
        # shellcheck disable=SC2086  # the command's words
        for c in $CONFIGS; do note "run $r/$RUNS: $name $c"; run_config "$name" "$c" "$r" ${w#*=}; done
    done
done

python3 - "$CSV" "$SELECTOR" <<'EOF'
import csv, statistics as st, sys
from collections import Counter
rows = [r for r in csv.DictReader(open(sys.argv[1])) if float(r["cost"]) > 0]
sel = sys.argv[2]
print("Cost per allocation (ns, the adaptive thread's score), medians of the runs")
print("%-13s %9s %9s %9s %9s  %-9s  %-22s %6s %6s %6s" % ("workload", "lean", "balanced", "warm", "hoard",
      "best", sel + " ended on", "chose", "end", "whole"))
for name in dict.fromkeys(r["workload"] for r in rows):
    med = {}
    for c in ("lean", "balanced", "warm", "hoard"):
        v = [float(r["cost"]) for r in rows if r["workload"] == name and r["config"] == c]
        med[c] = st.median(v) if v else float("nan")
    best = min(med, key=lambda c: med[c])
    lr = [r for r in rows if r["workload"] == name and r["config"] == sel]
    if not lr:
        continue
    ends = Counter("%s%s" % (r["strategy"], "" if r["state"] == "frozen" else "*") for r in lr)
    won = [float(r["winner_cost"]) for r in lr if float(r["winner_cost"]) > 0]
    end = "%6.3f" % (st.median(won) / med[best]) if won else "     -"
    whole = st.median(float(r["cost"]) for r in lr) / med[best]
    chose = st.median(med.get(r["strategy"], float("nan")) for r in lr) / med[best]
    print("%-13s %9.1f %9.1f %9.1f %9.1f  %-9s  %-22s %6.3f %s %6.3f" % (name, med["lean"], med["balanced"],
          med["warm"], med["hoard"], best, " ".join("%s x%d" % kv for kv in ends.items()), chose, end, whole))
print("(* = still learning when the run ended; chose: the static cost of the strategy learning ended on;")
print(" end, whole: learning's own cost / the best static median; end leaves out runs whose last")
print(" strategy had not been scored yet)")
EOF
note "wrote $CSV"
