/* mt_stress.c — multi-threaded stress with content verification.
 *
 * THREADS threads (default 8) per round, ROUNDS rounds (default 8); threads
 * are created anew each round and all joined at its end.  Each thread does
 * OPS operations (default 30000, times HK_TEST_SCALE) with random sizes:
 * mostly tiny (1..1024 B), some mid (1..64 KiB), some large (up to 1 MiB),
 * rarely huge (2..8 MiB; one in 400 of those 60..68 MiB, either side of the
 * page layer's 64 MiB), from malloc, calloc, posix_memalign, aligned_alloc
 * and realloc.  Blocks are exchanged between threads through a shared array
 * of slots (atomic exchange), so most blocks are freed or realloc'ed by a
 * thread other than the one that allocated them; slots keep their blocks
 * from one round to the next (the allocating threads have exited by then).
 * The last worker of each round also starts a short-lived thread after every
 * SHORT_EVERY of its operations (SHORT_OPS operations each), so thread exits
 * race with the others freeing the exiting threads' blocks.
 *
 * Every block holds its size and an address-derived pattern, verified before
 * every free and realloc (and the copied prefix after realloc).  Thread 0
 * calls malloc_trim(0) and thread 1 mallinfo2() now and then while the others
 * work; main calls malloc_trim(0) between rounds.
 * Seeds are fixed per (round, thread): the operations each thread performs
 * are deterministic (their interleaving is not).
 *
 * Environment: HK_TEST_SCALE (ops multiplier), HK_TEST_THREADS, HK_TEST_ROUNDS.
 */
#include "../testutil.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>

#define NSLOTS 4096
#define LOCAL 128
#define SHORT_EVERY 250 /* the last worker starts a short-lived thread ... */
#define SHORT_OPS 100   /* ... doing this many operations */

static _Atomic uintptr_t slots[NSLOTS];

static long g_ops;
static atomic_long st_alloc, st_free, st_shared_free, st_realloc, st_bytes, st_huge, st_trim,
    st_short;

/* ---- block format ----------------------------------------------------------
 * n >= 8: bytes 0..7 hold n, bytes 8.. the pattern of block address p.
 * n < 8 : all bytes are pattern; n is kept in the low 3 bits of the slot
 *         value (blocks are at least 8-byte aligned).                      */

static uint32_t seed_of(size_t n) { return (uint32_t)(n * 2654435761u); }

static void write_block(void *p, size_t n)
{
    uint8_t *b = p;
    if (n >= 8) {
        uint64_t v = n;
        memcpy(b, &v, 8);
        tu_fill_as(b + 8, n - 8, seed_of(n), (uintptr_t)p);
    } else {
        tu_fill_as(b, n, seed_of(n), (uintptr_t)p);
    }
}

/* Check the first `keep` bytes of a block that was written as an n-byte
 * block at address `base` (base == p unless it was moved by realloc). */
static void check_prefix(const void *p, size_t n, size_t keep, uintptr_t base, const char *what)
{
    const uint8_t *b = p;
    if (n >= 8) {
        uint64_t v = n;
        size_t hl = keep < 8 ? keep : 8;
        CHECK(memcmp(b, &v, hl) == 0, "%s: block %p (size %zu): size header clobbered", what, p, n);
        if (keep > 8)
            CHECK_PATTERN_AS(b + 8, keep - 8, seed_of(n), base, what);
    } else {
        CHECK_PATTERN_AS(b, keep, seed_of(n), base, what);
    }
}

static uintptr_t encode(void *p, size_t n)
{
    CHECK(((uintptr_t)p & 7) == 0, "block %p (size %zu) is not 8-byte aligned", p, n);
    return (uintptr_t)p | (n < 8 ? n : 0);
}

/* Decode a slot value and verify the whole block; returns the pointer. */
static void *decode_check(uintptr_t v, size_t *np, const char *what)
{
    void *p = (void *)(v & ~(uintptr_t)7);
    size_t n = v & 7;
    if (n == 0) {
        uint64_t h;
        memcpy(&h, p, 8);
        n = (size_t)h;
        CHECK(n >= 8 && n <= 86 * TU_MiB, "%s: block %p has a corrupted size header %zu", what, p,
              n);
    }
    size_t u = malloc_usable_size(p);
    CHECK(u >= n, "%s: block %p of %zu bytes has usable size %zu", what, p, n, u);
    check_prefix(p, n, n, (uintptr_t)p, what);
    *np = n;
    return p;
}

static size_t pick_size(uint64_t *rs)
{
    uint64_t r = tu_rand(rs) % 10000;
    if (r < 8800) {
        uint64_t t = tu_rand(rs) % 10;
        if (t < 5)
            return (size_t)tu_rand_range(rs, 1, 64);
        if (t < 8)
            return (size_t)tu_rand_range(rs, 65, 256);
        return (size_t)tu_rand_range(rs, 257, 1024);
    }
    if (r < 9900)
        return (size_t)tu_rand_range(rs, 1, 64 * 1024);
    if (r < 9995)
        return (size_t)tu_rand_range(rs, 64 * 1024, TU_MiB);
    atomic_fetch_add_explicit(&st_huge, 1, memory_order_relaxed);
    if (tu_rand(rs) % 400 == 0)
        return (size_t)tu_rand_range(rs, 60 * TU_MiB, 68 * TU_MiB);
    return (size_t)tu_rand_range(rs, 2 * TU_MiB, 8 * TU_MiB);
}

static void *alloc_block(uint64_t *rs, size_t n)
{
    uint64_t how = tu_rand(rs) % 100;
    void *p;
    if (how < 80) {
        p = malloc(n);
        CHECK(p, "malloc(%zu) failed", n);
    } else if (how < 90) {
        p = calloc(1, n);
        CHECK(p, "calloc(1, %zu) failed", n);
        size_t off = tu_check_bytes(p, n < 4096 ? n : 4096, 0);
        CHECK(off == SIZE_MAX, "calloc(1, %zu) = %p not zeroed at %zu", n, p, off);
        if (n > 4096) {
            off = tu_check_bytes((char *)p + n - 4096, 4096, 0);
            CHECK(off == SIZE_MAX, "calloc(1, %zu) = %p not zeroed near the end", n, p);
        }
    } else if (how < 95) {
        size_t al = (size_t)8 << (tu_rand(rs) % 10); /* 8 .. 4096 */
        p = NULL;
        int r = posix_memalign(&p, al, n);
        CHECK(r == 0 && p, "posix_memalign(%zu, %zu) failed: %d", al, n, r);
        CHECK(((uintptr_t)p & (al - 1)) == 0, "posix_memalign(%zu) = %p misaligned", al, p);
    } else {
        size_t al = (size_t)16 << (tu_rand(rs) % 8); /* 16 .. 2048 */
        p = aligned_alloc(al, n);
        CHECK(p, "aligned_alloc(%zu, %zu) failed", al, n);
        CHECK(((uintptr_t)p & (al - 1)) == 0, "aligned_alloc(%zu) = %p misaligned", al, p);
    }
    write_block(p, n);
    atomic_fetch_add_explicit(&st_alloc, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&st_bytes, (long)n, memory_order_relaxed);
    return p;
}

static void free_block(void *p)
{
    free(p);
    atomic_fetch_add_explicit(&st_free, 1, memory_order_relaxed);
}

/* realloc a verified block of n bytes to a new random size; returns it. */
static void *realloc_block(uint64_t *rs, void *p, size_t n, size_t *mp)
{
    size_t m;
    uint64_t t = tu_rand(rs) % 4;
    if (t == 0 && n < 68 * TU_MiB)
        m = n + (size_t)tu_rand_range(rs, 1, n < 4096 ? 64 : n / 4); /* grow a little */
    else if (t == 1 && n > 16)
        m = n - (size_t)tu_rand_range(rs, 1, n / 2); /* shrink */
    else
        m = pick_size(rs);
    uintptr_t old = (uintptr_t)p;
    void *q = realloc(p, m);
    CHECK(q, "realloc(%zu -> %zu) failed", n, m);
    CHECK(malloc_usable_size(q) >= m, "realloc(%zu -> %zu): usable size %zu", n, m,
          malloc_usable_size(q));
    check_prefix(q, n, n < m ? n : m, old, "contents copied by realloc");
    write_block(q, m);
    atomic_fetch_add_explicit(&st_realloc, 1, memory_order_relaxed);
    *mp = m;
    return q;
}

/* Publish a block in slot i; the block it displaces is verified and freed. */
static void publish(size_t i, void *p, size_t n)
{
    uintptr_t old = atomic_exchange(&slots[i], encode(p, n));
    if (old) {
        size_t on;
        void *op = decode_check(old, &on, "displaced shared block");
        free_block(op);
        atomic_fetch_add_explicit(&st_shared_free, 1, memory_order_relaxed);
    }
}

struct targ {
    int round, tid, last;
    pthread_barrier_t *bar;
};

/* nops random operations; loc/locn: the calling thread's local blocks. */
static void do_ops(uint64_t *rsp, long first, long nops, int tid, void **loc, size_t *locn)
{
    uint64_t rs = *rsp;
    for (long op = first; op < first + nops; op++) {
        uint64_t r = tu_rand(&rs) % 100;
        size_t si = (size_t)(tu_rand(&rs) % NSLOTS);
        if (op % 8192 == 4095 && tid < 2) {
            /* whole-heap operations while the others allocate and free */
            if (tid == 0) {
                int t = malloc_trim(0);
                CHECK(t == 0 || t == 1, "malloc_trim returned %d", t);
                atomic_fetch_add_explicit(&st_trim, 1, memory_order_relaxed);
            } else {
                struct mallinfo2 mi = mallinfo2();
                CHECK(mi.uordblks < ((size_t)1 << 40) && mi.arena < ((size_t)1 << 40),
                      "mallinfo2 under load: uordblks %zu arena %zu", mi.uordblks, mi.arena);
            }
        }
        if (r < 35) {
            /* allocate and share */
            size_t n = pick_size(&rs);
            void *p = alloc_block(&rs, n);
            publish(si, p, n);
        } else if (r < 55) {
            /* take a shared block and free it */
            uintptr_t v = atomic_exchange(&slots[si], 0);
            if (v) {
                size_t n;
                void *p = decode_check(v, &n, "shared block before free");
                free_block(p);
                atomic_fetch_add_explicit(&st_shared_free, 1, memory_order_relaxed);
            }
        } else if (r < 70) {
            /* take a shared block, realloc it, put it back */
            uintptr_t v = atomic_exchange(&slots[si], 0);
            if (v) {
                size_t n, m;
                void *p = decode_check(v, &n, "shared block before realloc");
                void *q = realloc_block(&rs, p, n, &m);
                publish((size_t)(tu_rand(&rs) % NSLOTS), q, m);
            }
        } else {
            /* thread-local work */
            size_t li = (size_t)(tu_rand(&rs) % LOCAL);
            if (!loc[li]) {
                locn[li] = pick_size(&rs);
                loc[li] = alloc_block(&rs, locn[li]);
            } else {
                check_prefix(loc[li], locn[li], locn[li], (uintptr_t)loc[li], "local block");
                if (r < 80) {
                    free_block(loc[li]);
                    loc[li] = NULL;
                } else if (r < 88) {
                    loc[li] = realloc_block(&rs, loc[li], locn[li], &locn[li]);
                } else {
                    /* hand a local block to the others */
                    publish(si, loc[li], locn[li]);
                    loc[li] = NULL;
                }
            }
        }
    }
    *rsp = rs;
}

/* At thread exit: half of the local blocks stay for other (later) threads,
 * half are freed here. */
static void leave_locals(uint64_t *rs, void **loc, size_t *locn)
{
    for (size_t i = 0; i < LOCAL; i++) {
        if (!loc[i])
            continue;
        check_prefix(loc[i], locn[i], locn[i], (uintptr_t)loc[i], "local block at exit");
        if (i & 1)
            publish((size_t)(tu_rand(rs) % NSLOTS), loc[i], locn[i]);
        else
            free_block(loc[i]);
        loc[i] = NULL;
    }
}

/* Short-lived thread started by the last worker: its exit (heap teardown)
 * races with the other workers freeing its blocks. */
static void *short_worker(void *arg)
{
    uint64_t rs = (uint64_t)(uintptr_t)arg;
    void *loc[LOCAL] = {0};
    size_t locn[LOCAL] = {0};
    do_ops(&rs, 0, SHORT_OPS, 99, loc, locn);
    leave_locals(&rs, loc, locn);
    atomic_fetch_add_explicit(&st_short, 1, memory_order_relaxed);
    return NULL;
}

static void *worker(void *arg)
{
    struct targ *a = arg;
    uint64_t rs = 0x9000000ull + (uint64_t)a->round * 1000 + (uint64_t)a->tid;
    void *loc[LOCAL] = {0};
    size_t locn[LOCAL] = {0};
    pthread_barrier_wait(a->bar);
    for (long done = 0; done < g_ops; done += SHORT_EVERY) {
        do_ops(&rs, done, g_ops - done < SHORT_EVERY ? g_ops - done : SHORT_EVERY, a->tid, loc,
               locn);
        if (a->last) {
            pthread_t t;
            int e = pthread_create(&t, NULL, short_worker, (void *)(uintptr_t)tu_rand(&rs));
            CHECK(e == 0, "pthread_create failed: %d", e);
            pthread_join(t, NULL);
        }
    }
    leave_locals(&rs, loc, locn);
    return NULL;
}

static int env_int(const char *name, int def)
{
    const char *s = getenv(name);
    int v = s ? atoi(s) : 0;
    return v > 0 ? v : def;
}

int main(void)
{
    tu_init();
    int nthreads = env_int("HK_TEST_THREADS", 8);
    int rounds = env_int("HK_TEST_ROUNDS", 8);
    g_ops = tu_scaled(30000, 100);
    printf("mt_stress: %d rounds x %d threads x %ld ops, %d shared slots\n", rounds, nthreads,
           g_ops, NSLOTS);
    double t0 = tu_now();
    pthread_t *th = calloc((size_t)nthreads, sizeof *th);
    struct targ *ta = calloc((size_t)nthreads, sizeof *ta);
    CHECK(th && ta, "calloc failed");
    pthread_barrier_t bar;
    for (int round = 0; round < rounds; round++) {
        pthread_barrier_init(&bar, NULL, (unsigned)nthreads);
        for (int t = 0; t < nthreads; t++) {
            ta[t] = (struct targ){round, t, t == nthreads - 1, &bar};
            int e = pthread_create(&th[t], NULL, worker, &ta[t]);
            CHECK(e == 0, "pthread_create failed: %d", e);
        }
        for (int t = 0; t < nthreads; t++)
            pthread_join(th[t], NULL);
        pthread_barrier_destroy(&bar);
        long live = 0;
        for (size_t i = 0; i < NSLOTS; i++)
            live += atomic_load(&slots[i]) != 0;
        printf("  round %d: %.2fs, %ld shared blocks carried over, RSS %zu MiB", round,
               tu_now() - t0, live, tu_rss_bytes() >> 20);
        if (round % 2 == 1) {
            int t = malloc_trim(0);
            CHECK(t == 0 || t == 1, "malloc_trim returned %d", t);
            printf(", after malloc_trim %zu MiB", tu_rss_bytes() >> 20);
        }
        printf("\n");
    }
    /* main verifies and frees what is left */
    long left = 0;
    for (size_t i = 0; i < NSLOTS; i++) {
        uintptr_t v = atomic_exchange(&slots[i], 0);
        if (!v)
            continue;
        size_t n;
        void *p = decode_check(v, &n, "shared block at the end");
        free_block(p);
        left++;
    }
    free(th);
    free(ta);
    long na = atomic_load(&st_alloc), nf = atomic_load(&st_free);
    printf("mt_stress: %ld allocs, %ld frees (%ld of shared blocks, %ld at the end), "
           "%ld reallocs, %ld huge, %ld MiB allocated, %ld concurrent malloc_trim, "
           "%ld short-lived threads, %.2fs\n",
           na, nf, atomic_load(&st_shared_free), left, atomic_load(&st_realloc),
           atomic_load(&st_huge), atomic_load(&st_bytes) >> 20, atomic_load(&st_trim),
           atomic_load(&st_short), tu_now() - t0);
    CHECK(na == nf, "allocs (%ld) != frees (%ld): test bookkeeping bug", na, nf);
    printf("mt_stress: ok\n");
    return 0;
}
