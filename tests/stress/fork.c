/* fork.c — fork() while other threads allocate.
 *
 * 4 background threads allocate, realloc and free continuously (contents
 * checked) and publish blocks in shared slots; every fork happens while all
 * of them are busy (they pause while the child runs, to keep the test short
 * on 2 cores).  One of them also keeps starting short-lived threads, so
 * thread exits race with the forks as well.  The main thread forks NFORKS
 * times (default 100, times HK_TEST_SCALE).  Each child, under alarm() so a
 * deadlock shows up as SIGALRM:
 *   - verifies and frees blocks the parent's threads had published (their
 *     owners do not exist in the child) and blocks main allocated before fork,
 *   - allocates, reallocs and frees a variety of sizes (tiny .. 8 MiB),
 *   - every 4th child starts a thread that allocates, and joins it (not
 *     under the sanitizers: TSan does not follow a thread started there,
 *     and ASan's own allocator can be left locked by a parent's thread),
 *   - every 25th child forks a grandchild that allocates,
 * then _exit(0).  pthread_atfork handlers that malloc/free run around every
 * fork.  The parent checks that every child exited with status 0.
 */
#include "../testutil.h"

#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sched.h>
#include <sys/wait.h>

#define NBG 4
#define NSLOTS 512
#define CHILD_ALARM 60 /* a deadlock never ends; a child on a loaded machine can take seconds */

struct blk {
    void *p;
    size_t n;
    uint32_t seed;
};

/* Shared slots hold pointers to struct blk (heap-allocated too). */
static _Atomic(struct blk *) slots[NSLOTS];
static atomic_int stop;
/* While a child runs, the background threads pause (2 cores: otherwise the
 * child gets a fifth of a CPU); main waits until each of them has done a
 * batch again before the next fork, so every fork happens mid-allocation. */
static atomic_int paused;
static atomic_long bg_batches[NBG];
static atomic_long bg_ops;
static atomic_int atfork_prepare_n, atfork_parent_n, atfork_child_n;

/* Mostly tiny, some mid, few large (up to 1 MiB); huge blocks are only
 * allocated in the children (see child_work). */
static size_t pick_size(uint64_t *rs)
{
    uint64_t r = tu_rand(rs) % 1000;
    if (r < 880)
        return (size_t)tu_rand_range(rs, 1, 1024);
    if (r < 995)
        return (size_t)tu_rand_range(rs, 1025, 64 * 1024);
    return (size_t)tu_rand_range(rs, 64 * 1024, 1024 * 1024);
}

static struct blk *blk_new(uint64_t *rs, size_t n)
{
    struct blk *b = malloc(sizeof *b);
    CHECK(b, "malloc(struct blk) failed");
    b->n = n;
    b->seed = (uint32_t)tu_rand(rs);
    b->p = malloc(n);
    CHECK(b->p, "malloc(%zu) failed", n);
    tu_fill(b->p, n, b->seed);
    return b;
}

static void blk_free(struct blk *b, const char *what)
{
    CHECK(malloc_usable_size(b->p) >= b->n, "%s: usable size < %zu", what, b->n);
    CHECK_PATTERN(b->p, b->n, b->seed, what);
    free(b->p);
    free(b);
}

/* Short-lived thread started by background thread 3: thread exits (heap
 * teardown) happen concurrently with the forks too. */
static void *short_thread(void *arg)
{
    uint64_t rs = (uint64_t)(uintptr_t)arg;
    struct blk *b[32];
    for (int i = 0; i < 32; i++)
        b[i] = blk_new(&rs, pick_size(&rs));
    for (int i = 0; i < 32; i++) {
        if (i % 4 == 0) {
            /* leave it to the others */
            struct blk *o = atomic_exchange(&slots[tu_rand(&rs) % NSLOTS], b[i]);
            if (o)
                blk_free(o, "displaced shared block");
        } else {
            blk_free(b[i], "short-lived thread's block");
        }
    }
    return NULL;
}

static void *bg_thread(void *arg)
{
    int id = (int)(intptr_t)arg;
    uint64_t rs = 0xF0F00000ull + (uint64_t)id;
    enum { L = 64 };
    struct blk *loc[L] = {0};
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        if (atomic_load_explicit(&paused, memory_order_relaxed)) {
            usleep(100);
            continue;
        }
        for (int k = 0; k < 32; k++) {
            uint64_t r = tu_rand(&rs) % 10;
            if (r < 4) {
                size_t i = (size_t)(tu_rand(&rs) % L);
                if (loc[i]) {
                    blk_free(loc[i], "background local block");
                    loc[i] = NULL;
                } else {
                    loc[i] = blk_new(&rs, pick_size(&rs));
                }
            } else if (r < 6) {
                size_t i = (size_t)(tu_rand(&rs) % L);
                if (loc[i]) {
                    struct blk *b = loc[i];
                    CHECK_PATTERN(b->p, b->n, b->seed, "background block before realloc");
                    size_t m = pick_size(&rs);
                    uintptr_t old = (uintptr_t)b->p;
                    void *q = realloc(b->p, m);
                    CHECK(q, "realloc(%zu) failed", m);
                    CHECK_PATTERN_AS(q, b->n < m ? b->n : m, b->seed, old,
                                     "background realloc contents");
                    b->p = q;
                    b->n = m;
                    tu_fill(q, m, b->seed);
                }
            } else {
                /* publish a new block; free the displaced one */
                struct blk *b = blk_new(&rs, pick_size(&rs));
                struct blk *o = atomic_exchange(&slots[tu_rand(&rs) % NSLOTS], b);
                if (o)
                    blk_free(o, "displaced shared block");
            }
        }
        if (id == NBG - 1) {
            pthread_t t;
            int e = pthread_create(&t, NULL, short_thread, (void *)(uintptr_t)tu_rand(&rs));
            CHECK(e == 0, "pthread_create failed: %d", e);
            pthread_join(t, NULL);
        }
        atomic_fetch_add_explicit(&bg_ops, 32, memory_order_relaxed);
        atomic_fetch_add_explicit(&bg_batches[id], 1, memory_order_release);
    }
    for (int i = 0; i < L; i++)
        if (loc[i])
            blk_free(loc[i], "background block at exit");
    return NULL;
}

/* atfork handlers that use the allocator (glibc allows this). */
static void *atfork_block;
static void at_prepare(void)
{
    atfork_block = malloc(100);
    if (atfork_block)
        memset(atfork_block, 0x11, 100);
    atomic_fetch_add(&atfork_prepare_n, 1);
}
static void at_parent(void)
{
    free(atfork_block);
    atfork_block = NULL;
    void *q = malloc(5000);
    free(q);
    atomic_fetch_add(&atfork_parent_n, 1);
}
static void at_child(void)
{
    free(atfork_block);
    atfork_block = NULL;
    void *q = malloc(5000);
    if (q)
        memset(q, 2, 5000);
    free(q);
    atomic_fetch_add(&atfork_child_n, 1);
}

static void *child_thread(void *arg)
{
    uint64_t rs = (uint64_t)(intptr_t)arg;
    for (int i = 0; i < 200; i++) {
        struct blk *b = blk_new(&rs, pick_size(&rs));
        blk_free(b, "block of a thread in the child");
    }
    return NULL;
}

static void child_work(uint64_t seed, struct blk **mine, int nmine, int do_thread,
                       int do_grandchild)
{
    uint64_t rs = seed;
    CHECK(atomic_load(&atfork_child_n) > 0, "child: atfork child handler did not run");
    /* blocks published by the parent's threads: their owners don't exist here */
    for (size_t i = 0; i < NSLOTS; i += 3) {
        struct blk *b = atomic_exchange(&slots[i], NULL);
        if (b) {
            blk_free(b, "child: block published by a parent thread");
        }
    }
    /* blocks main allocated before fork */
    for (int i = 0; i < nmine; i++) {
        blk_free(mine[i], "child: block allocated by main before fork");
        mine[i] = NULL;
    }
    /* fresh allocations of every kind */
    struct blk *b[64];
    for (int i = 0; i < 64; i++)
        b[i] = blk_new(&rs, pick_size(&rs));
    /* large blocks (grown by realloc): huge ones in every 5th child only */
    static const size_t big[] = {100000, TU_MiB, 4 * TU_MiB};
    for (size_t i = 0; i < (seed % 5 == 0 ? 3u : 2u); i++) {
        struct blk *x = blk_new(&rs, big[i]);
        uintptr_t old = (uintptr_t)x->p;
        void *q = realloc(x->p, big[i] * 2);
        CHECK(q, "child: realloc to %zu failed", big[i] * 2);
        CHECK_PATTERN_AS(q, big[i], x->seed, old, "child: realloc contents");
        x->p = q;
        x->n = big[i] * 2;
        tu_fill(q, x->n, x->seed);
        blk_free(x, "child: large block");
    }
    void *a = aligned_alloc(4096, 12345);
    CHECK(a && ((uintptr_t)a & 4095) == 0, "child: aligned_alloc failed");
    free(a);
    void *c = calloc(1000, 10);
    CHECK(c && tu_check_bytes(c, 10000, 0) == SIZE_MAX, "child: calloc failed");
    free(c);
    if (do_thread && !TU_SANITIZER) {
        pthread_t t;
        CHECK(pthread_create(&t, NULL, child_thread, (void *)(intptr_t)(seed + 1)) == 0,
              "child: pthread_create failed");
        pthread_join(t, NULL);
    }
    if (do_grandchild) {
        pid_t g = fork();
        CHECK(g >= 0, "child: fork failed");
        if (g == 0) {
            alarm(CHILD_ALARM);
            for (int i = 0; i < 100; i++) {
                struct blk *x = blk_new(&rs, pick_size(&rs));
                blk_free(x, "grandchild block");
            }
            _exit(0);
        }
        int st;
        CHECK(waitpid(g, &st, 0) == g, "child: waitpid failed");
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "grandchild failed: status 0x%x", st);
    }
    for (int i = 0; i < 64; i++)
        blk_free(b[i], "child: fresh block");
}

int main(void)
{
    tu_init();
    long nforks = tu_scaled(100, 10);
    /* use the allocator before registering the handlers */
    void *warm = malloc(64);
    free(warm);
    CHECK(pthread_atfork(at_prepare, at_parent, at_child) == 0, "pthread_atfork failed");
    printf("fork: %ld forks while %d threads allocate\n", nforks, NBG);
    double t0 = tu_now();
    pthread_t bg[NBG];
    for (int i = 0; i < NBG; i++)
        CHECK(pthread_create(&bg[i], NULL, bg_thread, (void *)(intptr_t)i) == 0,
              "pthread_create failed");
    uint64_t rs = 0xF00Dull;
    enum { MINE = 16 };
    struct blk *mine[MINE];
    for (long f = 0; f < nforks; f++) {
        for (int i = 0; i < MINE; i++)
            mine[i] = blk_new(&rs, pick_size(&rs));
        /* every background thread is busy again */
        long seen[NBG];
        for (int i = 0; i < NBG; i++)
            seen[i] = atomic_load(&bg_batches[i]);
        atomic_store(&paused, 0);
        double t_wait = tu_now();
        for (int i = 0; i < NBG; i++)
            while (atomic_load(&bg_batches[i]) < seen[i] + 1) {
                CHECK(tu_now() - t_wait < 60,
                      "background thread %d made no progress for 60 s (deadlock?)", i);
                sched_yield();
            }
        pid_t pid = fork();
        CHECK(pid >= 0, "fork #%ld failed", f);
        if (pid == 0) {
            alarm(CHILD_ALARM);
            child_work(0xC41D0000ull + (uint64_t)f, mine, MINE, f % 4 == 0, f % 25 == 0);
            _exit(0);
        }
        atomic_store(&paused, 1);
        /* parent: its own copies of the blocks are still intact */
        for (int i = 0; i < MINE; i++)
            blk_free(mine[i], "parent: block after fork");
        int st = 0;
        pid_t w;
        do
            w = waitpid(pid, &st, 0);
        while (w < 0 && errno == EINTR);
        CHECK(w == pid, "waitpid failed");
        if (WIFSIGNALED(st)) {
            CHECK(0, "child #%ld killed by signal %d (%s)%s", f, WTERMSIG(st),
                  strsignal(WTERMSIG(st)),
                  WTERMSIG(st) == SIGALRM ? ": deadlocked after fork" : "");
        }
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child #%ld exited with status %d", f,
              WEXITSTATUS(st));
        if (f % 50 == 49)
            printf("  %ld forks done (%.2fs), background ops %ld\n", f + 1, tu_now() - t0,
                   atomic_load(&bg_ops));
    }
    atomic_store(&paused, 0);
    atomic_store(&stop, 1);
    for (int i = 0; i < NBG; i++)
        pthread_join(bg[i], NULL);
    for (size_t i = 0; i < NSLOTS; i++) {
        struct blk *b = atomic_exchange(&slots[i], NULL);
        if (b)
            blk_free(b, "shared block at the end");
    }
    CHECK(atomic_load(&atfork_prepare_n) == nforks && atomic_load(&atfork_parent_n) == nforks,
          "atfork handlers ran %d/%d times, want %ld", atomic_load(&atfork_prepare_n),
          atomic_load(&atfork_parent_n), nforks);
    printf("fork: %ld children ok, %ld background ops, %.2fs\n", nforks, atomic_load(&bg_ops),
           tu_now() - t0);
    printf("fork: ok\n");
    return 0;
}
