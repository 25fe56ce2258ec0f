/* ace_thread.c — hakmem's adaptive thread is invisible to the program
 * (issue 22).  Each case runs in a child process, waited for with a limit:
 *
 *  - main_exit: memory freed by the main thread and a worker (so the thread
 *    would run), then main calls pthread_exit: the process ends with status
 *    0 when the worker returns.
 *  - fork_worker: a worker forks; in the child, its only thread frees
 *    memory, starts a thread that frees memory too, and returns: the child
 *    ends with status 0 when that thread returns.
 *  - sigterm: two workers free memory and block in pause(), main calls
 *    pthread_exit: SIGTERM ends the process.
 *  - single: a program that never started a thread frees 64 MiB and idles:
 *    it has one thread (/proc/self/task), the adaptive layer (if the mode
 *    has one) runs on its calls, and unshare(CLONE_NEWUSER) succeeds
 *    (skipped where the kernel forbids user namespaces).
 *  - rejoined: three threads free memory (the thread starts: auto), two are
 *    joined: within two seconds the process is single-threaded again and
 *    unshare(CLONE_NEWUSER) succeeds.
 * HAKMEM_ACE_THREAD (off, auto, on) sets what single and rejoined expect:
 * with `on` the thread runs in a single-threaded program too (both skipped).
 * This test needs hakmem and fails without it. */
#include "../testutil.h"

#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>

#define MiB ((size_t)1 << 20)
#define SKIP 77

static struct hak_stats st;
static unsigned mode;
static const char *thread_knob = "auto";

static const struct hak_stats *stats(void)
{
    memset(&st, 0, sizeof st);
    CHECK(hk.stats_get(&st, sizeof st) == 0, "hak_stats_get failed");
    return &st;
}

static int task_count(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    CHECK(d != NULL, "opendir /proc/self/task");
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* `bytes` of 4000 B blocks, written, then freed (enough to start the thread). */
static void churn(size_t bytes)
{
    size_t n = bytes / 4000;
    void **v = malloc(n * sizeof *v);
    CHECK(v != NULL, "malloc");
    for (size_t i = 0; i < n; i++) {
        v[i] = malloc(4000);
        CHECK(v[i] != NULL, "malloc(4000)");
        memset(v[i], (int)i, 4000);
    }
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Run fn in a child; its exit status (128 + signal if killed), or -1 if it
 * was still running after `seconds` (then it is killed). */
static int in_child(void (*fn)(void), int seconds, pid_t *pid_out)
{
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        fn();
        _exit(0);
    }
    if (pid_out)
        *pid_out = pid;
    return tu_wait_child(pid, seconds);
}

/* ---- main_exit ------------------------------------------------------------------ */

static void *worker_frees(void *arg)
{
    churn(16 * MiB);
    tu_sleep_ms((long)(intptr_t)arg);
    churn(4 * MiB);
    return NULL;
}

static void main_exit(void)
{
    churn(16 * MiB);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, worker_frees, (void *)(intptr_t)300) == 0, "pthread_create");
    tu_sleep_ms(100);
    pthread_exit(NULL);
}

/* ---- fork_worker ---------------------------------------------------------------- */

static int fork_result = -2;

static void child_of_worker(void)
{
    churn(16 * MiB);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, worker_frees, (void *)(intptr_t)200) == 0, "pthread_create");
    tu_sleep_ms(50);
    /* return from the forking worker's start routine: pthread_exit here */
}

static void *forking_worker(void *arg)
{
    (void)arg;
    churn(8 * MiB);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        child_of_worker();
        return NULL; /* the child's only thread: the process ends with T */
    }
    fork_result = tu_wait_child(pid, 10);
    return NULL;
}

static void fork_worker(void)
{
    churn(16 * MiB);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, forking_worker, NULL) == 0, "pthread_create");
    CHECK(pthread_join(t, NULL) == 0, "pthread_join");
    CHECK(fork_result == 0,
          "fork_worker: the child forked from a worker ended with %d "
          "(-1: still running after 10 s)",
          fork_result);
}

/* ---- sigterm ---------------------------------------------------------------------- */

static void *worker_blocks(void *arg)
{
    (void)arg;
    churn(16 * MiB);
    for (;;)
        pause();
    return NULL;
}

static void blocked(void)
{
    churn(16 * MiB);
    for (int i = 0; i < 2; i++) {
        pthread_t t;
        CHECK(pthread_create(&t, NULL, worker_blocks, NULL) == 0, "pthread_create");
    }
    tu_sleep_ms(100);
    pthread_exit(NULL);
}

/* ---- single and rejoined ---------------------------------------------------------------- */

/* 0 done, SKIP if the kernel forbids user namespaces; fails on EINVAL (the
 * process is multi-threaded). */
static int try_unshare(const char *what)
{
    if (unshare(CLONE_NEWUSER) == 0)
        return 0;
    int err = errno;
    CHECK(err != EINVAL, "%s: unshare(CLONE_NEWUSER) failed with EINVAL (%d threads)", what,
          task_count());
    printf("ace_thread: %s: unshare(CLONE_NEWUSER) not allowed here (%s): skipped\n", what,
           strerror(err));
    return SKIP;
}

static void single(void)
{
    size_t base = tu_rss_bytes();
    size_t n = 64 * MiB / 4000;
    void **v = malloc(n * sizeof *v);
    CHECK(v != NULL, "malloc");
    for (size_t i = 0; i < n; i++) {
        v[i] = malloc(4000);
        CHECK(v[i] != NULL, "malloc");
        memset(v[i], 1, 4000);
    }
    size_t full = tu_rss_bytes();
    for (size_t i = 0; i < n; i += 2) /* every other block, then the rest */
        free(v[i]);
    for (size_t i = 1; i < n; i += 2)
        free(v[i]);
    free(v);
    tu_sleep_ms(300);
    size_t idle = tu_rss_bytes();
    const struct hak_stats *s = stats();
    printf("ace_thread: single: resident %.1f MiB at start, %.1f with 64 MiB in use, %.1f after "
           "the free and 300 ms idle; state %u\n",
           (double)base / MiB, (double)full / MiB, (double)idle / MiB, s->ace_state);
    CHECK(task_count() == 1, "single: %d threads in a program that started none", task_count());
    CHECK(s->ace_threads_started == 0, "single: the thread started %llu times",
          (unsigned long long)s->ace_threads_started);
    if (mode >= HAK_MODE_BALANCED)
        CHECK(s->ace_state == HAK_ACE_ON_CALLS, "single: ace_state %u", s->ace_state);
    exit(try_unshare("single"));
}

static void *waits(void *arg)
{
    churn(16 * MiB);
    tu_sleep_ms((long)(intptr_t)arg);
    return NULL;
}

static void rejoined(void)
{
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&t[i], NULL, waits, (void *)(intptr_t)400) == 0, "pthread_create");
    tu_sleep_ms(100);
    churn(16 * MiB);
    bool ran = false;
    for (int i = 0; i < 50 && !ran; i++) {
        ran = stats()->ace_state == HAK_ACE_RUNNING;
        tu_sleep_ms(5);
    }
    if (mode >= HAK_MODE_BALANCED && strcmp(thread_knob, "auto") == 0)
        CHECK(ran, "rejoined: the thread did not start with three threads (state %u)",
              st.ace_state);
    for (int i = 0; i < 2; i++)
        CHECK(pthread_join(t[i], NULL) == 0, "pthread_join");
    int n = task_count();
    for (int i = 0; i < 200 && n > 1; i++) {
        tu_sleep_ms(10);
        n = task_count();
    }
    printf("ace_thread: rejoined: thread %s, %d thread(s) after the joins\n",
           ran ? "ran" : "did not run", n);
    CHECK(n == 1, "rejoined: %d threads 2 s after the last join", n);
    exit(try_unshare("rejoined"));
}

/* ---- main ----------------------------------------------------------------------------- */

static void expect(const char *name, void (*fn)(void), int want, int seconds)
{
    double t0 = tu_now();
    pid_t pid;
    int rc = in_child(fn, seconds, &pid);
    if (rc == SKIP && want == 0) {
        printf("ace_thread: %s skipped (%.2f s)\n", name, tu_now() - t0);
        return;
    }
    CHECK(rc == want, "%s: the child ended with %d, expected %d (-1: still running after %d s)",
          name, rc, want, seconds);
    printf("ace_thread: %s ok (%.2f s)\n", name, tu_now() - t0);
}

static void sigterm_case(void)
{
    double t0 = tu_now();
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        blocked();
        _exit(1);
    }
    tu_sleep_ms(400);
    CHECK(kill(pid, SIGTERM) == 0, "kill");
    int status = 0;
    pid_t r = 0;
    for (int t = 0; t < 500 && r == 0; t++) {
        r = waitpid(pid, &status, WNOHANG);
        if (r == 0)
            tu_sleep_ms(10);
    }
    if (r == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    CHECK(r == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM,
          "sigterm: the process did not end by SIGTERM within 5 s");
    printf("ace_thread: sigterm ok (%.2f s)\n", tu_now() - t0);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0); /* nothing buffered twice by fork */
    tu_init();
    hk_require("ace_thread");
    mode = stats()->mode;
    const char *k = getenv("HAKMEM_ACE_THREAD");
    if (k && (strcmp(k, "off") == 0 || strcmp(k, "on") == 0))
        thread_knob = k;
    printf("ace_thread: mode %s, HAKMEM_ACE_THREAD=%s\n", tu_mode_names[mode], thread_knob);
    expect("main_exit", main_exit, 0, 5);
    expect("fork_worker", fork_worker, 0, 15);
    sigterm_case();
    if (strcmp(thread_knob, "on") != 0) {
        expect("single", single, 0, 10);
        expect("rejoined", rejoined, 0, 10);
    }
    printf("ace_thread: ok\n");
    return 0;
}
