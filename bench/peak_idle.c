/* peak_idle [MIB=1024] [IDLE_SECONDS=2.0] [SEED=42] [THREADS=1]
 *
 * A peak, then idleness: how much memory does the allocator give back once
 * the program has freed everything and stops calling it?
 *
 *   1. allocate about MIB MiB of small and mid-sized blocks (requested
 *      bytes; sizes from a seeded xorshift: 95% 16 B-1 KiB, 4.5% 1-32 KiB,
 *      0.5% 32-256 KiB, about 540,000 blocks per GiB), writing one byte in
 *      every 4 KiB page of each block (the tag, at both ends too), so the
 *      whole peak is resident;
 *   2. check every block's tags and free them all, in a shuffled order (not
 *      LIFO: blocks of one slab or span are freed far apart);
 *   3. read the resident set (freed_rss_kb), then sleep IDLE_SECONDS
 *      (nanosleep in a loop until the time has passed) without any
 *      allocator call, and read it again (idle_rss_kb).  An allocator that
 *      purges only from its own calls keeps what it held after the free; one
 *      with a background purge (or that unmaps at free) shows less.
 *
 * THREADS=2 (peak_idle_mt): a second thread allocates and frees one block
 * before phase 1, then sleeps until the end: the same program, but
 * multi-threaded (an allocator may treat the two differently: hakmem
 * starts its adaptive thread only in a multi-threaded program).
 *
 * Throughput (ns/op, lower is better) is the wall time of phases 1 and 2
 * (allocator calls, tag writes and checks, the page faults of the writes)
 * divided by the number of malloc and free calls; the statm read between
 * them and the idle time are not in it.
 *
 * The harness's own arrays (pointers, sizes, the free order: 16 B per block,
 * ~8.6 MiB per GiB) are mmap'ed, not malloc'ed, so they are not allocator
 * memory, and are munmap'ed right after the last free, before both resident
 * set reads: freed_rss_kb and idle_rss_kb hold nothing of the harness but
 * the program's text, stack and libraries (and whatever the allocator keeps,
 * which is the point).  The resident set is /proc/self/statm's second field,
 * read with read(2) into a stack buffer (bench_rss_kb): stdio is not touched
 * between the frees and the second read, so its buffers are not allocated
 * then either.  live_rss_kb is the resident set at the peak, after the
 * allocations (arrays included; compare with peak RSS).
 *
 * Output (stdout, one line; see bench_result in bench_common.h):
 *   peak_idle mib=1024 idle_s=2 seed=42 objects=... bytes=... live_rss_kb=...
 *     freed_rss_kb=... idle_rss_kb=... slept_s=... ops=... seconds=...
 *     throughput=... unit=ns/op ... check=tags:ok
 */
#include "bench_common.h"
#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>

#define PAGE 4096u

static uint64_t g_rng;

static inline uint64_t rnd(uint64_t n) { return bench_rand(&g_rng) % n; }

/* The size mix: 95% 16-1024 B, 4.5% 1-32 KiB, 0.5% 32-256 KiB. */
static size_t next_size(void)
{
    uint64_t r = rnd(1000);
    if (r < 950) return 16 + (size_t)rnd(1024 - 16 + 1);
    if (r < 995) return 1025 + (size_t)rnd(32768 - 1025 + 1);
    return 32769 + (size_t)rnd(262144 - 32769 + 1);
}

static void *map_array(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) {
        fprintf(stderr, "mmap(%zu) failed: %s\n", bytes, strerror(errno));
        exit(3);
    }
    return p;
}

/* The tag at the first and last byte and at every 4 KiB step in between:
 * one write in every page the block spans. */
static void touch(unsigned char *p, size_t n, size_t slot)
{
    unsigned char t = bench_tag(n, slot);
    volatile unsigned char *b = p;
    for (size_t off = 0; off < n; off += PAGE) b[off] = t;
    b[n - 1] = t;
}

static void check(const unsigned char *p, size_t n, size_t slot)
{
    unsigned char t = bench_tag(n, slot);
    const volatile unsigned char *b = p;
    for (size_t off = 0; off < n; off += PAGE)
        if (b[off] != t) goto bad;
    if (b[n - 1] != t) goto bad;
    return;
bad:
    fprintf(stderr, "CORRUPTION: block %p size %zu slot %zu lost its tag\n", (void *)p, n, slot);
    abort();
}

static void *companion(void *arg)
{
    (void)arg;
    bench_free_fn(bench_xmalloc(64));
    for (;;) pause();
    return NULL;
}

int main(int argc, char **argv)
{
    long mib = bench_arg(argc, argv, 1, 1024);
    double idle = 2.0;
    if (argc > 2) {
        char *end;
        idle = strtod(argv[2], &end);
        if (*end != '\0' || !(idle >= 0) || idle > 86400) {
            fprintf(stderr, "bad argument '%s' (IDLE_SECONDS >= 0)\n", argv[2]);
            return 2;
        }
    }
    uint64_t seed = (uint64_t)bench_arg(argc, argv, 3, 42);
    long threads = bench_arg(argc, argv, 4, 1);
    if (threads != 1 && threads != 2) {
        fprintf(stderr, "bad argument '%s' (THREADS: 1 or 2)\n", argv[4]);
        return 2;
    }
    bench_report_origin();
    if (threads == 2) {
        pthread_t t;
        if (pthread_create(&t, NULL, companion, NULL) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 3;
        }
        struct timespec ts = { 0, 20 * 1000 * 1000 };   /* it has allocated */
        nanosleep(&ts, NULL);
    }
    const uint64_t rng0 = seed * 0x9E3779B97F4A7C15ULL + 1;

    /* Pass 1: how many blocks make MIB MiB.  Pass 2 draws the same sizes. */
    const size_t target = (size_t)mib << 20;
    size_t count = 0, total = 0;
    g_rng = rng0;
    while (total < target) {
        total += next_size();
        count++;
    }
    void **ptr = map_array(count * sizeof *ptr);
    uint32_t *len = map_array(count * sizeof *len);
    uint32_t *order = map_array(count * sizeof *order);
    g_rng = rng0;
    for (size_t i = 0; i < count; i++) len[i] = (uint32_t)next_size();
    /* Free order: a Fisher-Yates shuffle of the allocation order. */
    for (size_t i = 0; i < count; i++) order[i] = (uint32_t)i;
    for (size_t i = count - 1; i > 0; i--) {
        size_t j = (size_t)rnd(i + 1);
        uint32_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }

    /* Phase 1: the peak. */
    double t0 = bench_now();
    for (size_t i = 0; i < count; i++) {
        ptr[i] = bench_xmalloc(len[i]);
        touch(ptr[i], len[i], i);
    }
    double t1 = bench_now();
    long live_kb = bench_rss_kb();

    /* Phase 2: everything freed, shuffled. */
    double t2 = bench_now();
    for (size_t j = 0; j < count; j++) {
        size_t i = order[j];
        check(ptr[i], len[i], i);
        bench_free_fn(ptr[i]);
    }
    double t3 = bench_now();

    /* The harness's arrays go before the resident set is read. */
    munmap(ptr, count * sizeof *ptr);
    munmap(len, count * sizeof *len);
    munmap(order, count * sizeof *order);
    long freed_kb = bench_rss_kb();

    /* Phase 3: idle, no allocator call; then the resident set again. */
    double s0 = bench_now(), deadline = s0 + idle;
    for (;;) {
        double rem = deadline - bench_now();
        if (rem <= 0) break;
        struct timespec ts = { (time_t)rem, (long)((rem - (double)(time_t)rem) * 1e9) };
        nanosleep(&ts, NULL); /* EINTR or an early return: the loop goes on */
    }
    double slept = bench_now() - s0;
    long idle_kb = bench_rss_kb();

    bench_result("peak_idle", 2.0 * (double)count, (t1 - t0) + (t3 - t2), BENCH_NS_PER_OP, "tags:ok",
                 "mib=%ld idle_s=%g seed=%llu threads=%ld objects=%zu bytes=%zu live_rss_kb=%ld "
                 "freed_rss_kb=%ld idle_rss_kb=%ld slept_s=%.3f",
                 mib, idle, (unsigned long long)seed, threads, count, total, live_kb, freed_kb,
                 idle_kb, slept);
    bench_finish();
    return 0;
}
