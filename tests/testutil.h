/* testutil.h — shared helpers for hakmem's API and stress test programs.
 *
 * Every program under tests/api/ and tests/stress/ is built three ways (see
 * the Makefile): plain (run with LD_PRELOAD=libhakmem.so), linked with
 * build/libhakmem.a (-DHK_LINKED=1) and linked with the debug library.
 *
 *   CHECK(cond, fmt, ...)   on failure prints "FAIL file:line: message" to
 *                           stderr and exits 1 (safe from any thread, and it
 *                           does not allocate).
 *   tu_fill / tu_check      address-derived byte pattern:
 *                             byte i = ((addr >> 4) * 31 + i * 7 + seed)
 *                           tu_fill_as / tu_check_as take the address the
 *                           pattern was derived from (for moved blocks).
 *   CHECK_PATTERN(...)      tu_check with a good failure message.
 *   hk_load / hk_require    hakmem's own API (hak_*, the hak_stats_*
 *                           functions included): direct calls when linked
 *                           (-DHK_LINKED=1), otherwise dlsym().
 *   tu_out_path             where a test may leave a file for run.sh to check
 *                           ($HK_TEST_OUT, set by run.sh, plus a suffix).
 *   tu_rand, tu_scale, tu_now, tu_sleep_ms, tu_rss_bytes, tu_vmsize_bytes
 */
#ifndef HAKMEM_TESTUTIL_H
#define HAKMEM_TESTUTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "hakmem.h"

/* The sanitizer builds (tests/sanitizers.mk): malloc() is hakmem's hks_malloc.
 * TU_SANITIZER: the sanitizer's shadow memory is resident too, so checks of
 * the resident set are off; and no thread starts in the child of a
 * multi-threaded process's fork (TSan does not follow it, ASan's allocator
 * may have been locked by a thread of the parent).  TU_TSAN: built for
 * ThreadSanitizer. */
#ifdef HK_SANITIZER_NAMES
#include "../src/sanitizer_names.h"
#define TU_SANITIZER 1
#else
#define TU_SANITIZER 0
#endif
#if defined(__SANITIZE_THREAD__)
#define TU_TSAN 1
#else
#define TU_TSAN 0
#endif

#ifndef HK_LINKED
#define HK_LINKED 0
#endif

#if defined(__GNUC__)
#define TU_UNUSED __attribute__((unused))
#define TU_NORETURN __attribute__((noreturn))
#define TU_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define TU_UNUSED
#define TU_NORETURN
#define TU_PRINTF(a, b)
#endif

/* ---- failure reporting ---------------------------------------------------- */

/* Write all of buf to fd, ignoring errors (used on failure paths). */
static TU_UNUSED void tu_write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            return;
        }
        buf += w;
        n -= (size_t)w;
    }
}

/* Print a message to stderr without going through stdio buffers. */
static TU_UNUSED TU_PRINTF(1, 2) void tu_msg(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof buf)
        n = (int)sizeof buf - 1;
    tu_write_all(2, buf, (size_t)n);
}

static TU_UNUSED TU_NORETURN TU_PRINTF(4, 5) void tu_fail(const char *file, int line,
                                                          const char *cond, const char *fmt, ...)
{
    int saved = errno;
    char buf[1536];
    int n = snprintf(buf, sizeof buf, "FAIL %s:%d: ", file, line);
    if (n < 0)
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    va_end(ap);
    if (m > 0)
        n += m;
    if ((size_t)n >= sizeof buf - 128)
        n = (int)(sizeof buf - 128);
    m = snprintf(buf + n, sizeof buf - (size_t)n, "  [check: %s; errno=%d]\n", cond, saved);
    if (m > 0)
        n += m;
    if ((size_t)n >= sizeof buf)
        n = (int)sizeof buf - 1;
    tu_write_all(2, buf, (size_t)n);
    _exit(1);
}

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            tu_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                                       \
    } while (0)

/* Call first thing in main(): line-buffered stdout so progress lines reach
 * the log before a crash. */
static TU_UNUSED void tu_init(void) { setvbuf(stdout, NULL, _IOLBF, 0); }

/* ---- byte patterns -------------------------------------------------------- */

typedef uint64_t __attribute__((may_alias)) tu_u64a;

static inline uint8_t tu_pat_start(uintptr_t base, uint32_t seed)
{
    return (uint8_t)((base >> 4) * 31u + seed);
}

/* Pattern byte i of a block whose pattern was derived from address base. */
static inline uint8_t tu_pat_byte(uintptr_t base, size_t i, uint32_t seed)
{
    return (uint8_t)(tu_pat_start(base, seed) + (uint8_t)(i * 7u));
}

/* 8 consecutive pattern bytes starting at value s: byte j = s + 7j (mod 256),
 * added per byte without carries (SWAR), little-endian. */
static inline uint64_t tu_pat_word(uint8_t s)
{
    const uint64_t H = 0x8080808080808080ull;
    const uint64_t k = 0x312A231C150E0700ull;
    uint64_t x = 0x0101010101010101ull * s;
    return ((x & ~H) + (k & ~H)) ^ ((x ^ k) & H);
}

static TU_UNUSED void tu_fill_as(void *p, size_t n, uint32_t seed, uintptr_t base)
{
    uint8_t *b = (uint8_t *)p;
    uint8_t s0 = tu_pat_start(base, seed);
    size_t i = 0;
    for (; i < n && ((uintptr_t)(b + i) & 7u); i++)
        b[i] = (uint8_t)(s0 + i * 7u);
    for (; i + 8 <= n; i += 8)
        *(tu_u64a *)(b + i) = tu_pat_word((uint8_t)(s0 + i * 7u));
    for (; i < n; i++)
        b[i] = (uint8_t)(s0 + i * 7u);
}

static TU_UNUSED void tu_fill(void *p, size_t n, uint32_t seed)
{
    tu_fill_as(p, n, seed, (uintptr_t)p);
}

/* Returns the offset of the first byte that differs from the pattern, or
 * SIZE_MAX when all n bytes match. */
static TU_UNUSED size_t tu_check_as(const void *p, size_t n, uint32_t seed, uintptr_t base)
{
    const uint8_t *b = (const uint8_t *)p;
    uint8_t s0 = tu_pat_start(base, seed);
    size_t i = 0;
    for (; i < n && ((uintptr_t)(b + i) & 7u); i++)
        if (b[i] != (uint8_t)(s0 + i * 7u))
            return i;
    for (; i + 8 <= n; i += 8)
        if (*(const tu_u64a *)(b + i) != tu_pat_word((uint8_t)(s0 + i * 7u)))
            break;
    for (; i < n; i++)
        if (b[i] != (uint8_t)(s0 + i * 7u))
            return i;
    return SIZE_MAX;
}

static TU_UNUSED size_t tu_check(const void *p, size_t n, uint32_t seed)
{
    return tu_check_as(p, n, seed, (uintptr_t)p);
}

/* Sparse variant for very large blocks: the first and last 64 bytes and one
 * byte in every 4 KiB (enough to prove that every page is mapped and
 * private to this block). */
static TU_UNUSED void tu_fill_sparse(void *p, size_t n, uint32_t seed)
{
    uint8_t *b = (uint8_t *)p;
    if (n <= 256) {
        tu_fill(p, n, seed);
        return;
    }
    uintptr_t base = (uintptr_t)p;
    for (size_t i = 0; i < 64; i++)
        b[i] = tu_pat_byte(base, i, seed);
    for (size_t i = 64; i < n - 64; i += 4096)
        b[i] = tu_pat_byte(base, i, seed);
    for (size_t i = n - 64; i < n; i++)
        b[i] = tu_pat_byte(base, i, seed);
}

static TU_UNUSED size_t tu_check_sparse(const void *p, size_t n, uint32_t seed)
{
    const uint8_t *b = (const uint8_t *)p;
    if (n <= 256)
        return tu_check(p, n, seed);
    uintptr_t base = (uintptr_t)p;
    for (size_t i = 0; i < 64; i++)
        if (b[i] != tu_pat_byte(base, i, seed))
            return i;
    for (size_t i = 64; i < n - 64; i += 4096)
        if (b[i] != tu_pat_byte(base, i, seed))
            return i;
    for (size_t i = n - 64; i < n; i++)
        if (b[i] != tu_pat_byte(base, i, seed))
            return i;
    return SIZE_MAX;
}

#define CHECK_PATTERN_AS(p, n, seed, base, what)                                                   \
    do {                                                                                           \
        const uint8_t *cp_p_ = (const uint8_t *)(p);                                               \
        size_t cp_n_ = (n);                                                                        \
        uintptr_t cp_base_ = (base);                                                               \
        uint32_t cp_seed_ = (seed);                                                                \
        size_t cp_off_ = tu_check_as(cp_p_, cp_n_, cp_seed_, cp_base_);                            \
        if (cp_off_ != SIZE_MAX)                                                                   \
            tu_fail(__FILE__, __LINE__, "pattern intact",                                          \
                    "%s: block %p size %zu corrupted at offset %zu: "                              \
                    "got 0x%02x, expected 0x%02x",                                                 \
                    (what), (const void *)cp_p_, cp_n_, cp_off_, cp_p_[cp_off_],                   \
                    tu_pat_byte(cp_base_, cp_off_, cp_seed_));                                     \
    } while (0)

#define CHECK_PATTERN(p, n, seed, what) CHECK_PATTERN_AS((p), (n), (seed), (uintptr_t)(p), (what))

#define CHECK_PATTERN_SPARSE(p, n, seed, what)                                                     \
    do {                                                                                           \
        const uint8_t *cs_p_ = (const uint8_t *)(p);                                               \
        size_t cs_n_ = (n);                                                                        \
        uint32_t cs_seed_ = (seed);                                                                \
        size_t cs_off_ = tu_check_sparse(cs_p_, cs_n_, cs_seed_);                                  \
        if (cs_off_ != SIZE_MAX)                                                                   \
            tu_fail(__FILE__, __LINE__, "pattern intact",                                          \
                    "%s: block %p size %zu corrupted at offset %zu: "                              \
                    "got 0x%02x, expected 0x%02x",                                                 \
                    (what), (const void *)cs_p_, cs_n_, cs_off_, cs_p_[cs_off_],                   \
                    tu_pat_byte((uintptr_t)cs_p_, cs_off_, cs_seed_));                             \
    } while (0)

/* Every byte of [p, p+n) equals c?  Returns first bad offset or SIZE_MAX. */
static TU_UNUSED size_t tu_check_bytes(const void *p, size_t n, uint8_t c)
{
    const uint8_t *b = (const uint8_t *)p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != c)
            return i;
    return SIZE_MAX;
}

/* ---- random numbers, time, scale ------------------------------------------ */

/* splitmix64: deterministic, any seed is fine. */
static inline uint64_t tu_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static inline uint64_t tu_rand_range(uint64_t *state, uint64_t lo, uint64_t hi)
{
    return lo + tu_rand(state) % (hi - lo + 1);
}

static TU_UNUSED double tu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Sleep ms milliseconds, through signals. */
static TU_UNUSED void tu_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Wait for child pid at most `seconds`: its exit status, 128 + the signal
 * that killed it, or -1 if it still ran (then it is killed); -2 if it is
 * not our child. */
static TU_UNUSED int tu_wait_child(pid_t pid, int seconds)
{
    for (int t = 0; t < seconds * 100; t++) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r < 0)
            return -2;
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        tu_sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

/* HK_TEST_SCALE (default 1.0) scales the length of the stress tests. */
static TU_UNUSED double tu_scale(void)
{
    const char *s = getenv("HK_TEST_SCALE");
    if (!s || !*s)
        return 1.0;
    double v = strtod(s, NULL);
    return v > 0 ? v : 1.0;
}

static TU_UNUSED long tu_scaled(long n, long min)
{
    double v = (double)n * tu_scale();
    return v < (double)min ? min : (long)v;
}

/* Read a small /proc file into buf without allocating. */
static TU_UNUSED ssize_t tu_read_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = 0;
    return (ssize_t)n;
}

/* Resident set size in bytes (from /proc/self/statm). */
static TU_UNUSED size_t tu_rss_bytes(void)
{
    char buf[256];
    if (tu_read_file("/proc/self/statm", buf, sizeof buf) <= 0)
        return 0;
    unsigned long size = 0, rss = 0;
    if (sscanf(buf, "%lu %lu", &size, &rss) != 2)
        return 0;
    return (size_t)rss * (size_t)sysconf(_SC_PAGESIZE);
}

/* Value in bytes of a "Key:   N kB" line of /proc/self/status (0 if absent). */
static TU_UNUSED size_t tu_status_bytes(const char *key)
{
    char buf[8192];
    if (tu_read_file("/proc/self/status", buf, sizeof buf) <= 0)
        return 0;
    size_t klen = strlen(key);
    for (char *line = buf; line && *line;) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            unsigned long kb = strtoul(line + klen + 1, NULL, 10);
            return (size_t)kb * 1024u;
        }
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return 0;
}

static TU_UNUSED size_t tu_vmsize_bytes(void) { return tu_status_bytes("VmSize"); }

/* Stores through this keep the compiler from eliding allocations. */
static void *volatile tu_sink TU_UNUSED;

/* Hide a value from the optimizer (e.g. huge sizes, so that the compiler
 * neither warns about nor folds impossible allocations). */
static inline size_t tu_opaque(size_t x)
{
    volatile size_t v = x;
    return v;
}

static inline int tu_is_pow2(size_t x) { return x && !(x & (x - 1)); }

#define TU_KiB ((size_t)1024)
#define TU_MiB ((size_t)1024 * 1024)

/* ---- files for the runner ------------------------------------------------- */

/* A path for a file the test writes and tests/run.sh checks afterwards:
 * $HK_TEST_OUT (set by run.sh: build/test-logs/NAME.VARIANT) followed by
 * suffix.  Outside run.sh: ${TMPDIR:-/tmp}/hakmem-test.PID followed by suffix.
 * Returns 1 when run.sh set the path (it will check the file), 0 otherwise. */
static TU_UNUSED int tu_out_path(char *buf, size_t cap, const char *suffix)
{
    const char *out = getenv("HK_TEST_OUT");
    int n;
    if (out && *out) {
        n = snprintf(buf, cap, "%s%s", out, suffix);
    } else {
        const char *tmp = getenv("TMPDIR");
        n = snprintf(buf, cap, "%s/hakmem-test.%ld%s", tmp && *tmp ? tmp : "/tmp", (long)getpid(),
                     suffix);
    }
    if (n < 0 || (size_t)n >= cap) {
        tu_msg("FAIL tu_out_path: path too long\n");
        _exit(1);
    }
    return out && *out;
}

/* ---- hakmem's own API ----------------------------------------------------- */

typedef struct {
    void *(*malloc_fn)(size_t);
    void *(*calloc_fn)(size_t, size_t);
    void *(*realloc_fn)(void *, size_t);
    void *(*aligned_alloc_fn)(size_t, size_t);
    void (*free_fn)(void *);
    void (*free_sized_fn)(void *, size_t);
    size_t (*usable_size)(const void *);
    int (*abi_version)(void);
    const char *(*version)(void);
    int (*stats_get)(struct hak_stats *, size_t);
    void (*stats_print)(FILE *);
    void (*stats_print_json)(FILE *);
    int (*option_get)(enum hak_option, long *);
    int (*option_set)(enum hak_option, long);
    int (*limit_set)(size_t, size_t);
    int (*limit_get)(size_t *, size_t *);
    hak_heap_t *(*heap_new)(void);
    void *(*heap_malloc)(hak_heap_t *, size_t);
    void *(*heap_calloc)(hak_heap_t *, size_t, size_t);
    void *(*heap_realloc)(hak_heap_t *, void *, size_t);
    void (*heap_destroy)(hak_heap_t *);
    void (*heap_release)(hak_heap_t *);
} hk_api_t;

static hk_api_t hk TU_UNUSED;

/* Fill `hk` with hakmem's functions.  Returns 1 when all of them are
 * available (i.e. the program runs with hakmem), 0 otherwise. */
static TU_UNUSED int hk_load(void)
{
#if HK_LINKED
    hk.malloc_fn = hak_malloc;
    hk.calloc_fn = hak_calloc;
    hk.realloc_fn = hak_realloc;
    hk.aligned_alloc_fn = hak_aligned_alloc;
    hk.free_fn = hak_free;
    hk.free_sized_fn = hak_free_sized;
    hk.usable_size = hak_usable_size;
    hk.abi_version = hak_abi_version;
    hk.version = hak_version;
    hk.stats_get = hak_stats_get;
    hk.stats_print = hak_stats_print;
    hk.stats_print_json = hak_stats_print_json;
    hk.option_get = hak_option_get;
    hk.option_set = hak_option_set;
    hk.limit_set = hak_limit_set;
    hk.limit_get = hak_limit_get;
    hk.heap_new = hak_heap_new;
    hk.heap_malloc = hak_heap_malloc;
    hk.heap_calloc = hak_heap_calloc;
    hk.heap_realloc = hak_heap_realloc;
    hk.heap_destroy = hak_heap_destroy;
    hk.heap_release = hak_heap_release;
#else
#define HK_SYM_(field, name)                                                                       \
    do {                                                                                           \
        void *s_ = dlsym(RTLD_DEFAULT, name);                                                      \
        memcpy(&hk.field, &s_, sizeof s_);                                                         \
    } while (0)
    HK_SYM_(malloc_fn, "hak_malloc");
    HK_SYM_(calloc_fn, "hak_calloc");
    HK_SYM_(realloc_fn, "hak_realloc");
    HK_SYM_(aligned_alloc_fn, "hak_aligned_alloc");
    HK_SYM_(free_fn, "hak_free");
    HK_SYM_(free_sized_fn, "hak_free_sized");
    HK_SYM_(usable_size, "hak_usable_size");
    HK_SYM_(abi_version, "hak_abi_version");
    HK_SYM_(version, "hak_version");
    HK_SYM_(stats_get, "hak_stats_get");
    HK_SYM_(stats_print, "hak_stats_print");
    HK_SYM_(stats_print_json, "hak_stats_print_json");
    HK_SYM_(option_get, "hak_option_get");
    HK_SYM_(option_set, "hak_option_set");
    HK_SYM_(limit_set, "hak_limit_set");
    HK_SYM_(limit_get, "hak_limit_get");
    HK_SYM_(heap_new, "hak_heap_new");
    HK_SYM_(heap_malloc, "hak_heap_malloc");
    HK_SYM_(heap_calloc, "hak_heap_calloc");
    HK_SYM_(heap_realloc, "hak_heap_realloc");
    HK_SYM_(heap_destroy, "hak_heap_destroy");
    HK_SYM_(heap_release, "hak_heap_release");
#undef HK_SYM_
#endif
    return hk.malloc_fn && hk.calloc_fn && hk.realloc_fn && hk.aligned_alloc_fn && hk.free_fn &&
        hk.free_sized_fn && hk.usable_size && hk.abi_version && hk.version && hk.stats_get &&
        hk.stats_print && hk.stats_print_json && hk.option_get && hk.option_set && hk.limit_set &&
        hk.limit_get && hk.heap_new && hk.heap_malloc && hk.heap_calloc && hk.heap_realloc &&
        hk.heap_destroy && hk.heap_release;
}

/* For checks that only make sense under hakmem: fail loudly otherwise (the
 * test runner always runs these programs with hakmem). */
static TU_UNUSED void hk_require(const char *why)
{
    if (!hk_load()) {
        tu_msg("FAIL %s: not running under hakmem (hak_* symbols not found; "
               "run with LD_PRELOAD=build/libhakmem.so or build with "
               "-DHK_LINKED=1)\n",
               why);
        _exit(1);
    }
}

/* hakmem's adaptive thread (ace.c) starts the first time enough memory is
 * freed once the program has two threads with a heap, and glibc's
 * pthread_create allocates then: tests that count allocations exactly start
 * it first.  Starts a second thread (it allocates once, then sleeps for the
 * rest of the process), frees 8 MiB and waits (at most 5 s) until the
 * thread runs.  Returns the final ace_state (HAK_ACE_OFF in modes without
 * the adaptive layer).  Needs hk_require() first. */
static void *tu_sleeper(void *arg)
{
    (void)arg;
    free(malloc(64));
    for (;;)
        pause();
    return NULL;
}

static TU_UNUSED uint32_t hk_start_ace(void)
{
    static struct hak_stats st;
    enum { N = 8 };
    void *p[N];
    pthread_t t;
    if (pthread_create(&t, NULL, tu_sleeper, NULL) == 0)
        pthread_detach(t);
    struct timespec pause_ts = {0, 20 * 1000 * 1000};
    nanosleep(&pause_ts, NULL); /* it has its heap */
    for (int i = 0; i < N; i++)
        p[i] = malloc(1 << 20); /* page runs: free memory when freed */
    for (int i = 0; i < N; i++)
        free(p[i]);
    for (int t = 0; t < 500; t++) {
        st.size = 0;
        if (hk.stats_get(&st, sizeof st) != 0 || st.ace_state != HAK_ACE_NOT_STARTED)
            break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return st.ace_state;
}

/* ---- modes ------------------------------------------------------------------ */

static const char *const tu_mode_names[] TU_UNUSED = {"minimal", "fast", "balanced", "learning",
                                                      "research"};

/* The mode the library should be in: HAKMEM_MODE if it names one, else balanced. */
static TU_UNUSED unsigned tu_expected_mode(void)
{
    const char *m = getenv("HAKMEM_MODE");
    for (unsigned i = 0; m && i < 5; i++)
        if (strcmp(m, tu_mode_names[i]) == 0)
            return i;
    return HAK_MODE_BALANCED;
}

#endif /* HAKMEM_TESTUTIL_H */
