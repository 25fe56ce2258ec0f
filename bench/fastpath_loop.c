/* fastpath_loop SIZE N [WARMUP] [HOLD]
 *
 * N iterations of { p = malloc(SIZE); touch one byte; free(p); } after a
 * warm-up.  HOLD (default 16, 0 = none) blocks of SIZE stay allocated during
 * the loop: HOLD+1 are allocated and the last one freed again, so the block
 * the loop recycles sits in a page/span that also has live blocks.  Without
 * this ballast every free empties its page, and some allocators (mimalloc's
 * page retire, for one) take a slow path on each free, which is not the fast
 * path a real program sees.  Meant to run under `valgrind --tool=callgrind` at two values of
 * N: the difference in instruction counts divided by the difference in N is
 * the cost of one malloc+free pair, free of start-up cost (see fastpath.sh).
 *
 * malloc and free are called through volatile function pointers from the
 * noinline wrappers fp_malloc/fp_free, so the compiler cannot remove or fuse
 * the pair, and callgrind_annotate can attribute the cost to each call
 * (inclusive cost of fp_malloc minus its own few instructions = malloc).
 * Build with: cc -O2 -fno-builtin -fno-optimize-sibling-calls
 */
#include "bench_common.h"

#define NOINLINE __attribute__((noinline, noclone))

static volatile unsigned char sink;

NOINLINE void *fp_malloc(size_t n);
NOINLINE void fp_free(void *p);

NOINLINE void *fp_malloc(size_t n)
{
    return bench_malloc_fn(n);
}

NOINLINE void fp_free(void *p)
{
    bench_free_fn(p);
}

/* The pair under test. */
static inline void pair(size_t size)
{
    unsigned char *p = fp_malloc(size);
    if (__builtin_expect(p == NULL, 0)) {
        fprintf(stderr, "malloc(%zu) returned NULL\n", size);
        exit(3);
    }
    p[0] = (unsigned char)size; /* opaque use: touch one byte */
    __asm__ volatile("" : : "r"(p) : "memory");
    sink = p[0];
    fp_free(p);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s SIZE N [WARMUP] [HOLD]\n", argv[0]);
        return 2;
    }
    size_t size = (size_t)bench_arg(argc, argv, 1, 64);
    long n = bench_arg(argc, argv, 2, 100000);
    long warm = argc > 3 ? atol(argv[3]) : 1000;
    long hold = argc > 4 ? atol(argv[4]) : 16;
    if (warm < 0 || hold < 0 || hold > 1000000) {
        fprintf(stderr, "bad WARMUP/HOLD\n");
        return 2;
    }

    bench_report_origin();

    /* Warm-up: initialise the allocator, its thread cache and the size
     * class; allocate the ballast (HOLD+1 blocks, free the last one); then
     * run the measured pattern for a while. */
    void **ballast = NULL;
    if (hold > 0) {
        ballast = fp_malloc((size_t)(hold + 1) * sizeof *ballast);
        for (long i = 0; i <= hold; i++)
            ballast[i] = fp_malloc(size);
        fp_free(ballast[hold]);
    }
    for (long i = 0; i < warm; i++)
        pair(size);

    for (long i = 0; i < n; i++)
        pair(size);

    if (ballast) {
        for (long i = 0; i < hold; i++)
            fp_free(ballast[i]);
        fp_free(ballast);
    }
    printf("fastpath_loop size=%zu n=%ld warmup=%ld hold=%ld\n", size, n, warm, hold);
    return 0;
}
