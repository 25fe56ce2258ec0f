/* errors.c — impossible requests fail cleanly: NULL (or an error number)
 * with errno ENOMEM, never a crash, and a failed realloc leaves the old block
 * valid and unchanged.  Covers malloc, calloc (count * size overflow),
 * realloc, reallocarray, posix_memalign, aligned_alloc, memalign, valloc,
 * pvalloc.  Afterwards the allocator still works.
 */
#include "../testutil.h"

#include <malloc.h>

#define EXPECT_NOMEM(expr, desc)                                                                   \
    do {                                                                                           \
        errno = 0;                                                                                 \
        void *r_ = (expr);                                                                         \
        int e_ = errno;                                                                            \
        CHECK(r_ == NULL, "%s returned %p, want NULL", desc, r_);                                  \
        CHECK(e_ == ENOMEM, "%s: errno %d, want ENOMEM (%d)", desc, e_, ENOMEM);                   \
    } while (0)

static const size_t huge[] = {
    SIZE_MAX,         SIZE_MAX - 1,          SIZE_MAX - 15,   SIZE_MAX - 4095,
    SIZE_MAX - 65536, SIZE_MAX / 2 + 1,      SIZE_MAX / 2,    (size_t)PTRDIFF_MAX - 4096,
    (size_t)1 << 62,  ((size_t)1 << 62) + 1, (size_t)1 << 61,
};
#define NHUGE (sizeof huge / sizeof huge[0])

static void test_malloc_huge(void)
{
    char d[64];
    for (size_t i = 0; i < NHUGE; i++) {
        size_t n = tu_opaque(huge[i]);
        snprintf(d, sizeof d, "malloc(%zu)", n);
        EXPECT_NOMEM(malloc(n), d);
        snprintf(d, sizeof d, "realloc(NULL, %zu)", n);
        EXPECT_NOMEM(realloc(NULL, n), d);
        snprintf(d, sizeof d, "calloc(1, %zu)", n);
        EXPECT_NOMEM(calloc(1, n), d);
        snprintf(d, sizeof d, "calloc(%zu, 1)", n);
        EXPECT_NOMEM(calloc(n, tu_opaque(1)), d);
        snprintf(d, sizeof d, "aligned_alloc(64, %zu)", n);
        EXPECT_NOMEM(aligned_alloc(64, n), d);
        snprintf(d, sizeof d, "aligned_alloc(1 MiB, %zu)", n);
        EXPECT_NOMEM(aligned_alloc(TU_MiB, n), d);
        snprintf(d, sizeof d, "memalign(4096, %zu)", n);
        EXPECT_NOMEM(memalign(4096, n), d);
        snprintf(d, sizeof d, "valloc(%zu)", n);
        EXPECT_NOMEM(valloc(n), d);
        snprintf(d, sizeof d, "pvalloc(%zu)", n);
        EXPECT_NOMEM(pvalloc(n), d);
        void *p = (void *)(uintptr_t)0x1230;
        int r = posix_memalign(&p, 64, n);
        CHECK(r == ENOMEM, "posix_memalign(64, %zu) returned %d, want ENOMEM", n, r);
        CHECK(p == (void *)(uintptr_t)0x1230 || p == NULL,
              "failed posix_memalign set *memptr to %p", p);
        r = posix_memalign(&p, 2 * TU_MiB, n);
        CHECK(r == ENOMEM, "posix_memalign(2 MiB, %zu) returned %d, want ENOMEM", n, r);
    }
    /* the examples from the spec */
    EXPECT_NOMEM(malloc(tu_opaque(SIZE_MAX)), "malloc(SIZE_MAX)");
    EXPECT_NOMEM(malloc(tu_opaque(SIZE_MAX / 2)), "malloc(SIZE_MAX/2)");
    EXPECT_NOMEM(aligned_alloc(64, tu_opaque(SIZE_MAX - 10)), "aligned_alloc(64, SIZE_MAX-10)");
    printf("huge requests -> NULL/ENOMEM: ok\n");
}

static void test_calloc_overflow(void)
{
    struct {
        size_t a, b;
    } ov[] = {
        {SIZE_MAX / 2, 4},
        {SIZE_MAX, SIZE_MAX},
        {(size_t)1 << 32, (size_t)1 << 32},
        {((size_t)1 << 32) + 1, ((size_t)1 << 32) - 1},
        {SIZE_MAX / 3 + 1, 3},
        {3, SIZE_MAX / 3 + 1},
        {SIZE_MAX / 16 + 1, 16},
        {2, SIZE_MAX / 2 + 1},
        {SIZE_MAX, 2},
        /* no overflow, just impossible */
        {2, SIZE_MAX / 2},
        {SIZE_MAX / 8, 4},
    };
    char d[80];
    for (size_t i = 0; i < sizeof ov / sizeof ov[0]; i++) {
        size_t a = tu_opaque(ov[i].a), b = tu_opaque(ov[i].b);
        snprintf(d, sizeof d, "calloc(%zu, %zu)", a, b);
        EXPECT_NOMEM(calloc(a, b), d);
        snprintf(d, sizeof d, "reallocarray(NULL, %zu, %zu)", a, b);
        EXPECT_NOMEM(reallocarray(NULL, a, b), d);
    }
    printf("calloc / reallocarray overflow -> NULL/ENOMEM: ok\n");
}

/* A failed realloc leaves the old block valid and unchanged. */
static void test_realloc_fail_keeps_block(void)
{
    static const size_t sizes[] = {1, 24, 100, 1000, 5000, 70000, 300000, 3 * TU_MiB};
    char d[96];
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        void *p = malloc(n);
        CHECK(p, "malloc(%zu) failed", n);
        size_t u = malloc_usable_size(p);
        tu_fill(p, n, (uint32_t)i);
        for (size_t j = 0; j < NHUGE; j++) {
            size_t m = tu_opaque(huge[j]);
            snprintf(d, sizeof d, "realloc(%zu-byte block, %zu)", n, m);
            EXPECT_NOMEM(realloc(p, m), d);
            snprintf(d, sizeof d, "reallocarray(%zu-byte block, %zu, 3)", n, m);
            EXPECT_NOMEM(reallocarray(p, m, tu_opaque(3)), d);
            CHECK_PATTERN(p, n, (uint32_t)i, "block after failed realloc");
            CHECK(malloc_usable_size(p) == u, "failed realloc changed the usable size");
        }
        /* the old block is still a normal block */
        uintptr_t old = (uintptr_t)p;
        void *q = realloc(p, n * 2 + 10);
        CHECK(q, "realloc after a failed realloc failed");
        CHECK_PATTERN_AS(q, n, (uint32_t)i, old, "realloc after a failed realloc");
        free(q);
    }
    /* aligned and calloc'd blocks too */
    void *a = aligned_alloc(4096, 10000);
    CHECK(a, "aligned_alloc failed");
    tu_fill(a, 10000, 5);
    EXPECT_NOMEM(realloc(a, tu_opaque(SIZE_MAX - 100)), "realloc(aligned block, SIZE_MAX-100)");
    CHECK_PATTERN(a, 10000, 5, "aligned block after failed realloc");
    free(a);
    printf("failed realloc keeps the old block: ok\n");
}

static void test_bad_alignments(void)
{
    /* An alignment nobody can satisfy must fail cleanly (EINVAL or ENOMEM). */
    static const size_t al[] = {(size_t)1 << 62, (size_t)1 << 63, (size_t)1 << 50};
    for (size_t i = 0; i < sizeof al / sizeof al[0]; i++) {
        size_t a = tu_opaque(al[i]);
        errno = 0;
        void *p = aligned_alloc(a, 16);
        CHECK(p == NULL && (errno == ENOMEM || errno == EINVAL),
              "aligned_alloc(%zu, 16) = %p errno %d", a, p, errno);
        errno = 0;
        p = memalign(a, 16);
        CHECK(p == NULL && (errno == ENOMEM || errno == EINVAL), "memalign(%zu, 16) = %p errno %d",
              a, p, errno);
        p = NULL;
        int r = posix_memalign(&p, a, 16);
        CHECK(r == ENOMEM || r == EINVAL, "posix_memalign(%zu, 16) returned %d", a, r);
        CHECK(p == NULL, "failed posix_memalign set *memptr to %p", p);
    }
    printf("impossible alignments fail cleanly: ok\n");
}

static void test_still_works(void)
{
    void *p[200];
    for (int i = 0; i < 200; i++) {
        size_t n = (size_t)(i * i * 37 + 1);
        p[i] = malloc(n);
        CHECK(p[i], "malloc(%zu) failed after the error tests", n);
        tu_fill(p[i], n, (uint32_t)i);
    }
    for (int i = 0; i < 200; i++) {
        size_t n = (size_t)(i * i * 37 + 1);
        CHECK_PATTERN(p[i], n, (uint32_t)i, "after the error tests");
        free(p[i]);
    }
    printf("allocator works after the failures: ok\n");
}

int main(void)
{
    tu_init();
    double t0 = tu_now();
    /* a few live blocks so the failures happen in a non-empty heap */
    void *live[4] = {malloc(10), malloc(1000), malloc(100000), malloc(5 * TU_MiB)};
    for (int i = 0; i < 4; i++)
        CHECK(live[i], "initial malloc failed");
    test_malloc_huge();
    test_calloc_overflow();
    test_realloc_fail_keeps_block();
    test_bad_alignments();
    test_still_works();
    for (int i = 0; i < 4; i++)
        free(live[i]);
    printf("errors: all ok (%.2fs)\n", tu_now() - t0);
    return 0;
}
