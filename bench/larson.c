/* larson SECONDS MIN MAX BLOCKS ROUNDS SEED THREADS
 *
 * The Larson & Krishnan server simulation (as in Hoard's and mimalloc-bench's
 * larson): the main thread allocates THREADS * BLOCKS blocks of MIN..MAX
 * bytes and hands each thread a slot array of BLOCKS of them.  A thread does
 * ROUNDS * BLOCKS replacements (free a random slot, allocate a new random
 * size into it, write to it), then starts a new thread that inherits the
 * same slot array and exits, so blocks are freed by a thread other than the
 * one that allocated them, and threads are created and exit all the time.
 * After SECONDS (fractions allowed: 0.5) the main thread raises a stop flag,
 * waits for every chain to finish, frees everything and reports
 * (mallocs + frees) / elapsed seconds.
 * Classic arguments: larson 5 8 1000 5000 100 4141 THREADS.
 *
 * Blocks carry a tag at both ends, checked before each free.
 * Output (stdout, one line; see bench_result in bench_common.h):
 *   larson seconds=... min=... max=... blocks=... rounds=... seed=... threads=...
 *     generations=... ops=... seconds=... throughput=... unit=Mops/s ... check=tags:ok
 */
#include "bench_common.h"
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

typedef struct area {
    void **blk;
    size_t *len;
    long blocks;
    long replacements; /* per thread generation */
    uint64_t rng;
    long long ops;     /* mallocs + frees done by this chain */
    long generations;  /* threads in this chain so far */
    atomic_int finished;
} area_t;

static size_t g_min, g_range;
static atomic_int g_stop;
static pthread_attr_t g_detached;

static void *worker(void *arg);

static void start_thread(area_t *a)
{
    pthread_t t;
    a->generations++;
    if (pthread_create(&t, &g_detached, worker, a) != 0) {
        /* Out of threads: keep going in the calling thread. */
        worker(a);
    }
}

static void *worker(void *arg)
{
    area_t *a = arg;
    long i;
    for (i = 0; i < a->replacements; i++) {
        if (atomic_load_explicit(&g_stop, memory_order_relaxed))
            break;
        uint64_t r = bench_rand(&a->rng);
        size_t k = (size_t)(r % (uint64_t)a->blocks);
        size_t n = g_min + (size_t)((r >> 32) % g_range);
        bench_check(a->blk[k], a->len[k], k);
        bench_free_fn(a->blk[k]);
        void *p = bench_xmalloc(n);
        bench_touch(p, n, k);
        a->blk[k] = p;
        a->len[k] = n;
    }
    a->ops += 2 * (long long)i;
    if (!atomic_load(&g_stop))
        start_thread(a); /* the successor inherits the slots */
    else
        atomic_store(&a->finished, 1);
    return NULL;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 5.0;
    long min = bench_arg(argc, argv, 2, 8);
    long max = bench_arg(argc, argv, 3, 1000);
    long blocks = bench_arg(argc, argv, 4, 5000);
    long rounds = bench_arg(argc, argv, 5, 100);
    uint64_t seed = (uint64_t)bench_arg(argc, argv, 6, 4141);
    long threads = bench_arg(argc, argv, 7, 2);
    if (!(secs > 0) || max < min) {
        fprintf(stderr, "usage: %s SECONDS MIN MAX BLOCKS ROUNDS SEED THREADS\n", argv[0]);
        return 2;
    }
    g_min = (size_t)min;
    g_range = (size_t)(max - min + 1);

    bench_report_origin();
    pthread_attr_init(&g_detached);
    pthread_attr_setdetachstate(&g_detached, PTHREAD_CREATE_DETACHED);

    area_t *ar = calloc((size_t)threads, sizeof *ar);
    if (!ar) return 3;
    uint64_t rng = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (long t = 0; t < threads; t++) {
        area_t *a = &ar[t];
        a->blocks = blocks;
        a->replacements = rounds * blocks;
        a->rng = bench_rand(&rng) | 1;
        a->blk = bench_xmalloc((size_t)blocks * sizeof *a->blk);
        a->len = bench_xmalloc((size_t)blocks * sizeof *a->len);
        for (long i = 0; i < blocks; i++) {
            size_t n = g_min + (size_t)(bench_rand(&rng) % g_range);
            a->blk[i] = bench_xmalloc(n);
            a->len[i] = n;
            bench_touch(a->blk[i], n, (size_t)i);
        }
        atomic_init(&a->finished, 0);
    }

    double t0 = bench_now();
    for (long t = 0; t < threads; t++)
        start_thread(&ar[t]);
    struct timespec ts = { (time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9) };
    while (nanosleep(&ts, &ts) != 0) {}
    atomic_store(&g_stop, 1);
    for (long t = 0; t < threads; t++)
        while (!atomic_load(&ar[t].finished))
            usleep(100);
    double dt = bench_now() - t0;

    double ops = 0;
    long gens = 0;
    for (long t = 0; t < threads; t++) {
        area_t *a = &ar[t];
        ops += (double)a->ops;
        gens += a->generations;
        for (long i = 0; i < blocks; i++) {
            bench_check(a->blk[i], a->len[i], (size_t)i);
            bench_free_fn(a->blk[i]);
        }
        bench_free_fn(a->blk);
        bench_free_fn(a->len);
    }
    free(ar);
    bench_result("larson", ops, dt, BENCH_MOPS, "tags:ok",
                 "run_s=%g min=%ld max=%ld blocks=%ld rounds=%ld seed=%llu threads=%ld generations=%ld",
                 secs, min, max, blocks, rounds, (unsigned long long)seed, threads, gens);
    bench_finish();
    return 0;
}
