/* thread_exit.c — frees racing with thread exit.
 *
 * One long-lived publisher thread allocates small blocks and publishes them
 * in shared slots (atomic exchange), verifying and freeing the block it
 * displaces.  Two spawner threads keep starting short-lived threads, one at
 * a time each: a short-lived thread allocates SHORT_BLOCKS (8) small blocks,
 * publishes every other one (freeing what it displaces) and frees the rest,
 * then exits — so its blocks are freed by other threads while it runs, while
 * it exits and after it has exited, and its memory is reclaimed by other
 * threads while that happens.  Many short threads with few blocks each and a
 * cheap fill keep the rate of thread exits and frees high: races here show
 * up only after ~10^5 exits.  Every block is checked (usable size, and its
 * fill byte at the ends and every 61 bytes) before it is freed.
 *
 * Runs until 200000 short-lived threads have run, or for at most MAX_SECONDS
 * (6) seconds; both times HK_TEST_SCALE.
 */
#include "../testutil.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>

#define NSLOTS 256
#define NSPAWNERS 2
#define SHORT_BLOCKS 8
#define MAX_SECONDS 6.0

struct blk { /* 16 bytes: shares the smallest size class with small data blocks */
    void *p;
    uint32_t n;
    uint32_t seed;
};

static _Atomic(struct blk *) slots[NSLOTS];
static atomic_int stop;
static atomic_long nshort, nfree;

static uint32_t pick_size(uint64_t *rs)
{
    /* small sizes, a few mid ones, now and then a page run */
    uint64_t r = tu_rand(rs) % 1024;
    if (r == 0)
        return (uint32_t)tu_rand_range(rs, 32 * 1024 + 1, 512 * 1024);
    if (r < 16)
        return (uint32_t)tu_rand_range(rs, 1025, 32 * 1024);
    return (uint32_t)tu_rand_range(rs, 1, 1024);
}

static uint8_t fill_byte(const struct blk *b)
{
    return (uint8_t)(b->seed ^ ((uintptr_t)b->p >> 4));
}

static struct blk *blk_new(uint64_t *rs)
{
    struct blk *b = malloc(sizeof *b);
    CHECK(b, "malloc(struct blk) failed");
    b->n = pick_size(rs);
    b->seed = (uint32_t)tu_rand(rs);
    b->p = malloc(b->n);
    CHECK(b->p, "malloc(%u) failed", b->n);
    memset(b->p, fill_byte(b), b->n);
    return b;
}

static void blk_free(struct blk *b, const char *what)
{
    size_t u = malloc_usable_size(b->p);
    CHECK(u >= b->n, "%s: block %p of %u bytes has usable size %zu", what, b->p, b->n, u);
    const uint8_t *c = b->p;
    uint8_t want = fill_byte(b);
    for (size_t i = 0; i < b->n; i += (i < 16 || i + 16 >= b->n) ? 1 : 61)
        CHECK(c[i] == want,
              "%s: block %p of %u bytes corrupted at offset %zu: 0x%02x, "
              "want 0x%02x",
              what, b->p, b->n, i, c[i], want);
    free(b->p);
    free(b);
    atomic_fetch_add_explicit(&nfree, 1, memory_order_relaxed);
}

static void publish(struct blk *b, uint64_t *rs)
{
    struct blk *o = atomic_exchange(&slots[tu_rand(rs) % NSLOTS], b);
    if (o)
        blk_free(o, "displaced shared block");
}

static void *short_thread(void *arg)
{
    uint64_t rs = (uint64_t)(uintptr_t)arg;
    struct blk *b[SHORT_BLOCKS];
    for (int i = 0; i < SHORT_BLOCKS; i++)
        b[i] = blk_new(&rs);
    for (int i = 0; i < SHORT_BLOCKS; i++) {
        if (i % 2 == 0)
            publish(b[i], &rs);
        else
            blk_free(b[i], "short-lived thread's own block");
    }
    atomic_fetch_add_explicit(&nshort, 1, memory_order_relaxed);
    return NULL;
}

static void *spawner(void *arg)
{
    uint64_t rs = 0x5EA0000ull + (uint64_t)(uintptr_t)arg;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        pthread_t t;
        int e = pthread_create(&t, NULL, short_thread, (void *)(uintptr_t)tu_rand(&rs));
        CHECK(e == 0, "pthread_create failed: %d", e);
        pthread_join(t, NULL);
    }
    return NULL;
}

static void *publisher(void *arg)
{
    uint64_t rs = 0x9B1000ull;
    while (!atomic_load_explicit(&stop, memory_order_relaxed))
        publish(blk_new(&rs), &rs);
    return NULL;
}

int main(void)
{
    tu_init();
    long target = tu_scaled(200000, 500);
    double max_seconds = MAX_SECONDS * tu_scale();
    printf("thread_exit: up to %ld short-lived threads (at most %.1fs)\n", target, max_seconds);
    double t0 = tu_now();
    pthread_t pub, sp[NSPAWNERS];
    CHECK(pthread_create(&pub, NULL, publisher, NULL) == 0, "pthread_create failed");
    for (int i = 0; i < NSPAWNERS; i++)
        CHECK(pthread_create(&sp[i], NULL, spawner, (void *)(uintptr_t)i) == 0,
              "pthread_create failed");
    long last = 0;
    double tl = t0;
    while (atomic_load(&nshort) < target && tu_now() - t0 < max_seconds) {
        usleep(10000);
        if (tu_now() - tl >= 1.0) {
            tl = tu_now();
            long n = atomic_load(&nshort);
            CHECK(n > last, "no short-lived thread finished in a second (deadlock?)");
            last = n;
            printf("  %.1fs: %ld short-lived threads, %ld blocks freed\n", tl - t0, n,
                   atomic_load(&nfree));
        }
    }
    atomic_store(&stop, 1);
    pthread_join(pub, NULL);
    for (int i = 0; i < NSPAWNERS; i++)
        pthread_join(sp[i], NULL);
    for (size_t i = 0; i < NSLOTS; i++) {
        struct blk *b = atomic_exchange(&slots[i], NULL);
        if (b)
            blk_free(b, "shared block at the end");
    }
    printf("thread_exit: %ld short-lived threads, %ld blocks verified and freed, %.2fs\n",
           atomic_load(&nshort), atomic_load(&nfree), tu_now() - t0);
    printf("thread_exit: ok\n");
    return 0;
}
