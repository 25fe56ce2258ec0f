/* options.c — options from the program: hak_option_get / hak_option_set,
 * glibc's mallopt and malloc_info.
 *
 *  - every option reads its mode's value (README's table) before any set;
 *  - a set value reads back; a value the variable does not accept, an
 *    unknown option and a NULL pointer give EINVAL and change nothing;
 *  - a purge delay set by the program stays through the adaptive layer's
 *    epochs (learning mode would otherwise apply its strategies' values);
 *  - a purge delay and retained amount of 0 give freed memory back at once
 *    (committed memory falls to what is in use);
 *  - HAK_OPTION_CACHE_MB=0 empties the threads' caches at their sweeps;
 *  - mallopt(M_TRIM_THRESHOLD) sets the retained amount (rounded up to MiB,
 *    -1 the most) and returns 1; glibc's other parameters return 0;
 *  - malloc_info writes glibc's XML with a <size> row per class in use, the
 *    direct mappings under "mmap"; options other than 0 give EINVAL.
 * This test needs hakmem and fails without it. */
#include "../testutil.h"

#include <malloc.h>

#define MiB ((size_t)1 << 20)

static long get(enum hak_option o)
{
    long v = -1;
    CHECK(hk.option_get(o, &v) == 0, "hak_option_get(%d) failed", (int)o);
    return v;
}

static struct hak_stats *stats(void)
{
    static struct hak_stats s;
    CHECK(hk.stats_get(&s, sizeof s) == 0, "hak_stats_get");
    return &s;
}

static void defaults(unsigned mode)
{
    static const long purge[] = {0, 1000, 100, 100, 100}, retain[] = {0, 64, 8, 8, 8};
    if (mode != HAK_MODE_LEARNING && mode != HAK_MODE_RESEARCH) { /* else: its strategy's */
        CHECK(get(HAK_OPTION_PURGE_DELAY_MS) == purge[mode], "purge delay %ld in mode %u",
              get(HAK_OPTION_PURGE_DELAY_MS), mode);
        CHECK(get(HAK_OPTION_RETAIN_MB) == retain[mode], "retain %ld in mode %u",
              get(HAK_OPTION_RETAIN_MB), mode);
    }
    CHECK(get(HAK_OPTION_CACHE_MB) == 64, "cache %ld MiB", get(HAK_OPTION_CACHE_MB));
    CHECK(get(HAK_OPTION_STATS) == (mode == HAK_MODE_RESEARCH), "stats %ld in mode %u",
          get(HAK_OPTION_STATS), mode);
    CHECK(get(HAK_OPTION_VERBOSE) == (mode == HAK_MODE_RESEARCH), "verbose %ld",
          get(HAK_OPTION_VERBOSE));
    printf(
        "options: mode %s: purge %ld ms, retain %ld MiB, cache %ld MiB, stats %ld, verbose %ld\n",
        tu_mode_names[mode], get(HAK_OPTION_PURGE_DELAY_MS), get(HAK_OPTION_RETAIN_MB),
        get(HAK_OPTION_CACHE_MB), get(HAK_OPTION_STATS), get(HAK_OPTION_VERBOSE));
}

static void bad_input(void)
{
    long before = get(HAK_OPTION_PURGE_DELAY_MS), v = 0;
    CHECK(hk.option_set(HAK_OPTION_PURGE_DELAY_MS, 60001) == EINVAL, "purge 60001 accepted");
    CHECK(hk.option_set(HAK_OPTION_PURGE_DELAY_MS, -1) == EINVAL, "purge -1 accepted");
    CHECK(hk.option_set(HAK_OPTION_RETAIN_MB, 4097) == EINVAL, "retain 4097 accepted");
    CHECK(hk.option_set(HAK_OPTION_CACHE_MB, 1025) == EINVAL, "cache 1025 accepted");
    CHECK(hk.option_set(HAK_OPTION_VERBOSE, 2) == EINVAL, "verbose 2 accepted");
    if (get(HAK_OPTION_STATS) != 2) /* JSON only with HAKMEM_STATS=json:PATH's path */
        CHECK(hk.option_set(HAK_OPTION_STATS, 2) == EINVAL, "stats 2 without a path accepted");
    CHECK(hk.option_set((enum hak_option)HAK_OPTION_COUNT, 1) == EINVAL, "unknown option set");
    CHECK(hk.option_set((enum hak_option) - 1, 1) == EINVAL, "option -1 set");
    CHECK(hk.option_get((enum hak_option)HAK_OPTION_COUNT, &v) == EINVAL, "unknown option read");
    CHECK(hk.option_get(HAK_OPTION_RETAIN_MB, NULL) == EINVAL, "NULL value");
    CHECK(get(HAK_OPTION_PURGE_DELAY_MS) == before, "a refused value changed the option");
    printf("options: bad values, unknown options: EINVAL, nothing changed\n");
}

/* Free 32 MiB of 1 KiB blocks from two threads' worth of churn: the
 * adaptive layer's epochs run (on these calls, or in its thread). */
static void churn(int rounds)
{
    enum { N = 32768 };
    static void *p[N];
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < N; i++)
            p[i] = malloc(1000);
        for (int i = 0; i < N; i++)
            free(p[i]);
        tu_sleep_ms(20);
    }
}

static void pinned(void)
{
    CHECK(hk.option_set(HAK_OPTION_PURGE_DELAY_MS, 777) == 0, "purge 777");
    CHECK(hk.option_set(HAK_OPTION_RETAIN_MB, 3) == 0, "retain 3");
    churn(8); /* ~160 ms of epochs: learning would apply a strategy's values */
    CHECK(get(HAK_OPTION_PURGE_DELAY_MS) == 777, "purge delay %ld after epochs, set 777",
          get(HAK_OPTION_PURGE_DELAY_MS));
    CHECK(get(HAK_OPTION_RETAIN_MB) == 3, "retain %ld after epochs, set 3",
          get(HAK_OPTION_RETAIN_MB));
    printf("options: purge 777 ms and retain 3 MiB stay through %llu epochs\n",
           (unsigned long long)stats()->ace_epochs);
}

static void purge_now(void)
{
    CHECK(hk.option_set(HAK_OPTION_PURGE_DELAY_MS, 0) == 0, "purge 0");
    CHECK(hk.option_set(HAK_OPTION_RETAIN_MB, 0) == 0, "retain 0");
    churn(2);
    CHECK(malloc_trim(0) >= 0, "malloc_trim"); /* the remote frees and caches too */
    struct hak_stats *s = stats();
    uint64_t spare = s->committed_bytes - s->in_use_bytes;
    printf("options: purge 0, retain 0: committed %.1f MiB, in use %.1f MiB after 32 MiB freed\n",
           (double)s->committed_bytes / MiB, (double)s->in_use_bytes / MiB);
    CHECK(spare < 8 * MiB, "%.1f MiB committed beyond what is in use", (double)spare / MiB);
}

static void cache_off(void)
{
    enum { N = 64 };
    void *p[N];
    CHECK(hk.option_set(HAK_OPTION_CACHE_MB, 0) == 0, "cache 0");
    for (int r = 0; r < 200; r++) { /* misses and overflows: the bins sweep */
        for (int i = 0; i < N; i++)
            p[i] = malloc(4000 + (size_t)(i % 8) * 1000);
        for (int i = 0; i < N; i++)
            free(p[i]);
    }
    uint64_t held = stats()->thread_cache_bytes;
    printf("options: cache 0 MiB: %llu bytes held in the thread caches\n",
           (unsigned long long)held);
    CHECK(held <= 64 * 1024, "the caches hold %llu bytes with HAK_OPTION_CACHE_MB=0",
          (unsigned long long)held);
    CHECK(hk.option_set(HAK_OPTION_CACHE_MB, 64) == 0, "cache 64");
}

static void glibc_mallopt(void)
{
    CHECK(mallopt(M_TRIM_THRESHOLD, 5 * (int)MiB + 1) == 1, "mallopt(M_TRIM_THRESHOLD) != 1");
    CHECK(get(HAK_OPTION_RETAIN_MB) == 6, "M_TRIM_THRESHOLD 5 MiB + 1: retain %ld, want 6",
          get(HAK_OPTION_RETAIN_MB));
    CHECK(mallopt(M_TRIM_THRESHOLD, -1) == 1 && get(HAK_OPTION_RETAIN_MB) == 4096,
          "M_TRIM_THRESHOLD -1: retain %ld, want 4096", get(HAK_OPTION_RETAIN_MB));
    static const int others[] = {M_MXFAST,     M_TOP_PAD,      M_MMAP_THRESHOLD,
                                 M_MMAP_MAX,   M_CHECK_ACTION, M_PERTURB,
                                 M_ARENA_TEST, M_ARENA_MAX,    12345};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        CHECK(mallopt(others[i], 1) == 0, "mallopt(%d) returned nonzero", others[i]);
    printf("options: mallopt: M_TRIM_THRESHOLD 1, the others 0\n");
}

static void xml(void)
{
    enum { N = 1000 };
    static void *p[N];
    for (int i = 0; i < N; i++)
        p[i] = malloc(100); /* the 112-byte class */
    void *big = malloc(100 * MiB);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(f && malloc_info(0, f) == 0, "malloc_info(0) failed");
    fclose(f);
    CHECK(strncmp(buf, "<malloc version=\"1\"", 19) == 0, "XML starts: %.40s", buf);
    CHECK(strstr(buf, "</malloc>\n") && strstr(buf, "<heap nr=\"0\">") && strstr(buf, "</sizes>"),
          "XML shape: %s", buf);
    const char *row = strstr(buf, "to=\"112\"");
    unsigned long long count = 0;
    CHECK(row && sscanf(strstr(row, "count=\""), "count=\"%llu", &count) == 1 && count >= N,
          "no <size> row for 112 B with %d blocks: %s", N, buf);
    const char *mm = strstr(buf, "<total type=\"mmap\" count=\"");
    unsigned long long maps = 0;
    CHECK(mm && sscanf(mm, "<total type=\"mmap\" count=\"%llu", &maps) == 1 && maps >= 1,
          "no direct mapping counted: %s", buf);
    (free)(buf); /* the C library's block: not hks_free in the sanitizer builds */
    f = fopen("/dev/null", "w");
    CHECK(f && malloc_info(1, f) == EINVAL, "malloc_info(1) is not EINVAL");
    fclose(f);
    free(big);
    for (int i = 0; i < N; i++)
        free(p[i]);
    printf("options: malloc_info: %llu blocks of 112 B, %llu direct mapping(s)\n", count, maps);
}

int main(void)
{
    tu_init();
    hk_require("options");
    unsigned mode = stats()->mode;
    defaults(mode);
    bad_input();
    pinned();
    purge_now();
    if (stats()->mode != HAK_MODE_MINIMAL && !getenv("HAKMEM_HARDEN")) /* cache off there */
        cache_off();
    glibc_mallopt();
    xml();
    printf("options: ok\n");
    return 0;
}
