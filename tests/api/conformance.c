/* conformance.c — the malloc family behaves as C/POSIX/glibc specify.
 *
 * malloc/free/calloc/realloc/reallocarray over every size 0..4096 and a sweep
 * up to 8 MiB (usable size, alignment, contents, no overlap), realloc across
 * the size ranges and back, malloc_usable_size (writing the whole usable size
 * must not touch the neighbours), free() preserving errno, malloc_trim,
 * mallinfo2, malloc_stats and the __libc_* aliases.
 * Error cases (huge sizes, overflow) are in errors.c, alignment in aligned.c.
 */
#include "../testutil.h"

#include <malloc.h>
#include <sys/mman.h>

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static uint64_t rng = 0x5eed0001;

static size_t min_align_for(size_t n) { return n >= 16 ? 16 : 8; }

static void shuffle(void **a, size_t *sz, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(tu_rand(&rng) % i);
        void *tp = a[i - 1];
        a[i - 1] = a[j];
        a[j] = tp;
        size_t ts = sz[i - 1];
        sz[i - 1] = sz[j];
        sz[j] = ts;
    }
}

/* One fully checked allocation of n bytes: alignment, usable size, contents. */
static void *alloc_checked(size_t n, uint32_t seed, const char *what)
{
    errno = 0;
    void *p = malloc(n);
    CHECK(p != NULL, "%s: malloc(%zu) returned NULL", what, n);
    CHECK(((uintptr_t)p & (min_align_for(n) - 1)) == 0,
          "%s: malloc(%zu) = %p is not %zu-byte aligned", what, n, p, min_align_for(n));
    size_t u = malloc_usable_size(p);
    CHECK(u >= n, "%s: malloc_usable_size(malloc(%zu)) = %zu < request", what, n, u);
    tu_fill(p, n, seed);
    return p;
}

static void test_malloc_zero(void)
{
    void *p = malloc(0);
    void *q = malloc(0);
    CHECK(p != NULL, "malloc(0) returned NULL (glibc returns a unique pointer)");
    CHECK(q != NULL, "malloc(0) returned NULL");
    CHECK(p != q, "two malloc(0) calls returned the same pointer %p", p);
    CHECK(((uintptr_t)p & 7) == 0, "malloc(0) = %p not 8-byte aligned", p);
    /* Many live zero-size blocks are all distinct. */
    enum { N = 256 };
    void *z[N];
    for (int i = 0; i < N; i++) {
        z[i] = malloc(0);
        CHECK(z[i] != NULL, "malloc(0) #%d returned NULL", i);
        for (int j = 0; j < i; j++)
            CHECK(z[i] != z[j], "malloc(0) returned %p twice while both are live", z[i]);
        CHECK(z[i] != p && z[i] != q, "malloc(0) returned a live pointer again");
    }
    for (int i = 0; i < N; i++)
        free(z[i]);
    free(p);
    free(q);
    free(NULL); /* no-op */
    CHECK(malloc_usable_size(NULL) == 0, "malloc_usable_size(NULL) = %zu, want 0",
          malloc_usable_size(NULL));

    void *c = calloc(0, 16);
    void *d = calloc(16, 0);
    CHECK(c != NULL && d != NULL,
          "calloc with a zero count/size returned NULL "
          "(glibc returns a unique pointer)");
    CHECK(c != d, "calloc(0,16) and calloc(16,0) returned the same pointer");
    free(c);
    free(d);
    void *r = realloc(NULL, 0);
    CHECK(r != NULL, "realloc(NULL, 0) returned NULL (it must act as malloc(0))");
    free(r);
    printf("malloc(0) / calloc(0) / realloc(NULL,0): ok\n");
}

/* Every size 0..4096, all live at once: no two blocks overlap. */
static void test_every_small_size(void)
{
    enum { N = 4097 };
    void **blk = malloc(N * sizeof *blk);
    size_t *sz = malloc(N * sizeof *sz);
    CHECK(blk && sz, "malloc for bookkeeping failed");
    for (size_t n = 0; n < N; n++) {
        blk[n] = alloc_checked(n, (uint32_t)n, "every-size");
        sz[n] = n;
    }
    for (size_t n = 0; n < N; n++)
        CHECK_PATTERN(blk[n], sz[n], (uint32_t)sz[n], "every-size (all live)");
    shuffle(blk, sz, N);
    /* free half, reallocate the same sizes, check all again */
    for (size_t i = 0; i < N; i += 2) {
        CHECK_PATTERN(blk[i], sz[i], (uint32_t)sz[i], "every-size before free");
        free(blk[i]);
        blk[i] = alloc_checked(sz[i], (uint32_t)sz[i], "every-size refill");
    }
    for (size_t i = 0; i < N; i++) {
        CHECK_PATTERN(blk[i], sz[i], (uint32_t)sz[i], "every-size after refill");
        free(blk[i]);
    }
    free(blk);
    free(sz);
    printf("every size 0..4096: ok\n");
}

/* Sizes 4 KiB .. 8 MiB: a geometric sweep plus powers of two +-1 and +-16;
 * a window of the last 24 blocks stays live. */
static void test_large_sizes(void)
{
    enum { WIN = 24 };
    void *win[WIN] = {0};
    size_t wsz[WIN] = {0};
    size_t sizes[1024];
    size_t ns = 0;
    for (double s = 4097; s <= 8.0 * TU_MiB && ns < 600; s = s * 1.09 + 13)
        sizes[ns++] = (size_t)s;
    for (int k = 12; k <= 23; k++) {
        size_t b = (size_t)1 << k;
        size_t d[] = {b - 16, b - 1, b, b + 1, b + 16};
        for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
            if (d[i] <= 8 * TU_MiB)
                sizes[ns++] = d[i];
    }
    size_t total = 0;
    for (size_t i = 0; i < ns; i++) {
        size_t w = i % WIN;
        if (win[w]) {
            CHECK_PATTERN(win[w], wsz[w], (uint32_t)wsz[w], "large sweep");
            free(win[w]);
        }
        win[w] = alloc_checked(sizes[i], (uint32_t)sizes[i], "large sweep");
        wsz[w] = sizes[i];
        total += sizes[i];
    }
    for (size_t w = 0; w < WIN; w++) {
        if (!win[w])
            continue;
        CHECK_PATTERN(win[w], wsz[w], (uint32_t)wsz[w], "large sweep (final)");
        free(win[w]);
    }
    printf("large sizes 4 KiB..8 MiB (%zu sizes, %zu MiB): ok\n", ns, total >> 20);
}

/* Writing every usable byte of a block must not corrupt its neighbours. */
static void test_usable_size_full_write(void)
{
    static const size_t sizes[] = {
        1,       7,       8,       9,       15,      16,     17,     24,     31,      32,
        33,      40,      48,      63,      64,      65,     80,     96,     100,     112,
        127,     128,     129,     160,     192,     200,    255,    256,    257,     320,
        384,     500,     511,     512,     513,     640,    768,    1000,   1023,    1024,
        1025,    1500,    2000,    2048,    3000,    3072,   4000,   4096,   4097,    5000,
        6000,    8191,    8192,    8193,    10000,   12288,  16383,  16384,  16385,   20000,
        24576,   32767,   32768,   32769,   50000,   65535,  65536,  65537,  100000,  131071,
        131072,  131073,  200000,  262144,  262145,  400000, 524288, 700000, 1048575, 1048576,
        1048577, 1500000, 2097152, 3000000, 4194305, 6000000};
    enum { K = 16 };
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        int k = n > 1000000 ? 4 : K;
        void *b[K];
        size_t us[K];
        for (int i = 0; i < k; i++) {
            b[i] = alloc_checked(n, 0, "usable-size");
            us[i] = malloc_usable_size(b[i]);
            /* the whole usable area, each block with its own seed */
            tu_fill(b[i], us[i], (uint32_t)(i * 1000 + si));
        }
        for (int i = 0; i < k; i++) {
            CHECK(malloc_usable_size(b[i]) == us[i],
                  "malloc_usable_size(%p) changed from %zu to %zu", b[i], us[i],
                  malloc_usable_size(b[i]));
            CHECK_PATTERN(b[i], us[i], (uint32_t)(i * 1000 + si),
                          "usable-size: neighbour overwritten by a full-usable-size write");
        }
        /* free every other block, allocate again (the new blocks land between
         * the old ones), write their full usable size, check everything */
        for (int i = 0; i < k; i += 2) {
            free(b[i]);
            b[i] = alloc_checked(n, 0, "usable-size refill");
            us[i] = malloc_usable_size(b[i]);
            memset(b[i], 0xA5, us[i]);
        }
        for (int i = 0; i < k; i++) {
            if (i % 2 == 0) {
                size_t off = tu_check_bytes(b[i], us[i], 0xA5);
                CHECK(off == SIZE_MAX, "usable-size: block %p (usable %zu) corrupted at %zu", b[i],
                      us[i], off);
            } else {
                CHECK_PATTERN(b[i], us[i], (uint32_t)(i * 1000 + si),
                              "usable-size: neighbour overwritten after refill");
            }
            free(b[i]);
        }
    }
    printf("malloc_usable_size full writes (%zu sizes): ok\n", sizeof sizes / sizeof sizes[0]);
}

static void test_calloc(void)
{
    static const size_t sizes[] = {1,    8,     16,    24,     100,    512,     1000,    4096,
                                   5000, 32768, 65536, 100000, 262144, 1048576, 3000000, 9000000};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        /* dirty some memory of this size first so calloc has to clear reused
         * blocks, not only fresh pages */
        enum { K = 8 };
        void *d[K];
        int k = n > 1000000 ? 2 : K;
        for (int i = 0; i < k; i++) {
            d[i] = malloc(n);
            CHECK(d[i], "malloc(%zu) failed", n);
            memset(d[i], 0xFF, malloc_usable_size(d[i]));
        }
        for (int i = 0; i < k; i++)
            free(d[i]);
        for (int i = 0; i < k; i++) {
            size_t cnt = (i % 3 == 0) ? n : (i % 3 == 1 ? 1 : (n + 7) / 8);
            size_t each = (i % 3 == 0) ? 1 : (i % 3 == 1 ? n : 8);
            d[i] = calloc(cnt, each);
            CHECK(d[i], "calloc(%zu, %zu) failed", cnt, each);
            CHECK(((uintptr_t)d[i] & (min_align_for(cnt * each) - 1)) == 0,
                  "calloc(%zu, %zu) = %p misaligned", cnt, each, d[i]);
            CHECK(malloc_usable_size(d[i]) >= cnt * each, "calloc usable size too small");
            size_t off = tu_check_bytes(d[i], cnt * each, 0);
            CHECK(off == SIZE_MAX, "calloc(%zu, %zu) = %p not zeroed at offset %zu", cnt, each,
                  d[i], off);
            tu_fill(d[i], cnt * each, 77);
        }
        for (int i = 0; i < k; i++)
            free(d[i]);
    }
    printf("calloc zeroing: ok\n");
}

static void realloc_step(void **pp, size_t *np, size_t m, uint32_t seed, const char *what)
{
    void *p = *pp;
    size_t n = *np;
    uintptr_t old = (uintptr_t)p;
    errno = 0;
    void *q = realloc(p, m);
    CHECK(q != NULL, "%s: realloc(%p, %zu -> %zu) returned NULL", what, p, n, m);
    CHECK(((uintptr_t)q & (min_align_for(m) - 1)) == 0, "%s: realloc -> %zu gave misaligned %p",
          what, m, q);
    CHECK(malloc_usable_size(q) >= m, "%s: realloc to %zu: usable %zu", what, m,
          malloc_usable_size(q));
    CHECK_PATTERN_AS(q, n < m ? n : m, seed, old, what);
    tu_fill(q, m, seed);
    *pp = q;
    *np = m;
}

static void test_realloc(void)
{
    /* realloc(NULL, n) acts as malloc(n) */
    static const size_t asmalloc[] = {1, 100, 5000, 100000, 3000000};
    for (size_t i = 0; i < sizeof asmalloc / sizeof asmalloc[0]; i++) {
        void *p = realloc(NULL, asmalloc[i]);
        CHECK(p, "realloc(NULL, %zu) returned NULL", asmalloc[i]);
        CHECK(malloc_usable_size(p) >= asmalloc[i], "realloc(NULL, n): usable too small");
        tu_fill(p, asmalloc[i], 5);
        CHECK_PATTERN(p, asmalloc[i], 5, "realloc(NULL, n)");
        free(p);
    }

    /* tiny -> mid -> large -> huge and back */
    static const size_t chain[] = {
        1,       2,        8,       13,      16,      24,      48,      100,     128,
        255,     600,      1024,    2000,    4096,    4097,    9000,    20000,   65536,
        70000,   131072,   200000,  500000,  1048576, 1500000, 2097152, 3000000, 5000000,
        9000000, 16777216, 9000001, 3000000, 2097151, 1048577, 600000,  140000,  65535,
        30000,   8192,     4095,    1000,    257,     100,     33,      16,      15,
        8,       1,        3000000, 7,       100000,  40,      9000000, 64,      1};
    void *p = NULL;
    size_t n = 0;
    p = malloc(1);
    CHECK(p, "malloc(1) failed");
    n = 1;
    tu_fill(p, n, 42);
    for (size_t i = 0; i < sizeof chain / sizeof chain[0]; i++)
        realloc_step(&p, &n, chain[i], 42, "realloc chain");
    /* same size, +1, -1 */
    for (int i = 0; i < 50; i++) {
        realloc_step(&p, &n, n, 42, "realloc same size");
        realloc_step(&p, &n, n + 1, 42, "realloc +1");
        realloc_step(&p, &n, n > 2 ? n - 2 : n, 42, "realloc -2");
    }
    free(p);

    /* realloc(p, 0) frees p and returns NULL, as glibc does */
    for (int i = 0; i < 4; i++) {
        size_t sz = (size_t[]){24, 3000, 200000, 4000000}[i];
        void *b = malloc(sz);
        CHECK(b, "malloc(%zu) failed", sz);
        tu_fill(b, sz, 1);
        void *r = realloc(b, 0);
        CHECK(r == NULL,
              "realloc(p of %zu bytes, 0) returned %p; glibc frees p and "
              "returns NULL",
              sz, r);
        if (r)
            free(r);
    }
    /* ... and does free it: 200k rounds of 1000 bytes must not pile up */
    size_t rss0 = tu_rss_bytes();
    for (int i = 0; i < 200000; i++) {
        void *b = malloc(1000);
        CHECK(b, "malloc(1000) failed");
        memset(b, i, 1000);
        void *r = realloc(b, 0);
        if (r)
            free(r);
    }
    for (int i = 0; i < 300; i++) {
        void *b = malloc(TU_MiB);
        CHECK(b, "malloc(1 MiB) failed");
        memset(b, i, TU_MiB);
        void *r = realloc(b, 0);
        if (r)
            free(r);
    }
    size_t rss1 = tu_rss_bytes();
    CHECK(rss1 < rss0 + 96 * TU_MiB, "realloc(p, 0) seems to leak p: RSS grew from %zu to %zu MiB",
          rss0 >> 20, rss1 >> 20);

    /* many live blocks realloc'ed at random: in-place growth must not run
     * into a neighbour */
    enum { L = 64 };
    void *b[L];
    size_t bn[L];
    for (int i = 0; i < L; i++) {
        bn[i] = (size_t)tu_rand_range(&rng, 1, 256);
        b[i] = alloc_checked(bn[i], (uint32_t)i, "realloc live set");
    }
    for (int step = 0; step < 20000; step++) {
        int i = (int)(tu_rand(&rng) % L);
        uint64_t r = tu_rand(&rng) % 1000;
        size_t m;
        if (r < 700)
            m = (size_t)tu_rand_range(&rng, 1, 1024);
        else if (r < 950)
            m = (size_t)tu_rand_range(&rng, 1, 64 * 1024);
        else if (r < 998)
            m = (size_t)tu_rand_range(&rng, 64 * 1024, TU_MiB);
        else
            m = (size_t)tu_rand_range(&rng, 2 * TU_MiB, 6 * TU_MiB);
        /* sometimes grow or shrink by a little */
        if (r % 7 == 0)
            m = bn[i] + (size_t)tu_rand_range(&rng, 1, 64);
        else if (r % 7 == 1 && bn[i] > 64)
            m = bn[i] - (size_t)tu_rand_range(&rng, 1, 64);
        realloc_step(&b[i], &bn[i], m, (uint32_t)i, "realloc live set");
        if (step % 2000 == 0)
            for (int j = 0; j < L; j++)
                CHECK_PATTERN(b[j], bn[j], (uint32_t)j, "realloc live set (neighbour)");
    }
    for (int i = 0; i < L; i++) {
        CHECK_PATTERN(b[i], bn[i], (uint32_t)i, "realloc live set (final)");
        free(b[i]);
    }
    printf("realloc: ok\n");
}

static void test_reallocarray(void)
{
    int *a = reallocarray(NULL, 10, sizeof(int));
    CHECK(a, "reallocarray(NULL, 10, 4) returned NULL");
    for (int i = 0; i < 10; i++)
        a[i] = i * 3;
    a = reallocarray(a, 100000, sizeof(int));
    CHECK(a, "reallocarray(a, 100000, 4) returned NULL");
    for (int i = 0; i < 10; i++)
        CHECK(a[i] == i * 3, "reallocarray lost contents at %d", i);
    for (int i = 0; i < 100000; i++)
        a[i] = i;
    a = reallocarray(a, 7, sizeof(int));
    CHECK(a, "reallocarray shrink returned NULL");
    for (int i = 0; i < 7; i++)
        CHECK(a[i] == i, "reallocarray shrink lost contents at %d", i);
    errno = 0;
    int *b = reallocarray(a, tu_opaque(SIZE_MAX / 2), 3);
    CHECK(b == NULL && errno == ENOMEM, "reallocarray overflow: got %p errno %d", (void *)b, errno);
    for (int i = 0; i < 7; i++)
        CHECK(a[i] == i, "failed reallocarray changed the old block at %d", i);
    free(a);
    printf("reallocarray: ok\n");
}

/* free() must not change errno, for blocks of every size range. */
static void test_free_errno(void)
{
    static const size_t sizes[] = {0,      1,          16,         100,        1000,
                                   4096,   20000,      65536,      100000,     300000,
                                   TU_MiB, 3 * TU_MiB, 9 * TU_MiB, 64 * TU_MiB};
    for (int rep = 0; rep < 3; rep++) {
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            size_t n = sizes[i];
            void *p = malloc(n);
            CHECK(p, "malloc(%zu) failed", n);
            memset(p, 1, n);
            errno = 1234;
            free(p);
            CHECK(errno == 1234, "free() of a %zu-byte block changed errno to %d", n, errno);

            p = calloc(1, n);
            CHECK(p, "calloc(1, %zu) failed", n);
            errno = 1234;
            free(p);
            CHECK(errno == 1234, "free() of a calloc'd %zu-byte block changed errno", n);

            void *a = NULL;
            CHECK(posix_memalign(&a, 4096, n) == 0, "posix_memalign(4096, %zu) failed", n);
            errno = 1234;
            free(a);
            CHECK(errno == 1234, "free() of a 4096-aligned %zu-byte block changed errno", n);
        }
        /* after a lot of frees (cached memory may get released) */
        void *many[512];
        for (int i = 0; i < 512; i++) {
            many[i] = malloc((size_t)(i % 64 + 1) * 512);
            CHECK(many[i], "malloc failed");
        }
        errno = 1234;
        for (int i = 0; i < 512; i++)
            free(many[i]);
        CHECK(errno == 1234, "free() changed errno to %d", errno);
    }
    errno = 1234;
    free(NULL);
    CHECK(errno == 1234, "free(NULL) changed errno to %d", errno);
    printf("free preserves errno: ok\n");
}

static void test_malloc_trim(void)
{
    enum { N = 2000 };
    void **p = malloc(N * sizeof *p);
    CHECK(p, "malloc failed");
    for (int i = 0; i < N; i++) {
        size_t n = (size_t)(i % 100 + 1) * ((i % 10 == 0) ? 4096 : 40);
        p[i] = malloc(n);
        CHECK(p[i], "malloc(%zu) failed", n);
        tu_fill(p[i], n, (uint32_t)i);
    }
    for (int i = 0; i < N; i += 3) {
        free(p[i]);
        p[i] = NULL;
    }
    for (int pass = 0; pass < 3; pass++) {
        size_t pad = (size_t[]){0, 4096, SIZE_MAX / 4}[pass];
        int r = malloc_trim(pad);
        CHECK(r == 0 || r == 1, "malloc_trim(%zu) returned %d", pad, r);
        for (int i = 0; i < N; i++) {
            if (!p[i])
                continue;
            size_t n = (size_t)(i % 100 + 1) * ((i % 10 == 0) ? 4096 : 40);
            CHECK_PATTERN(p[i], n, (uint32_t)i, "block live across malloc_trim");
        }
    }
    for (int i = 0; i < N; i++)
        free(p[i]);
    free(p);
    int r = malloc_trim(0);
    CHECK(r == 0 || r == 1, "malloc_trim(0) returned %d", r);

    /* malloc_trim(0) returns free memory to the OS: 256 MiB of every size
     * range, touched and freed, must not stay resident */
    size_t rss0 = tu_rss_bytes();
    static const struct {
        size_t n, count;
    } mix[] = {{64, 1u << 20}, {16 * TU_KiB, 4096}, {512 * TU_KiB, 128}, {4 * TU_MiB, 16}};
    size_t total = 0;
    for (size_t i = 0; i < 4; i++)
        total += mix[i].count;
    void **q = malloc(total * sizeof *q);
    CHECK(q, "malloc failed");
    size_t k = 0;
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < mix[i].count; j++) {
            q[k] = malloc(mix[i].n);
            CHECK(q[k], "malloc(%zu) failed", mix[i].n);
            memset(q[k], 0x5A, mix[i].n);
            k++;
        }
    size_t rss_full = tu_rss_bytes();
    for (size_t i = 0; i < k; i++)
        free(q[i]);
    free(q);
    r = malloc_trim(0);
    CHECK(r == 0 || r == 1, "malloc_trim(0) returned %d", r);
    size_t rss1 = tu_rss_bytes();
    printf("malloc_trim: RSS %zu MiB -> %zu MiB with 256 MiB live -> %zu MiB after free + "
           "malloc_trim(0)\n",
           rss0 >> 20, rss_full >> 20, rss1 >> 20);
    CHECK(rss1 < rss0 + 32 * TU_MiB,
          "256 MiB freed, then malloc_trim(0): RSS still %zu MiB (was %zu MiB before)", rss1 >> 20,
          rss0 >> 20);

    void *q1 = alloc_checked(12345, 9, "after malloc_trim");
    CHECK_PATTERN(q1, 12345, 9, "after malloc_trim");
    free(q1);
    printf("malloc_trim: ok\n");
}

static int field_sane(size_t v)
{
    return v < ((size_t)1 << 40); /* under 1 TiB: not a wrapped negative */
}

static void test_mallinfo2(void)
{
    struct mallinfo2 a = mallinfo2();
    const size_t total = 64 * TU_MiB, bs = 32 * TU_KiB;
    const size_t nb = total / bs;
    void **p = malloc(nb * sizeof *p);
    CHECK(p, "malloc failed");
    for (size_t i = 0; i < nb; i++) {
        p[i] = malloc(bs);
        CHECK(p[i], "malloc(%zu) failed", bs);
        memset(p[i], (int)i, bs);
    }
    struct mallinfo2 b = mallinfo2();
    size_t fields_b[] = {b.arena,   b.ordblks, b.smblks,   b.hblks,    b.hblkhd,
                         b.usmblks, b.fsmblks, b.uordblks, b.fordblks, b.keepcost};
    for (size_t i = 0; i < sizeof fields_b / sizeof fields_b[0]; i++)
        CHECK(field_sane(fields_b[i]), "mallinfo2 field #%zu = %zu is not sane", i, fields_b[i]);
    CHECK(b.arena != 0 || b.hblkhd != 0, "mallinfo2: arena and hblkhd are both 0");
    size_t grew = b.uordblks > a.uordblks ? b.uordblks - a.uordblks : 0;
    printf("mallinfo2: arena %zu hblkhd %zu uordblks %zu -> %zu (+%zu MiB) fordblks %zu\n", b.arena,
           b.hblkhd, a.uordblks, b.uordblks, grew >> 20, b.fordblks);
    CHECK(grew >= total - total / 16 && grew <= 2 * total + 16 * TU_MiB,
          "mallinfo2.uordblks grew by %zu bytes after allocating %zu bytes", grew, total);
    for (size_t i = 0; i < nb; i++)
        free(p[i]);
    struct mallinfo2 c = mallinfo2();
    CHECK(c.uordblks + total / 2 <= b.uordblks,
          "mallinfo2.uordblks did not drop after freeing %zu bytes: %zu -> %zu", total, b.uordblks,
          c.uordblks);
    CHECK(field_sane(c.uordblks) && field_sane(c.arena) && field_sane(c.fordblks),
          "mallinfo2 fields not sane after freeing");
    free(p);
    printf("mallinfo2: ok (uordblks after free %zu)\n", c.uordblks);
}

static void test_malloc_stats(void)
{
    void *keep = malloc(1000);
    CHECK(keep, "malloc failed");
    int fd = memfd_create("hk-malloc-stats", 0);
    CHECK(fd >= 0, "memfd_create failed");
    fflush(stderr);
    int saved = dup(2);
    CHECK(saved >= 0, "dup(2) failed");
    CHECK(dup2(fd, 2) == 2, "dup2 failed");
    malloc_stats();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    off_t len = lseek(fd, 0, SEEK_END);
    char head[200] = {0};
    if (len > 0)
        CHECK(pread(fd, head, sizeof head - 1, 0) >= 0, "pread failed");
    close(fd);
    CHECK(len > 0, "malloc_stats() printed nothing to stderr");
    for (char *c = head; *c; c++)
        if (*c == '\n')
            *c = ' ';
    printf("malloc_stats: %lld bytes (\"%.60s...\"): ok\n", (long long)len, head);
    free(keep);
}

static void test_libc_aliases(void)
{
    void *p = __libc_malloc(100);
    CHECK(p, "__libc_malloc(100) returned NULL");
    CHECK(malloc_usable_size(p) >= 100, "__libc_malloc block: usable size %zu",
          malloc_usable_size(p));
    tu_fill(p, 100, 3);
    uintptr_t old = (uintptr_t)p;
    p = realloc(p, 5000);
    CHECK(p, "realloc of a __libc_malloc block failed");
    CHECK_PATTERN_AS(p, 100, 3, old, "realloc of a __libc_malloc block");
    free(p); /* a __libc_malloc block freed by free */

    p = __libc_malloc(300000);
    CHECK(p, "__libc_malloc(300000) returned NULL");
    tu_fill(p, 300000, 4);
    CHECK_PATTERN(p, 300000, 4, "__libc_malloc large");
    free(p);

    p = malloc(200);
    CHECK(p, "malloc failed");
    __libc_free(p); /* a malloc block freed by __libc_free */

    unsigned char *c = __libc_calloc(1000, 3);
    CHECK(c, "__libc_calloc returned NULL");
    CHECK(tu_check_bytes(c, 3000, 0) == SIZE_MAX, "__libc_calloc memory not zeroed");
    tu_fill(c, 3000, 8);
    void *r = __libc_realloc(c, 100000);
    CHECK(r, "__libc_realloc returned NULL");
    CHECK_PATTERN_AS(r, 3000, 8, (uintptr_t)c, "__libc_realloc contents");
    r = __libc_realloc(r, 10);
    CHECK(r, "__libc_realloc shrink returned NULL");
    __libc_free(r);

    for (size_t al = 8; al <= 65536; al *= 2) {
        void *m = __libc_memalign(al, 777);
        CHECK(m, "__libc_memalign(%zu, 777) returned NULL", al);
        CHECK(((uintptr_t)m & (al - 1)) == 0, "__libc_memalign(%zu) = %p misaligned", al, m);
        tu_fill(m, 777, 1);
        free(m);
    }
    void *m = memalign(64, 100);
    CHECK(m, "memalign failed");
    __libc_free(m);
    printf("__libc_* aliases: ok\n");
}

/* HAKMEM_HARDEN=zero: a freed small block reads zero past its first word
 * (the free-list link).  A live neighbour keeps each slab in use, so the
 * freed block stays mapped and is read where it was. */
static void test_zero_on_free(void)
{
    const char *h = getenv("HAKMEM_HARDEN");
    if (!h || strcmp(h, "zero") != 0)
        return;
    static const size_t sizes[] = {64, 3000, 20000, 32768};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        for (int k = 0; k < 8; k++) { /* blocks at several places of the span */
            unsigned char *p = malloc(n), *keep = malloc(n);
            CHECK(p && keep, "malloc(%zu) returned NULL", n);
            memset(p, 0xab, n);
            free(p);
            const volatile unsigned char *v = p;
            for (size_t j = 8; j < n; j++)
                CHECK(v[j] == 0, "zero mode: byte %zu of a freed %zu-byte block is %#x", j, n,
                      v[j]);
            free(keep);
        }
    }
}

int main(void)
{
    tu_init();
    double t0 = tu_now();
    test_malloc_zero();
    test_every_small_size();
    test_large_sizes();
    test_usable_size_full_write();
    test_calloc();
    test_realloc();
    test_reallocarray();
    test_free_errno();
    test_malloc_trim();
    test_mallinfo2();
    test_malloc_stats();
    test_libc_aliases();
    test_zero_on_free();
    printf("conformance: all ok (%.2fs)\n", tu_now() - t0);
    return 0;
}
