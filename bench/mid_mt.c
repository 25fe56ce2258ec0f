/* mid_mt THREADS ITERS [WS] [SEED]
 *
 * THREADS threads, each with its own working set of WS (default 256) blocks
 * of 8..32 KiB, filled before the clock starts.  Each of a thread's ITERS
 * iterations frees a random slot and allocates a new random size into it,
 * writing to both ends.  Throughput is all threads' mallocs+frees divided by
 * the wall time from a common start barrier to a common end barrier.
 * Output (stdout, one line; see bench_result in bench_common.h):
 *   mid_mt threads=2 iters=... ws=... seed=... ops=... seconds=... throughput=... unit=Mops/s ... check=tags:ok
 */
#include "bench_common.h"
#include <pthread.h>

#define MIN_SIZE (8u * 1024u)
#define MAX_SIZE (32u * 1024u)

static long g_iters, g_ws;
static uint64_t g_seed;
static pthread_barrier_t g_start, g_end;

static void *worker(void *arg)
{
    long id = (long)(intptr_t)arg;
    uint64_t rng = (g_seed + (uint64_t)id * 7919u) * 0x9E3779B97F4A7C15ULL + 1;
    void **slot = bench_xmalloc((size_t)g_ws * sizeof *slot);
    size_t *len = bench_xmalloc((size_t)g_ws * sizeof *len);

    for (long i = 0; i < g_ws; i++) {
        size_t n = MIN_SIZE + (size_t)(bench_rand(&rng) % (MAX_SIZE - MIN_SIZE + 1));
        slot[i] = bench_xmalloc(n);
        len[i] = n;
        bench_touch(slot[i], n, (size_t)i);
    }
    pthread_barrier_wait(&g_start);
    for (long i = 0; i < g_iters; i++) {
        uint64_t r = bench_rand(&rng);
        size_t k = (size_t)(r % (uint64_t)g_ws);
        size_t n = MIN_SIZE + (size_t)((r >> 32) % (MAX_SIZE - MIN_SIZE + 1));
        bench_check(slot[k], len[k], k);
        bench_free_fn(slot[k]);
        void *p = bench_xmalloc(n);
        bench_touch(p, n, k);
        slot[k] = p;
        len[k] = n;
    }
    pthread_barrier_wait(&g_end);
    for (long i = 0; i < g_ws; i++) {
        bench_check(slot[i], len[i], (size_t)i);
        bench_free_fn(slot[i]);
    }
    bench_free_fn(slot);
    bench_free_fn(len);
    return NULL;
}

int main(int argc, char **argv)
{
    long threads = bench_arg(argc, argv, 1, 2);
    g_iters = bench_arg(argc, argv, 2, 500000);
    g_ws = bench_arg(argc, argv, 3, 256);
    g_seed = (uint64_t)bench_arg(argc, argv, 4, 42);

    bench_report_origin();
    pthread_t *tid = calloc((size_t)threads, sizeof *tid);
    if (!tid) return 3;
    pthread_barrier_init(&g_start, NULL, (unsigned)threads + 1);
    pthread_barrier_init(&g_end, NULL, (unsigned)threads + 1);
    for (long t = 0; t < threads; t++) {
        if (pthread_create(&tid[t], NULL, worker, (void *)(intptr_t)t) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 3;
        }
    }
    pthread_barrier_wait(&g_start);
    double t0 = bench_now();
    pthread_barrier_wait(&g_end);
    double dt = bench_now() - t0;
    for (long t = 0; t < threads; t++)
        pthread_join(tid[t], NULL);

    double ops = 2.0 * (double)g_iters * (double)threads;
    free(tid);
    bench_result("mid_mt", ops, dt, BENCH_MOPS, "tags:ok", "threads=%ld iters=%ld ws=%ld seed=%llu",
                 threads, g_iters, g_ws, (unsigned long long)g_seed);
    bench_finish();
    return 0;
}
