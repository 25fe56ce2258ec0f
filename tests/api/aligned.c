/* aligned.c — posix_memalign, aligned_alloc, memalign, valloc, pvalloc.
 *
 * posix_memalign: EINVAL for alignments that are not a power of two times
 * sizeof(void *); success for every power of two 8 .. 4 MiB (and 8 MiB).
 * aligned_alloc / memalign: every power of two 1 .. 16 MiB, with sizes that
 * are and are not multiples of the alignment.  valloc/pvalloc: page aligned,
 * pvalloc's usable size rounded up to whole pages.  All results: aligned,
 * usable size >= request, contents kept, no overlap between live blocks,
 * freeable with free() and resizable with realloc().
 */
#include "../testutil.h"

#include <malloc.h>

static uint64_t rng = 0xA11C0001;

struct blk {
    void *p;
    size_t n;
    uint32_t seed;
};

static void check_block(void *p, size_t n, size_t al, const char *what)
{
    CHECK(p != NULL, "%s(align %zu, size %zu) returned NULL", what, al, n);
    CHECK(((uintptr_t)p & (al - 1)) == 0, "%s(align %zu, size %zu) = %p is misaligned", what, al, n,
          p);
    CHECK(malloc_usable_size(p) >= n, "%s(align %zu, size %zu): usable size %zu", what, al, n,
          malloc_usable_size(p));
}

/* Sizes to try for alignment al (each live at once with the others). */
static size_t sizes_for(size_t al, size_t *out)
{
    size_t k = 0;
    out[k++] = 1;
    out[k++] = 8;
    out[k++] = 24;
    out[k++] = 100;
    if (al > 1)
        out[k++] = al - 1;
    out[k++] = al;
    out[k++] = al + 1;
    out[k++] = 3 * al + 5;
    out[k++] = 5000;
    out[k++] = 70000;
    if (al <= 64 * TU_KiB)
        out[k++] = 1234567;
    return k;
}

static void test_posix_memalign_einval(void)
{
    static const size_t bad[] = {0,
                                 1,
                                 2,
                                 3,
                                 4,
                                 5,
                                 6,
                                 7,
                                 12,
                                 20,
                                 24,
                                 40,
                                 48,
                                 96,
                                 100,
                                 1000,
                                 4097,
                                 3 * 4096,
                                 65535,
                                 3 * (1u << 20),
                                 ((size_t)1 << 40) + 8,
                                 SIZE_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        void *sentinel = (void *)(uintptr_t)0xdeadbeef0;
        void *p = sentinel;
        int r = posix_memalign(&p, tu_opaque(bad[i]), 64);
        CHECK(r == EINVAL, "posix_memalign(align %zu) returned %d, want EINVAL (%d)", bad[i], r,
              EINVAL);
        CHECK(p == sentinel || p == NULL, "posix_memalign(align %zu) failed but set *memptr to %p",
              bad[i], p);
    }
    printf("posix_memalign EINVAL: ok\n");
}

static void test_posix_memalign(void)
{
    int nal = 0;
    for (size_t al = sizeof(void *); al <= 8 * TU_MiB; al *= 2, nal++) {
        size_t sz[16];
        size_t k = sizes_for(al, sz);
        struct blk b[16];
        for (size_t i = 0; i < k; i++) {
            void *p = (void *)(uintptr_t)1;
            int r = posix_memalign(&p, al, sz[i]);
            CHECK(r == 0, "posix_memalign(align %zu, size %zu) returned %d", al, sz[i], r);
            check_block(p, sz[i], al, "posix_memalign");
            b[i] = (struct blk){p, sz[i], (uint32_t)(al + i)};
            tu_fill(p, sz[i], b[i].seed);
        }
        for (size_t i = 0; i < k; i++)
            CHECK_PATTERN(b[i].p, b[i].n, b[i].seed, "posix_memalign block");
        /* grow one with realloc (alignment need not be kept, contents must) */
        uintptr_t old = (uintptr_t)b[1].p;
        void *q = realloc(b[1].p, b[1].n + 10000);
        CHECK(q, "realloc of a posix_memalign block failed");
        CHECK_PATTERN_AS(q, b[1].n, b[1].seed, old, "realloc of a posix_memalign block");
        b[1].p = q;
        for (size_t i = 0; i < k; i++)
            free(b[i].p);
    }
    /* posix_memalign with size 0: success, and the result can be freed */
    void *z = (void *)(uintptr_t)1;
    CHECK(posix_memalign(&z, 64, 0) == 0, "posix_memalign(64, 0) failed");
    CHECK(z == NULL || ((uintptr_t)z & 63) == 0, "posix_memalign(64, 0) = %p", z);
    free(z);
    printf("posix_memalign: %d alignments 8..8 MiB ok\n", nal);
}

typedef void *(*alignfn)(size_t, size_t);

static void test_align_fn(alignfn fn, const char *name, size_t maxal)
{
    int nal = 0;
    for (size_t al = 1; al <= maxal; al *= 2, nal++) {
        size_t sz[16];
        size_t k = sizes_for(al, sz);
        struct blk b[16];
        for (size_t i = 0; i < k; i++) {
            errno = 0;
            void *p = fn(al, sz[i]);
            check_block(p, sz[i], al, name);
            if (sz[i] >= 16)
                CHECK(((uintptr_t)p & 15) == 0, "%s(%zu, %zu) = %p: not even 16-aligned", name, al,
                      sz[i], p);
            b[i] = (struct blk){p, sz[i], (uint32_t)(al * 3 + i)};
            tu_fill(p, sz[i], b[i].seed);
        }
        for (size_t i = 0; i < k; i++) {
            CHECK_PATTERN(b[i].p, b[i].n, b[i].seed, name);
            free(b[i].p);
        }
    }
    void *z = fn(64, 0);
    CHECK(z == NULL || ((uintptr_t)z & 63) == 0, "%s(64, 0) = %p", name, z);
    free(z);
    printf("%s: %d alignments 1..%zu KiB ok\n", name, nal, maxal >> 10);
}

static void *aligned_alloc_fn(size_t al, size_t n) { return aligned_alloc(al, n); }
static void *memalign_fn(size_t al, size_t n) { return memalign(al, n); }

static void test_valloc_pvalloc(void)
{
    const size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    static const size_t sizes[] = {1,     100,   4095,   4096,    4097,           8191,
                                   10000, 65536, 100000, 1048577, 3 * 1048576 + 1};
    enum { NS = sizeof sizes / sizeof sizes[0] };
    void *v[NS], *pv[NS];
    for (size_t i = 0; i < NS; i++) {
        size_t n = sizes[i];
        v[i] = valloc(n);
        check_block(v[i], n, pg, "valloc");
        tu_fill(v[i], n, (uint32_t)i);
        pv[i] = pvalloc(n);
        size_t rounded = (n + pg - 1) & ~(pg - 1);
        check_block(pv[i], rounded, pg, "pvalloc");
        /* pvalloc rounds the request up to whole pages: all of it is ours */
        tu_fill(pv[i], rounded, (uint32_t)(i + 100));
    }
    for (size_t i = 0; i < NS; i++) {
        size_t n = sizes[i];
        size_t rounded = (n + pg - 1) & ~(pg - 1);
        CHECK_PATTERN(v[i], n, (uint32_t)i, "valloc block");
        CHECK_PATTERN(pv[i], rounded, (uint32_t)(i + 100), "pvalloc block");
        free(v[i]);
        free(pv[i]);
    }
    void *z = pvalloc(0);
    CHECK(z == NULL || ((uintptr_t)z & (pg - 1)) == 0, "pvalloc(0) = %p", z);
    free(z);
    z = valloc(0);
    CHECK(z == NULL || ((uintptr_t)z & (pg - 1)) == 0, "valloc(0) = %p", z);
    free(z);
    printf("valloc / pvalloc: ok\n");
}

/* Random mix of aligned and plain allocations, frees and reallocs. */
static void test_mixed(void)
{
    enum { L = 512, STEPS = 40000 };
    struct blk b[L] = {{0}};
    for (int step = 0; step < STEPS; step++) {
        int i = (int)(tu_rand(&rng) % L);
        if (b[i].p) {
            CHECK_PATTERN(b[i].p, b[i].n, b[i].seed, "mixed aligned");
            if (tu_rand(&rng) % 8 == 0) {
                size_t m = (size_t)tu_rand_range(&rng, 1, 20000);
                uintptr_t old = (uintptr_t)b[i].p;
                void *q = realloc(b[i].p, m);
                CHECK(q, "realloc(%zu) failed", m);
                CHECK_PATTERN_AS(q, b[i].n < m ? b[i].n : m, b[i].seed, old,
                                 "realloc in mixed aligned");
                b[i].p = q;
                b[i].n = m;
                tu_fill(q, m, b[i].seed);
                continue;
            }
            free(b[i].p);
            b[i].p = NULL;
            continue;
        }
        uint64_t r = tu_rand(&rng);
        size_t n = (r >> 20) % 100 == 0 ? (size_t)tu_rand_range(&rng, 1, 300000)
                                        : (size_t)tu_rand_range(&rng, 1, 2000);
        size_t al = (size_t)1 << tu_rand_range(&rng, 0, 16);
        void *p = NULL;
        switch (r % 5) {
            case 0:
                p = malloc(n);
                al = 1;
                break;
            case 1:
                if (al < sizeof(void *))
                    al = sizeof(void *);
                CHECK(posix_memalign(&p, al, n) == 0, "posix_memalign(%zu, %zu) failed", al, n);
                break;
            case 2: p = aligned_alloc(al, n); break;
            case 3: p = memalign(al, n); break;
            default:
                p = valloc(n);
                al = (size_t)sysconf(_SC_PAGESIZE);
                break;
        }
        check_block(p, n, al, "mixed aligned");
        b[i] = (struct blk){p, n, (uint32_t)r};
        tu_fill(p, n, b[i].seed);
    }
    for (int i = 0; i < L; i++) {
        if (!b[i].p)
            continue;
        CHECK_PATTERN(b[i].p, b[i].n, b[i].seed, "mixed aligned (final)");
        free(b[i].p);
    }
    printf("mixed aligned/plain allocations: ok\n");
}

int main(void)
{
    tu_init();
    double t0 = tu_now();
    test_posix_memalign_einval();
    test_posix_memalign();
    test_align_fn(aligned_alloc_fn, "aligned_alloc", 16 * TU_MiB);
    test_align_fn(memalign_fn, "memalign", 16 * TU_MiB);
    test_valloc_pvalloc();
    test_mixed();
    printf("aligned: all ok (%.2fs)\n", tu_now() - t0);
    return 0;
}
