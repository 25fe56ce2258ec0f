/* ace.c — hakmem's adaptive layer (src/ace.c): its lifecycle and what it
 * gives back, read from hak_stats_get and /proc.
 *
 *  - minimal and fast: the thread never starts, whatever is freed.
 *  - balanced, learning, research (HAKMEM_ACE_THREAD=auto, the default): a
 *    single-threaded program that frees 64 MiB gets no thread (the layer
 *    runs on its calls); once a second thread of its own has a heap, freeing 64 MiB
 *    starts the thread, named "hakmem-ace"; when that second thread is
 *    joined, the thread ends.  HAKMEM_ACE_THREAD=on: the thread starts in
 *    the single-threaded program too; off: never.
 *  - decay purge: the 64 MiB freed leave the resident set (/proc/self/statm)
 *    without any allocator call, within the purge delay and a few epochs,
 *    and ace_purged_bytes counts them.
 *  - idle trim (balanced): a thread keeps one block in each of its
 *    SuperSlabs and frees the rest (~48 MiB, more than the 8 MiB a heap
 *    retains), then sleeps: once idle, its retained free memory goes back
 *    too (ace_trimmed_bytes grows by at least 4 MiB, the resident set drops).
 *  - fork: the child starts without the thread and starts its own when it
 *    frees memory; the parent's keeps running (its epochs advance).
 *  - exit: a process whose thread is busy purging, with another thread
 *    churning large blocks, exits at once with status 0.
 *  - learning modes: the strategies are scored while the program allocates.
 * This test needs hakmem and fails without it.
 */
#include "../testutil.h"

#include <dirent.h>
#include <stdbool.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define MiB ((size_t)1 << 20)

static struct hak_stats st;
static double t_start;
static bool thread_on; /* HAKMEM_ACE_THREAD=on */

static const struct hak_stats *stats(void)
{
    memset(&st, 0, sizeof st);
    CHECK(hk.stats_get(&st, sizeof st) == 0, "hak_stats_get failed");
    CHECK(st.size == sizeof st, "hak_stats_get filled %zu bytes, expected %zu", st.size, sizeof st);
    return &st;
}

/* Threads of this process named hakmem-ace (/proc/self/task/TID/comm). */
static int ace_threads(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    CHECK(d != NULL, "opendir /proc/self/task");
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[64], comm[32] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            continue;
        ssize_t r = read(fd, comm, sizeof comm - 1);
        close(fd);
        if (r > 0 && strncmp(comm, "hakmem-ace", 10) == 0)
            n++;
    }
    closedir(d);
    return n;
}

/* Wait (at most ms) until the thread's state is `want`. */
static bool wait_state(uint32_t want, long ms)
{
    for (long t = 0; t <= ms; t += 10) {
        if (stats()->ace_state == want)
            return true;
        tu_sleep_ms(10);
    }
    return false;
}

/* `bytes` worth of blocks of `size` bytes, every byte written. */
static void **alloc_blocks(size_t bytes, size_t size, size_t *count)
{
    size_t n = bytes / size;
    void **v =
        mmap(NULL, n * sizeof *v, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(v != MAP_FAILED, "mmap");
    for (size_t i = 0; i < n; i++) {
        v[i] = malloc(size);
        CHECK(v[i] != NULL, "malloc(%zu)", size);
        memset(v[i], (int)i, size);
    }
    *count = n;
    return v;
}

static void free_blocks(void **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    munmap(v, n * sizeof *v);
}

/* ---- idle trim ---------------------------------------------------------------- */

static pthread_mutex_t idle_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle_cond = PTHREAD_COND_INITIALIZER;
static int idle_phase; /* 1: the thread's blocks are freed; 2: it may exit */

static void *idle_thread(void *arg)
{
    (void)arg;
    size_t n;
    void **v = alloc_blocks(48 * MiB, 16384, &n);
    /* keep the first block of every 2 MiB SuperSlab: none goes back whole */
    uintptr_t last = 0;
    size_t kept = 0;
    void **keep =
        mmap(NULL, n * sizeof *keep, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(keep != MAP_FAILED, "mmap");
    for (size_t i = 0; i < n; i++) {
        uintptr_t ss = (uintptr_t)v[i] >> 21;
        if (ss != last) {
            keep[kept++] = v[i];
            last = ss;
        } else {
            free(v[i]);
        }
    }
    pthread_mutex_lock(&idle_lock);
    idle_phase = 1;
    pthread_cond_broadcast(&idle_cond);
    while (idle_phase != 2) /* idle: no allocator call while it waits */
        pthread_cond_wait(&idle_cond, &idle_lock);
    pthread_mutex_unlock(&idle_lock);
    for (size_t i = 0; i < kept; i++)
        free(keep[i]);
    munmap(keep, n * sizeof *keep);
    munmap(v, n * sizeof *v);
    return NULL;
}

static void check_idle_trim(void)
{
    pthread_t t;
    uint64_t trimmed0 = stats()->ace_trimmed_bytes;
    CHECK(pthread_create(&t, NULL, idle_thread, NULL) == 0, "pthread_create");
    pthread_mutex_lock(&idle_lock);
    while (idle_phase != 1)
        pthread_cond_wait(&idle_cond, &idle_lock);
    pthread_mutex_unlock(&idle_lock);
    tu_sleep_ms(400); /* the decay brings the heap down to what it retains */
    size_t rss0 = tu_rss_bytes();
    uint64_t trimmed = 0;
    for (int i = 0; i < 500 && trimmed < 4 * MiB; i++) { /* idle after 1 s in balanced */
        tu_sleep_ms(10);
        trimmed = stats()->ace_trimmed_bytes - trimmed0;
    }
    size_t rss1 = tu_rss_bytes();
    printf("ace: idle trim gave back %.1f MiB; resident %.1f -> %.1f MiB\n", (double)trimmed / MiB,
           (double)rss0 / MiB, (double)rss1 / MiB);
    CHECK(trimmed >= 4 * MiB, "idle trim: %llu bytes trimmed in 5 s, expected >= 4 MiB",
          (unsigned long long)trimmed);
    CHECK(rss1 + 4 * MiB <= rss0, "idle trim: resident %zu -> %zu bytes, expected a 4 MiB drop",
          rss0, rss1);
    pthread_mutex_lock(&idle_lock);
    idle_phase = 2;
    pthread_cond_broadcast(&idle_cond);
    pthread_mutex_unlock(&idle_lock);
    CHECK(pthread_join(t, NULL) == 0, "pthread_join");
}

/* ---- a second thread of the program ---------------------------------------------- */

static pthread_mutex_t park_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t park_cond = PTHREAD_COND_INITIALIZER;
static int park_phase; /* 1: it has a heap; 2: it may exit */

static void *parked(void *arg)
{
    (void)arg;
    free(malloc(64)); /* a heap of its own */
    pthread_mutex_lock(&park_lock);
    park_phase = 1;
    pthread_cond_broadcast(&park_cond);
    while (park_phase != 2)
        pthread_cond_wait(&park_cond, &park_lock);
    pthread_mutex_unlock(&park_lock);
    return NULL;
}

static pthread_t park_start(void)
{
    pthread_t t;
    park_phase = 0;
    CHECK(pthread_create(&t, NULL, parked, NULL) == 0, "pthread_create");
    pthread_mutex_lock(&park_lock);
    while (park_phase != 1)
        pthread_cond_wait(&park_cond, &park_lock);
    pthread_mutex_unlock(&park_lock);
    return t;
}

static void park_end(pthread_t t)
{
    pthread_mutex_lock(&park_lock);
    park_phase = 2;
    pthread_cond_broadcast(&park_cond);
    pthread_mutex_unlock(&park_lock);
    CHECK(pthread_join(t, NULL) == 0, "pthread_join");
}

/* ---- fork and exit ----------------------------------------------------------------- */

static void check_fork(void)
{
    uint64_t epochs = stats()->ace_epochs;
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        CHECK(stats()->ace_state == HAK_ACE_NOT_STARTED,
              "child: ace_state %u right after fork, expected not started", st.ace_state);
        CHECK(ace_threads() == 0, "child: a hakmem-ace thread right after fork");
        size_t n;
        void **v = alloc_blocks(16 * MiB, 4000, &n);
        free_blocks(v, n);
        if (!thread_on) { /* one thread: none of hakmem's until a second one */
            pthread_mutex_init(&park_lock, NULL); /* the parent's thread waits on them */
            pthread_cond_init(&park_cond, NULL);
            tu_sleep_ms(100);
            CHECK(ace_threads() == 0, "child: a hakmem-ace thread with one thread");
            pthread_t t = park_start();
            v = alloc_blocks(16 * MiB, 4000, &n);
            free_blocks(v, n);
            park_end(t);
            exit(0);
        }
        CHECK(wait_state(HAK_ACE_RUNNING, 2000), "child: the thread did not start (state %u)",
              st.ace_state);
        CHECK(ace_threads() == 1, "child: %d hakmem-ace threads", ace_threads());
        exit(0);
    }
    int rc = tu_wait_child(pid, 20);
    CHECK(rc == 0, "fork: the child ended with %d", rc);
    CHECK(stats()->ace_state == HAK_ACE_RUNNING, "parent: ace_state %u after fork", st.ace_state);
    CHECK(ace_threads() == 1, "parent: %d hakmem-ace threads after fork", ace_threads());
    bool moved = false;
    for (int i = 0; i < 300 && !moved; i++) { /* lazy epochs: up to a second apart */
        tu_sleep_ms(10);
        moved = stats()->ace_epochs > epochs;
    }
    CHECK(moved, "parent: no epoch after fork (%llu)", (unsigned long long)epochs);
}

static void *churn(void *arg)
{
    (void)arg;
    for (;;) {
        void *p[16];
        for (int i = 0; i < 16; i++) {
            p[i] = malloc(3 * MiB);
            CHECK(p[i] != NULL, "malloc");
            memset(p[i], 1, 4096);
        }
        for (int i = 0; i < 16; i++)
            free(p[i]);
    }
    return NULL;
}

static void check_exit(void)
{
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        size_t n;
        void **v = alloc_blocks(32 * MiB, 4000, &n);
        free_blocks(v, n);
        pthread_t t;
        CHECK(pthread_create(&t, NULL, churn, NULL) == 0, "pthread_create");
        tu_sleep_ms(300);
        exit(0); /* the adaptive thread is stopped and joined */
    }
    int rc = tu_wait_child(pid, 10);
    CHECK(rc == 0, "exit: the child ended with %d (-1: still running after 10 s)", rc);
}

/* ---- learning -------------------------------------------------------------------- */

static void check_learning(void)
{
    double t0 = tu_now();
    void *p[256] = {0};
    unsigned x = 1;
    while (tu_now() - t0 < 2.0) { /* a steady churn of small and mid blocks */
        for (int i = 0; i < 100000; i++) {
            x = x * 1103515245u + 12345u;
            unsigned k = (x >> 8) & 255;
            free(p[k]);
            p[k] = malloc(16 + (x >> 16) % 4000);
        }
    }
    for (int k = 0; k < 256; k++)
        free(p[k]);
    const struct hak_stats *s = stats();
    CHECK(s->nstrategies == 4, "learning: %u strategies", s->nstrategies);
    uint64_t plays = 0;
    unsigned played = 0;
    for (unsigned i = 0; i < s->nstrategies; i++) {
        const struct hak_stats_strategy *k = &s->strategies[i];
        CHECK(k->rating > 1000 && k->rating < 2000, "learning: %s rated %f", k->name, k->rating);
        plays += k->plays;
        played += k->plays > 0;
    }
    CHECK(s->ace_leader < s->nstrategies && s->strategies[s->ace_leader].alive,
          "learning: leader %u", s->ace_leader);
    for (unsigned i = 0; i < s->nstrategies; i++) /* the leader is the best rated alive */
        CHECK(!s->strategies[i].alive ||
                  s->strategies[i].rating <= s->strategies[s->ace_leader].rating,
              "learning: %s rated above the leader %s", s->strategies[i].name,
              s->strategies[s->ace_leader].name);
    CHECK(s->ace_learning != 2 || s->ace_leader == s->ace_strategy,
          "learning: frozen on %u, leader %u", s->ace_strategy, s->ace_leader);
    printf("ace: learning, %llu epochs scored, %u strategies played, now %s, leading %s\n",
           (unsigned long long)plays, played, s->strategies[s->ace_strategy].name,
           s->strategies[s->ace_leader].name);
    CHECK(plays >= 8 && played >= 2, "learning: %llu epochs scored, %u strategies played in 2 s",
          (unsigned long long)plays, played);
}

int main(void)
{
    tu_init();
    t_start = tu_now();
    hk_require("ace");
    unsigned mode = stats()->mode;
    const char *knob = getenv("HAKMEM_ACE_THREAD");
    thread_on = knob && strcmp(knob, "on") == 0;
    bool layer = mode >= HAK_MODE_BALANCED, learning = mode >= HAK_MODE_LEARNING;
    bool thread = layer && !(knob && strcmp(knob, "off") == 0);
    printf("ace: mode %s, HAKMEM_ACE_THREAD=%s\n", tu_mode_names[mode], knob ? knob : "(auto)");
    CHECK(st.ace_state == (layer ? HAK_ACE_ON_CALLS : HAK_ACE_OFF),
          "ace_state %u before anything was freed", st.ace_state);
    CHECK(ace_threads() == 0, "a hakmem-ace thread before anything was freed");

    /* one thread of the program: no thread of hakmem's (auto) */
    size_t base = tu_rss_bytes(), n;
    void **v = alloc_blocks(64 * MiB, 4000, &n);
    size_t full = tu_rss_bytes();
    free_blocks(v, n);
    if (!thread_on) {
        tu_sleep_ms(200);
        size_t rss = tu_rss_bytes();
        CHECK(stats()->ace_state == (layer ? HAK_ACE_ON_CALLS : HAK_ACE_OFF),
              "one thread, mode %s: ace_state %u", tu_mode_names[mode], st.ace_state);
        CHECK(ace_threads() == 0, "one thread, mode %s: a hakmem-ace thread", tu_mode_names[mode]);
        printf("ace: one thread: resident %.1f MiB at start, %.1f with 64 MiB in use, %.1f after "
               "the free\n",
               (double)base / MiB, (double)full / MiB, (double)rss / MiB);
        if (!thread) {
            printf("ace: no thread in mode %s, ok (%.1f s)\n", tu_mode_names[mode],
                   tu_now() - t_start);
            return 0;
        }
    }

    /* a second thread of the program (auto): the next free starts it */
    pthread_t second = park_start();
    if (!thread_on) { /* (base: what the program held before the first 64 MiB) */
        v = alloc_blocks(64 * MiB, 4000, &n);
        full = tu_rss_bytes();
        free_blocks(v, n);
    }
    CHECK(wait_state(HAK_ACE_RUNNING, 1000), "the thread did not start (state %u)", st.ace_state);
    CHECK(ace_threads() == 1, "%d hakmem-ace threads", ace_threads());
    CHECK(st.ace_threads_started == 1, "the thread started %llu times",
          (unsigned long long)st.ace_threads_started);

    /* decay purge: the freed memory leaves the resident set, nobody calling */
    long wait = learning ? 15000 : 5000; /* a learning strategy may wait 5 s */
    size_t rss = full;
    for (long t = 0; t < wait && rss > base + 8 * MiB; t += 10) {
        tu_sleep_ms(10);
        rss = tu_rss_bytes();
    }
    printf("ace: resident %.1f MiB at start, %.1f with 64 MiB in use, %.1f after the decay; "
           "purged %.1f MiB\n",
           (double)base / MiB, (double)full / MiB, (double)rss / MiB,
           (double)stats()->ace_purged_bytes / MiB);
    CHECK(rss <= base + 8 * MiB, "decay: resident %zu bytes, %zu at start", rss, base);
    CHECK(st.ace_purged_bytes >= 32 * MiB, "decay: the thread purged %llu bytes",
          (unsigned long long)st.ace_purged_bytes);

    if (mode == HAK_MODE_BALANCED)
        check_idle_trim();
    check_fork();
    check_exit();
    if (learning)
        check_learning();

    /* the second thread leaves: so does hakmem's (auto) */
    park_end(second);
    if (!thread_on) {
        bool gone = false;
        for (int i = 0; i < 200 && !gone; i++) {
            gone = ace_threads() == 0 && stats()->ace_state == HAK_ACE_ON_CALLS;
            if (!gone)
                tu_sleep_ms(10);
        }
        CHECK(gone, "the thread still runs (%d, state %u) 2 s after the second thread left",
              ace_threads(), st.ace_state);
    }
    printf("ace: ok (%.1f s)\n", tu_now() - t_start);
    return 0;
}
