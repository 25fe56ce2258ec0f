/* hak_api.c — hakmem's own API (include/hakmem.h) and proof that hakmem is
 * really the malloc in use.
 *
 *  - plain build (run with LD_PRELOAD): dlsym(RTLD_DEFAULT, "hak_abi_version")
 *    resolves, and malloc, free, ..., the __libc_* aliases resolve into
 *    libhakmem.so, not libc;  static builds: the same functions are not
 *    libc's.
 *  - hak_abi_version() == HAKMEM_ABI_VERSION, hak_version() == HAKMEM_VERSION_STRING.
 *  - hak_malloc/hak_calloc/hak_realloc/hak_aligned_alloc/hak_free/
 *    hak_free_sized/hak_usable_size over all size ranges, and mixing them with
 *    the standard functions (hakmem is the malloc, so the heaps are one).
 *  - the extras hakmem exports beyond glibc 2.36: C23 free_sized and
 *    free_aligned_sized; and the legacy mallinfo.
 * This test needs hakmem and fails without it.
 */
#include "../testutil.h"

#include <malloc.h>

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static uint64_t rng = 0x4A4B0001;

/* C23 free_sized / free_aligned_sized (glibc 2.36 has neither): hakmem's,
 * called directly when linked, found with dlsym under LD_PRELOAD. */
typedef void (*free_sized_fn)(void *, size_t);
typedef void (*free_aligned_sized_fn)(void *, size_t, size_t);
#if HK_LINKED
extern void free_sized(void *, size_t);
extern void free_aligned_sized(void *, size_t, size_t);
#endif
static free_sized_fn c23_free_sized;
static free_aligned_sized_fn c23_free_aligned_sized;

static void load_c23(void)
{
#if HK_LINKED
    c23_free_sized = free_sized;
    c23_free_aligned_sized = free_aligned_sized;
#else
    void *a = dlsym(RTLD_DEFAULT, "free_sized");
    void *b = dlsym(RTLD_DEFAULT, "free_aligned_sized");
    memcpy(&c23_free_sized, &a, sizeof a);
    memcpy(&c23_free_aligned_sized, &b, sizeof b);
#endif
    CHECK(c23_free_sized && c23_free_aligned_sized,
          "free_sized / free_aligned_sized are not exported");
}

/* The legacy mallinfo (int fields), deprecated in glibc's header. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static struct mallinfo legacy_mallinfo(void) { return mallinfo(); }
static void *mallinfo_addr(void) { return (void *)mallinfo; }
#pragma GCC diagnostic pop

struct fn {
    const char *name;
    void *addr;
};

static void check_preload(void)
{
#if !HK_LINKED
    void *v = dlsym(RTLD_DEFAULT, "hak_abi_version");
    CHECK(v != NULL,
          "dlsym(RTLD_DEFAULT, \"hak_abi_version\") is NULL: the LD_PRELOAD of "
          "libhakmem.so did not take effect");
#endif
    struct fn fns[] = {
        {"malloc", (void *)malloc},
        {"free", (void *)free},
        {"calloc", (void *)calloc},
        {"realloc", (void *)realloc},
        {"reallocarray", (void *)reallocarray},
        {"posix_memalign", (void *)posix_memalign},
        {"aligned_alloc", (void *)aligned_alloc},
        {"memalign", (void *)memalign},
        {"valloc", (void *)valloc},
        {"pvalloc", (void *)pvalloc},
        {"malloc_usable_size", (void *)malloc_usable_size},
        {"malloc_trim", (void *)malloc_trim},
        {"mallinfo2", (void *)mallinfo2},
        {"malloc_stats", (void *)malloc_stats},
        {"mallinfo", mallinfo_addr()},
        {"__libc_malloc", (void *)__libc_malloc},
        {"__libc_free", (void *)__libc_free},
        {"__libc_calloc", (void *)__libc_calloc},
        {"__libc_realloc", (void *)__libc_realloc},
        {"__libc_memalign", (void *)__libc_memalign},
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        Dl_info info;
        memset(&info, 0, sizeof info);
        int ok = dladdr(fns[i].addr, &info);
        const char *file = ok && info.dli_fname ? info.dli_fname : "?";
        int from_libc = strstr(file, "libc.so") != NULL;
#if HK_LINKED
        int good = !from_libc;
#else
        int good = !from_libc && strstr(file, "hakmem") != NULL;
#endif
        if (!good) {
            tu_msg("  %s resolves to %s (%s), not hakmem\n", fns[i].name, file,
                   info.dli_sname ? info.dli_sname : "?");
            bad++;
        }
    }
    CHECK(bad == 0, "%d malloc-family functions are not hakmem's", bad);
    load_c23();
    Dl_info fsi;
    CHECK(dladdr((void *)c23_free_sized, &fsi) && fsi.dli_fname &&
              !strstr(fsi.dli_fname, "libc.so"),
          "free_sized is not hakmem's");
#if !HK_LINKED
    /* What libc itself calls (through its PLT) must also be hakmem's. */
    static const char *names[] = {"malloc", "free", "calloc", "realloc"};
    for (size_t i = 0; i < 4; i++) {
        Dl_info info;
        void *a = dlsym(RTLD_DEFAULT, names[i]);
        CHECK(a && dladdr(a, &info) && info.dli_fname && strstr(info.dli_fname, "hakmem"),
              "dlsym(RTLD_DEFAULT, \"%s\") is not in libhakmem", names[i]);
    }
#endif
    printf("hakmem is the malloc in use (%s): ok\n", HK_LINKED ? "linked" : "LD_PRELOAD");
}

static size_t pick_size(void)
{
    uint64_t r = tu_rand(&rng) % 1000;
    if (r < 700)
        return (size_t)tu_rand_range(&rng, 1, 1024);
    if (r < 950)
        return (size_t)tu_rand_range(&rng, 1025, 64 * 1024);
    if (r < 995)
        return (size_t)tu_rand_range(&rng, 64 * 1024, TU_MiB);
    return (size_t)tu_rand_range(&rng, 2 * TU_MiB, 8 * TU_MiB);
}

static void test_basic(void)
{
    CHECK(hk.abi_version() == HAKMEM_ABI_VERSION, "hak_abi_version() = %d, header says %d",
          hk.abi_version(), HAKMEM_ABI_VERSION);
    CHECK(strcmp(hk.version(), HAKMEM_VERSION_STRING) == 0, "hak_version() = %s, header says %s",
          hk.version(), HAKMEM_VERSION_STRING);
    CHECK(HAKMEM_VERSION ==
              HAKMEM_VERSION_MAJOR * 10000 + HAKMEM_VERSION_MINOR * 100 + HAKMEM_VERSION_PATCH,
          "HAKMEM_VERSION %d", HAKMEM_VERSION);
#if HK_LINKED
    CHECK(hak_abi_compatible(), "hak_abi_compatible() is 0");
#endif
    CHECK(hk.usable_size(NULL) == 0, "hak_usable_size(NULL) = %zu", hk.usable_size(NULL));
    hk.free_fn(NULL);

    static const size_t sizes[] = {1,    8,     15,     16,     17,     100,        1024,      4096,
                                   5000, 65536, 100000, 262144, TU_MiB, 3 * TU_MiB, 9 * TU_MiB};
    enum { NS = sizeof sizes / sizeof sizes[0] };
    void *p[NS];
    for (size_t i = 0; i < NS; i++) {
        size_t n = sizes[i];
        p[i] = hk.malloc_fn(n);
        CHECK(p[i], "hak_malloc(%zu) returned NULL", n);
        CHECK(((uintptr_t)p[i] & (n >= 16 ? 15 : 7)) == 0, "hak_malloc(%zu) = %p misaligned", n,
              p[i]);
        size_t u = hk.usable_size(p[i]);
        CHECK(u >= n, "hak_usable_size(hak_malloc(%zu)) = %zu", n, u);
        CHECK(malloc_usable_size(p[i]) == u,
              "malloc_usable_size (%zu) != hak_usable_size (%zu) for the same block",
              malloc_usable_size(p[i]), u);
        tu_fill(p[i], u, (uint32_t)i);
    }
    for (size_t i = 0; i < NS; i++) {
        CHECK_PATTERN(p[i], hk.usable_size(p[i]), (uint32_t)i, "hak_malloc block");
        hk.free_fn(p[i]);
    }
    void *z = hk.malloc_fn(0);
    hk.free_fn(z);

    /* hak_calloc */
    for (size_t i = 0; i < NS; i++) {
        void *d = hk.malloc_fn(sizes[i]);
        CHECK(d, "hak_malloc failed");
        memset(d, 0xEE, sizes[i]);
        hk.free_fn(d);
        unsigned char *c = hk.calloc_fn(sizes[i], 1);
        CHECK(c, "hak_calloc(%zu, 1) returned NULL", sizes[i]);
        CHECK(tu_check_bytes(c, sizes[i], 0) == SIZE_MAX, "hak_calloc(%zu) not zeroed", sizes[i]);
        hk.free_fn(c);
    }
    CHECK(hk.calloc_fn(tu_opaque(SIZE_MAX / 2), 4) == NULL,
          "hak_calloc overflow returned non-NULL");
    CHECK(hk.calloc_fn(tu_opaque((size_t)1 << 33), (size_t)1 << 33) == NULL,
          "hak_calloc overflow returned non-NULL");
    errno = 0;
    CHECK(hk.malloc_fn(tu_opaque(SIZE_MAX)) == NULL, "hak_malloc(SIZE_MAX) returned non-NULL");
    if (errno != ENOMEM)
        printf("note: hak_malloc(SIZE_MAX) left errno %d (malloc sets ENOMEM)\n", errno);

    /* hak_realloc */
    void *r = hk.realloc_fn(NULL, 10);
    CHECK(r, "hak_realloc(NULL, 10) returned NULL");
    size_t rn = 10;
    tu_fill(r, rn, 77);
    static const size_t chain[] = {20, 1000, 70000, 300000, 5 * TU_MiB, 100, 1, 2 * TU_MiB, 33};
    for (size_t i = 0; i < sizeof chain / sizeof chain[0]; i++) {
        uintptr_t old = (uintptr_t)r;
        void *q = hk.realloc_fn(r, chain[i]);
        CHECK(q, "hak_realloc(%zu -> %zu) returned NULL", rn, chain[i]);
        CHECK(hk.usable_size(q) >= chain[i], "hak_realloc: usable too small");
        CHECK_PATTERN_AS(q, rn < chain[i] ? rn : chain[i], 77, old, "hak_realloc contents");
        r = q;
        rn = chain[i];
        tu_fill(r, rn, 77);
    }
    void *big = hk.realloc_fn(r, tu_opaque(SIZE_MAX - 64));
    CHECK(big == NULL, "hak_realloc to SIZE_MAX-64 returned non-NULL");
    CHECK_PATTERN(r, rn, 77, "block after failed hak_realloc");
    hk.free_fn(r);

    /* hak_aligned_alloc: every power of two, any size */
    for (size_t al = 1; al <= 4 * TU_MiB; al *= 2) {
        size_t ns[] = {1, al, al + 3, 1000};
        for (int k = 0; k < 4; k++) {
            void *a = hk.aligned_alloc_fn(al, ns[k]);
            CHECK(a, "hak_aligned_alloc(%zu, %zu) returned NULL", al, ns[k]);
            CHECK(((uintptr_t)a & (al - 1)) == 0, "hak_aligned_alloc(%zu, %zu) = %p", al, ns[k], a);
            CHECK(hk.usable_size(a) >= ns[k], "hak_aligned_alloc: usable too small");
            tu_fill(a, ns[k], 3);
            CHECK_PATTERN(a, ns[k], 3, "hak_aligned_alloc block");
            if (k & 1)
                hk.free_fn(a);
            else
                hk.free_sized_fn(a, ns[k]);
        }
    }
    printf("hak_malloc/calloc/realloc/aligned_alloc/usable_size/abi_version: ok\n");
}

/* hak_free_sized with the requested size and with the usable size; and a
 * loop proving the blocks really are freed. */
static void test_free_sized(void)
{
    for (int i = 0; i < 20000; i++) {
        size_t n = pick_size();
        void *p = hk.malloc_fn(n);
        CHECK(p, "hak_malloc(%zu) failed", n);
        tu_fill(p, n < 4096 ? n : 4096, (uint32_t)i);
        CHECK_PATTERN(p, n < 4096 ? n : 4096, (uint32_t)i, "free_sized block");
        /* the requested size, the usable size, or anything in between */
        size_t u = hk.usable_size(p);
        size_t fs = (i % 3 == 0) ? n : (i % 3 == 1) ? u : n + (size_t)(tu_rand(&rng) % (u - n + 1));
        hk.free_sized_fn(p, fs);
    }
    size_t rss0 = tu_rss_bytes();
    for (int i = 0; i < 100000; i++) {
        size_t n = (size_t)(i % 2000) + 1;
        void *p = hk.malloc_fn(n);
        CHECK(p, "hak_malloc failed");
        memset(p, 1, n);
        hk.free_sized_fn(p, n);
    }
    for (int i = 0; i < 300; i++) {
        void *p = hk.malloc_fn(TU_MiB + 4096);
        CHECK(p, "hak_malloc failed");
        memset(p, 1, TU_MiB + 4096);
        hk.free_sized_fn(p, TU_MiB + 4096);
    }
    size_t rss1 = tu_rss_bytes();
    CHECK(rss1 < rss0 + 64 * TU_MiB, "hak_free_sized seems to leak: RSS %zu -> %zu MiB", rss0 >> 20,
          rss1 >> 20);
    printf("hak_free_sized: ok\n");
}

/* C23 free_sized / free_aligned_sized, and the legacy mallinfo. */
static void test_c23_and_mallinfo(void)
{
    for (int i = 0; i < 20000; i++) {
        size_t n = pick_size();
        if (i & 1) {
            void *p = malloc(n);
            CHECK(p, "malloc(%zu) failed", n);
            tu_fill(p, n < 512 ? n : 512, 1);
            errno = 1234;
            c23_free_sized(p, n);
            CHECK(errno == 1234, "free_sized changed errno");
        } else {
            size_t al = (size_t)1 << tu_rand_range(&rng, 0, 16);
            void *p = aligned_alloc(al, n);
            CHECK(p && ((uintptr_t)p & (al - 1)) == 0, "aligned_alloc(%zu, %zu) failed", al, n);
            tu_fill(p, n < 512 ? n : 512, 2);
            errno = 1234;
            c23_free_aligned_sized(p, al, n);
            CHECK(errno == 1234, "free_aligned_sized changed errno");
        }
    }
    c23_free_sized(NULL, 0);
    c23_free_aligned_sized(NULL, 64, 0);
    /* they really free: 300 MiB through free_sized must not accumulate */
    size_t rss0 = tu_rss_bytes();
    for (int i = 0; i < 3000; i++) {
        size_t n = (size_t)(i % 3 == 0 ? 200000 : 30000);
        void *p = malloc(n);
        CHECK(p, "malloc failed");
        memset(p, 1, n);
        c23_free_sized(p, n);
        p = aligned_alloc(4096, n);
        CHECK(p, "aligned_alloc failed");
        memset(p, 1, n);
        c23_free_aligned_sized(p, 4096, n);
    }
    size_t rss1 = tu_rss_bytes();
    CHECK(rss1 < rss0 + 64 * TU_MiB,
          "free_sized/free_aligned_sized seem to leak: RSS %zu -> %zu MiB", rss0 >> 20, rss1 >> 20);

    struct mallinfo a = legacy_mallinfo();
    void *blk[64];
    for (int i = 0; i < 64; i++) {
        blk[i] = malloc(256 * 1024);
        CHECK(blk[i], "malloc failed");
        memset(blk[i], 3, 256 * 1024);
    }
    struct mallinfo b = legacy_mallinfo();
    CHECK(b.arena != 0 || b.hblkhd != 0, "mallinfo: arena and hblkhd are 0");
    CHECK(b.uordblks >= a.uordblks + 15 * 1024 * 1024,
          "mallinfo.uordblks grew from %d to %d after allocating 16 MiB", a.uordblks, b.uordblks);
    for (int i = 0; i < 64; i++)
        free(blk[i]);
    printf("free_sized / free_aligned_sized / mallinfo: ok\n");
}

/* One heap: blocks from either API can be freed/resized by the other. */
static void test_interop(void)
{
    for (int i = 0; i < 3000; i++) {
        size_t n = pick_size();
        void *p;
        switch (i % 6) {
            case 0: p = hk.malloc_fn(n); break;
            case 1: p = malloc(n); break;
            case 2: p = calloc(1, n); break;
            case 3: p = hk.aligned_alloc_fn(256, n); break;
            case 4: p = aligned_alloc(4096, n); break;
            default: p = hk.calloc_fn(n, 1); break;
        }
        CHECK(p, "allocation %d (%zu bytes) failed", i, n);
        CHECK(hk.usable_size(p) >= n, "usable size %zu < %zu", hk.usable_size(p), n);
        tu_fill(p, n, (uint32_t)i);
        size_t m = pick_size();
        uintptr_t old = (uintptr_t)p;
        void *q = (i & 1) ? hk.realloc_fn(p, m) : realloc(p, m);
        CHECK(q, "realloc %zu -> %zu failed", n, m);
        CHECK_PATTERN_AS(q, n < m ? n : m, (uint32_t)i, old, "cross-API realloc");
        switch ((i / 6) % 4) {
            case 0: free(q); break;
            case 1: hk.free_fn(q); break;
            case 2: hk.free_sized_fn(q, m); break;
            default: __libc_free(q); break;
        }
    }
    void *p = __libc_malloc(1000);
    CHECK(p, "__libc_malloc failed");
    CHECK(hk.usable_size(p) >= 1000, "hak_usable_size of a __libc_malloc block");
    hk.free_fn(p);
    printf("hak_* and malloc-family blocks interchangeable: ok\n");
}

int main(void)
{
    tu_init();
    double t0 = tu_now();
    hk_require("hak_api");
    check_preload();
    test_basic();
    test_free_sized();
    test_c23_and_mallinfo();
    test_interop();
    printf("hak_api: all ok (%.2fs)\n", tu_now() - t0);
    return 0;
}
