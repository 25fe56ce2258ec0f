/* stats.c — hakmem's statistics API (include/hakmem.h): hak_stats_get,
 * hak_stats_print, hak_stats_print_json, and their agreement with mallinfo2.
 *
 *  - exact counters: N mallocs of 3000 B and of 200 B (and hak_malloc of
 *    5000 B) add exactly N to `allocs` of the row of their class, N frees
 *    exactly N to `frees`, nothing to `remote_frees`; the totals move by the
 *    same amounts and always equal the sums of the rows; in_use_bytes moves
 *    by N times the rows' block sizes.  Nothing that may allocate runs
 *    between two snapshots (CHECK does not allocate).
 *  - remote frees: blocks a second thread frees (main mallocs), and blocks
 *    main frees while the thread that malloc'ed them is alive, count in both
 *    `frees` and `remote_frees` of their row, exactly, once their owner has
 *    collected them: main's own at its snapshot, the thread's at its exit;
 *    until then they are still in use (nothing counted while it waits).
 *    Blocks of a thread that exited, freed by main, count when the last
 *    free gives their abandoned SuperSlab back.
 *  - thread churn: threads that exit with live blocks and stocked free
 *    lists, whose blocks main frees after a trim: allocs and frees of each
 *    row move by exactly the number of mallocs.
 *  - large (100 KiB) and huge (65 MiB) blocks count in their rows too, and in
 *    direct_count / direct_bytes.
 *  - an "old caller": a struct with only the first fields, with canary bytes
 *    after it, gets the same values as a full call made right after,
 *    s.size == sizeof old, canary intact; short and long sizes likewise.
 *  - EINVAL for NULL and for size < sizeof(size_t), writing nothing.
 *  - mallinfo2 agrees: arena, hblkhd, hblks, uordblks + hblkhd, keepcost.
 *  - hak_stats_print writes a table; hak_stats_print_json writes a JSON
 *    object to $HK_TEST_OUT.json, with the values it must hold in
 *    $HK_TEST_OUT.expect: tests/run.sh parses and checks it with python3
 *    (tests/check_stats_json.py).
 *  - abi_version, telemetry == 1, hak_abi_check() == 1.
 * This test needs hakmem and fails without it.
 */
#include "../testutil.h"

#include <malloc.h>
#include <pthread.h>

#if !HK_LINKED
/* hak_abi_check() (inline in hakmem.h) calls hak_abi_version directly: in
 * the plain build, resolved at run time from the preloaded library. */
#pragma weak hak_abi_version
#endif


/* Snapshots live here (about 7 KiB each), not on the stack. */
static struct hak_stats s0, s1, s2, s3;

static void snap(struct hak_stats *s)
{
    memset(s, 0xEE, sizeof *s);
    int rc = hk.stats_get(s, sizeof *s);
    CHECK(rc == 0, "hak_stats_get(&s, %zu) returned %d", sizeof *s, rc);
    CHECK(s->size == sizeof *s, "hak_stats_get: s.size = %zu, expected %zu", s->size, sizeof *s);
}

/* The row of a block of size n: the first used row whose block_size >= n. */
static unsigned row_of(const struct hak_stats *s, size_t n)
{
    for (unsigned i = 0; i < s->nclasses; i++)
        if (s->classes[i].block_size != 0 && s->classes[i].block_size >= n)
            return i;
    tu_fail(__FILE__, __LINE__, "row found", "no row with block_size >= %zu (nclasses %u)", n,
            s->nclasses);
}

/* What holds in any snapshot. */
static void check_snapshot(const struct hak_stats *s, const char *when)
{
    CHECK(s->abi_version == HAKMEM_ABI_VERSION, "%s: abi_version %u, header says %d", when,
          s->abi_version, HAKMEM_ABI_VERSION);
    CHECK(s->telemetry == 1, "%s: telemetry = %u (1 in normal builds)", when, s->telemetry);
    CHECK(s->mode <= HAK_MODE_RESEARCH, "%s: mode = %u", when, s->mode);
    CHECK(s->threads >= 1, "%s: threads = %u", when, s->threads);
    CHECK(s->nclasses > 4 && s->nclasses <= HAK_STATS_CLASSES, "%s: nclasses = %u", when,
          s->nclasses);
    static const uint64_t first[4] = {8, 16, 32, 48};
    for (unsigned i = 0; i < 4; i++)
        CHECK(s->classes[i].block_size == first[i],
              "%s: classes[%u].block_size = %llu, expected %llu", when, i,
              (unsigned long long)s->classes[i].block_size, (unsigned long long)first[i]);
    uint64_t allocs = 0, frees = 0, remote = 0, refills = 0, prev = 0;
    int has_32k = 0;
    for (unsigned i = 0; i < s->nclasses; i++) {
        const struct hak_stats_class *c = &s->classes[i];
        allocs += c->allocs;
        frees += c->frees;
        remote += c->remote_frees;
        refills += c->refills;
        CHECK(c->remote_frees <= c->frees,
              "%s: row %u (block_size %llu): remote_frees %llu > frees %llu", when, i,
              (unsigned long long)c->block_size, (unsigned long long)c->remote_frees,
              (unsigned long long)c->frees);
        if (c->block_size == 0)
            continue;
        CHECK(c->block_size > prev,
              "%s: classes[%u].block_size %llu not above the previous row's %llu", when, i,
              (unsigned long long)c->block_size, (unsigned long long)prev);
        prev = c->block_size;
        has_32k |= c->block_size == 32768;
    }
    CHECK(has_32k, "%s: no row with block_size 32768", when);
    CHECK(s->allocs == allocs, "%s: allocs %llu != sum of the rows %llu", when,
          (unsigned long long)s->allocs, (unsigned long long)allocs);
    CHECK(s->frees == frees, "%s: frees %llu != sum of the rows %llu", when,
          (unsigned long long)s->frees, (unsigned long long)frees);
    CHECK(s->remote_frees == remote, "%s: remote_frees %llu != sum of the rows %llu", when,
          (unsigned long long)s->remote_frees, (unsigned long long)remote);
    CHECK(s->refills == refills, "%s: refills %llu != sum of the rows %llu", when,
          (unsigned long long)s->refills, (unsigned long long)refills);
    CHECK(s->committed_bytes <= s->mapped_bytes, "%s: committed_bytes %llu > mapped_bytes %llu",
          when, (unsigned long long)s->committed_bytes, (unsigned long long)s->mapped_bytes);
    CHECK(s->mapped_bytes >= s->superslab_bytes + s->direct_bytes,
          "%s: mapped_bytes %llu < superslab_bytes %llu + direct_bytes %llu", when,
          (unsigned long long)s->mapped_bytes, (unsigned long long)s->superslab_bytes,
          (unsigned long long)s->direct_bytes);
    CHECK(s->resident_bytes > 0, "%s: resident_bytes is 0", when);
    /* (not peak >= resident: ru_maxrss and statm may disagree by a few pages) */
    CHECK(s->peak_resident_bytes > 0, "%s: peak_resident_bytes is 0", when);
    CHECK(s->os_mmap > 0, "%s: os_mmap is 0", when);
}

/* Row r's counter `field` moved by exactly `want` from a to b. */
#define CHECK_ROW_DELTA(a, b, r, field, want, what)                                                \
    do {                                                                                           \
        uint64_t d_ = (b)->classes[r].field - (a)->classes[r].field;                               \
        CHECK(d_ == (uint64_t)(want),                                                              \
              "%s: row %u (block_size %llu): " #field " moved by %lld, expected %lld", (what),     \
              (r), (unsigned long long)(b)->classes[r].block_size, (long long)d_,                  \
              (long long)(want));                                                                  \
    } while (0)

#define CHECK_DELTA(a, b, field, want, what)                                                       \
    do {                                                                                           \
        uint64_t d_ = (b)->field - (a)->field;                                                     \
        CHECK(d_ == (uint64_t)(want), "%s: " #field " moved by %lld, expected %lld", (what),       \
              (long long)d_, (long long)(want));                                                   \
    } while (0)

enum { N = 1000, NH = 100 };
static void *blk_a[N], *blk_b[N], *blk_h[NH];

/* N mallocs of 3000 B and of 200 B, then N frees of each; NH hak_malloc of
 * 5000 B freed with hak_free_sized. */
static void test_exact_local(void)
{
    snap(&s0);
    check_snapshot(&s0, "start");
    unsigned ra = row_of(&s0, 3000), rb = row_of(&s0, 200), rh = row_of(&s0, 5000);
    uint64_t bsa = s0.classes[ra].block_size, bsb = s0.classes[rb].block_size,
             bsh = s0.classes[rh].block_size;
    CHECK(ra != rb && ra != rh && rb != rh, "3000, 200 and 5000 B share a row");

    snap(&s0);
    for (int i = 0; i < N; i++) {
        blk_a[i] = malloc(3000);
        blk_b[i] = malloc(200);
        CHECK(blk_a[i] && blk_b[i], "malloc failed");
        *(volatile char *)blk_a[i] = 1;
        *(volatile char *)blk_b[i] = 2;
    }
    snap(&s1);
    for (int i = 0; i < N; i++) {
        free(blk_a[i]);
        free(blk_b[i]);
    }
    snap(&s2);

    check_snapshot(&s1, "after the mallocs");
    check_snapshot(&s2, "after the frees");
    CHECK_ROW_DELTA(&s0, &s1, ra, allocs, N, "1000 x malloc(3000)");
    CHECK_ROW_DELTA(&s0, &s1, rb, allocs, N, "1000 x malloc(200)");
    CHECK_ROW_DELTA(&s0, &s1, ra, frees, 0, "1000 x malloc(3000)");
    CHECK_ROW_DELTA(&s0, &s1, rb, frees, 0, "1000 x malloc(200)");
    CHECK(s1.classes[ra].refills > s0.classes[ra].refills,
          "1000 x malloc(3000) (about 50 slabs' worth) made no refill in row %u", ra);
    CHECK_DELTA(&s0, &s1, allocs, 2 * N, "2000 mallocs");
    CHECK_DELTA(&s0, &s1, frees, 0, "2000 mallocs");
    /* one thread, nothing freed: refills carve (partial) or take new slabs */
    CHECK_DELTA(&s0, &s1, stage[HAK_STAGE_REMOTE], 0, "2000 mallocs by one thread");
    CHECK_DELTA(&s0, &s1, stage[HAK_STAGE_LOCAL], 0, "2000 mallocs, no free");
    CHECK(s1.stage[HAK_STAGE_PARTIAL] > s0.stage[HAK_STAGE_PARTIAL],
          "2000 mallocs: no refill carved a partial slab");
    CHECK_DELTA(&s0, &s1, in_use_bytes, N * (bsa + bsb), "2000 mallocs");

    CHECK_ROW_DELTA(&s1, &s2, ra, frees, N, "1000 x free of 3000 B blocks");
    CHECK_ROW_DELTA(&s1, &s2, rb, frees, N, "1000 x free of 200 B blocks");
    CHECK_ROW_DELTA(&s1, &s2, ra, remote_frees, 0, "1000 local frees of 3000 B");
    CHECK_ROW_DELTA(&s1, &s2, rb, remote_frees, 0, "1000 local frees of 200 B");
    CHECK_ROW_DELTA(&s1, &s2, ra, allocs, 0, "1000 x free of 3000 B blocks");
    CHECK_DELTA(&s1, &s2, frees, 2 * N, "2000 frees");
    CHECK_DELTA(&s1, &s2, allocs, 0, "2000 frees");
    CHECK_DELTA(&s1, &s2, remote_frees, 0, "2000 local frees");
    CHECK(s2.in_use_bytes == s0.in_use_bytes, "in_use_bytes %llu after the frees, %llu before",
          (unsigned long long)s2.in_use_bytes, (unsigned long long)s0.in_use_bytes);

    /* the same through hak_malloc / hak_free_sized */
    snap(&s0);
    for (int i = 0; i < NH; i++) {
        blk_h[i] = hk.malloc_fn(5000);
        CHECK(blk_h[i], "hak_malloc failed");
    }
    snap(&s1);
    for (int i = 0; i < NH; i++)
        hk.free_sized_fn(blk_h[i], 5000);
    snap(&s2);
    CHECK_ROW_DELTA(&s0, &s1, rh, allocs, NH, "100 x hak_malloc(5000)");
    CHECK_DELTA(&s0, &s1, in_use_bytes, NH * bsh, "100 x hak_malloc(5000)");
    CHECK_ROW_DELTA(&s1, &s2, rh, frees, NH, "100 x hak_free_sized of 5000 B");
    CHECK_DELTA(&s0, &s1, allocs, NH, "100 x hak_malloc(5000)");
    CHECK_DELTA(&s1, &s2, frees, NH, "100 x hak_free_sized of 5000 B");
    printf("exact counters: rows %llu/%llu/%llu B: ok\n", (unsigned long long)bsa,
           (unsigned long long)bsb, (unsigned long long)bsh);
}

/* ---- remote frees ----------------------------------------------------------- */

enum { NR = 200 };
static size_t remote_size; /* 12000 B (a class) or 100 KiB (a large span) */
static void *blk_r[NR];
static pthread_barrier_t barrier;

/* (b) main mallocs, the thread frees. */
static void *thread_frees(void *arg)
{
    (void)arg;
    for (int i = 0; i < NR; i++)
        free(blk_r[i]);
    return NULL;
}

static void malloc_remote_blocks(void)
{
    for (int i = 0; i < NR; i++) {
        blk_r[i] = malloc(remote_size);
        CHECK(blk_r[i], "malloc failed in the thread");
        *(volatile char *)blk_r[i] = 3;
    }
}

/* (c) the thread mallocs, main frees while the thread waits. */
static void *thread_mallocs(void *arg)
{
    (void)arg;
    malloc_remote_blocks();
    pthread_barrier_wait(&barrier); /* main frees them now */
    pthread_barrier_wait(&barrier);
    return NULL;
}

/* (d) the thread mallocs and exits. */
static void *thread_mallocs_exits(void *arg)
{
    (void)arg;
    malloc_remote_blocks();
    return NULL;
}

#define HK_SMALL_SIZE_MAX 32768 /* above: page runs (freed at once by any thread) */

static void test_remote(size_t size)
{
    pthread_t t;
    remote_size = size;
    snap(&s0);
    unsigned r = row_of(&s0, size);

    /* (b) */
    snap(&s0);
    for (int i = 0; i < NR; i++) {
        blk_r[i] = malloc(remote_size);
        CHECK(blk_r[i], "malloc failed");
        *(volatile char *)blk_r[i] = 3;
    }
    snap(&s1);
    CHECK(pthread_create(&t, NULL, thread_frees, NULL) == 0, "pthread_create failed");
    CHECK(pthread_join(t, NULL) == 0, "pthread_join failed");
    snap(&s2);
    check_snapshot(&s2, "after a thread freed main's blocks");
    CHECK_ROW_DELTA(&s0, &s1, r, allocs, NR, "200 x malloc in main");
    CHECK_ROW_DELTA(&s1, &s2, r, frees, NR, "200 frees by a second thread");
    CHECK_ROW_DELTA(&s1, &s2, r, remote_frees, NR, "200 frees by a second thread");
    CHECK_ROW_DELTA(&s1, &s2, r, allocs, 0, "200 frees by a second thread");

    /* (c) */
    CHECK(pthread_barrier_init(&barrier, NULL, 2) == 0, "pthread_barrier_init failed");
    snap(&s0);
    CHECK(pthread_create(&t, NULL, thread_mallocs, NULL) == 0, "pthread_create failed");
    pthread_barrier_wait(&barrier);
    malloc_trim(0); /* main's thread cache starts over: it allocates no class now */
    snap(&s1);
    for (int i = 0; i < NR; i++)
        free(blk_r[i]);
    snap(&s2);
    pthread_barrier_wait(&barrier);
    CHECK(pthread_join(t, NULL) == 0, "pthread_join failed");
    snap(&s3);
    pthread_barrier_destroy(&barrier);
    CHECK(s1.threads >= 2, "threads = %u while a second thread with a heap is alive", s1.threads);
    /* a slab's block counts when its owner collects it; a page run goes back at once */
    uint64_t at_once = size > HK_SMALL_SIZE_MAX ? NR : 0;
    CHECK_ROW_DELTA(&s1, &s2, r, frees, at_once, "main freed 200 blocks of a live thread");
    CHECK_ROW_DELTA(&s1, &s2, r, remote_frees, at_once, "main freed 200 blocks of a live thread");
    CHECK_ROW_DELTA(&s0, &s3, r, allocs, NR, "200 x malloc in a thread (after join)");
    CHECK_ROW_DELTA(&s0, &s3, r, frees, NR, "200 remote frees by main (after join)");
    CHECK_ROW_DELTA(&s0, &s3, r, remote_frees, NR, "200 remote frees by main (after join)");
    check_snapshot(&s3, "after join");

    /* (c2) 1-32 KiB, a class main allocates too: its free of a live
     * thread's block goes on its own thread cache, a free at once */
    if (size > 1024 && size <= HK_SMALL_SIZE_MAX) {
        CHECK(pthread_barrier_init(&barrier, NULL, 2) == 0, "pthread_barrier_init failed");
        CHECK(pthread_create(&t, NULL, thread_mallocs, NULL) == 0, "pthread_create failed");
        pthread_barrier_wait(&barrier);
        malloc_trim(0);            /* main's bins empty: */
        void *mine = malloc(size); /* this malloc finds its class's empty */
        CHECK(mine, "malloc failed");
        snap(&s1);
        free(blk_r[0]);
        snap(&s2);
        CHECK_ROW_DELTA(&s1, &s2, r, frees, 1,
                        "main freed a live thread's block of a class it allocates");
        CHECK_ROW_DELTA(&s1, &s2, r, remote_frees, 0,
                        "main freed a live thread's block of a class it allocates");
        for (int i = 1; i < NR; i++)
            free(blk_r[i]);
        free(mine);
        pthread_barrier_wait(&barrier);
        CHECK(pthread_join(t, NULL) == 0, "pthread_join failed");
        pthread_barrier_destroy(&barrier);
        malloc_trim(0);
        snap(&s3);
        check_snapshot(&s3, "after a live thread's blocks went through main's thread cache");
    }

    /* (d) the thread mallocs and exits; main's first free of a block of
     * its abandoned SuperSlab adopts it, and every free is main's own (a
     * page run is freed as any other) */
    snap(&s0);
    CHECK(pthread_create(&t, NULL, thread_mallocs_exits, NULL) == 0, "pthread_create failed");
    CHECK(pthread_join(t, NULL) == 0, "pthread_join failed");
    snap(&s1);
    for (int i = 0; i < NR; i++)
        free(blk_r[i]);
    snap(&s2);
    CHECK_ROW_DELTA(&s0, &s1, r, allocs, NR, "200 x malloc in a thread that exited");
    CHECK_ROW_DELTA(&s1, &s2, r, frees, NR, "main freed 200 blocks of an exited thread");
    CHECK_ROW_DELTA(&s1, &s2, r, remote_frees, at_once,
                    "main freed 200 blocks of an exited thread");
    check_snapshot(&s2, "after freeing an exited thread's blocks");
    printf("remote frees: row %llu B: ok\n", (unsigned long long)s0.classes[r].block_size);
}

/* ---- large and huge blocks ---------------------------------------------------- */

enum { NL = 20, NG = 3 };
#define LARGE_SIZE (100 * TU_KiB)
#define HUGE_SIZE (65 * TU_MiB) /* beyond the page layer: direct mappings */
static void *blk_l[NL], *blk_g[NG];

static void test_large_huge(void)
{
    snap(&s0);
    unsigned rl = row_of(&s0, LARGE_SIZE), rg = row_of(&s0, HUGE_SIZE);
    CHECK(s0.classes[rl].block_size > 32768, "the row of 100 KiB has block_size %llu",
          (unsigned long long)s0.classes[rl].block_size);
    CHECK(rl != rg, "100 KiB and 65 MiB share a row");

    snap(&s0);
    for (int i = 0; i < NL; i++) {
        blk_l[i] = malloc(LARGE_SIZE);
        CHECK(blk_l[i], "malloc(100 KiB) failed");
        *(volatile char *)blk_l[i] = 4;
    }
    for (int i = 0; i < NG; i++) {
        blk_g[i] = malloc(HUGE_SIZE);
        CHECK(blk_g[i], "malloc(65 MiB) failed");
        *(volatile char *)blk_g[i] = 5;
    }
    snap(&s1);
    for (int i = 0; i < NL; i++)
        free(blk_l[i]);
    for (int i = 0; i < NG; i++)
        free(blk_g[i]);
    snap(&s2);
    check_snapshot(&s1, "with large and huge blocks");
    CHECK_ROW_DELTA(&s0, &s1, rl, allocs, NL, "20 x malloc(100 KiB)");
    CHECK_ROW_DELTA(&s0, &s1, rg, allocs, NG, "3 x malloc(65 MiB)");
    CHECK_ROW_DELTA(&s1, &s2, rl, frees, NL, "20 x free of 100 KiB");
    CHECK_ROW_DELTA(&s1, &s2, rg, frees, NG, "3 x free of 65 MiB");
    CHECK_ROW_DELTA(&s1, &s2, rl, remote_frees, 0, "20 x free of 100 KiB");
    CHECK_ROW_DELTA(&s1, &s2, rg, remote_frees, 0, "3 x free of 65 MiB");
    CHECK_DELTA(&s0, &s1, allocs, NL + NG, "23 large and huge mallocs");
    CHECK_DELTA(&s1, &s2, frees, NL + NG, "23 large and huge frees");
    CHECK_DELTA(&s0, &s1, direct_count, NG, "3 x malloc(65 MiB)");
    CHECK(s1.direct_bytes - s0.direct_bytes >= NG * HUGE_SIZE,
          "3 x malloc(65 MiB): direct_bytes grew by only %llu",
          (unsigned long long)(s1.direct_bytes - s0.direct_bytes));
    CHECK(s1.pages_in_use_bytes - s0.pages_in_use_bytes == NL * ((LARGE_SIZE + 4095) / 4096 * 4096),
          "20 x malloc(100 KiB): pages_in_use_bytes grew by %llu",
          (unsigned long long)(s1.pages_in_use_bytes - s0.pages_in_use_bytes));
    CHECK(s2.pages_in_use_bytes == s0.pages_in_use_bytes,
          "after the frees: pages_in_use_bytes %llu, before %llu",
          (unsigned long long)s2.pages_in_use_bytes, (unsigned long long)s0.pages_in_use_bytes);
    CHECK(s1.in_use_bytes - s0.in_use_bytes >= NL * LARGE_SIZE + NG * HUGE_SIZE,
          "20 x 100 KiB + 3 x 65 MiB: in_use_bytes grew by only %llu",
          (unsigned long long)(s1.in_use_bytes - s0.in_use_bytes));
    CHECK(s2.direct_count == s0.direct_count && s2.in_use_bytes == s0.in_use_bytes,
          "after the frees: direct_count %llu (before %llu), in_use_bytes %llu (before %llu)",
          (unsigned long long)s2.direct_count, (unsigned long long)s0.direct_count,
          (unsigned long long)s2.in_use_bytes, (unsigned long long)s0.in_use_bytes);
    printf("large and huge rows: %llu B, %llu B: ok\n",
           (unsigned long long)s0.classes[rl].block_size,
           (unsigned long long)s0.classes[rg].block_size);
}

/* ---- an old caller, short and long sizes, EINVAL ---------------------------------- */

/* The struct as a program built against a first, smaller version sees it. */
struct old_stats {
    size_t size;
    uint32_t abi_version, mode, telemetry, threads;
    uint64_t allocs, frees, remote_frees, refills;
    uint64_t in_use_bytes;
};
_Static_assert(offsetof(struct old_stats, in_use_bytes) == offsetof(struct hak_stats, in_use_bytes),
               "old_stats is a prefix of hak_stats");
_Static_assert(offsetof(struct old_stats, threads) == offsetof(struct hak_stats, threads),
               "old_stats is a prefix of hak_stats");

enum { CANARY = 0xA5, CANARY_LEN = 256 };

static struct {
    struct old_stats o;
    unsigned char canary[CANARY_LEN];
} old_buf;

static union {
    struct hak_stats s;
    unsigned char bytes[sizeof(struct hak_stats) + CANARY_LEN];
} big_buf;

/* ---- thread churn: blocks left by exiting threads ---------------------------- */

enum { NT = 6, NC = 150 };
static const size_t churn_sizes[3] = {48, 200, 3000};
static void *blk_c[NT + 1][3][NC];

/* Thread (or main) `id` mallocs NC blocks of each size and frees the even
 * ones; the odd ones are left for main to free after the thread exited. */
static void *churn(void *arg)
{
    long id = (long)(intptr_t)arg;
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < NC; i++) {
            blk_c[id][k][i] = malloc(churn_sizes[k]);
            CHECK(blk_c[id][k][i], "malloc(%zu) failed in churn %ld", churn_sizes[k], id);
            *(volatile char *)blk_c[id][k][i] = 6;
        }
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < NC; i += 2) {
            free(blk_c[id][k][i]);
            blk_c[id][k][i] = NULL;
        }
    return NULL;
}

/* Threads exit one after another with blocks still live and free lists
 * still stocked (their slabs are abandoned, later reclaimed by the next
 * exiting thread or by main); main then frees everything and trims.  Every
 * malloc and free is counted exactly once. */
static void test_churn(void)
{
    snap(&s0);
    unsigned r[3];
    for (int k = 0; k < 3; k++)
        r[k] = row_of(&s0, churn_sizes[k]);
    for (long t = 0; t < NT; t++) {
        pthread_t th;
        CHECK(pthread_create(&th, NULL, churn, (void *)(intptr_t)t) == 0, "pthread_create failed");
        CHECK(pthread_join(th, NULL) == 0, "pthread_join failed");
    }
    churn((void *)(intptr_t)NT);
    for (int t = 0; t <= NT; t++)
        for (int k = 0; k < 3; k++)
            for (int i = 0; i < NC; i++)
                free(blk_c[t][k][i]);
    malloc_trim(0);
    snap(&s1);
    check_snapshot(&s1, "after thread churn");
    for (int k = 0; k < 3; k++) {
        CHECK_ROW_DELTA(&s0, &s1, r[k], allocs, (NT + 1) * NC, "thread churn");
        CHECK_ROW_DELTA(&s0, &s1, r[k], frees, (NT + 1) * NC, "thread churn");
    }
    printf("thread churn: rows %llu/%llu/%llu B: ok\n",
           (unsigned long long)s0.classes[r[0]].block_size,
           (unsigned long long)s0.classes[r[1]].block_size,
           (unsigned long long)s0.classes[r[2]].block_size);
}

static void test_versions(void)
{
    /* an old caller */
    memset(&old_buf, CANARY, sizeof old_buf);
    int rc = hk.stats_get((struct hak_stats *)(void *)&old_buf.o, sizeof old_buf.o);
    snap(&s0);
    CHECK(rc == 0, "hak_stats_get(&old, %zu) returned %d", sizeof old_buf.o, rc);
    CHECK(old_buf.o.size == sizeof old_buf.o, "old caller: size = %zu, expected %zu",
          old_buf.o.size, sizeof old_buf.o);
    CHECK(tu_check_bytes(old_buf.canary, CANARY_LEN, CANARY) == SIZE_MAX,
          "old caller: hak_stats_get wrote past %zu bytes (offset %zu after the struct)",
          sizeof old_buf.o, tu_check_bytes(old_buf.canary, CANARY_LEN, CANARY));
#define SAME(f)                                                                                    \
    CHECK((uint64_t)old_buf.o.f == (uint64_t)s0.f, "old caller: " #f " = %llu, full call: %llu",   \
          (unsigned long long)old_buf.o.f, (unsigned long long)s0.f)
    SAME(abi_version);
    SAME(mode);
    SAME(telemetry);
    SAME(threads);
    SAME(allocs);
    SAME(frees);
    SAME(remote_frees);
    SAME(refills);
    SAME(in_use_bytes);
#undef SAME

    /* exactly sizeof(size_t), and a size ending inside a field */
    memset(&old_buf, CANARY, sizeof old_buf);
    rc = hk.stats_get((struct hak_stats *)(void *)&old_buf.o, sizeof(size_t));
    CHECK(rc == 0 && old_buf.o.size == sizeof(size_t),
          "hak_stats_get(&s, sizeof(size_t)) returned %d, size %zu", rc, old_buf.o.size);
    CHECK(tu_check_bytes((unsigned char *)&old_buf + sizeof(size_t),
                         sizeof old_buf - sizeof(size_t), CANARY) == SIZE_MAX,
          "hak_stats_get(&s, sizeof(size_t)) wrote past %zu bytes", sizeof(size_t));
    memset(&old_buf, CANARY, sizeof old_buf);
    rc = hk.stats_get((struct hak_stats *)(void *)&old_buf.o, sizeof(size_t) + 6);
    CHECK(rc == 0 && old_buf.o.size == sizeof(size_t) + 6,
          "hak_stats_get(&s, %zu) returned %d, size %zu", sizeof(size_t) + 6, rc, old_buf.o.size);
    CHECK(((unsigned char *)&old_buf.o.abi_version)[0] == (HAKMEM_ABI_VERSION & 0xff),
          "hak_stats_get(&s, %zu): abi_version's first byte not filled", sizeof(size_t) + 6);
    CHECK(tu_check_bytes((unsigned char *)&old_buf + sizeof(size_t) + 6,
                         sizeof old_buf - sizeof(size_t) - 6, CANARY) == SIZE_MAX,
          "hak_stats_get(&s, %zu) wrote past its size", sizeof(size_t) + 6);

    /* a newer caller: a bigger buffer than the library's struct */
    memset(&big_buf, CANARY, sizeof big_buf);
    rc = hk.stats_get(&big_buf.s, sizeof big_buf);
    CHECK(rc == 0, "hak_stats_get(&s, %zu) returned %d", sizeof big_buf, rc);
    CHECK(big_buf.s.size == sizeof(struct hak_stats),
          "hak_stats_get(&s, %zu): size = %zu, the library's struct is %zu", sizeof big_buf,
          big_buf.s.size, sizeof(struct hak_stats));
    CHECK(tu_check_bytes(big_buf.bytes + sizeof(struct hak_stats), CANARY_LEN, CANARY) == SIZE_MAX,
          "hak_stats_get wrote past the library's struct");

    /* EINVAL */
    CHECK(hk.stats_get(NULL, sizeof(struct hak_stats)) == EINVAL,
          "hak_stats_get(NULL, ...) != EINVAL");
    CHECK(hk.stats_get(NULL, 0) == EINVAL, "hak_stats_get(NULL, 0) != EINVAL");
    for (size_t n = 0; n < sizeof(size_t); n++) {
        memset(&old_buf, CANARY, sizeof old_buf);
        rc = hk.stats_get((struct hak_stats *)(void *)&old_buf.o, n);
        CHECK(rc == EINVAL, "hak_stats_get(&s, %zu) returned %d, expected EINVAL (%d)", n, rc,
              EINVAL);
        CHECK(tu_check_bytes(&old_buf, sizeof old_buf, CANARY) == SIZE_MAX,
              "hak_stats_get(&s, %zu) wrote to s", n);
    }
    printf("old caller, short and long sizes, EINVAL: ok\n");
}

/* ---- mallinfo2 ---------------------------------------------------------------- */

static void compare_mallinfo(const struct mallinfo2 *mi, const struct hak_stats *s,
                             const char *when)
{
    CHECK(mi->arena == s->superslab_bytes + s->pages_mapped_bytes,
          "%s: mallinfo2.arena %zu != superslab_bytes %llu + pages_mapped_bytes %llu", when,
          mi->arena, (unsigned long long)s->superslab_bytes,
          (unsigned long long)s->pages_mapped_bytes);
    CHECK(mi->hblkhd == s->direct_bytes, "%s: mallinfo2.hblkhd %zu != direct_bytes %llu", when,
          mi->hblkhd, (unsigned long long)s->direct_bytes);
    CHECK(mi->hblks == s->direct_count, "%s: mallinfo2.hblks %zu != direct_count %llu", when,
          mi->hblks, (unsigned long long)s->direct_count);
    CHECK(mi->uordblks + mi->hblkhd == s->in_use_bytes,
          "%s: mallinfo2.uordblks %zu + hblkhd %zu != in_use_bytes %llu", when, mi->uordblks,
          mi->hblkhd, (unsigned long long)s->in_use_bytes);
    CHECK(mi->keepcost == s->pages_free_resident_bytes,
          "%s: mallinfo2.keepcost %zu != pages_free_resident_bytes %llu", when, mi->keepcost,
          (unsigned long long)s->pages_free_resident_bytes);
}

static void test_mallinfo(void)
{
    struct mallinfo2 mi;
    snap(&s0);
    mi = mallinfo2();
    compare_mallinfo(&mi, &s0, "idle");
    for (int i = 0; i < N; i++) {
        blk_a[i] = malloc((size_t)(i % 50) * 61 + 1);
        CHECK(blk_a[i], "malloc failed");
    }
    for (int i = 0; i < NL; i++) {
        blk_l[i] = malloc(LARGE_SIZE + (size_t)i * 4096);
        CHECK(blk_l[i], "malloc failed");
    }
    for (int i = 0; i < NG; i++) {
        blk_g[i] = malloc(HUGE_SIZE + (size_t)i * TU_MiB);
        CHECK(blk_g[i], "malloc failed");
    }
    mi = mallinfo2();
    snap(&s1);
    compare_mallinfo(&mi, &s1, "with small, large and huge blocks (mallinfo2 first)");
    snap(&s1);
    mi = mallinfo2();
    compare_mallinfo(&mi, &s1, "with small, large and huge blocks (hak_stats_get first)");
    CHECK(s1.direct_count >= NG, "direct_count %llu with %d huge blocks live",
          (unsigned long long)s1.direct_count, NG);
    for (int i = 0; i < NG; i++)
        free(blk_g[i]);
    mi = mallinfo2();
    snap(&s2);
    compare_mallinfo(&mi, &s2, "after freeing the huge blocks");
    for (int i = 0; i < N; i++)
        free(blk_a[i]);
    for (int i = 0; i < NL; i++)
        free(blk_l[i]);
    snap(&s2);
    mi = mallinfo2();
    compare_mallinfo(&mi, &s2, "after freeing everything");
    printf("mallinfo2 agrees (free resident page runs %llu bytes): ok\n",
           (unsigned long long)s2.pages_free_resident_bytes);
}

/* ---- printing ------------------------------------------------------------------- */

static char text[1 << 18];
static char stdio_buf[1 << 16];

static size_t read_back(FILE *f, const char *what)
{
    CHECK(fflush(f) == 0, "fflush failed");
    rewind(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    CHECK(n > 0, "%s wrote nothing", what);
    CHECK(n < sizeof text - 1, "%s wrote more than %zu bytes", what, sizeof text - 2);
    text[n] = 0;
    return n;
}

static void test_print(void)
{
    const char *mode = tu_mode_names[s0.mode <= HAK_MODE_RESEARCH ? s0.mode : 0];
    /* the table */
    FILE *f = tmpfile();
    CHECK(f, "tmpfile failed");
    hk.stats_print(f);
    read_back(f, "hak_stats_print");
    fclose(f);
    static const char *const words[] = {"allocs", "frees", "remote", "3072"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        CHECK(strstr(text, words[i]), "hak_stats_print's table has no \"%s\":\n%.2000s", words[i],
              text);
    CHECK(strstr(text, mode), "hak_stats_print's table does not name the mode %s:\n%.2000s", mode,
          text);

    /* the JSON, with what it must hold (checked by tests/check_stats_json.py) */
    char path[4096], expect[4096];
    int keep = tu_out_path(path, sizeof path, ".json");
    tu_out_path(expect, sizeof expect, ".expect");
    f = fopen(path, "w+");
    CHECK(f, "cannot create %s", path);
    CHECK(setvbuf(f, stdio_buf, _IOFBF, sizeof stdio_buf) == 0, "setvbuf failed");
    snap(&s0);
    unsigned r = row_of(&s0, 3000);
    hk.stats_print_json(f);
    snap(&s1);
    size_t n = read_back(f, "hak_stats_print_json");
    fclose(f);
    size_t a = 0;
    while (a < n && (text[a] == ' ' || text[a] == '\n'))
        a++;
    while (n > a && (text[n - 1] == ' ' || text[n - 1] == '\n'))
        n--;
    CHECK(n > a && text[a] == '{' && text[n - 1] == '}',
          "hak_stats_print_json did not write one JSON object:\n%.2000s", text);
    static const char *const keys[] = {"\"mode\"", "\"allocs\"", "\"classes\"", "\"block_size\"",
                                       "\"stages\""};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        CHECK(strstr(text, keys[i]), "hak_stats_print_json: no key %s", keys[i]);
    FILE *e = fopen(expect, "w");
    CHECK(e, "cannot create %s", expect);
    fprintf(e, "mode %s\n", mode);
    fprintf(e, "allocs %llu %llu\n", (unsigned long long)s0.allocs, (unsigned long long)s1.allocs);
    fprintf(e, "frees %llu %llu\n", (unsigned long long)s0.frees, (unsigned long long)s1.frees);
    fprintf(e, "remote_frees %llu %llu\n", (unsigned long long)s0.remote_frees,
            (unsigned long long)s1.remote_frees);
    fprintf(e, "row %llu allocs %llu %llu\n", (unsigned long long)s0.classes[r].block_size,
            (unsigned long long)s0.classes[r].allocs, (unsigned long long)s1.classes[r].allocs);
    fprintf(e, "row %llu frees %llu %llu\n", (unsigned long long)s0.classes[r].block_size,
            (unsigned long long)s0.classes[r].frees, (unsigned long long)s1.classes[r].frees);
    CHECK(fclose(e) == 0, "writing %s failed", expect);
    if (keep) {
        printf("hak_stats_print_json wrote %s (checked by run.sh)\n", path);
    } else {
        unlink(path);
        unlink(expect);
    }
    printf("hak_stats_print / hak_stats_print_json: ok\n");
}

int main(void)
{
    tu_init();
    double t0 = tu_now();
    hk_require("stats");
    printf("stats: testing hak_stats_get (struct of %zu bytes)\n", sizeof(struct hak_stats));
    /* its start allocates (pthread_create): not in the middle of a count */
    CHECK(hk_start_ace() == HAK_ACE_RUNNING, "the adaptive thread did not start in balanced mode");

    /* the ABI */
    CHECK(hk.abi_version() == HAKMEM_ABI_VERSION, "hak_abi_version() = %d, header says %d",
          hk.abi_version(), HAKMEM_ABI_VERSION);
#if !HK_LINKED
    CHECK(&hak_abi_version != NULL, "hak_abi_version did not resolve");
#endif
    CHECK(hak_abi_check() == 1, "hak_abi_check() != 1");
    CHECK(hak_abi_compatible(), "hak_abi_compatible() is 0");

    /* the mode: HAKMEM_MODE if it names one, else balanced */
    snap(&s0);
    check_snapshot(&s0, "first snapshot");
    unsigned want = tu_expected_mode();
    CHECK(s0.mode == want, "mode = %u, expected %u (%s)", s0.mode, want, tu_mode_names[want]);

    test_exact_local();
    test_large_huge(); /* before test_remote: in_use_bytes counts blocks freed by
                            other threads until their owner collects them */
    test_remote(12000);
    test_remote(LARGE_SIZE);
    test_churn();
    test_versions();
    test_mallinfo();
    /* a known workload for the printouts: live 3000 B blocks */
    for (int i = 0; i < 10; i++)
        blk_a[i] = malloc(3000);
    snap(&s0);
    test_print();
    for (int i = 0; i < 10; i++)
        free(blk_a[i]);
    printf("stats: all ok (%.2fs)\n", tu_now() - t0);
    return 0;
}
