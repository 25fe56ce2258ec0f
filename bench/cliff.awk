# bench/cliff.awk — the cliff report: for each benchmark, hakmem against the
# fastest peer (time) and against the leanest peer (peak RSS), then the
# benchmarks where hakmem takes more than TIME_X times the fastest peer's
# time or holds more than RSS_X times the leanest peer's peak RSS.  This
# list, not a ratio against one peer, is what we steer by.
#
#   awk -F, -v self=hakmem -v peers="glibc mimalloc jemalloc tcmalloc" \
#       [-v time_x=1.10 -v rss_x=1.25 -v spread_max=5] -f bench/cliff.awk latest.csv
#
# Reads the runner's CSV (benchmark, allocator, throughput, unit, ...,
# peak_rss_kib in column 6, status in column 23): rows whose status is not
# ok or flagged are left out.  Time ratios come from the throughput: for a
# unit per second, the fastest's over ours; for a time per operation (*/op),
# ours over the fastest's.  Above 1 is worse, for both columns.  A time
# cliff where either side's runs spread more than spread_max % (column 22)
# is tagged "noisy": more runs may make it a tie.
BEGIN {
    if (spread_max == "") spread_max = 5
    if (time_x == "") time_x = 1.10
    if (rss_x == "") rss_x = 1.25
    n = split(peers, pl, " ")
    for (i = 1; i <= n; i++) is_peer[pl[i]] = 1
}
NR == 1 { next }
$23 != "ok" && $23 !~ /^flagged/ { next }
{
    b = $1; a = $2; v = $3 + 0; r = $6 + 0
    if (!(b in seen)) { seen[b] = 1; order[++nb] = b }
    unit[b] = $4
    spread[b, a] = $22 + 0
    if (a == self) { mine[b] = v; mine_rss[b] = r; next }
    if (!(a in is_peer) || v <= 0) next
    lower = ($4 ~ /\/op$/)
    if (best[b] == "" || (lower ? v < best[b] : v > best[b])) { best[b] = v; best_by[b] = a }
    if (r > 0 && (lean[b] == "" || r < lean[b])) { lean[b] = r; lean_by[b] = a }
}
END {
    printf "cliff report: %s against the fastest and the leanest of %s\n", self, peers
    printf "(time x = its time / the fastest's, RSS x = its peak RSS / the leanest's; above 1 is worse;\n"
    printf " cliffs: time x > %.2f or RSS x > %.2f)\n", time_x, rss_x
    printf "%-14s %10s %-8s %-10s %7s  %9s %-10s %6s\n", "benchmark", self, "unit", "fastest", "time x", "RSS MiB", "leanest", "RSS x"
    cliffs = 0
    for (i = 1; i <= nb; i++) {
        b = order[i]
        if (!(b in mine) || best[b] == "") continue
        lower = (unit[b] ~ /\/op$/)
        tx = lower ? mine[b] / best[b] : best[b] / mine[b]
        rx = (lean[b] > 0 && mine_rss[b] > 0) ? mine_rss[b] / lean[b] : 0
        printf "%-14s %10.4g %-8s %-10s %7.2f  %9.1f %-10s %6.2f\n", b, mine[b], unit[b], best_by[b], tx,
               mine_rss[b] / 1024, lean_by[b], rx
        why = ""
        if (tx > time_x) {
            why = sprintf("%.2fx %s's time", tx, best_by[b])
            if (spread[b, self] > spread_max || spread[b, best_by[b]] > spread_max)
                why = why sprintf(" (noisy: runs spread %d%% and %d%%)", spread[b, self], spread[b, best_by[b]])
        }
        if (rx > rss_x) why = why (why == "" ? "" : ", ") sprintf("%.2fx %s's peak RSS", rx, lean_by[b])
        if (why != "") list[++cliffs] = sprintf("  %-14s %s", b, why)
    }
    if (cliffs == 0) { printf "cliffs: none\n"; exit }
    printf "cliffs (%d):\n", cliffs
    for (i = 1; i <= cliffs; i++) print list[i]
}
