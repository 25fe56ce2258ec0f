/* random_mixed ITERS WS SEED
 *
 * A working set of WS slots, filled first (untimed).  Each of ITERS timed
 * iterations picks a random slot, frees its block and allocates a new one of
 * a random size in 16..1024 bytes, writing to both ends of it.  ops counts
 * every malloc and every free (2 per iteration).
 * Output (stdout, one line; see bench_result in bench_common.h):
 *   random_mixed iters=... ws=... seed=... ops=... seconds=... throughput=... unit=Mops/s ... check=tags:ok
 */
#include "bench_common.h"

#define MIN_SIZE 16
#define MAX_SIZE 1024

int main(int argc, char **argv)
{
    long iters = bench_arg(argc, argv, 1, 2000000);
    long ws = bench_arg(argc, argv, 2, 8192);
    uint64_t seed = (uint64_t)bench_arg(argc, argv, 3, 42);

    bench_report_origin();
    void **slot = calloc((size_t)ws, sizeof *slot);
    size_t *len = calloc((size_t)ws, sizeof *len);
    if (!slot || !len) return 3;
    uint64_t rng = seed * 0x9E3779B97F4A7C15ULL + 1;

    for (long i = 0; i < ws; i++) {
        size_t n = MIN_SIZE + (size_t)(bench_rand(&rng) % (MAX_SIZE - MIN_SIZE + 1));
        slot[i] = bench_xmalloc(n);
        len[i] = n;
        bench_touch(slot[i], n, (size_t)i);
    }

    double t0 = bench_now();
    for (long i = 0; i < iters; i++) {
        uint64_t r = bench_rand(&rng);
        size_t k = (size_t)(r % (uint64_t)ws);
        size_t n = MIN_SIZE + (size_t)((r >> 32) % (MAX_SIZE - MIN_SIZE + 1));
        bench_check(slot[k], len[k], k);
        bench_free_fn(slot[k]);
        void *p = bench_xmalloc(n);
        bench_touch(p, n, k);
        slot[k] = p;
        len[k] = n;
    }
    double dt = bench_now() - t0;
    double ops = 2.0 * (double)iters;

    for (long i = 0; i < ws; i++) {
        bench_check(slot[i], len[i], (size_t)i);
        bench_free_fn(slot[i]);
    }
    free(slot);
    free(len);
    bench_result("random_mixed", ops, dt, BENCH_MOPS, "tags:ok", "iters=%ld ws=%ld seed=%llu",
                 iters, ws, (unsigned long long)seed);
    bench_finish();
    return 0;
}
