/* oom.c — running out of memory under RLIMIT_AS.
 *
 * RLIMIT_AS is set to the current VmSize + 256 MiB.  Then, for every entry
 * point (malloc, calloc, realloc growth, posix_memalign, aligned_alloc,
 * memalign, valloc), blocks of 4 MiB, 256 KiB, 16 KiB and 64 B are allocated
 * until the call fails:
 *   - every failure must be NULL with errno ENOMEM (posix_memalign: returns
 *     ENOMEM), never a crash;
 *   - a failed realloc must leave the old block valid and unchanged;
 *   - most of the 256 MiB must actually be obtainable (and again in later
 *     cycles: memory is not lost after a failure).
 * Then everything is verified and freed, and 64 MiB in mixed sizes must be
 * allocatable again.  The whole cycle runs CYCLES (3) times.
 */
#include "../testutil.h"

#include <malloc.h>
#include <sys/resource.h>

#define BUDGET (256 * TU_MiB)
#define CYCLES 3

/* Each block starts with this header; the rest carries a sparse pattern. */
struct node {
    struct node *next;
    size_t n;
    uint32_t seed;
};
#define HDR 32

static struct node *head;
static size_t live_bytes, live_count;
static uint32_t seed_ctr = 1;

enum entry {
    E_MALLOC,
    E_CALLOC,
    E_REALLOC,
    E_POSIX_MEMALIGN,
    E_ALIGNED_ALLOC,
    E_MEMALIGN,
    E_VALLOC,
    E_COUNT
};
static const char *const entry_name[E_COUNT] = {
    "malloc", "calloc", "realloc", "posix_memalign", "aligned_alloc", "memalign", "valloc"};

static void block_init(void *p, size_t n)
{
    struct node *x = p;
    x->n = n;
    x->seed = seed_ctr++;
    tu_fill_sparse((char *)p + HDR, n - HDR, x->seed);
}

static void block_check(const void *p, size_t n, const char *what)
{
    const struct node *x = p;
    CHECK(x->n == n, "%s: block %p header size %zu, want %zu", what, p, x->n, n);
    CHECK_PATTERN_SPARSE((const char *)p + HDR, n - HDR, x->seed, what);
}

static void push(void *p, size_t n)
{
    struct node *x = p;
    x->next = head;
    head = x;
    live_bytes += n;
    live_count++;
}

static void free_all(const char *what)
{
    while (head) {
        struct node *x = head;
        head = x->next;
        block_check(x, x->n, what);
        free(x);
    }
    live_bytes = live_count = 0;
}

/* Sparse zero check of calloc memory. */
static void check_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n && i < 256; i++)
        CHECK(b[i] == 0, "calloc block %p not zero at %zu", p, i);
    for (size_t i = 256; i < n; i += 4096)
        CHECK(b[i] == 0, "calloc block %p not zero at %zu", p, i);
    CHECK(b[n - 1] == 0, "calloc block %p not zero at its end", p);
}

#define EXPECT_ENOMEM(e, what, n)                                                                  \
    CHECK((e) == ENOMEM, "%s(%zu) failed with errno %d, want ENOMEM", what, (size_t)(n), (e))

/* One allocation of n bytes through entry point e.  Returns the block (already
 * initialized) or NULL after checking the failure. */
static void *alloc_one(enum entry e, size_t n)
{
    void *p = NULL;
    size_t al = n >= 4096 ? 4096 : 64;
    errno = 0;
    switch (e) {
        case E_MALLOC: p = malloc(n); break;
        case E_CALLOC:
            p = calloc(n / 16, 16);
            if (p)
                check_zero(p, n);
            break;
        case E_REALLOC: {
            /* grow a block from n/2 to n */
            void *q = malloc(n / 2);
            if (!q) {
                EXPECT_ENOMEM(errno, "malloc before realloc", n / 2);
                return NULL;
            }
            block_init(q, n / 2);
            errno = 0;
            uintptr_t old = (uintptr_t)q;
            p = realloc(q, n);
            if (!p) {
                int e2 = errno;
                EXPECT_ENOMEM(e2, "realloc", n);
                block_check(q, n / 2, "block after a failed realloc");
                push(q, n / 2); /* keep it: memory stays full */
                return NULL;
            }
            struct node *x = p;
            CHECK(x->n == n / 2, "realloc lost the header");
            size_t keep = n / 2 - HDR < 64 ? n / 2 - HDR : 64;
            CHECK_PATTERN_AS((char *)p + HDR, keep, x->seed, old + HDR, "realloc'ed block prefix");
            break;
        }
        case E_POSIX_MEMALIGN: {
            int r = posix_memalign(&p, al, n);
            if (r != 0) {
                CHECK(r == ENOMEM, "posix_memalign(%zu, %zu) returned %d, want ENOMEM", al, n, r);
                return NULL;
            }
            CHECK(p != NULL, "posix_memalign returned 0 and NULL");
            break;
        }
        case E_ALIGNED_ALLOC: p = aligned_alloc(al, n); break;
        case E_MEMALIGN: p = memalign(al, n); break;
        case E_VALLOC:
            p = valloc(n);
            al = 4096;
            break;
        default: break;
    }
    if (!p) {
        if (e != E_POSIX_MEMALIGN)
            EXPECT_ENOMEM(errno, entry_name[e], n);
        return NULL;
    }
    if (e >= E_POSIX_MEMALIGN)
        CHECK(((uintptr_t)p & (al - 1)) == 0, "%s(%zu): %p misaligned", entry_name[e], n, p);
    CHECK(((uintptr_t)p & 15) == 0, "%s(%zu): %p not 16-aligned", entry_name[e], n, p);
    block_init(p, n);
    return p;
}

static const size_t sizes[] = {4 * TU_MiB, 256 * TU_KiB, 16 * TU_KiB, 64};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static void fill_phase(int cycle, enum entry e)
{
    size_t got[NSIZES];
    size_t before = live_bytes;
    for (size_t s = 0; s < NSIZES; s++) {
        size_t n = sizes[s], cnt = 0;
        for (;;) {
            void *p = alloc_one(e, n);
            if (!p)
                break;
            push(p, n);
            cnt++;
            CHECK(live_bytes <= 2 * BUDGET,
                  "%s: %zu MiB allocated under a %zu MiB RLIMIT_AS budget?", entry_name[e],
                  live_bytes >> 20, BUDGET >> 20);
        }
        got[s] = cnt;
    }
    size_t total = live_bytes - before;
    /* memory full: growing an existing block must fail and keep it intact */
    struct node *x = head;
    CHECK(x != NULL, "%s: nothing could be allocated at all", entry_name[e]);
    size_t xn = x->n;
    errno = 0;
    void *r = realloc(x, xn + BUDGET);
    CHECK(r == NULL, "realloc(%zu -> %zu) succeeded with memory exhausted", xn, xn + BUDGET);
    EXPECT_ENOMEM(errno, "realloc growth with memory exhausted", xn + BUDGET);
    CHECK(head == x, "test bug");
    block_check(x, xn, "block after failed realloc growth");
    tu_msg("  cycle %d %-14s: %4zu MiB in %zu+%zu+%zu+%zu blocks (4M/256K/16K/64)\n", cycle,
           entry_name[e], total >> 20, got[0], got[1], got[2], got[3]);
    CHECK(total >= BUDGET / 2,
          "%s: only %zu MiB could be allocated out of a %zu MiB budget (memory lost after "
          "earlier failures?)",
          entry_name[e], total >> 20, BUDGET >> 20);
    free_all("block freed after the fill");
}

/* After freeing, 64 MiB in mixed sizes must be allocatable again. */
static void refill_check(int cycle)
{
    static const struct {
        size_t n, count;
    } mix[] = {{4 * TU_MiB, 8}, {256 * TU_KiB, 32}, {16 * TU_KiB, 1024}, {64, 131072}};
    for (size_t i = 0; i < sizeof mix / sizeof mix[0]; i++) {
        for (size_t k = 0; k < mix[i].count; k++) {
            errno = 0;
            void *p = malloc(mix[i].n);
            CHECK(p,
                  "cycle %d: malloc(%zu) #%zu failed after everything was freed "
                  "(%zu MiB live)",
                  cycle, mix[i].n, k, live_bytes >> 20);
            block_init(p, mix[i].n);
            push(p, mix[i].n);
        }
    }
    size_t total = live_bytes;
    free_all("block of the refill check");
    tu_msg("  cycle %d: %zu MiB allocated again after freeing: ok\n", cycle, total >> 20);
}

int main(void)
{
    tu_init();
    /* warm up every path before the limit (lazy initialization, stdio) */
    for (int e = 0; e < E_COUNT; e++)
        for (size_t s = 0; s < NSIZES; s++) {
            void *p = alloc_one((enum entry)e, sizes[s]);
            CHECK(p, "warm-up %s(%zu) failed", entry_name[e], sizes[s]);
            push(p, sizes[s]);
        }
    free_all("warm-up block");
    printf("oom: warm-up done\n");
    fflush(stdout);

    size_t vm = tu_vmsize_bytes();
    CHECK(vm > 0, "cannot read VmSize from /proc/self/status");
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_AS, &rl) == 0, "getrlimit failed");
    rl.rlim_cur = vm + BUDGET;
    CHECK(setrlimit(RLIMIT_AS, &rl) == 0, "setrlimit(RLIMIT_AS) failed");
    tu_msg("oom: VmSize %zu MiB, RLIMIT_AS %zu MiB\n", vm >> 20, (size_t)rl.rlim_cur >> 20);

    double t0 = tu_now();
    for (int cycle = 0; cycle < CYCLES; cycle++) {
        for (int e = 0; e < E_COUNT; e++) {
            fill_phase(cycle, (enum entry)e);
            refill_check(cycle);
        }
    }
    tu_msg("oom: ok (%.2fs)\n", tu_now() - t0);
    return 0;
}
