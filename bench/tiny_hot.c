/* tiny_hot SIZE BATCH ITERS
 *
 * ITERS times: allocate BATCH blocks of SIZE bytes (touching each), then free
 * them in allocation order.  Exercises the thread-local fast path of small
 * size classes.  ops counts every malloc and every free.
 * Output (stdout, one line; see bench_result in bench_common.h):
 *   tiny_hot size=64 batch=100 iters=60000 ops=12000000 seconds=0.123
 *     throughput=97.56 unit=Mops/s mops_per_s=97.560 ns_per_op=10.250 check=tags:ok
 */
#include "bench_common.h"

int main(int argc, char **argv)
{
    size_t size = (size_t)bench_arg(argc, argv, 1, 64);
    long batch = bench_arg(argc, argv, 2, 100);
    long iters = bench_arg(argc, argv, 3, 60000);

    bench_report_origin();
    void **blk = calloc((size_t)batch, sizeof *blk);
    if (!blk) return 3;

    /* Warm-up round, untimed. */
    for (long j = 0; j < batch; j++) blk[j] = bench_xmalloc(size);
    for (long j = 0; j < batch; j++) bench_free_fn(blk[j]);

    double t0 = bench_now();
    for (long i = 0; i < iters; i++) {
        for (long j = 0; j < batch; j++) {
            void *p = bench_xmalloc(size);
            bench_touch(p, size, (size_t)j);
            blk[j] = p;
        }
        for (long j = 0; j < batch; j++) {
            bench_check(blk[j], size, (size_t)j);
            bench_free_fn(blk[j]);
        }
    }
    double dt = bench_now() - t0;
    double ops = 2.0 * (double)batch * (double)iters;
    free(blk);
    bench_result("tiny_hot", ops, dt, BENCH_MOPS, "tags:ok", "size=%zu batch=%ld iters=%ld",
                 size, batch, iters);
    bench_finish();
    return 0;
}
