/* phases [MIB=128] [IDLE_MS=1000] [SEED=42] [THREADS=2]
 *
 * A program whose allocation pattern changes under the allocator, for the
 * chart of resident memory over time (bench/report.sh samples it from
 * outside with rss_run -s).  Five phases, each a different demand:
 *
 *   load   allocate about MIB MiB of small blocks (16-512 B), each tagged:
 *          a cache being filled;
 *   thin   free 15 of every 16 of them, in a shuffled order: the survivors
 *          are scattered over the pages the load touched, about a third of
 *          which hold none (fragmentation: what can be given back?);
 *   mid    256k random replacements in 1024 slots of 8-64 KiB blocks, a
 *          byte written in every 4 KiB page (~36 MiB live, all resident):
 *          the program moves to another size range; can the small blocks'
 *          freed memory serve it?
 *   idle   free the mid blocks and sleep IDLE_MS without an allocator call:
 *          does the freed memory go back to the system while nothing runs?
 *   again  refill the small blocks up to half the load (MIB/2 MiB) and
 *          replace them at random 1M times: does the allocator reuse the
 *          holes the thin phase left, and what it kept while idle?
 *
 * then frees everything.  THREADS=2 adds a thread that allocates one block
 * and sleeps until the end (a service is multi-threaded; hakmem starts its
 * adaptive thread only then).  The harness's arrays are mmap'ed.
 *
 * Output (one line): ns/op is the wall time of the phases but the sleep,
 * per allocator call; rss_<phase>_kb is the resident set (/proc/self/statm)
 * at the end of each phase, so the phases can be told apart without a
 * trace.  The harness's arrays (~12 MiB for 128 MiB) are in them.
 */
#include "bench_common.h"

#include <pthread.h>
#include <sys/mman.h>

static uint64_t rng;

static size_t rnd(size_t n) { return (size_t)(bench_rand(&rng) % n); }

static void *map_array(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) bench_oom("mmap", bytes);
    return p;
}

/* A block of n bytes with its tags and a byte in every 4 KiB page. */
static void *get(size_t n, size_t slot)
{
    unsigned char *p = bench_ops_malloc(n);
    for (size_t i = 4096; i < n; i += 4096) p[i] = 1;
    bench_touch(p, n, slot);
    return p;
}

static void put(void *p, size_t n, size_t slot)
{
    bench_check(p, n, slot);
    bench_ops_free(p);
}

static size_t small_size(void) { return 16 + rnd(497); }

static volatile int done;

static void *sleeper(void *arg)
{
    (void)arg;
    free(bench_xmalloc(64));
    struct timespec t = { 0, 20 * 1000 * 1000 };
    while (!done) nanosleep(&t, NULL);
    return NULL;
}

int main(int argc, char **argv)
{
    long mib = bench_arg(argc, argv, 1, 128), idle_ms = bench_arg(argc, argv, 2, 1000);
    rng = (uint64_t)bench_arg(argc, argv, 3, 42);
    long threads = bench_arg(argc, argv, 4, 2);
    bench_report_origin();
    pthread_t th;
    if (threads > 1 && pthread_create(&th, NULL, sleeper, NULL) != 0) {
        fprintf(stderr, "pthread_create failed\n");
        return 2;
    }

    /* load: ~264 B a block on average */
    size_t cap = (size_t)mib * 1024 * 1024 / 200;
    void **blk = map_array(cap * sizeof *blk);
    uint32_t *len = map_array(cap * sizeof *len);
    size_t n = 0, bytes = 0;
    double t0 = bench_now();
    while (bytes < (size_t)mib << 20 && n < cap) {
        len[n] = (uint32_t)small_size();
        blk[n] = get(len[n], n);
        bytes += len[n++];
    }
    long rss_load = bench_rss_kb();

    /* thin: free 15 of 16, in a shuffled order */
    size_t *order = map_array(n * sizeof *order);
    for (size_t i = 0; i < n; i++) order[i] = i;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = rnd(i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (size_t i = 0; i < n; i++) {
        size_t s = order[i];
        if (s % 16) {
            put(blk[s], len[s], s);
            blk[s] = NULL;
        }
    }
    munmap(order, n * sizeof *order);
    long rss_thin = bench_rss_kb();

    /* mid: 1024 slots of 8-64 KiB */
    enum { MID_SLOTS = 1024 };
    void **mid = map_array(MID_SLOTS * sizeof *mid);
    uint32_t *mlen = map_array(MID_SLOTS * sizeof *mlen);
    for (size_t r = 0; r < 256 * 1024 + MID_SLOTS; r++) {
        size_t s = r < MID_SLOTS ? r : rnd(MID_SLOTS);
        if (mid[s]) put(mid[s], mlen[s], s);
        mlen[s] = (uint32_t)(8192 + rnd(56 * 1024 + 1));
        mid[s] = get(mlen[s], s);
    }
    long rss_mid = bench_rss_kb();

    /* idle */
    for (size_t s = 0; s < MID_SLOTS; s++) put(mid[s], mlen[s], s);
    double t_idle = bench_now();
    struct timespec nap = { idle_ms / 1000, (idle_ms % 1000) * 1000000L };
    while (nanosleep(&nap, &nap) != 0) {}
    double slept = bench_now() - t_idle;
    long rss_idle = bench_rss_kb();

    /* again: refill to half the load, then replace at random */
    size_t live = n / 16, want = n / 2;
    for (size_t s = 0; s < n && live < want; s++) {
        if (!blk[s]) {
            len[s] = (uint32_t)small_size();
            blk[s] = get(len[s], s);
            live++;
        }
    }
    for (long r = 0; r < 1000000; r++) {
        size_t s = rnd(n);
        if (blk[s]) {
            put(blk[s], len[s], s);
            blk[s] = NULL;
        } else {
            len[s] = (uint32_t)small_size();
            blk[s] = get(len[s], s);
        }
    }
    long rss_again = bench_rss_kb();
    for (size_t s = 0; s < n; s++)
        if (blk[s]) put(blk[s], len[s], s);
    double secs = bench_now() - t0 - slept;

    munmap(blk, cap * sizeof *blk);
    munmap(len, cap * sizeof *len);
    munmap(mid, MID_SLOTS * sizeof *mid);
    munmap(mlen, MID_SLOTS * sizeof *mlen);
    if (threads > 1) {
        done = 1;
        pthread_join(th, NULL);
    }
    bench_result("phases", bench_ops, secs, BENCH_NS_PER_OP, "tags:ok",
                 "mib=%ld idle_ms=%ld blocks=%zu rss_load_kb=%ld rss_thin_kb=%ld rss_mid_kb=%ld "
                 "rss_idle_kb=%ld rss_again_kb=%ld",
                 mib, idle_ms, n, rss_load, rss_thin, rss_mid, rss_idle, rss_again);
    bench_finish();
    return 0;
}
