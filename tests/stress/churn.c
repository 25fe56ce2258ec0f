/* churn.c — thread churn: memory of exited threads must be reclaimed.
 *
 * NTHREADS short-lived threads (default 4000, times HK_TEST_SCALE), at most
 * WINDOW (4) alive at once.  Each thread allocates a mix of sizes (tiny, mid,
 * large, sometimes huge), fills them, frees part itself, hands part to a
 * global list, and frees blocks other (mostly exited) threads left there.
 * Each thread also frees a block, and allocates, in a pthread key destructor
 * (i.e. during thread teardown).  A long-lived thread keeps freeing blocks
 * from the list (remote frees racing with the threads' exits) and adding its
 * own; tiny blocks are also exchanged between all threads through atomic
 * slots; main frees some of the list now and then and all of it at the end;
 * every block is verified before it is freed.
 *
 * RSS is measured after a warm-up batch, every 500 threads and at the end
 * (always with no short-lived thread alive, the long-lived one paused and the
 * global list drained).  The growth must stay under RSS_BOUND_MIB (128 MiB:
 * room for caches such as a large-block cache of 64 MiB and per-heap dirty
 * pages; glibc stays within ~20 MiB): every thread touches ~600 KiB, so an
 * allocator that does not reuse exited threads' memory grows by gigabytes,
 * and one that keeps 256 KiB per exited thread by ~900 MiB.
 */
#include "../testutil.h"

#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define WINDOW 4
#define PENDING_MAX 4096
#define RSS_BOUND_MIB 128

struct blk {
    void *p;
    size_t n;
    uint32_t seed;
};

static pthread_mutex_t pend_lock = PTHREAD_MUTEX_INITIALIZER;
static struct blk pending[PENDING_MAX];
static size_t npending;
static pthread_key_t key;
static atomic_long st_alloc, st_free, st_remote, st_keydtor;

static void blk_check_free(struct blk *b, const char *what)
{
    CHECK(malloc_usable_size(b->p) >= b->n, "%s: usable size of %p < %zu", what, b->p, b->n);
    CHECK_PATTERN(b->p, b->n, b->seed, what);
    free(b->p);
    atomic_fetch_add_explicit(&st_free, 1, memory_order_relaxed);
}

static struct blk blk_new(uint64_t *rs, size_t n)
{
    struct blk b;
    b.n = n;
    b.seed = (uint32_t)tu_rand(rs);
    b.p = (tu_rand(rs) % 8 == 0) ? calloc(1, n) : malloc(n);
    CHECK(b.p, "allocation of %zu bytes failed", n);
    tu_fill(b.p, n, b.seed);
    atomic_fetch_add_explicit(&st_alloc, 1, memory_order_relaxed);
    return b;
}

/* Tiny blocks are also exchanged through atomic slots: a block published by
 * a short-lived thread is freed by whoever displaces it (often the
 * long-lived thread, while its owner is still running or exiting). */
#define NXSLOTS 512
static _Atomic(struct blk *) xslots[NXSLOTS];
static atomic_long st_xfree;

static void xpublish_blk(uint64_t *rs, struct blk *x)
{
    struct blk *o = atomic_exchange(&xslots[tu_rand(rs) % NXSLOTS], x);
    if (o) {
        blk_check_free(o, "exchanged tiny block");
        free(o);
        atomic_fetch_add_explicit(&st_xfree, 1, memory_order_relaxed);
    }
}

static void xpublish(uint64_t *rs, size_t n)
{
    struct blk *x = malloc(sizeof *x);
    CHECK(x, "malloc(struct blk) failed");
    *x = blk_new(rs, n);
    xpublish_blk(rs, x);
}

/* Runs at thread exit, possibly after the allocator's own thread teardown. */
static void key_dtor(void *v)
{
    struct blk *b = v;
    blk_check_free(b, "block freed in a pthread key destructor");
    free(b); /* the struct itself was malloc'ed */
    void *q = malloc(777);
    CHECK(q, "malloc in a pthread key destructor failed");
    memset(q, 1, 777);
    free(q);
    atomic_fetch_add_explicit(&st_keydtor, 1, memory_order_relaxed);
}

static void *worker(void *arg)
{
    long id = (long)(intptr_t)arg;
    uint64_t rs = 0xC4000000ull + (uint64_t)id;
    enum { MAXB = 96 };
    struct blk b[MAXB];
    int nb = 0;
    for (int i = 0; i < 64; i++)
        b[nb++] = blk_new(&rs, (size_t)tu_rand_range(&rs, 16, 512));
    for (int i = 0; i < 16; i++)
        b[nb++] = blk_new(&rs, (size_t)tu_rand_range(&rs, 1024, 32 * 1024));
    for (int i = 0; i < 2; i++)
        b[nb++] = blk_new(&rs, (size_t)tu_rand_range(&rs, 64 * 1024, 256 * 1024));
    if (tu_rand(&rs) % 50 == 0)
        b[nb++] = blk_new(&rs, (size_t)tu_rand_range(&rs, 2 * TU_MiB, 4 * TU_MiB));

    /* 32 tiny blocks: 8 published in the exchange slots, 24 freed here */
    struct blk *t32[32];
    for (int i = 0; i < 32; i++) {
        t32[i] = malloc(sizeof *t32[i]);
        CHECK(t32[i], "malloc(struct blk) failed");
        *t32[i] = blk_new(&rs, (size_t)tu_rand_range(&rs, 1, 1024));
    }
    for (int i = 0; i < 32; i++) {
        if (i % 4 == 0) {
            xpublish_blk(&rs, t32[i]);
        } else {
            blk_check_free(t32[i], "thread's own tiny block");
            free(t32[i]);
        }
    }

    /* a block to be freed by the key destructor at thread exit */
    struct blk *kb = malloc(sizeof *kb);
    CHECK(kb, "malloc failed");
    *kb = blk_new(&rs, (size_t)tu_rand_range(&rs, 1, 5000));
    CHECK(pthread_setspecific(key, kb) == 0, "pthread_setspecific failed");

    /* shuffle, then: ~40% to the global list, the rest freed here */
    for (int i = nb; i > 1; i--) {
        int j = (int)(tu_rand(&rs) % (uint64_t)i);
        struct blk t = b[i - 1];
        b[i - 1] = b[j];
        b[j] = t;
    }
    int handed = 0;
    pthread_mutex_lock(&pend_lock);
    for (int i = 0; i < nb; i++) {
        if (tu_rand(&rs) % 10 < 4 && npending < PENDING_MAX) {
            pending[npending++] = b[i];
            b[i].p = NULL;
            handed++;
        }
    }
    /* take some blocks other threads left behind */
    struct blk take[28];
    int nt = 0;
    while (nt < 28 && npending > (size_t)handed) {
        size_t j = (size_t)(tu_rand(&rs) % (npending - (size_t)handed));
        take[nt++] = pending[j];
        pending[j] = pending[--npending];
    }
    pthread_mutex_unlock(&pend_lock);
    for (int i = 0; i < nt; i++) {
        blk_check_free(&take[i], "block left by another thread");
        atomic_fetch_add_explicit(&st_remote, 1, memory_order_relaxed);
    }
    for (int i = 0; i < nb; i++)
        if (b[i].p)
            blk_check_free(&b[i], "thread's own block");
    return NULL;
}

/* A long-lived thread that keeps freeing blocks the short-lived threads left
 * (remote frees into the SuperSlabs/arenas of exiting and exited threads) and
 * leaving blocks of its own for them.  Paused while main measures RSS. */
static atomic_int bg_stop, bg_pause, bg_paused;
static atomic_long st_bg_free;

static void *bg_thread(void *arg)
{
    uint64_t rs = 0xB6000000ull;
    while (!atomic_load(&bg_stop)) {
        if (atomic_load(&bg_pause)) {
            atomic_store(&bg_paused, 1);
            while (atomic_load(&bg_pause) && !atomic_load(&bg_stop))
                usleep(100);
            atomic_store(&bg_paused, 0);
            continue;
        }
        /* free one block some thread left, leave one of our own */
        struct blk take, mine;
        int took = 0;
        pthread_mutex_lock(&pend_lock);
        if (npending > 0) {
            size_t j = (size_t)(tu_rand(&rs) % npending);
            take = pending[j];
            pending[j] = pending[--npending];
            took = 1;
        }
        pthread_mutex_unlock(&pend_lock);
        if (took) {
            blk_check_free(&take, "block freed by the long-lived thread");
            atomic_fetch_add_explicit(&st_bg_free, 1, memory_order_relaxed);
        }
        mine = blk_new(&rs,
                       tu_rand(&rs) % 50 == 0 ? (size_t)tu_rand_range(&rs, 4096, 64 * 1024)
                                              : (size_t)tu_rand_range(&rs, 8, 2048));
        int kept = 0;
        pthread_mutex_lock(&pend_lock);
        if (npending < PENDING_MAX / 2) {
            pending[npending++] = mine;
            kept = 1;
        }
        pthread_mutex_unlock(&pend_lock);
        if (!kept)
            blk_check_free(&mine, "long-lived thread's own block");
        /* and a burst of exchanges of tiny blocks */
        for (int k = 0; k < 32; k++)
            xpublish(&rs, (size_t)tu_rand_range(&rs, 1, 1024));
        sched_yield();
    }
    return NULL;
}

static void bg_set_paused(int on)
{
    atomic_store(&bg_pause, on);
    if (on)
        while (!atomic_load(&bg_paused))
            usleep(50);
}

/* Main frees blocks from the global list until `keep` are left. */
static void drain(size_t keep)
{
    pthread_mutex_lock(&pend_lock);
    while (npending > keep) {
        struct blk x = pending[--npending];
        blk_check_free(&x, "block freed by main");
    }
    pthread_mutex_unlock(&pend_lock);
}

int main(int argc, char **argv)
{
    (void)argc;
    /* 4 KiB pages: with HAKMEM_THP=auto the heap switches to huge pages
     * when its spans pass 32 MiB, sometimes after the warm-up and sometimes
     * before it, and a huge page per touched SuperSlab moves the growth by
     * 40-90 MiB either way.  What this test checks, the reuse of exited
     * threads' memory, is the same under either page size. */
    if (!getenv("HAKMEM_THP")) {
        setenv("HAKMEM_THP", "off", 1);
        execv("/proc/self/exe", argv);
        CHECK(0, "execv failed");
    }
    tu_init();
    long total = tu_scaled(4000, 200);
    long warm = total / 10 < 100 ? 100 : total / 10;
    CHECK(pthread_key_create(&key, key_dtor) == 0, "pthread_key_create failed");
    pthread_t bg;
    CHECK(pthread_create(&bg, NULL, bg_thread, NULL) == 0, "pthread_create failed");
    printf("churn: %ld threads, %d alive at once, warm-up %ld\n", total, WINDOW, warm);
    double t0 = tu_now();
    pthread_t win[WINDOW];
    int alive[WINDOW] = {0};
    size_t rss_warm = 0, rss_peak = 0;
    for (long i = 0; i < total; i++) {
        int w = (int)(i % WINDOW);
        if (alive[w]) {
            pthread_join(win[w], NULL);
            alive[w] = 0;
        }
        if (i == warm) {
            for (int k = 0; k < WINDOW; k++)
                if (alive[k]) {
                    pthread_join(win[k], NULL);
                    alive[k] = 0;
                }
            bg_set_paused(1);
            drain(0);
            rss_warm = tu_rss_bytes();
            bg_set_paused(0);
            printf("  after %ld threads (warm-up): RSS %zu MiB (%.2fs)\n", i, rss_warm >> 20,
                   tu_now() - t0);
        }
        int e = pthread_create(&win[w], NULL, worker, (void *)(intptr_t)i);
        CHECK(e == 0, "pthread_create #%ld failed: %d", i, e);
        alive[w] = 1;
        if (i % 97 == 0)
            drain(PENDING_MAX / 4);
        if (i % 500 == 499) {
            /* measure in the same state as after the warm-up: no thread
             * alive, nothing pending */
            for (int k = 0; k < WINDOW; k++)
                if (alive[k]) {
                    pthread_join(win[k], NULL);
                    alive[k] = 0;
                }
            bg_set_paused(1);
            size_t np = npending;
            drain(0);
            size_t r = tu_rss_bytes();
            bg_set_paused(0);
            if (r > rss_peak)
                rss_peak = r;
            printf("  after %ld threads: RSS %zu MiB, %zu blocks were pending (%.2fs)\n", i + 1,
                   r >> 20, np, tu_now() - t0);
        }
    }
    for (int k = 0; k < WINDOW; k++)
        if (alive[k])
            pthread_join(win[k], NULL);
    atomic_store(&bg_stop, 1);
    pthread_join(bg, NULL);
    drain(0);
    for (size_t i = 0; i < NXSLOTS; i++) {
        struct blk *x = atomic_exchange(&xslots[i], NULL);
        if (x) {
            blk_check_free(x, "exchanged tiny block at the end");
            free(x);
        }
    }
    size_t rss_end = tu_rss_bytes();
    long na = atomic_load(&st_alloc), nf = atomic_load(&st_free);
    printf("churn: %ld allocs, %ld frees (%ld of other threads' blocks, %ld by the long-lived "
           "thread, %ld exchanged), %ld key destructors, RSS warm %zu MiB, peak %zu MiB, "
           "end %zu MiB, %.2fs\n",
           na, nf, atomic_load(&st_remote), atomic_load(&st_bg_free), atomic_load(&st_xfree),
           atomic_load(&st_keydtor), rss_warm >> 20, rss_peak >> 20, rss_end >> 20, tu_now() - t0);
    CHECK(na == nf, "allocs %ld != frees %ld (test bookkeeping)", na, nf);
    CHECK(atomic_load(&st_keydtor) == total, "%ld key destructors ran, want %ld",
          atomic_load(&st_keydtor), total);
    size_t bound = rss_warm + (size_t)RSS_BOUND_MIB * TU_MiB;
    CHECK(TU_SANITIZER || (rss_end <= bound && rss_peak <= bound),
          "RSS grew from %zu MiB after warm-up to %zu MiB (peak %zu MiB): memory of exited "
          "threads is not reused (bound +%d MiB)",
          rss_warm >> 20, rss_end >> 20, rss_peak >> 20, RSS_BOUND_MIB);
    printf("churn: ok\n");
    return 0;
}
