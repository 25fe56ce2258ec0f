/* heaps.c — first-class heaps (hak_heap_new ...).
 *
 *  - blocks of every range (size classes, page runs, direct mappings) come
 *    from a heap with their contents kept, calloc's zeroed, realloc's
 *    moved or kept in place with their bytes;
 *  - a second thread frees half of them (remote frees) while the first
 *    allocates more from the heap, and the rest stay intact;
 *  - hak_heap_destroy gives back every block still allocated at once: the
 *    memory in use falls by what the heap held, and 40 cycles of new,
 *    allocate 8 MiB, destroy do not grow the address space;
 *  - hak_heap_release keeps the blocks: they are read and freed after it,
 *    from two threads;
 *  - a heap made after a thread exited (its struct recycled) takes none of
 *    the thread's abandoned SuperSlabs or page runs: destroy leaves them;
 *  - a NULL heap: EINVAL.
 * This test needs hakmem and fails without it. */
#include "../testutil.h"

#define MiB ((size_t)1 << 20)

static struct hak_stats *stats(void)
{
    static struct hak_stats s;
    CHECK(hk.stats_get(&s, sizeof s) == 0, "hak_stats_get");
    return &s;
}

enum { N = 6000 };
static unsigned char *blk[N];
static size_t len[N];

static size_t size_of(int i)
{
    if (i % 1000 == 999)
        return (size_t)(1 + i % 3) * 64 * MiB + 12345; /* direct mappings */
    if (i % 100 == 37)
        return 40000 + (size_t)i * 977 % (6 * MiB); /* page runs */
    return 1 + (size_t)i * 7919 % 32768;            /* size classes */
}

static void fill_block(int i) { tu_fill(blk[i], len[i] < 4096 ? len[i] : 4096, (uint32_t)i); }

static void check_block(int i, const char *when)
{
    CHECK_PATTERN(blk[i], len[i] < 4096 ? len[i] : 4096, (uint32_t)i, when);
}

static void *remote_freer(void *arg)
{
    (void)arg;
    for (int i = 0; i < N; i += 2) { /* the even half */
        check_block(i, "before a remote free");
        free(blk[i]);
        blk[i] = NULL;
    }
    return NULL;
}

static void use_and_destroy(void)
{
    hak_heap_t *heap = hk.heap_new();
    CHECK(heap, "hak_heap_new failed");
    uint64_t base = stats()->in_use_bytes;
    for (int i = 0; i < N; i++) {
        len[i] = size_of(i);
        blk[i] = hk.heap_malloc(heap, len[i]);
        CHECK(blk[i], "hak_heap_malloc(%zu) failed", len[i]);
        fill_block(i);
    }
    unsigned char *z = hk.heap_calloc(heap, 1000, 33);
    CHECK(z && tu_check_bytes(z, 33000, 0) == SIZE_MAX, "hak_heap_calloc not zeroed");
    unsigned char *r = hk.heap_malloc(heap, 100);
    memset(r, 0x5a, 100);
    r = hk.heap_realloc(heap, r, 300000); /* moves to a page run */
    CHECK(r && tu_check_bytes(r, 100, 0x5a) == SIZE_MAX, "hak_heap_realloc lost the bytes");
    r = hk.heap_realloc(heap, r, 200000); /* stays */
    CHECK(r && r[99] == 0x5a, "hak_heap_realloc shrink");
    pthread_t t;
    CHECK(pthread_create(&t, NULL, remote_freer, NULL) == 0, "pthread_create");
    void *more[200];
    for (int i = 0; i < 200; i++) { /* the heap allocates while the frees come in */
        more[i] = hk.heap_malloc(heap, 64 + (size_t)i * 100);
        CHECK(more[i], "hak_heap_malloc during remote frees");
        memset(more[i], i, 64);
    }
    pthread_join(t, NULL);
    for (int i = 1; i < N; i += 2)
        check_block(i, "after the other half's remote frees");
    uint64_t held = stats()->in_use_bytes;
    hk.heap_destroy(heap); /* the odd half, more[], z and r: all at once */
    uint64_t after = stats()->in_use_bytes;
    printf("heaps: in use %.1f MiB at start, %.1f MiB with the heap, %.1f MiB after destroy\n",
           (double)base / MiB, (double)held / MiB, (double)after / MiB);
    CHECK(held > base + 100 * MiB, "the heap's blocks were not counted (%llu)",
          (unsigned long long)held);
    CHECK(after < base + 2 * MiB, "destroy left %.1f MiB in use", (double)(after - base) / MiB);
}

static void cycles(void)
{
    uint64_t mapped0 = 0;
    for (int c = 0; c < 40; c++) {
        hak_heap_t *heap = hk.heap_new();
        CHECK(heap, "hak_heap_new, cycle %d", c);
        for (int i = 0; i < 256; i++) { /* 8 MiB of 32 KiB blocks and smaller */
            unsigned char *p = hk.heap_malloc(heap, 32768 - (size_t)i * 64);
            CHECK(p, "cycle %d: hak_heap_malloc", c);
            p[0] = (unsigned char)i;
        }
        hk.heap_destroy(heap);
        if (c == 4)
            mapped0 = stats()->mapped_bytes;
    }
    uint64_t mapped = stats()->mapped_bytes;
    printf("heaps: 40 cycles of new, 8 MiB, destroy: mapped %.1f MiB after 5, %.1f MiB after 40\n",
           (double)mapped0 / MiB, (double)mapped / MiB);
    CHECK(mapped <= mapped0 + 16 * MiB, "destroy does not give its memory back: %.1f -> %.1f MiB",
          (double)mapped0 / MiB, (double)mapped / MiB);
}

static void *late_freer(void *arg)
{
    unsigned char **p = arg;
    for (int i = 0; i < 500; i += 2) {
        CHECK_PATTERN(p[i], 200, (uint32_t)i, "a released heap's block, other thread");
        free(p[i]);
    }
    return NULL;
}

static void release(void)
{
    static unsigned char *p[500];
    hak_heap_t *heap = hk.heap_new();
    CHECK(heap, "hak_heap_new");
    for (int i = 0; i < 500; i++) {
        p[i] = hk.heap_malloc(heap, i == 250 ? 80 * MiB : 200 + (size_t)i * 50);
        CHECK(p[i], "hak_heap_malloc");
        tu_fill(p[i], 200, (uint32_t)i);
    }
    hk.heap_release(heap);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, late_freer, p) == 0, "pthread_create");
    for (int i = 1; i < 500; i += 2) {
        CHECK_PATTERN(p[i], 200, (uint32_t)i, "a released heap's block");
        free(p[i]);
    }
    pthread_join(t, NULL);
    printf("heaps: release: 500 blocks read and freed after it, from two threads\n");
}

/* A thread allocates, hands its blocks over and exits: its SuperSlabs are
 * abandoned and its heap's struct goes back to the pool.  A first-class
 * heap made next (the same struct, newest first) must not take those
 * SuperSlabs nor count the dead thread's page run as its own: destroy
 * leaves every handed-over block intact. */
enum { KEPT = 20000 };
static unsigned char *kept[KEPT], *kept_run;

static void *hand_over(void *arg)
{
    (void)arg;
    for (int i = 0; i < KEPT; i++) {
        kept[i] = malloc(64);
        CHECK(kept[i], "malloc");
        tu_fill(kept[i], 64, (uint32_t)i);
    }
    kept_run = malloc(100000);
    CHECK(kept_run, "malloc(100000)");
    tu_fill(kept_run, 100000, 77);
    return NULL;
}

static void others_survive(void)
{
    pthread_t t;
    CHECK(pthread_create(&t, NULL, hand_over, NULL) == 0, "pthread_create");
    pthread_join(t, NULL);
    hak_heap_t *heap = hk.heap_new();
    CHECK(heap, "hak_heap_new");
    for (int i = 0; i < 200000; i++)
        CHECK(hk.heap_malloc(heap, 64), "hak_heap_malloc(64)");
    for (int i = 0; i < 8; i++)
        CHECK(hk.heap_malloc(heap, 100000), "hak_heap_malloc(100000)");
    hk.heap_destroy(heap);
    for (int i = 0; i < KEPT; i++) {
        CHECK_PATTERN(kept[i], 64, (uint32_t)i, "an exited thread's block after a destroy");
        free(kept[i]);
    }
    CHECK_PATTERN(kept_run, 100000, 77, "an exited thread's page run after a destroy");
    free(kept_run);
    printf("heaps: an exited thread's %d blocks and page run intact after a destroy\n", KEPT);
}

int main(void)
{
    tu_init();
    hk_require("heaps");
    errno = 0;
    CHECK(hk.heap_malloc(NULL, 8) == NULL && errno == EINVAL, "a NULL heap");
    others_survive();
    use_and_destroy();
    cycles();
    release();
    printf("heaps: ok\n");
    return 0;
}
