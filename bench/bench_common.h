/* bench_common.h — small helpers shared by the hakmem benchmark programs.
 *
 * Every program reports which shared object actually provides malloc
 * (malloc_from=...), so the driver scripts can check that LD_PRELOAD really
 * took effect, and prints one machine-readable key=value result line on
 * stdout (bench_result): NAME, its parameters, ops, seconds,
 * throughput=X unit=Mops/s|ns/op, and check=ok|FAIL:... (what it verified).
 * With BENCH_MALLOC_STATS=1 in the environment and hakmem providing malloc,
 * bench_finish() calls malloc_stats(), whose "os calls: mmap N, ..." line on
 * stderr gives the runner hakmem's system-call counts.  bench_rss_kb() is
 * the resident set now, read from /proc/self/statm without an allocation.
 */
#ifndef HAKMEM_BENCH_COMMON_H
#define HAKMEM_BENCH_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Called through volatile pointers so the compiler can neither elide nor
 * merge a malloc/free pair (on top of -fno-builtin). */
static void *(*volatile bench_malloc_fn)(size_t) = malloc;
static void (*volatile bench_free_fn)(void *) = free;

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Path of the object that defines the malloc this process calls. */
static inline const char *bench_malloc_origin(void)
{
    Dl_info info;
    void *addr = (void *)bench_malloc_fn;
    if (dladdr(addr, &info) && info.dli_fname && info.dli_fname[0])
        return info.dli_fname;
    return "unknown";
}

static inline void bench_report_origin(void)
{
    fprintf(stderr, "malloc_from=%s\n", bench_malloc_origin());
}

/* xorshift64* — tiny, deterministic, good enough for slot/size choices. */
static inline uint64_t bench_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static inline long bench_arg(int argc, char **argv, int i, long dflt)
{
    if (i < argc) {
        char *end;
        long v = strtol(argv[i], &end, 0);
        if (*end == '\0' && v > 0)
            return v;
        fprintf(stderr, "bad argument '%s'\n", argv[i]);
        exit(2);
    }
    return dflt;
}

/* An allocator call that failed: say which, and stop (exit status 3). */
static inline void bench_oom(const char *what, size_t n)
{
    fprintf(stderr, "%s(%zu) returned NULL\n", what, n);
    exit(3);
}

static inline void *bench_xmalloc(size_t n)
{
    void *p = bench_malloc_fn(n);
    if (!p) bench_oom("malloc", n);
    return p;
}

/* The allocator calls of a benchmark's measured part (its result line's
 * ops=), for the programs that count them through these two. */
static double bench_ops __attribute__((unused));

static inline void *bench_ops_malloc(size_t n)
{
    bench_ops++;
    return bench_xmalloc(n);
}

static inline void bench_ops_free(void *p)
{
    bench_ops++;
    bench_free_fn(p);
}

/* Fill the first and last byte of a block with a tag derived from its size
 * and slot; bench_check verifies it before the block is freed, so a broken
 * allocator that hands out overlapping blocks is caught. */
static inline unsigned char bench_tag(size_t n, size_t slot)
{
    return (unsigned char)((n * 131u + slot * 7u) | 1u);
}

static inline void bench_touch(void *p, size_t n, size_t slot)
{
    unsigned char t = bench_tag(n, slot);
    ((volatile unsigned char *)p)[0] = t;
    ((volatile unsigned char *)p)[n - 1] = t;
}

static inline void bench_check(const void *p, size_t n, size_t slot)
{
    unsigned char t = bench_tag(n, slot);
    const volatile unsigned char *b = (const volatile unsigned char *)p;
    if (b[0] != t || b[n - 1] != t) {
        fprintf(stderr, "CORRUPTION: block %p size %zu slot %zu lost its tag\n",
                (void *)p, n, slot);
        abort();
    }
}

/* Seconds of CPU time used by the whole process (all threads). */
static inline double bench_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Resident set of the process now, in KiB: the second field of
 * /proc/self/statm (pages), read with read(2) into a stack buffer, so no
 * allocator call happens (stdio would allocate a buffer).  -1 on error. */
static inline long bench_rss_kb(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = '\0';
    const char *p = buf;
    while (*p && *p != ' ') p++; /* skip the size field */
    if (*p != ' ' || p[1] < '0' || p[1] > '9') return -1;
    long pages = 0;
    for (p++; *p >= '0' && *p <= '9'; p++) pages = pages * 10 + (*p - '0');
    return pages * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Unit of a result: throughput in millions of allocator calls per second
 * (higher is better) or nanoseconds per allocator call (lower is better). */
enum bench_unit { BENCH_MOPS, BENCH_NS_PER_OP };

/* Print the result line:
 *   NAME <params> ops=N seconds=S throughput=X unit=U mops_per_s=M ns_per_op=T check=C
 * params is a printf format (may be ""), check says what was verified:
 * "ok" or "FAIL:..." (no spaces). */
static inline void bench_result(const char *name, double ops, double seconds,
                                enum bench_unit unit, const char *check,
                                const char *params, ...)
    __attribute__((format(printf, 6, 7)));
static inline void bench_result(const char *name, double ops, double seconds,
                                enum bench_unit unit, const char *check,
                                const char *params, ...)
{
    char buf[512] = "";
    va_list ap;
    va_start(ap, params);
    vsnprintf(buf, sizeof buf, params, ap);
    va_end(ap);
    if (seconds <= 0) seconds = 1e-9;
    double mops = ops / seconds / 1e6, ns = seconds * 1e9 / (ops > 0 ? ops : 1);
    printf("%s%s%s ops=%.0f seconds=%.4f throughput=%.6g unit=%s mops_per_s=%.3f ns_per_op=%.3f check=%s\n",
           name, buf[0] ? " " : "", buf, ops, seconds,
           unit == BENCH_MOPS ? mops : ns, unit == BENCH_MOPS ? "Mops/s" : "ns/op",
           mops, ns, check && check[0] ? check : "ok");
    fflush(stdout);
}

/* At the end of main: with BENCH_MALLOC_STATS=1 and hakmem loaded, print
 * its malloc_stats (to stderr), including the "os calls:" line. */
static inline void bench_finish(void)
{
    const char *e = getenv("BENCH_MALLOC_STATS");
    if (e && e[0] == '1' && dlsym(RTLD_DEFAULT, "hak_abi_version"))
        malloc_stats();
}

#endif
