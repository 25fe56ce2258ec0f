#!/usr/bin/env python3
"""bench/report_md.py WORK FIG OUT -- writes the evaluation report (OUT, markdown)
from the files bench/report.sh left in WORK and the charts in FIG.

Every number in the document comes from those files: the comparison
(WORK/main/latest.csv, cliff.txt), the ablations (WORK/ablation/latest.csv),
the learning evaluation (WORK/learn_eval.csv, learn.out), the phase change
(WORK/phases.csv) and the machine (WORK/machine.txt); the commands from
WORK/commands.txt.  Nothing is measured here and nothing is written by hand
but the explanations of what each part measures.
"""
import csv
import os
import statistics
import sys

WORK, FIG, OUT = sys.argv[1:4]
HAKMEM = "hakmem"
SPREAD_MAX = 5.0


def read_csv(path):
    try:
        with open(path) as f:
            return list(csv.DictReader(f))
    except FileNotFoundError:
        return []


def read_text(path):
    try:
        with open(path) as f:
            return f.read().rstrip("\n")
    except FileNotFoundError:
        return ""


def num(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def fmt(v, digits=4):
    """A number with `digits` significant digits, no exponent for usual sizes."""
    if v is None:
        return "-"
    if v == 0:
        return "0"
    if abs(v) >= 10 ** digits:
        return "%.0f" % v
    s = "%.*g" % (digits, v)
    if "e" in s:
        s = "%.*f" % (digits + 2, v)
    return s


def lower_better(unit):
    return unit.endswith("/op")


def usable(row):
    return row and (row["status"] == "ok" or row["status"].startswith("flagged"))


class Table:
    """The runner's CSV, indexed by (benchmark, allocator), in run order."""

    def __init__(self, rows):
        self.rows = {(r["benchmark"], r["allocator"]): r for r in rows}
        self.benches = list(dict.fromkeys(r["benchmark"] for r in rows))
        self.allocs = list(dict.fromkeys(r["allocator"] for r in rows
                                         if not r["status"].startswith("skipped")))

    def get(self, b, a):
        return self.rows.get((b, a))

    def unit(self, b):
        for a in self.allocs:
            r = self.get(b, a)
            if r and r["throughput_unit"]:
                return r["throughput_unit"]
        return ""

    def time_ratio(self, b, a, ref):
        """a's time over ref's (above 1: a is slower)."""
        x, y = self.get(b, a), self.get(b, ref)
        if not (usable(x) and usable(y)):
            return None
        tx, ty = num(x["throughput"]), num(y["throughput"])
        if not tx or not ty:
            return None
        return tx / ty if lower_better(self.unit(b)) else ty / tx


machine = {}
for line in read_text(os.path.join(WORK, "machine.txt")).splitlines():
    if "=" in line and not line.startswith(("hakmem ", "extra ")):
        k, v = line.split("=", 1)
        machine[k] = v
versions = [ln for ln in read_text(os.path.join(WORK, "machine.txt")).splitlines()
            if ln.startswith(("hakmem ", "extra "))]
commands = [ln.split("\t", 1) for ln in read_text(os.path.join(WORK, "commands.txt")).splitlines() if "\t" in ln]
main = Table(read_csv(os.path.join(WORK, "main", "latest.csv")))
abl = Table(read_csv(os.path.join(WORK, "ablation", "latest.csv")))
peers = [a for a in main.allocs if not a.startswith("hakmem")]
figs = sorted(f for f in os.listdir(FIG) if f.endswith(".png")) if os.path.isdir(FIG) else []
figrel = os.path.relpath(FIG, os.path.dirname(os.path.abspath(OUT)))
out = []
w = out.append


def image(prefix, alt):
    """The chart whose name starts with prefix (its baseline is in the name)."""
    for name in figs:
        if name.startswith(prefix):
            w("![%s](%s/%s)" % (alt, figrel, name))
            w("")
            return


def row(cells):
    w("| " + " | ".join(str(c) for c in cells) + " |")


def head(left, right, tail=()):
    """A table's header: `left` columns aligned left, `right` ones right, then `tail` left."""
    row(list(left) + list(right) + list(tail))
    row(["---"] * len(left) + ["---:"] * len(right) + ["---"] * len(tail))


def runs_of(t):
    n = [int(r["runs"]) for r in t.rows.values() if (r.get("runs") or "").isdigit()]
    return max(n) if n else 0


# ---- head -----------------------------------------------------------------------------
w("# hakmem: evaluation")
w("")
w("Written by `make report` (`bench/report.sh`, profile `%s`) on %s in %s s. Every figure below"
  % (machine.get("profile", "?"), machine.get("date", "?"), machine.get("seconds", "?")))
w("comes from that run; run it again rather than editing this file. The runs' own files")
w("(CSVs, every single run, the charts' data) are in `bench/results/report/` after a run.")
w("")
w("## Machine and versions")
w("")
for k, label in (("cpu", "CPU"), ("memory", "memory"), ("kernel", "kernel"), ("thp", "transparent huge pages"),
                 ("page_reporting", "page reporting"),
                 ("cc", "compiler")):
    if machine.get(k):
        w("- %s: %s" % (label, machine[k]))
for v in versions:
    w("- %s" % v)
w("")
w("Commands (from the repository's root; `make report` runs them in this order):")
w("")
w("```")
for name, cmd in commands:
    w("# %s" % name)
    w(cmd)
w("```")
w("")
w("The runner takes one benchmark at a time: its run 1 under every allocator, run 2 in the")
w("reverse order, run 3, and reports medians; single-threaded benchmarks run pinned to one CPU.")
w("A shared 2-core VM still drifts from second to second, and its page faults cost what the host")
w("takes to back the memory (see page reporting above): `spread` is (max - min) / median of a")
w("benchmark's runs; above %g%% (marked `!`) read the ratios as a tie (bench/README.md, \"What" % SPREAD_MAX)
w("stays noisy\").")
w("")

# ---- the cliff list ----------------------------------------------------------------------------
w("## Where hakmem stands: the cliff list")
w("")
w("For each benchmark, hakmem's time against the fastest peer's and its peak RSS against the")
w("leanest peer's (above 1 is worse in both). The list at the end names the benchmarks where")
w("hakmem takes more than 1.10x the fastest peer's time or holds more than 1.25x the leanest")
w("peer's peak RSS: what we steer by (`bench/cliff.awk`).")
w("")
w("```")
w(read_text(os.path.join(WORK, "main", "cliff.txt")) or "(no cliff report: no peer ran)")
w("```")
w("")
if main.benches:
    fastest = sum(1 for b in main.benches
                  if all((main.time_ratio(b, HAKMEM, p) or 9) <= 1.0 for p in peers if usable(main.get(b, p))))
    within = sum(1 for b in main.benches
                 if all((main.time_ratio(b, HAKMEM, p) or 9) <= 1.10 for p in peers if usable(main.get(b, p))))
    w("hakmem is the fastest on %d of %d benchmarks and within 1.10x of the fastest peer on %d."
      % (fastest, len(main.benches), within))
    w("")

# ---- throughput -----------------------------------------------------------------------------
w("## Throughput")
w("")
w("Median of %d runs per benchmark and allocator. Mops/s: millions of allocator calls per second"
  % runs_of(main))
w("(higher is better); ns/op and s/op: time per call, or per run of a real program (lower is better).")
w("Bold: the fastest. `x fastest`: hakmem's time over the fastest peer's. `spread`: hakmem's, then")
w("the fastest peer's.")
w("")
head(["benchmark", "unit"], main.allocs + ["x fastest"], ["spread %"])
for b in main.benches:
    unit = main.unit(b)
    vals = {a: num(main.get(b, a)["throughput"]) for a in main.allocs if usable(main.get(b, a))}
    best = None
    if vals:
        best = (min if lower_better(unit) else max)(vals, key=lambda a: vals[a])
    pv = {a: v for a, v in vals.items() if a in peers}
    fp = (min if lower_better(unit) else max)(pv, key=lambda a: pv[a]) if pv else None
    cells = []
    for a in main.allocs:
        r = main.get(b, a)
        if not r:
            cells.append("")
        elif r["status"].startswith("FAIL"):
            cells.append("FAIL")
        elif a in vals:
            c = fmt(vals[a])
            if r["status"].startswith("flagged"):
                c += " (flagged)"
            cells.append("**%s**" % c if a == best else c)
        else:
            cells.append("-")
    x = main.time_ratio(b, HAKMEM, fp) if fp else None
    sp = []
    for a in (HAKMEM, fp):
        r = main.get(b, a) if a else None
        s = num(r["throughput_spread_pct"]) if r else None
        sp.append("-" if s is None else ("%.0f!" % s if s > SPREAD_MAX else "%.0f" % s))
    w("| %s | %s | %s | %s | %s |" % (b, unit, " | ".join(cells), fmt(x, 3), " / ".join(sp)))
w("")
noisy = [b for b in main.benches if (num((main.get(b, HAKMEM) or {}).get("throughput_spread_pct")) or 0) > SPREAD_MAX]
w("hakmem's runs spread more than %g%% on %d of %d benchmarks%s." % (
    SPREAD_MAX, len(noisy), len(main.benches), (": " + ", ".join(noisy)) if noisy else ""))
w("")
image("throughput_vs_", "speed relative to a peer")

# ---- memory ------------------------------------------------------------------------------
w("## Peak resident memory")
w("")
w("Peak RSS of the whole process (MiB, `ru_maxrss`, median of the runs). Bold: the leanest.")
w("`x leanest`: hakmem's over the leanest peer's.")
w("")
head(["benchmark"], main.allocs + ["x leanest"])
for b in main.benches:
    kb = {a: num(main.get(b, a)["peak_rss_kib"]) for a in main.allocs
          if usable(main.get(b, a)) and num(main.get(b, a)["peak_rss_kib"])}
    lean = min(kb, key=lambda a: kb[a]) if kb else None
    pk = {a: v for a, v in kb.items() if a in peers}
    lp = min(pk, key=lambda a: pk[a]) if pk else None
    cells = []
    for a in main.allocs:
        if a in kb:
            c = fmt(kb[a] / 1024, 3)
            cells.append("**%s**" % c if a == lean else c)
        else:
            cells.append("-")
    x = kb[HAKMEM] / kb[lp] if lp and HAKMEM in kb else None
    w("| %s | %s | %s |" % (b, " | ".join(cells), fmt(x, 3)))
w("")
image("rss_vs_", "peak RSS relative to a peer")

idle = [b for b in main.benches if any(main.get(b, a) and main.get(b, a).get("idle_rss_kib") for a in main.allocs)]
if idle:
    w("### Memory given back: resident after the last free and after idling")
    w("")
    w("`peak_idle` builds a large heap, frees it all and sleeps without an allocator call; the")
    w("program reads its resident set (`/proc/self/statm`) right after the last free and after the")
    w("idle time (MiB, medians). `peak_idle_mt` is the same with a second, sleeping thread.")
    w("")
    head(["benchmark", "allocator"], ["peak", "after the free", "after idling"])
    for b in idle:
        for a in main.allocs:
            r = main.get(b, a)
            if usable(r):
                w("| %s | %s | %s | %s | %s |" % (b, a, fmt(num(r["peak_rss_kib"]) / 1024, 3),
                  fmt((num(r["freed_rss_kib"]) or 0) / 1024, 3), fmt((num(r["idle_rss_kib"]) or 0) / 1024, 3)))
    w("")

live = num(machine.get("fragmentation_live_kib"))
if live and "fragmentation" in main.benches:
    w("### Fragmentation")
    w("")
    w("`fragmentation` holds at most %s MiB of live blocks at once (the program counts them; the"
      % fmt(live / 1024, 3))
    w("same for every allocator). Its peak RSS over that peak live size:")
    w("")
    head([], main.allocs)
    w("| " + " | ".join(fmt(num(main.get("fragmentation", a)["peak_rss_kib"]) / live, 3)
                        if usable(main.get("fragmentation", a)) else "-" for a in main.allocs) + " |")
    w("")

# ---- faults, CPU, bandwidth ------------------------------------------------------------
w("## Page faults and CPU time")
w("")
w("Minor page faults of the whole process (median of the runs; start-up included, ~100-1,000 for")
w("a small program). On this machine a fault costs microseconds, more than hundreds of")
w("malloc/free pairs. Then the process's CPU time (user + system) beside its wall time, seconds.")
w("")
head(["benchmark"], ["%s faults" % a for a in main.allocs])
for b in main.benches:
    w("| %s | %s |" % (b, " | ".join(fmt(num(main.get(b, a)["minor_faults"]), 3)
                                     if usable(main.get(b, a)) else "-" for a in main.allocs)))
w("")
image("faults_vs_", "minor page faults relative to a peer")
head(["benchmark"], ["%s cpu / wall" % a for a in main.allocs])
for b in main.benches:
    cells = []
    for a in main.allocs:
        r = main.get(b, a)
        if usable(r):
            cells.append("%s / %s" % (fmt((num(r["user_s"]) or 0) + (num(r["sys_s"]) or 0), 3),
                                      fmt(num(r["wall_s"]), 3)))
        else:
            cells.append("-")
    w("| %s | %s |" % (b, " | ".join(cells)))
w("")
bw = [b for b in ("seq_access", "rand_access") if b in main.benches]
if bw:
    w("Bandwidth the program sees in `seq_access` (each malloc of 4 MiB is written with memset and")
    w("read line by line, then freed: 8 MiB moved per malloc+free pair, page faults included), GB/s:")
    w("")
    head([], main.allocs)
    cells = []
    for a in main.allocs:
        r = main.get("seq_access", a) if "seq_access" in main.benches else None
        ns = num(r["throughput"]) if usable(r) else None
        cells.append(fmt(8 * 1048576 / (2 * ns), 3) if ns else "-")
    w("| " + " | ".join(cells) + " |")
    w("")

# ---- ablations --------------------------------------------------------------------------------
w("## Ablations")
w("")
w("hakmem's default (balanced mode: the adaptive thread purges and tunes) against itself with one")
w("part changed, in one run, interleaved, medians of %d runs:" % runs_of(abl))
w("")
w("- `hakmem@fast`: the adaptive thread off (`HAKMEM_MODE=fast`: no background purge or tuning);")
w("- `hakmem-notel`: telemetry compiled out (`-DHK_TELEMETRY=0`);")
w("- `hakmem-hardened`: hardened mode (`HAKMEM_HARDEN=1`: every free checked, encoded free lists,")
w("  guard pages).")
w("")
w("Speed: the variant's over hakmem's (above 1 is faster); RSS: its peak RSS over hakmem's (below 1")
w("is leaner).")
w("")
variants = [a for a in abl.allocs if a != HAKMEM]
if abl.benches and variants:
    head(["benchmark", "unit"], ["hakmem"] + [c for v in variants for c in ("%s speed" % v, "RSS")], ["spread %"])
    for b in abl.benches:
        h = abl.get(b, HAKMEM)
        cells = []
        for v in variants:
            r = abl.get(b, v)
            t = abl.time_ratio(b, HAKMEM, v)
            rss = (num(r["peak_rss_kib"]) / num(h["peak_rss_kib"])) if usable(r) and usable(h) else None
            cells.append("%s | %s" % (fmt(t, 3) if t else ("FAIL" if r and r["status"].startswith("FAIL") else "-"),
                                      fmt(rss, 3)))
        sp = "/".join("%.0f" % (num(abl.get(b, a)["throughput_spread_pct"]) or 0)
                      for a in abl.allocs if usable(abl.get(b, a)))
        w("| %s | %s | %s | %s | %s |" % (b, abl.unit(b), fmt(num(h["throughput"])) if usable(h) else "-",
                                         " | ".join(cells), sp))
    w("")
    gm = []
    for v in variants:
        rs = [abl.time_ratio(b, HAKMEM, v) for b in abl.benches]
        rs = [r for r in rs if r]
        gm.append("%s %s" % (v, fmt(statistics.geometric_mean(rs), 3) if rs else "-"))
    w("Geometric mean of the speed ratios: " + ", ".join(gm) + ".")
    w("")
    idle_abl = [b for b in abl.benches if any((abl.get(b, a) or {}).get("idle_rss_kib") for a in abl.allocs)]
    for b in idle_abl:
        w("`%s`, resident after idling (MiB): " % b + ", ".join(
            "%s %s" % (a, fmt(num(abl.get(b, a)["idle_rss_kib"]) / 1024, 3))
            for a in abl.allocs if usable(abl.get(b, a)) and num(abl.get(b, a)["idle_rss_kib"]) is not None) + ".")
        w("")
else:
    w("(the ablation run produced no results)")
    w("")

# ---- learning -----------------------------------------------------------------------------------
w("## Learning against the static strategies")
w("")
w("Learning mode (`HAKMEM_MODE=learning`) tries its candidate strategies (`lean`, `balanced`,")
w("`warm`, `hoard`: purge delay, retained memory, cache sizes) while the program runs and settles")
w("on the cheapest by the cost the adaptive thread scores every epoch (CPU ns per allocation, plus")
w("200 ns per minor fault, plus memory held). Each candidate also runs statically, scored the same")
w("way (`bench/learn_eval.sh`): does learning end near the best in hindsight?")
w("")
lt = read_text(os.path.join(WORK, "learn.out"))
w("```")
w(lt or "(the learning evaluation produced no results)")
w("```")
w("")

# ---- phases -----------------------------------------------------------------------------------------
ph = read_csv(os.path.join(WORK, "phases.csv"))
w("## Resident memory through a phase change")
w("")
w("`build/bench/phases` changes what it asks of the allocator five times: it loads small blocks")
w("(16-512 B), frees 15 of 16 of them at random (thin: the survivors are scattered), moves to")
w("8-64 KiB blocks (mid), frees those and sleeps with no allocator call (idle), then refills the")
w("small blocks to half the load and churns them (again). A second thread sleeps throughout (a")
w("service is multi-threaded). `rss_run -s` samples the resident set every 10 ms from outside the")
w("process, so every allocator is measured alike. The chart shows each allocator's first run.")
w("")
image("rss_over_time", "resident set over time through a phase change")
if ph:
    w("Medians of the runs: resident set (MiB) at the end of each phase (read by the program), the")
    w("peak, time per allocator call (the sleep left out) and minor faults.")
    w("")
    head(["allocator"], ["load", "thin", "mid", "idle", "again", "peak", "ns/op", "faults", "runs ok"])
    for a in dict.fromkeys(r["allocator"] for r in ph):
        rs = [r for r in ph if r["allocator"] == a and r["status"] == "ok"]

        def med(k, scale=1.0):
            v = [num(r[k]) for r in rs if num(r[k]) is not None]
            return fmt(statistics.median(v) / scale, 3) if v else "-"
        w("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %d/%d |" % (
            a, med("rss_load_kb", 1024), med("rss_thin_kb", 1024), med("rss_mid_kb", 1024),
            med("rss_idle_kb", 1024), med("rss_again_kb", 1024), med("peak_rss_kib", 1024),
            med("ns_per_op"), med("minor_faults"), len(rs), sum(1 for r in ph if r["allocator"] == a)))
    w("")
    bad = [r for r in ph if r["status"] != "ok"]
    for r in bad:
        w("- %s run %s: %s" % (r["allocator"], r["run"], r["status"]))
    if bad:
        w("")

w("## Charts")
w("")
for f in figs:
    w("- [`%s`](%s/%s)" % (f, figrel, f))
w("")
with open(OUT, "w") as f:
    f.write("\n".join(out) + "\n")
