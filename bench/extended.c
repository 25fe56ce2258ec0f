/* extended NAME N [P2] [P3]
 *
 * The ten extended scenarios of the seed (../shared/seeds/004), reported in
 * nanoseconds per allocator call (malloc, calloc, realloc, posix_memalign,
 * aligned_alloc or free, free(NULL) included): wall time of the workload,
 * including its own reads and writes, divided by the number of calls (lower
 * is better).  longrun is the exception: it sleeps on purpose, so it
 * divides the process's CPU time instead.
 *
 *   multithread N [THREADS=8] [ALLOCS=1000]
 *       N rounds; in each, THREADS threads allocate ALLOCS blocks of
 *       16-256 B each, meet at a barrier, then free them: in even rounds
 *       their own, in odd rounds those of the next thread (remote frees),
 *       and meet again.  Contention on the allocator's shared structures.
 *   fragmentation N
 *       N rounds of the alternating worst case: allocate 4096 blocks of one
 *       size, free every other one, keep the rest alive for 8 more rounds;
 *       the size changes every round (16 B .. 16 KiB, geometric steps), so
 *       the holes left by one round fit nothing the next rounds ask for.
 *       Also prints peak_live_kib (peak bytes requested and live): compare
 *       with peak RSS.
 *   longrun N [MS=1000]
 *       N allocations (16 B-4 KiB, 1 in 64 up to 64 KiB) into a working set
 *       of 16384 slots with random replacement, in batches of 1000, paced by
 *       sleeps so that the run lasts about MS milliseconds: memory sits idle
 *       between bursts, as in a long-running service (the seed: 1M
 *       allocations over 60 s; the profiles shorten it).  ns/op is CPU time
 *       (CLOCK_PROCESS_CPUTIME_ID) per call.
 *   bursts N [MIB=32] [GAP_MS=120]
 *       N cycles: allocate MIB MiB in blocks of 1-16 KiB (a tag in every
 *       page, so the whole burst is resident), free them all, then sleep
 *       GAP_MS.  Whether the freed memory is purged during the gap (and
 *       faulted back in by the next burst) or kept (and held while idle) is
 *       the purge policy's trade; the learning evaluation's workload where
 *       strategies differ most.  ns/op is CPU time per call, as longrun.
 *   webserver N
 *       N requests, 32 in flight (ring); each allocates 8-40 blocks, sizes
 *       80% 16 B-1 KiB, 15% 1-64 KiB, 5% 64-256 KiB, and frees all of them
 *       when it retires.
 *   lifetime N
 *       N allocations of 16-512 B (1 in 10: 512 B-4 KiB): 70% short-lived
 *       (freed 16 allocations later), 25% medium (freed 4096 medium
 *       allocations later), 5% permanent (freed at the very end).
 *   seq_access N [MIB=4]
 *       N times: malloc MIB MiB, write it sequentially (memset), read it
 *       sequentially (every 64-byte line), free it.  Large-block path,
 *       page faults and whatever the allocator does with freed large blocks
 *       (unmap, madvise, cache).
 *   rand_access N [MIB=4]
 *       as seq_access, but the reads touch MIB*16384 random 64-byte lines.
 *   realloc N
 *       N operations on 1024 slots: an empty slot gets a malloc (16-256 B),
 *       a full one a realloc (2/3: grow 1.25-2x, up to 128 KiB, or shrink
 *       to 50-90%) or a free (1/3), which settles at 50% realloc, 25% malloc,
 *       25% free.  Checks that realloc keeps the contents (tags).
 *   zero_null N
 *       N rounds of the edge cases: malloc(0), calloc(0, 8), calloc(8, 0),
 *       posix_memalign(16, 0), realloc(NULL, n), realloc(p, 0) (either
 *       frees p and returns NULL, as glibc, or returns a minimal block),
 *       free(NULL), mixed with ordinary small blocks.  Zero-size blocks
 *       must be distinct from live ones (each round's four zero-size blocks
 *       are kept in a ring of 64; every 16th round they are compared with
 *       all of it).
 *   alignment N
 *       N replacements in 512 slots by posix_memalign (odd) and aligned_alloc
 *       (even), alignment 64 B, 512 B or 4 KiB, sizes 16 B-16 KiB (for
 *       aligned_alloc rounded up to a multiple of the alignment).  Every
 *       pointer's alignment is checked; a misaligned one does not stop the
 *       run but makes check=FAIL:misaligned... and the exit status 1 (the
 *       runner flags the result).  512 B is there because Debian's mimalloc
 *       2.0.9 returns 256-byte aligned blocks for posix_memalign(512, 512)
 *       (mimalloc issue #700).
 *
 * Blocks carry tags at both ends, checked before free; a mismatch aborts
 * with CORRUPTION.
 * Output (stdout, one line; see bench_result in bench_common.h):
 *   multithread n=... ops=... seconds=... throughput=... unit=ns/op ... check=tags:ok
 */
#include "bench_common.h"
#include <errno.h>
#include <pthread.h>

static uint64_t g_rng;
static char g_check[256] = "tags:ok";
static char g_extra[256] = "";
static int g_use_cpu_time;

static inline uint64_t rnd(uint64_t n) { return bench_rand(&g_rng) % n; }

static void *tmalloc(size_t n, size_t slot)
{
    void *p = bench_ops_malloc(n);
    bench_touch(p, n, slot);
    return p;
}

static void tfree(void *p, size_t n, size_t slot)
{
    bench_check(p, n, slot);
    bench_ops_free(p);
}

/* ---- multithread ------------------------------------------------------ */

typedef struct mt_arg {
    long id;
    void **blk;
    size_t *len;
    double ops;
} mt_arg_t;

static long mt_rounds, mt_threads, mt_allocs;
static mt_arg_t *mt_args;
static pthread_barrier_t mt_bar;

static void *mt_worker(void *p)
{
    mt_arg_t *a = p;
    uint64_t rng = (uint64_t)(a->id + 1) * 0x9E3779B97F4A7C15ULL;
    for (long r = 0; r < mt_rounds; r++) {
        for (long i = 0; i < mt_allocs; i++) {
            size_t n = 16 + (size_t)(bench_rand(&rng) % 241);
            a->blk[i] = bench_xmalloc(n);
            a->len[i] = n;
            bench_touch(a->blk[i], n, (size_t)i);
        }
        pthread_barrier_wait(&mt_bar);
        mt_arg_t *v = (r & 1) ? &mt_args[(a->id + 1) % mt_threads] : a;
        for (long i = 0; i < mt_allocs; i++) {
            bench_check(v->blk[i], v->len[i], (size_t)i);
            bench_free_fn(v->blk[i]);
        }
        a->ops += 2.0 * (double)mt_allocs;
        pthread_barrier_wait(&mt_bar);
    }
    return NULL;
}

static void run_multithread(long n, long p2, long p3)
{
    mt_rounds = n;
    mt_threads = p2 ? p2 : 8;
    mt_allocs = p3 ? p3 : 1000;
    mt_args = calloc((size_t)mt_threads, sizeof *mt_args);
    pthread_t *tid = calloc((size_t)mt_threads, sizeof *tid);
    if (!mt_args || !tid) bench_oom("calloc", 0);
    pthread_barrier_init(&mt_bar, NULL, (unsigned)mt_threads);
    for (long t = 0; t < mt_threads; t++) {
        mt_args[t].id = t;
        mt_args[t].blk = bench_xmalloc((size_t)mt_allocs * sizeof(void *));
        mt_args[t].len = bench_xmalloc((size_t)mt_allocs * sizeof(size_t));
    }
    for (long t = 0; t < mt_threads; t++)
        if (pthread_create(&tid[t], NULL, mt_worker, &mt_args[t]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            exit(3);
        }
    for (long t = 0; t < mt_threads; t++) {
        pthread_join(tid[t], NULL);
        bench_ops += mt_args[t].ops;
        bench_free_fn(mt_args[t].blk);
        bench_free_fn(mt_args[t].len);
    }
    pthread_barrier_destroy(&mt_bar);
    free(mt_args);
    free(tid);
    snprintf(g_extra, sizeof g_extra, "threads=%ld allocs=%ld", mt_threads, mt_allocs);
}

/* ---- fragmentation ---------------------------------------------------- */

static void run_fragmentation(long rounds)
{
    enum { PER = 4096, KEEP = 8 };
    static const size_t sizes[] = { 16, 24, 40, 64, 104, 168, 272, 440, 712,
                                    1152, 1864, 3016, 4880, 7896, 12776, 16384 };
    const size_t nsizes = sizeof sizes / sizeof sizes[0];
    /* ring of KEEP generations of survivors */
    void **gen[KEEP];
    size_t gsize[KEEP];
    for (int g = 0; g < KEEP; g++) {
        gen[g] = calloc(PER / 2, sizeof(void *));
        gsize[g] = 0;
        if (!gen[g]) bench_oom("calloc", PER);
    }
    void **tmp = calloc(PER, sizeof(void *));
    if (!tmp) bench_oom("calloc", PER);
    double live = 0, peak = 0;
    for (long r = 0; r < rounds; r++) {
        int g = (int)(r % KEEP);
        if (gsize[g]) { /* the generation allocated KEEP rounds ago dies */
            for (size_t i = 0; i < PER / 2; i++)
                tfree(gen[g][i], gsize[g], i);
            live -= (double)gsize[g] * (PER / 2);
        }
        /* size cycles with a stride so consecutive rounds differ a lot */
        size_t sz = sizes[((size_t)r * 7) % nsizes];
        for (size_t i = 0; i < PER; i++)
            tmp[i] = tmalloc(sz, i / 2);
        live += (double)sz * PER;
        if (live > peak) peak = live;
        for (size_t i = 0; i < PER; i++) {
            if (i & 1) tfree(tmp[i], sz, i / 2);
            else gen[g][i / 2] = tmp[i];
        }
        live -= (double)sz * (PER / 2);
        gsize[g] = sz;
    }
    for (int g = 0; g < KEEP; g++) {
        if (gsize[g])
            for (size_t i = 0; i < PER / 2; i++)
                tfree(gen[g][i], gsize[g], i);
        free(gen[g]);
    }
    free(tmp);
    snprintf(g_extra, sizeof g_extra, "peak_live_kib=%.0f", peak / 1024);
}

/* ---- longrun ---------------------------------------------------------- */

static void run_longrun(long n, long ms)
{
    enum { WS = 16384, BATCH = 1000 };
    if (!ms) ms = 1000;
    void **slot = calloc(WS, sizeof *slot);
    size_t *len = calloc(WS, sizeof *len);
    if (!slot || !len) bench_oom("calloc", WS);
    long batches = (n + BATCH - 1) / BATCH;
    double pause = (double)ms * 1e-3 / (double)batches; /* seconds per batch */
    double start = bench_now();
    long done = 0;
    for (long b = 0; b < batches; b++) {
        for (long i = 0; i < BATCH && done < n; i++, done++) {
            size_t k = (size_t)rnd(WS);
            if (slot[k]) tfree(slot[k], len[k], k);
            size_t sz = rnd(64) ? 16 + (size_t)rnd(4081) : 4096 + (size_t)rnd(61441);
            slot[k] = tmalloc(sz, k);
            len[k] = sz;
        }
        /* sleep until this batch's slot in the schedule */
        double due = start + pause * (double)(b + 1), now = bench_now();
        if (due > now) {
            double d = due - now;
            struct timespec ts = { (time_t)d, (long)((d - (double)(time_t)d) * 1e9) };
            nanosleep(&ts, NULL);
        }
    }
    for (size_t k = 0; k < WS; k++)
        if (slot[k]) tfree(slot[k], len[k], k);
    free(slot);
    free(len);
    snprintf(g_extra, sizeof g_extra, "paced_ms=%ld wall_s=%.3f", ms, bench_now() - start);
}

/* ---- bursts ----------------------------------------------------------- */

static void run_bursts(long n, long mib, long gap_ms)
{
    if (!mib) mib = 32;
    if (!gap_ms) gap_ms = 120;
    size_t cap = (size_t)mib * 1024 + 16, k = 0;   /* blocks >= 1 KiB */
    void **blk = calloc(cap, sizeof *blk);
    size_t *len = calloc(cap, sizeof *len);
    if (!blk || !len) bench_oom("calloc", cap);
    struct timespec gap = { gap_ms / 1000, (gap_ms % 1000) * 1000000L };
    for (long c = 0; c < n; c++) {
        size_t bytes = 0;
        for (k = 0; bytes < (size_t)mib << 20; k++) {
            len[k] = 1024 + (size_t)rnd(15 * 1024 + 1);
            blk[k] = tmalloc(len[k], k);
            for (size_t o = 4096; o + 1 < len[k]; o += 4096) ((volatile char *)blk[k])[o] = 1;
            bytes += len[k];
        }
        for (size_t i = 0; i < k; i++) tfree(blk[i], len[i], i);
        nanosleep(&gap, NULL);
    }
    free(blk);
    free(len);
    snprintf(g_extra, sizeof g_extra, "mib=%ld gap_ms=%ld blocks_per_burst=%zu", mib, gap_ms, k);
}

/* ---- webserver -------------------------------------------------------- */

static size_t web_size(void)
{
    uint64_t r = rnd(100);
    if (r < 80) return 16 + (size_t)rnd(1024 - 16);
    if (r < 95) return 1024 + (size_t)rnd(65536 - 1024);
    return 65536 + (size_t)rnd(262144 - 65536 + 1);
}

static void run_webserver(long requests)
{
    enum { INFLIGHT = 32, MAXB = 40 };
    static void *blk[INFLIGHT][MAXB];
    static size_t len[INFLIGHT][MAXB];
    static int nb[INFLIGHT];
    for (long r = 0; r < requests + INFLIGHT; r++) {
        int q = (int)(r % INFLIGHT);
        for (int i = 0; i < nb[q]; i++)
            tfree(blk[q][i], len[q][i], (size_t)i);
        nb[q] = 0;
        if (r >= requests) continue; /* drain */
        int want = 8 + (int)rnd(MAXB - 8 + 1);
        for (int i = 0; i < want; i++) {
            len[q][i] = web_size();
            blk[q][i] = tmalloc(len[q][i], (size_t)i);
        }
        nb[q] = want;
    }
}

/* ---- lifetime --------------------------------------------------------- */

static void run_lifetime(long n)
{
    enum { SHORT = 16, MEDIUM = 4096 };
    static void *sring[SHORT], *mring[MEDIUM];
    static size_t slen[SHORT], mlen[MEDIUM];
    long si = 0, mi = 0, np = 0;
    void **perm = calloc((size_t)n / 20 + 64, sizeof *perm);
    size_t *plen = calloc((size_t)n / 20 + 64, sizeof *plen);
    if (!perm || !plen) bench_oom("calloc", (size_t)n);
    long pcap = n / 20 + 64;
    for (long i = 0; i < n; i++) {
        size_t sz = rnd(10) ? 16 + (size_t)rnd(497) : 512 + (size_t)rnd(3585);
        uint64_t r = rnd(100);
        if (r < 70) {
            size_t k = (size_t)(si++ % SHORT);
            if (sring[k]) tfree(sring[k], slen[k], k);
            sring[k] = tmalloc(sz, k);
            slen[k] = sz;
        } else if (r < 95 || np >= pcap) {
            size_t k = (size_t)(mi++ % MEDIUM);
            if (mring[k]) tfree(mring[k], mlen[k], k);
            mring[k] = tmalloc(sz, k);
            mlen[k] = sz;
        } else {
            perm[np] = tmalloc(sz, (size_t)np);
            plen[np] = sz;
            np++;
        }
    }
    for (size_t k = 0; k < SHORT; k++)
        if (sring[k]) { tfree(sring[k], slen[k], k); sring[k] = NULL; }
    for (size_t k = 0; k < MEDIUM; k++)
        if (mring[k]) { tfree(mring[k], mlen[k], k); mring[k] = NULL; }
    for (long k = 0; k < np; k++)
        tfree(perm[k], plen[k], (size_t)k);
    free(perm);
    free(plen);
    snprintf(g_extra, sizeof g_extra, "permanent=%ld", np);
}

/* ---- seq_access / rand_access ----------------------------------------- */

static volatile uint64_t g_sink;

static void run_access(long n, long mib, int random)
{
    if (!mib) mib = 4;
    size_t sz = (size_t)mib << 20;
    uint64_t sum = 0;
    for (long it = 0; it < n; it++) {
        unsigned char *p = bench_ops_malloc(sz);
        memset(p, (int)(it & 0x7f) + 1, sz);
        bench_touch(p, sz, (size_t)it);
        if (!random) {
            for (size_t off = 64; off < sz - 64; off += 64)
                sum += p[off];
        } else {
            size_t lines = sz / 64, reads = (size_t)mib * 16384;
            for (size_t r = 0; r < reads; r++)
                sum += p[(size_t)rnd(lines) * 64 + 8];
        }
        bench_check(p, sz, (size_t)it);
        bench_ops_free(p);
    }
    g_sink = sum;
    snprintf(g_extra, sizeof g_extra, "mib=%ld", mib);
}

/* ---- realloc ---------------------------------------------------------- */

static void run_realloc(long n)
{
    enum { SLOTS = 1024 };
    static unsigned char *slot[SLOTS];
    static size_t len[SLOTS];
    static unsigned char tag[SLOTS];
    long reallocs = 0, moved = 0;
    for (long i = 0; i < n; i++) {
        size_t k = (size_t)rnd(SLOTS);
        if (!slot[k]) {
            size_t sz = 16 + (size_t)rnd(241);
            slot[k] = bench_ops_malloc(sz);
            len[k] = sz;
            tag[k] = (unsigned char)(rnd(255) + 1);
            slot[k][0] = slot[k][sz - 1] = tag[k];
            continue;
        }
        unsigned char *p = slot[k];
        size_t old = len[k];
        if (p[0] != tag[k] || p[old - 1] != tag[k]) {
            fprintf(stderr, "CORRUPTION: realloc slot %zu (%p, %zu B) lost its tag\n",
                    k, (void *)p, old);
            abort();
        }
        if (rnd(3) == 0) {
            bench_ops_free(p);
            slot[k] = NULL;
            continue;
        }
        size_t sz;
        if (rnd(5) < 3) { /* grow 1.25-2x */
            sz = old + old / 4 + (size_t)rnd(old * 3 / 4 + 1);
            if (sz > (128u << 10)) sz = 16 + (size_t)rnd(241);
        } else {          /* shrink to 50-90% */
            sz = old / 2 + (size_t)rnd(old * 2 / 5 + 1);
            if (sz < 8) sz = 8;
        }
        bench_ops++;
        unsigned char *q = realloc(p, sz);
        if (!q) bench_oom("realloc", sz);
        reallocs++;
        if (q != p) moved++;
        size_t keep = old < sz ? old : sz;
        if (q[0] != tag[k] || (sz >= old && q[old - 1] != tag[k])) {
            fprintf(stderr, "CORRUPTION: realloc(%zu -> %zu) lost the contents\n", old, sz);
            abort();
        }
        (void)keep;
        q[sz - 1] = tag[k];
        slot[k] = q;
        len[k] = sz;
    }
    for (size_t k = 0; k < SLOTS; k++)
        if (slot[k]) { bench_ops_free(slot[k]); slot[k] = NULL; }
    snprintf(g_extra, sizeof g_extra, "reallocs=%ld moved=%ld", reallocs, moved);
}

/* ---- zero_null -------------------------------------------------------- */

static void run_zero_null(long n)
{
    enum { RING = 64 };
    static void *zr[RING];
    long nulls = 0, dups = 0, rfree = 0;
    void *(*volatile pcalloc)(size_t, size_t) = calloc;
    void *(*volatile prealloc)(void *, size_t) = realloc;
    for (long i = 0; i < n; i++) {
        void *z[4];
        z[0] = bench_ops_malloc(0);
        bench_ops++;
        z[1] = pcalloc(0, 8);
        bench_ops++;
        z[2] = pcalloc(8, 0);
        bench_ops++;
        if (posix_memalign(&z[3], 16, 0) != 0) z[3] = NULL;
        for (int j = 0; j < 4; j++) {
            if (!z[j]) { nulls++; continue; }
            if ((i & 15) == 0) /* every 16th round, against all live ones */
                for (int c = 0; c < RING; c++)
                    if (zr[c] == z[j]) dups++;
            size_t k = (size_t)((i * 4 + j) % RING);
            if (zr[k]) bench_ops_free(zr[k]);
            zr[k] = z[j];
        }
        /* free(NULL) */
        bench_ops_free(NULL);
        /* realloc(NULL, n) then realloc(p, 0) */
        bench_ops++;
        size_t sz = 16 + (size_t)rnd(113);
        unsigned char *p = prealloc(NULL, sz);
        if (!p) bench_oom("realloc", sz);
        bench_touch(p, sz, (size_t)i);
        bench_check(p, sz, (size_t)i);
        bench_ops++;
        void *q = prealloc(p, 0);
        if (q) bench_ops_free(q); /* got a minimal block: free it */
        else rfree++;    /* p was freed */
        /* an ordinary block, so the zero-size ones are not all alone */
        void *o = tmalloc(sz, (size_t)i);
        tfree(o, sz, (size_t)i);
    }
    for (int c = 0; c < RING; c++)
        if (zr[c]) { bench_ops_free(zr[c]); zr[c] = NULL; }
    if (dups)
        snprintf(g_check, sizeof g_check, "tags+zero_unique:FAIL:%ld_duplicate_zero_size_blocks", dups);
    else
        snprintf(g_check, sizeof g_check, "tags+zero_unique:ok");
    snprintf(g_extra, sizeof g_extra, "zero_null_results=%ld realloc0_freed=%ld", nulls, rfree);
}

/* ---- alignment -------------------------------------------------------- */

static void run_alignment(long n)
{
    enum { SLOTS = 512 };
    static const size_t aligns[3] = { 64, 512, 4096 };
    static void *slot[SLOTS];
    static size_t len[SLOTS];
    long bad[3] = { 0, 0, 0 }, count[3] = { 0, 0, 0 };
    size_t worst[3] = { 0, 0, 0 };
    for (long i = 0; i < n + SLOTS; i++) {
        size_t k = (size_t)(i < SLOTS ? i : (long)rnd(SLOTS));
        if (slot[k]) {
            tfree(slot[k], len[k], k);
            slot[k] = NULL;
        }
        if (i >= n) continue; /* fill first, then n replacements */
        int a = (int)rnd(3);
        size_t al = aligns[a];
        size_t sz = 16 + (size_t)rnd(a == 2 ? 16384 - 16 + 1 : a == 1 ? 4096 - 16 + 1 : 1024 - 16 + 1);
        void *p;
        bench_ops++;
        if (i & 1) {
            int e = posix_memalign(&p, al, sz);
            if (e) { errno = e; bench_oom("posix_memalign", sz); }
        } else {
            sz = (sz + al - 1) / al * al;
            p = aligned_alloc(al, sz);
            if (!p) bench_oom("aligned_alloc", sz);
        }
        count[a]++;
        if ((uintptr_t)p % al) {
            size_t got = (size_t)((uintptr_t)p & -(uintptr_t)p); /* actual alignment */
            bad[a]++;
            if (!worst[a] || got < worst[a]) worst[a] = got;
        }
        bench_touch(p, sz, k);
        slot[k] = p;
        len[k] = sz;
    }
    if (bad[0] + bad[1] + bad[2]) {
        char *c = g_check;
        size_t left = sizeof g_check;
        int w = snprintf(c, left, "tags+align:FAIL:misaligned");
        for (int a = 0; a < 3; a++)
            if (bad[a] && w > 0 && (size_t)w < left) {
                c += w;
                left -= (size_t)w;
                w = snprintf(c, left, "_%zu:%ld/%ld(got_%zu)", aligns[a], bad[a], count[a], worst[a]);
            }
    } else {
        snprintf(g_check, sizeof g_check, "tags+align:ok");
    }
    snprintf(g_extra, sizeof g_extra, "aligns=64,512,4096");
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s multithread|fragmentation|longrun|bursts|webserver|lifetime|"
                        "seq_access|rand_access|realloc|zero_null|alignment N [P2] [P3]\n", argv[0]);
        return 2;
    }
    const char *name = argv[1];
    long n = bench_arg(argc, argv, 2, 1000);
    long p2 = argc > 3 ? bench_arg(argc, argv, 3, 0) : 0;
    long p3 = argc > 4 ? bench_arg(argc, argv, 4, 0) : 0;
    g_rng = 0x9E3779B97F4A7C15ULL * 43 + 1;
    bench_report_origin();

    double t0 = bench_now(), c0 = bench_cpu_now();
    if (!strcmp(name, "multithread")) run_multithread(n, p2, p3);
    else if (!strcmp(name, "fragmentation")) run_fragmentation(n);
    else if (!strcmp(name, "longrun")) { g_use_cpu_time = 1; run_longrun(n, p2); }
    else if (!strcmp(name, "bursts")) { g_use_cpu_time = 1; run_bursts(n, p2, p3); }
    else if (!strcmp(name, "webserver")) run_webserver(n);
    else if (!strcmp(name, "lifetime")) run_lifetime(n);
    else if (!strcmp(name, "seq_access")) run_access(n, p2, 0);
    else if (!strcmp(name, "rand_access")) run_access(n, p2, 1);
    else if (!strcmp(name, "realloc")) run_realloc(n);
    else if (!strcmp(name, "zero_null")) run_zero_null(n);
    else if (!strcmp(name, "alignment")) run_alignment(n);
    else {
        fprintf(stderr, "unknown scenario '%s'\n", name);
        return 2;
    }
    double dt = g_use_cpu_time ? bench_cpu_now() - c0 : bench_now() - t0;
    bench_result(name, bench_ops, dt, BENCH_NS_PER_OP, g_check, "n=%ld%s%s%s", n,
                 g_use_cpu_time ? " time=cpu" : "", g_extra[0] ? " " : "", g_extra);
    bench_finish();
    return strstr(g_check, "FAIL") ? 1 : 0;
}
