/* threads prodcons PAIRS ITEMS [MAX] [SEED]
 * threads reqresp PAIRS ITEMS [MAX] [SEED]
 * threads churn THREADS ROUNDS BLOCKS [MAX] [SEED]
 *
 * Cross-thread traffic and thread churn.
 *
 * prodcons: PAIRS producer threads each hand ITEMS blocks of 16..MAX bytes
 *   (default 8000) to a consumer thread of their own through a ring of 1024
 *   slots; the consumer checks each block and frees it.  Every free is a free
 *   by a thread that did not allocate the block.  Throughput: (mallocs +
 *   frees) / wall time.
 *
 * reqresp: PAIRS client threads each send ITEMS requests (blocks of 16..MAX
 *   bytes, default 8000) to a server thread of their own; the server checks
 *   and frees each request and sends back a response, a new block of 16..MAX
 *   bytes, which the client checks and frees.  Both directions are frees by
 *   a thread that did not allocate the block, and both threads allocate (as
 *   an RPC service and its callers).  Up to 1024 requests and as many
 *   responses are in flight.  Throughput: (mallocs + frees) / wall time.
 *
 * churn: ROUNDS times, start THREADS threads and join them.  Each thread
 *   frees the blocks the previous round's thread of its index left behind
 *   (blocks of a thread that has exited), allocates BLOCKS blocks of
 *   16..MAX bytes (default 4096), frees half of them at once and leaves the
 *   other half to the next round.  Throughput: (mallocs + frees) / wall
 *   time; the line also carries threads_per_s and the peak resident set,
 *   which stays bounded when exited threads' memory is reused.
 *
 * Blocks carry tags at both ends, checked before each free.
 * Output (stdout, one line; see bench_result in bench_common.h).
 */
#include "bench_common.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

static size_t g_max;
static long g_items, g_blocks;
static uint64_t g_seed;

static size_t rand_size(uint64_t *rng) { return 16 + (size_t)(bench_rand(rng) % (g_max - 16 + 1)); }

/* ---- producer / consumer ------------------------------------------------ */

#define RING 1024   /* a power of two */

typedef struct {
    _Alignas(64) atomic_long head;     /* written by the producer */
    _Alignas(64) atomic_long tail;     /* written by the consumer */
    _Alignas(64) void *slot[RING];
    size_t len[RING];
    long id;
    atomic_int failed;
} ring_t;

static void *producer(void *arg)
{
    ring_t *r = arg;
    uint64_t rng = (g_seed + (uint64_t)r->id * 7919u) * 0x9E3779B97F4A7C15ULL + 1;
    for (long i = 0; i < g_items; i++) {
        size_t n = rand_size(&rng);
        void *p = bench_xmalloc(n);
        bench_touch(p, n, (size_t)i);
        long h = atomic_load_explicit(&r->head, memory_order_relaxed);
        while (h - atomic_load_explicit(&r->tail, memory_order_acquire) >= RING) sched_yield();
        r->slot[h & (RING - 1)] = p;
        r->len[h & (RING - 1)] = n;
        atomic_store_explicit(&r->head, h + 1, memory_order_release);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    ring_t *r = arg;
    for (long i = 0; i < g_items; i++) {
        long t = atomic_load_explicit(&r->tail, memory_order_relaxed);
        while (atomic_load_explicit(&r->head, memory_order_acquire) == t) sched_yield();
        void *p = r->slot[t & (RING - 1)];
        size_t n = r->len[t & (RING - 1)];
        atomic_store_explicit(&r->tail, t + 1, memory_order_release);
        bench_check(p, n, (size_t)i);
        bench_free_fn(p);
    }
    return NULL;
}

/* Start a pair of threads, a and b, on each of `pairs` elements of arr
 * (stride bytes apart), join them all and report name's throughput:
 * ops_per_item mallocs and frees per item of each pair. */
static int run_pairs(const char *name, double ops_per_item, long pairs, void *arr, size_t stride,
                     void *(*a)(void *), void *(*b)(void *))
{
    pthread_t *tid = calloc((size_t)pairs * 2, sizeof *tid);
    if (!tid) return 3;
    double t0 = bench_now();
    for (long i = 0; i < pairs; i++) {
        void *e = (char *)arr + (size_t)i * stride;
        if (pthread_create(&tid[2 * i], NULL, a, e) != 0 || pthread_create(&tid[2 * i + 1], NULL, b, e) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 3;
        }
    }
    for (long i = 0; i < 2 * pairs; i++) pthread_join(tid[i], NULL);
    double dt = bench_now() - t0;
    bench_result(name, ops_per_item * (double)g_items * (double)pairs, dt, BENCH_MOPS, "tags:ok",
                 "pairs=%ld items=%ld max=%zu seed=%llu peak_rss_kb=%ld", pairs, g_items, g_max,
                 (unsigned long long)g_seed, bench_rss_kb());
    free(tid);
    return 0;
}

static int run_prodcons(long pairs)
{
    ring_t *rings = aligned_alloc(64, (size_t)pairs * sizeof *rings);
    if (!rings) return 3;
    memset(rings, 0, (size_t)pairs * sizeof *rings);
    for (long i = 0; i < pairs; i++) rings[i].id = i;
    int rc = run_pairs("prodcons", 2.0, pairs, rings, sizeof *rings, producer, consumer);
    free(rings);
    return rc;
}

/* ---- request / response --------------------------------------------------- */

typedef struct {
    ring_t req, resp;     /* client -> server, server -> client */
} pair_t;

static void ring_push(ring_t *r, void *p, size_t n)
{
    long h = atomic_load_explicit(&r->head, memory_order_relaxed);
    r->slot[h & (RING - 1)] = p;
    r->len[h & (RING - 1)] = n;
    atomic_store_explicit(&r->head, h + 1, memory_order_release);
}

static bool ring_full(ring_t *r)
{
    return atomic_load_explicit(&r->head, memory_order_relaxed) -
           atomic_load_explicit(&r->tail, memory_order_acquire) >= RING;
}

/* Pop, check and free one block if there is one (its tag: its sequence number). */
static bool ring_take(ring_t *r)
{
    long t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    if (atomic_load_explicit(&r->head, memory_order_acquire) == t) return false;
    void *p = r->slot[t & (RING - 1)];
    size_t n = r->len[t & (RING - 1)];
    atomic_store_explicit(&r->tail, t + 1, memory_order_release);
    bench_check(p, n, (size_t)t);
    bench_free_fn(p);
    return true;
}

static void *client(void *arg)
{
    pair_t *q = arg;
    uint64_t rng = (g_seed + (uint64_t)q->req.id * 7919u) * 0x9E3779B97F4A7C15ULL + 1;
    long got = 0;
    for (long i = 0; i < g_items; i++) {
        size_t n = rand_size(&rng);
        void *p = bench_xmalloc(n);
        bench_touch(p, n, (size_t)i);
        while (ring_full(&q->req)) {
            if (ring_take(&q->resp)) got++;
            else sched_yield();
        }
        ring_push(&q->req, p, n);
        while (ring_take(&q->resp)) got++;
    }
    while (got < g_items) {
        if (ring_take(&q->resp)) got++;
        else sched_yield();
    }
    return NULL;
}

static void *server(void *arg)
{
    pair_t *q = arg;
    uint64_t rng = (g_seed + (uint64_t)q->req.id * 104729u) * 0x9E3779B97F4A7C15ULL + 3;
    for (long i = 0; i < g_items; i++) {
        while (!ring_take(&q->req)) sched_yield();
        size_t n = rand_size(&rng);
        void *p = bench_xmalloc(n);
        bench_touch(p, n, (size_t)i);
        while (ring_full(&q->resp)) sched_yield();
        ring_push(&q->resp, p, n);
    }
    return NULL;
}

static int run_reqresp(long pairs)
{
    pair_t *q = aligned_alloc(64, (size_t)pairs * sizeof *q);
    if (!q) return 3;
    memset(q, 0, (size_t)pairs * sizeof *q);
    for (long i = 0; i < pairs; i++) q[i].req.id = q[i].resp.id = i;
    int rc = run_pairs("reqresp", 4.0, pairs, q, sizeof *q, client, server);
    free(q);
    return rc;
}

/* ---- thread churn ----------------------------------------------------------- */

typedef struct {
    void **left;          /* blocks left by the previous round's thread */
    size_t *len;
    long nleft;
    long round, id;
} churn_t;

static void *churner(void *arg)
{
    churn_t *c = arg;
    for (long i = 0; i < c->nleft; i++) {      /* an exited thread's blocks */
        bench_check(c->left[i], c->len[i], (size_t)i);
        bench_free_fn(c->left[i]);
    }
    uint64_t rng = (g_seed + (uint64_t)c->round * 1000003u + (uint64_t)c->id) * 0x9E3779B97F4A7C15ULL + 1;
    long kept = 0;
    for (long i = 0; i < g_blocks; i++) {
        size_t n = rand_size(&rng);
        void *p = bench_xmalloc(n);
        bench_touch(p, n, (size_t)kept);
        if (i & 1) {                            /* every other block: freed at once */
            bench_check(p, n, (size_t)kept);
            bench_free_fn(p);
        } else {                                /* ... or left for the next round */
            c->left[kept] = p;
            c->len[kept] = n;
            kept++;
        }
    }
    c->nleft = kept;
    return NULL;
}

static int run_churn(long threads, long rounds)
{
    churn_t *c = calloc((size_t)threads, sizeof *c);
    pthread_t *tid = calloc((size_t)threads, sizeof *tid);
    if (!c || !tid) return 3;
    for (long t = 0; t < threads; t++) {
        c[t].left = bench_xmalloc((size_t)g_blocks * sizeof(void *));
        c[t].len = bench_xmalloc((size_t)g_blocks * sizeof(size_t));
        c[t].id = t;
    }
    long peak = 0;
    double t0 = bench_now();
    for (long r = 0; r < rounds; r++) {
        for (long t = 0; t < threads; t++) {
            c[t].round = r;
            if (pthread_create(&tid[t], NULL, churner, &c[t]) != 0) {
                fprintf(stderr, "pthread_create failed\n");
                return 3;
            }
        }
        for (long t = 0; t < threads; t++) pthread_join(tid[t], NULL);
        if ((r & 15) == 0) {
            long rss = bench_rss_kb();
            if (rss > peak) peak = rss;
        }
    }
    double dt = bench_now() - t0;
    double ops = 0;
    for (long t = 0; t < threads; t++) {
        for (long i = 0; i < c[t].nleft; i++) {
            bench_check(c[t].left[i], c[t].len[i], (size_t)i);
            bench_free_fn(c[t].left[i]);
        }
        free(c[t].left);
        free(c[t].len);
    }
    ops = 2.0 * (double)g_blocks * (double)threads * (double)rounds;
    bench_result("churn", ops, dt, BENCH_MOPS, "tags:ok",
                 "threads=%ld rounds=%ld blocks=%ld max=%zu seed=%llu threads_per_s=%.0f peak_rss_kb=%ld",
                 threads, rounds, g_blocks, g_max, (unsigned long long)g_seed,
                 (double)threads * (double)rounds / dt, peak);
    free(c);
    free(tid);
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    bench_report_origin();
    bool prodcons = strcmp(mode, "prodcons") == 0;
    if (prodcons || strcmp(mode, "reqresp") == 0) {       /* the same arguments */
        long pairs = bench_arg(argc, argv, 2, 1);
        g_items = bench_arg(argc, argv, 3, 1000000);
        g_max = (size_t)bench_arg(argc, argv, 4, 8000);
        g_seed = (uint64_t)bench_arg(argc, argv, 5, 42);
        if (pairs < 1 || g_items < 1 || g_max < 16) goto usage;
        int rc = prodcons ? run_prodcons(pairs) : run_reqresp(pairs);
        bench_finish();
        return rc;
    }
    if (strcmp(mode, "churn") == 0) {
        long threads = bench_arg(argc, argv, 2, 4);
        long rounds = bench_arg(argc, argv, 3, 1000);
        g_blocks = bench_arg(argc, argv, 4, 200);
        g_max = (size_t)bench_arg(argc, argv, 5, 4096);
        g_seed = (uint64_t)bench_arg(argc, argv, 6, 42);
        if (threads < 1 || rounds < 1 || g_blocks < 2 || g_max < 16) goto usage;
        int rc = run_churn(threads, rounds);
        bench_finish();
        return rc;
    }
usage:
    fprintf(stderr, "usage: threads prodcons PAIRS ITEMS [MAX] [SEED]\n"
                    "       threads reqresp PAIRS ITEMS [MAX] [SEED]\n"
                    "       threads churn THREADS ROUNDS BLOCKS [MAX] [SEED]\n");
    return 2;
}
