/* limit.c — the memory budget (HAKMEM_LIMIT_MB, hak_limit_set).
 *
 *  - hard: with a hard limit 64 MiB above what the process holds, 1 MiB
 *    blocks (written) come until the limit, then malloc fails with ENOMEM;
 *    once they are freed, as much can be allocated again;
 *  - soft: with hakmem told to keep every free byte (retain 4096 MiB, purge
 *    delay 60 s), 64 MiB of small blocks freed stay resident; 64 MiB of
 *    large blocks then fit under a hard limit 96 MiB above the start only
 *    because the soft limit gives the free memory back first;
 *  - bad input: soft above hard, NULL pointers: EINVAL;
 *  - HAKMEM_LIMIT_MB=N in the environment: the hard limit is N MiB, the soft
 *    one 90 % of it.
 * With --cgroup (run by tests/run.sh inside a memory cgroup of 160 MiB): the
 * soft limit is 90 % of the cgroup's, and a program that keeps every free
 * byte and touches 400 MiB in turns stays under it (else the kernel kills
 * it).  This test needs hakmem and fails without it. */
#include "../testutil.h"

#include <malloc.h>

#define MiB ((size_t)1 << 20)

static struct hak_stats *stats(void)
{
    static struct hak_stats s;
    CHECK(hk.stats_get(&s, sizeof s) == 0, "hak_stats_get");
    return &s;
}

/* n blocks of size bytes, each written; the count allocated before NULL. */
static size_t fill(void **p, size_t n, size_t size)
{
    for (size_t i = 0; i < n; i++) {
        errno = 0;
        p[i] = malloc(size);
        if (!p[i])
            return i;
        memset(p[i], (int)(i & 0xff) | 1, size);
    }
    return n;
}

static void drop(void **p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(p[i]);
}

static void hard(void)
{
    enum { N = 200 };
    static void *p[N];
    size_t base = tu_rss_bytes();
    CHECK(hk.limit_set(0, base + 64 * MiB) == 0, "hak_limit_set");
    size_t got = fill(p, N, MiB);
    int err = errno;
    size_t rss = tu_rss_bytes();
    printf("limit: hard %zu MiB above %zu MiB: %zu blocks of 1 MiB, then %s; resident %zu MiB\n",
           (size_t)64, base / MiB, got, got < N ? strerror(err) : "no failure", rss / MiB);
    CHECK(got < N && err == ENOMEM, "no ENOMEM within %d MiB (errno %d)", N, err);
    CHECK(got >= 48 && rss <= base + 68 * MiB, "%zu blocks, resident %zu MiB", got, rss / MiB);
    CHECK(stats()->limit_refusals >= 1, "no refusal counted");
    drop(p, got);
    size_t again = fill(p, 40, MiB);
    CHECK(again == 40, "after the frees only %zu of 40 MiB could be allocated again", again);
    drop(p, again);
    CHECK(hk.limit_set(0, 0) == 0, "hak_hk.limit_set(0, 0)");
}

static void soft(void)
{
    enum { SMALL = 65536, BIG = 8 };
    static void *s[SMALL], *b[BIG];
    CHECK(hk.option_set(HAK_OPTION_RETAIN_MB, 4096) == 0 &&
              hk.option_set(HAK_OPTION_PURGE_DELAY_MS, 60000) == 0,
          "keep everything free");
    malloc_trim(0); /* what hard() freed: out of the way */
    size_t base = tu_rss_bytes();
    CHECK(fill(s, SMALL, 1000) == SMALL, "64 MiB of small blocks");
    drop(s, SMALL);
    size_t held = tu_rss_bytes();
    CHECK(hk.limit_set(0, base + 96 * MiB) == 0, "hak_limit_set");
    uint64_t reclaims = stats()->limit_reclaims, given = stats()->limit_reclaimed_bytes;
    size_t got = fill(b, BIG, 8 * MiB);
    struct hak_stats *st = stats();
    printf("limit: soft: %zu MiB held free, then %zu of %d blocks of 8 MiB under a hard limit "
           "96 MiB above %zu MiB; %llu reclaim(s) gave back %.1f MiB\n",
           (held - base) / MiB, got, BIG, base / MiB,
           (unsigned long long)(st->limit_reclaims - reclaims),
           (double)(st->limit_reclaimed_bytes - given) / MiB);
    CHECK(held >= base + 48 * MiB, "the freed small blocks were not kept resident (%zu MiB)",
          (held - base) / MiB);
    CHECK(got == BIG, "only %zu of %d large blocks: the free memory was not given back", got, BIG);
    CHECK(st->limit_reclaims > reclaims && st->limit_reclaimed_bytes - given >= 32 * MiB,
          "reclaims %llu, %llu bytes", (unsigned long long)(st->limit_reclaims - reclaims),
          (unsigned long long)(st->limit_reclaimed_bytes - given));
    drop(b, got);
    CHECK(hk.limit_set(0, 0) == 0, "hak_hk.limit_set(0, 0)");
}

static void bad_input(void)
{
    size_t sl = 0, hl = 0;
    CHECK(hk.limit_set(200 * MiB, 100 * MiB) == EINVAL, "soft above hard accepted");
    CHECK(hk.limit_get(NULL, &hl) == EINVAL && hk.limit_get(&sl, NULL) == EINVAL, "NULL accepted");
    CHECK(hk.limit_set(50 * MiB, 100 * MiB) == 0 && hk.limit_get(&sl, &hl) == 0 && sl == 50 * MiB &&
              hl == 100 * MiB,
          "set 50/100 MiB, read %zu/%zu", sl, hl);
    CHECK(hk.limit_set(0, 100 * MiB) == 0 && hk.limit_get(&sl, &hl) == 0 && sl == 90 * MiB,
          "soft 0 with hard 100 MiB: %zu, want 90 %% of it", sl);
    CHECK(hk.limit_set(0, 0) == 0, "hak_hk.limit_set(0, 0)");
    printf("limit: bad input: EINVAL\n");
}

static void from_env(const char *v)
{
    size_t sl = 0, hl = 0, mb = (size_t)atol(v);
    CHECK(hk.limit_get(&sl, &hl) == 0, "hak_limit_get");
    CHECK(hl == mb * MiB && sl == hl / 10 * 9, "HAKMEM_LIMIT_MB=%s: soft %zu, hard %zu", v, sl, hl);
    long opt = 0;
    CHECK(hk.option_get(HAK_OPTION_LIMIT_MB, &opt) == 0 && opt == (long)mb, "option %ld", opt);
    printf("limit: HAKMEM_LIMIT_MB=%s: hard %zu MiB, soft %zu MiB\n", v, hl / MiB, sl / MiB);
}

/* Inside a memory cgroup of 160 MiB (tests/run.sh): keep every free byte,
 * touch 400 MiB in turns of 100 MiB, small then large blocks. */
static void in_cgroup(void)
{
    enum { SMALL = 100000, BIG = 12 };
    static void *s[SMALL], *b[BIG];
    struct hak_stats *st = stats();
    size_t cg = st->limit_cgroup_bytes, sl = 0, hl = 0;
    CHECK(hk.limit_get(&sl, &hl) == 0, "hak_limit_get");
    printf("limit: cgroup limit %zu MiB, soft %zu MiB, hard %zu MiB\n", cg / MiB, sl / MiB,
           hl / MiB);
    CHECK(cg > 0 && cg <= 160 * MiB && sl == cg / 10 * 9 && hl == 0,
          "cgroup %zu, soft %zu, hard %zu", cg, sl, hl);
    CHECK(hk.option_set(HAK_OPTION_RETAIN_MB, 4096) == 0 &&
              hk.option_set(HAK_OPTION_PURGE_DELAY_MS, 60000) == 0,
          "keep everything free");
    for (int turn = 0; turn < 2; turn++) {
        CHECK(fill(s, SMALL, 1000) == SMALL, "turn %d: small blocks", turn);
        drop(s, SMALL);
        CHECK(fill(b, BIG, 8 * MiB) == BIG, "turn %d: large blocks", turn);
        drop(b, BIG);
    }
    st = stats();
    printf("limit: 400 MiB touched in turns under a 160 MiB cgroup: %llu reclaims, %.1f MiB "
           "given back, peak resident %.1f MiB\n",
           (unsigned long long)st->limit_reclaims, (double)st->limit_reclaimed_bytes / MiB,
           (double)st->peak_resident_bytes / MiB);
    CHECK(st->limit_reclaims >= 1, "no reclaim under the cgroup's limit");
}

int main(int argc, char **argv)
{
    tu_init();
    hk_require("limit");
    if (argc > 1 && strcmp(argv[1], "--cgroup") == 0) {
        in_cgroup();
        printf("limit: ok\n");
        return 0;
    }
    const char *env = getenv("HAKMEM_LIMIT_MB");
    if (env) {
        from_env(env);
        printf("limit: ok\n");
        return 0;
    }
    bad_input();
    hard();
    soft();
    printf("limit: ok\n");
    return 0;
}
