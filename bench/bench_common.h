/* bench_common.h — small helpers shared by the hakmem benchmark programs.
 *
 * Every program reports which shared object actually provides malloc
 * (malloc_from=...), so the driver scripts can check that LD_PRELOAD really
 * took effect, and prints one machine-readable key=value result line.
 */
#ifndef HAKMEM_BENCH_COMMON_H
#define HAKMEM_BENCH_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static inline void *bench_xmalloc(size_t n)
{
    void *p = bench_malloc_fn(n);
    if (!p) {
        fprintf(stderr, "malloc(%zu) returned NULL\n", n);
        exit(3);
    }
    return p;
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

#endif
