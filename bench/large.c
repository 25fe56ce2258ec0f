/* large NAME N [P2] [P3]
 *
 * Three workloads of large blocks and of an application's mixed heap
 * (issue 17), reported as extended's in nanoseconds per allocator call
 * (malloc, realloc or free): wall time of the workload, including its own
 * writes and checks, divided by the number of calls (lower is better).
 * Each starts with empty slots, fills them in its first allocations and
 * frees what is left at the end (all of it timed and counted).
 *
 *   large_cycle N [SLOTS=16] [TOUCH_KIB=512]
 *       SLOTS live blocks, sizes 256 KiB-8 MiB: 50% exactly 2 MiB, the
 *       rest log-uniform in 256 KiB..8 MiB (as many of 256-512 KiB as of
 *       4-8 MiB).  After the fill, N times: a random slot's block is freed
 *       and a block of a new random size allocated into it, whose first
 *       TOUCH_KIB KiB (the whole block if smaller) are written with memset,
 *       as a program initialises the head of a buffer it may not fill.
 *       Large-block reuse across mixed sizes: caching, splitting and
 *       coalescing of freed mappings, munmap/madvise churn, page faults.
 *   large_zeroed N [SLOTS=20]
 *       SLOTS live blocks of 5-25 MiB (uniform); after the fill, N random
 *       replacements.  Every new block is zeroed by the program with memset
 *       right after malloc, as C++'s std::make_unique<char[]>(n) (value-
 *       initialised) does: the whole block is written, so an allocator that
 *       hands back resident memory is paid the memset only, one that maps
 *       fresh memory the memset and a page fault per page.
 *   app_churn N
 *       N operations of an application's heap: 90% allocate a block into
 *       one of three rings of slots, freeing the block the slot held: 60%
 *       into a ring of 32 slots (short-lived: ~53 allocations), 30% into
 *       one of 512 (medium: ~1,700), 10% into one of 2048 (long: ~20,000);
 *       sizes 80% 16 B-1 KiB, 15% 1-64 KiB, 5% 64 KiB-1 MiB.  The other
 *       10% grow a random live block with realloc by 1.5-2x, capped at
 *       4 MiB (an empty slot picked: the operation allocates instead).
 *       Every block is filled with its slot's pattern byte: the first 4 KiB
 *       in full, then one byte in each further 4 KiB page, and its last
 *       byte; after a realloc the old prefix is checked (the first 4 KiB,
 *       each page's byte, the old last byte) and the new part filled.
 *       ~2,600 blocks live; also prints peak_live_kib (peak bytes requested
 *       and live): compare with peak RSS.
 *
 * The RNG seed is fixed: every allocator gets the same sequence of calls.
 * Blocks carry tags at both ends (and large_cycle's and large_zeroed's a
 * written byte in the middle, app_churn's its pattern), checked before
 * free; a mismatch aborts with CORRUPTION.
 * Output (stdout, one line; see bench_result in bench_common.h):
 *   large_cycle n=... slots=16 touch_kib=512 ... ops=... seconds=... throughput=... unit=ns/op ... check=tags:ok
 */
#include "bench_common.h"
#include <math.h>

#define KIB ((size_t)1024)
#define MIB ((size_t)1024 * 1024)
#define PAGE ((size_t)4096)

static uint64_t g_rng;
static char g_check[256] = "tags:ok";
static char g_extra[256] = "";

static inline uint64_t rnd(uint64_t n) { return bench_rand(&g_rng) % n; }

/* Uniform in [0, 1). */
static inline double rnd01(void) { return (double)(bench_rand(&g_rng) >> 11) * 0x1p-53; }

static void corrupt(const char *what, const void *p, size_t n, size_t slot)
{
    fprintf(stderr, "CORRUPTION: %s: block %p size %zu slot %zu\n", what, p, n, slot);
    abort();
}

/* Check and free every slot's block, then the slot arrays. */
static void free_slots(unsigned char **blk, size_t *len, long slots)
{
    for (long k = 0; k < slots; k++) {
        bench_check(blk[k], len[k], (size_t)k);
        bench_ops_free(blk[k]);
    }
    free(blk);
    free(len);
}

/* ---- large_cycle ------------------------------------------------------ */

/* 50% exactly 2 MiB, else log-uniform in [256 KiB, 8 MiB]. */
static size_t cycle_size(void)
{
    if (rnd(2) == 0) return 2 * MIB;
    size_t n = (size_t)((double)(256 * KIB) * exp2(5.0 * rnd01()));
    return n < 256 * KIB ? 256 * KIB : n > 8 * MIB ? 8 * MIB : n;
}

static void run_large_cycle(long n, long slots, long touch_kib)
{
    if (!slots) slots = 16;
    if (!touch_kib) touch_kib = 512;
    const size_t touch = (size_t)touch_kib * KIB;
    unsigned char **blk = calloc((size_t)slots, sizeof *blk);
    size_t *len = calloc((size_t)slots, sizeof *len);
    if (!blk || !len) bench_oom("calloc", (size_t)slots);
    double bytes = 0;
    long two_mib = 0;
    for (long i = 0; i < n + slots; i++) {
        size_t k = (size_t)(i < slots ? i : (long)rnd((uint64_t)slots));
        if (blk[k]) {
            size_t w = len[k] < touch ? len[k] : touch;
            if (blk[k][w / 2] != (unsigned char)(k + 1)) corrupt("lost its contents", blk[k], len[k], k);
            bench_check(blk[k], len[k], k);
            bench_ops_free(blk[k]);
        }
        size_t sz = cycle_size();
        two_mib += sz == 2 * MIB;
        bytes += (double)sz;
        unsigned char *p = bench_ops_malloc(sz);
        memset(p, (int)(k + 1), sz < touch ? sz : touch);
        bench_touch(p, sz, k);
        blk[k] = p;
        len[k] = sz;
    }
    free_slots(blk, len, slots);
    snprintf(g_extra, sizeof g_extra, "slots=%ld touch_kib=%ld mean_kib=%.0f two_mib_pct=%.0f",
             slots, touch_kib, bytes / (double)(n + slots) / 1024, 100.0 * (double)two_mib / (double)(n + slots));
}

/* ---- large_zeroed ----------------------------------------------------- */

static void run_large_zeroed(long n, long slots)
{
    if (!slots) slots = 20;
    unsigned char **blk = calloc((size_t)slots, sizeof *blk);
    size_t *len = calloc((size_t)slots, sizeof *len);
    if (!blk || !len) bench_oom("calloc", (size_t)slots);
    double bytes = 0;
    for (long i = 0; i < n + slots; i++) {
        size_t k = (size_t)(i < slots ? i : (long)rnd((uint64_t)slots));
        if (blk[k]) {
            if (blk[k][len[k] / 2] != 0) corrupt("lost its zeroes", blk[k], len[k], k);
            bench_check(blk[k], len[k], k);
            bench_ops_free(blk[k]);
        }
        size_t sz = 5 * MIB + (size_t)rnd(20 * MIB + 1);
        bytes += (double)sz;
        unsigned char *p = bench_ops_malloc(sz);
        memset(p, 0, sz); /* std::make_unique<char[]>(sz) */
        bench_touch(p, sz, k);
        blk[k] = p;
        len[k] = sz;
    }
    free_slots(blk, len, slots);
    snprintf(g_extra, sizeof g_extra, "slots=%ld mean_mib=%.1f", slots, bytes / (double)(n + slots) / (double)MIB);
}

/* ---- app_churn -------------------------------------------------------- */

enum { AC_SHORT = 32, AC_MEDIUM = 512, AC_LONG = 2048, AC_SLOTS = AC_SHORT + AC_MEDIUM + AC_LONG };
#define AC_GROW_CAP (4 * MIB)

static unsigned char *ac_blk[AC_SLOTS];
static size_t ac_len[AC_SLOTS];

static size_t app_size(void)
{
    uint64_t r = rnd(100);
    if (r < 80) return 16 + (size_t)rnd(1024 - 16);
    if (r < 95) return 1024 + (size_t)rnd(64 * KIB - 1024);
    return 64 * KIB + (size_t)rnd(MIB - 64 * KIB + 1);
}

static inline unsigned char ac_pattern(size_t slot) { return (unsigned char)(slot * 37u + 11u) | 1u; }

/* Fill [from, to) of block p with the slot's pattern: bytes below 4 KiB all,
 * above it one per page; and the last byte (to - 1). */
static void ac_fill(unsigned char *p, size_t from, size_t to, unsigned char c)
{
    if (from < PAGE) {
        size_t e = to < PAGE ? to : PAGE;
        memset(p + from, c, e - from);
        from = PAGE;
    }
    for (size_t o = (from + PAGE - 1) / PAGE * PAGE; o < to; o += PAGE) p[o] = c;
    p[to - 1] = c;
}

/* Check [0, n) as ac_fill wrote it (including byte n - 1). */
static void ac_check(const unsigned char *p, size_t n, size_t slot, const char *what)
{
    const unsigned char c = ac_pattern(slot);
    size_t e = n < PAGE ? n : PAGE;
    for (size_t o = 0; o < e; o++)
        if (p[o] != c) corrupt(what, p, n, slot);
    for (size_t o = PAGE; o < n; o += PAGE)
        if (p[o] != c) corrupt(what, p, n, slot);
    if (p[n - 1] != c) corrupt(what, p, n, slot);
}

static void run_app_churn(long n)
{
    static const size_t base[3] = { 0, AC_SHORT, AC_SHORT + AC_MEDIUM };
    static const size_t count[3] = { AC_SHORT, AC_MEDIUM, AC_LONG };
    size_t next[3] = { 0, 0, 0 };
    long allocs = 0, grows = 0, moved = 0, capped = 0;
    double bytes = 0, live = 0, peak = 0;
    for (long i = 0; i < n; i++) {
        if (rnd(10) == 0) { /* grow a random live block */
            size_t k = (size_t)rnd(AC_SLOTS);
            unsigned char *p = ac_blk[k];
            if (p) {
                size_t old = ac_len[k];
                size_t sz = old + old / 2 + (size_t)rnd(old / 2 + 1); /* 1.5-2x */
                if (sz > AC_GROW_CAP) { sz = AC_GROW_CAP; capped++; }
                if (sz < old) sz = old; /* a block at the cap stays there */
                bench_ops++;
                unsigned char *q = realloc(p, sz);
                if (!q) bench_oom("realloc", sz);
                grows++;
                if (q != p) moved++;
                ac_check(q, old, k, "realloc lost the old contents");
                ac_fill(q, old, sz, ac_pattern(k));
                ac_blk[k] = q;
                ac_len[k] = sz;
                live += (double)(sz - old);
                if (live > peak) peak = live;
                continue;
            }
        }
        uint64_t r = rnd(10);
        int ring = r < 6 ? 0 : r < 9 ? 1 : 2;
        size_t k = base[ring] + next[ring]++ % count[ring];
        if (ac_blk[k]) {
            ac_check(ac_blk[k], ac_len[k], k, "lost its contents");
            bench_ops_free(ac_blk[k]);
            live -= (double)ac_len[k];
        }
        size_t sz = app_size();
        bytes += (double)sz;
        allocs++;
        unsigned char *p = bench_ops_malloc(sz);
        ac_fill(p, 0, sz, ac_pattern(k));
        ac_blk[k] = p;
        ac_len[k] = sz;
        live += (double)sz;
        if (live > peak) peak = live;
    }
    for (size_t k = 0; k < AC_SLOTS; k++)
        if (ac_blk[k]) {
            ac_check(ac_blk[k], ac_len[k], k, "lost its contents");
            bench_ops_free(ac_blk[k]);
            ac_blk[k] = NULL;
        }
    snprintf(g_extra, sizeof g_extra, "allocs=%ld reallocs=%ld moved=%ld capped=%ld mean_alloc_b=%.0f peak_live_kib=%.0f",
             allocs, grows, moved, capped, allocs ? bytes / (double)allocs : 0.0, peak / 1024);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s large_cycle|large_zeroed|app_churn N [P2] [P3]\n", argv[0]);
        return 2;
    }
    const char *name = argv[1];
    long n = bench_arg(argc, argv, 2, 1000);
    long p2 = argc > 3 ? bench_arg(argc, argv, 3, 0) : 0;
    long p3 = argc > 4 ? bench_arg(argc, argv, 4, 0) : 0;
    g_rng = 0x9E3779B97F4A7C15ULL * 17 + 1;
    bench_report_origin();

    double t0 = bench_now();
    if (!strcmp(name, "large_cycle")) run_large_cycle(n, p2, p3);
    else if (!strcmp(name, "large_zeroed")) run_large_zeroed(n, p2);
    else if (!strcmp(name, "app_churn")) run_app_churn(n);
    else {
        fprintf(stderr, "unknown scenario '%s'\n", name);
        return 2;
    }
    double dt = bench_now() - t0;
    bench_result(name, bench_ops, dt, BENCH_NS_PER_OP, g_check, "n=%ld%s%s", n,
                 g_extra[0] ? " " : "", g_extra);
    bench_finish();
    return strstr(g_check, "FAIL") ? 1 : 0;
}
