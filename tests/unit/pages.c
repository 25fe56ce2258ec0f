/* The page layer (pages.c): blocks above the size classes, up to
 * HK_PAGES_MAX, are runs of pages split to fit and merged with free
 * neighbours; a loop whose live heap does not grow makes no system call and
 * maps no fresh page; calloc clears only pages that may hold data; realloc
 * grows into a free neighbour and shrinks in place; the checks tell a live
 * run's start from a freed block and an interior pointer.  (The debug build
 * validates every segment after each change: heads, tails, bins, counts.) */
#include "unit.h"

#include <malloc.h>

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

static size_t os_calls(void) {
  return atomic_load(&hk_os_counters.mmap_calls) + atomic_load(&hk_os_counters.munmap_calls) +
      atomic_load(&hk_os_counters.madvise_calls) + atomic_load(&hk_os_counters.mremap_calls);
}

static size_t fresh(void) {
  hk_pages_stats_t st;
  hk_pages_stats(&st);
  return st.fresh;
}

static void fill(void *p, size_t n, unsigned char v) { memset(p, v, n); }
static void expect(const unsigned char *p, size_t n, unsigned char v, const char *what) {
  for (size_t i = 0; i < n; i += 509)
    CHECK(p[i] == v, "%s: byte %zu is %d, not %d", what, i, p[i], v);
  CHECK(p[n - 1] == v, "%s: last byte", what);
}

static void boundaries(void) {
  static const size_t sizes[] = {HK_SMALL_MAX + 1, 36 * KiB,         36 * KiB + 1, 64 * KiB,
                                 1 * MiB - 1,      1 * MiB,          1 * MiB + 1,  2 * MiB,
                                 31 * MiB,         HK_PAGES_MAX - 1, HK_PAGES_MAX};
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    size_t n = sizes[k];
    unsigned char *p = malloc(n);
    CHECK(p, "malloc(%zu)", n);
    CHECK(hk_pages_header(p)->kind == HK_SS_KIND_PAGES, "malloc(%zu) is a page run", n);
    CHECK(((uintptr_t)p & (HK_PAGE_SIZE - 1)) == 0, "malloc(%zu) not page aligned", n);
    size_t u = hk_usable_size(p);
    CHECK(u >= n && u - n < HK_PAGE_SIZE, "malloc(%zu): usable %zu", n, u);
    CHECK(hk_pages_check(p) == HK_PAGES_LIVE, "malloc(%zu) checks live", n);
    CHECK(hk_pages_check(p + HK_PAGE_SIZE) == HK_PAGES_INTERIOR || n <= HK_PAGE_SIZE * 9,
          "malloc(%zu): an interior page", n);
    CHECK(hk_pages_check(p + 16) == HK_PAGES_INTERIOR, "malloc(%zu): p + 16", n);
    fill(p, n, (unsigned char)k);
    free(p);
    CHECK(hk_pages_check(p) == HK_PAGES_FREED, "malloc(%zu): freed", n);
  }
  unsigned char *big = malloc(HK_PAGES_MAX + 1);
  CHECK(big && hk_ss_of(big)->kind == HK_SS_KIND_DIRECT, "beyond HK_PAGES_MAX: a direct mapping");
  free(big);
  /* every alignment the layer serves, at sizes around a page run's */
  for (size_t a = 8 * KiB; a <= HK_PAGES_ALIGN_MAX; a <<= 1) {
    size_t sz[] = {100, 40 * KiB, a + 1};
    for (int k = 0; k < 3; k++) {
      unsigned char *p = aligned_alloc(a, sz[k]);
      CHECK(p && ((uintptr_t)p & (a - 1)) == 0, "aligned_alloc(%zu, %zu)", a, sz[k]);
      CHECK(hk_usable_size(p) >= sz[k], "aligned usable");
      fill(p, sz[k], 0x5a);
      free(p);
    }
  }
}

/* A freed 8 MiB run serves a 3 MiB and a 4 MiB request (split; blocks of
 * 2 MiB or more start on a 2 MiB boundary under huge pages); two freed
 * neighbours serve one request as big as both (merge). */
static void split_merge(void) {
  unsigned char *guard_lo = malloc(64 * KiB), *a = malloc(8 * MiB), *guard_hi = malloc(64 * KiB);
  CHECK(guard_lo && a && guard_hi, "malloc");
  fill(a, 8 * MiB, 1);
  free(a);
  unsigned char *b = malloc(3 * MiB);
  CHECK(b >= a && b + 3 * MiB <= a + 8 * MiB, "3 MiB not carved from the freed 8 MiB run");
  unsigned char *c = malloc(4 * MiB);
  CHECK(c >= a && c + 4 * MiB <= a + 8 * MiB, "the rest of the 8 MiB run not reused");
  unsigned char *lo = b < c ? b : c;
  free(b);
  free(c);
  unsigned char *d = malloc(8 * MiB);
  CHECK(d == lo, "two freed neighbours not merged into one run (%p, expected %p)", (void *)d,
        (void *)lo);
  free(d);
  free(guard_lo);
  free(guard_hi);
}

/* A loop whose live heap does not grow: no system call, no fresh page. */
static void steady(void) {
  enum { SLOTS = 12 };
  unsigned char *p[SLOTS] = {0};
  size_t sz[SLOTS] = {0};
  uint64_t x = 88172645463325252ull;
  size_t calls = 0, fresh0 = 0;
  malloc_trim(0); /* what earlier tests freed is not this loop's to purge */
  /* nor is the decay's, on a loaded machine where the loop is slow: what
   * stays free for a purge delay goes back, by design */
  uint32_t delay = HK_TUNE(purge_delay_ms);
  HK_TUNE_SET(purge_delay_ms, 60000);
  for (int i = 0; i < 4000; i++) {
    if (i == 2000) {
      calls = os_calls();
      fresh0 = fresh();
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    unsigned k = (unsigned)(x % SLOTS);
    if (p[k]) {
      expect(p[k], sz[k], (unsigned char)k, "steady");
      free(p[k]);
    }
    sz[k] = (x >> 8) % 2 ? 2 * MiB : 40 * KiB + (x >> 16) % (1 * MiB);
    p[k] = malloc(sz[k]);
    CHECK(p[k], "malloc");
    fill(p[k], sz[k], (unsigned char)k);
  }
  size_t c = os_calls() - calls, f = fresh() - fresh0;
  /* the live heap's shape varies: allow a little, far below one per cycle */
  CHECK(c <= 4, "steady loop: %zu system calls after warm-up", c);
  CHECK(f <= 4 * 512, "steady loop: %zu fresh pages after warm-up", f);
  for (int k = 0; k < SLOTS; k++) free(p[k]);
  HK_TUNE_SET(purge_delay_ms, delay);
}

/* calloc: zero whatever the pages held before; realloc in place. */
static void zero_and_resize(void) {
  unsigned char *a = malloc(4 * MiB);
  fill(a, 4 * MiB, 0xab);
  free(a);
  malloc_trim(0); /* half of it purged below, half dirty */
  a = malloc(2 * MiB);
  fill(a, 2 * MiB, 0xcd);
  free(a);
  unsigned char *z = calloc(1, 4 * MiB);
  CHECK(z, "calloc 4 MiB");
  expect(z, 4 * MiB, 0, "calloc over dirty and purged pages");
  /* grow in place into the free run behind it, then shrink */
  unsigned char *r = malloc(1 * MiB);
  fill(r, 1 * MiB, 7);
  unsigned char *r2 = realloc(r, 1 * MiB + 512 * KiB);
  expect(r2, 1 * MiB, 7, "realloc grown");
  unsigned char *blocker = malloc(64 * KiB); /* may land right after r2 */
  unsigned char *r3 = realloc(r2, 256 * KiB);
  CHECK(r3 == r2, "realloc shrink moved the block");
  CHECK(hk_usable_size(r3) == 256 * KiB, "shrunk usable %zu", hk_usable_size(r3));
  expect(r3, 256 * KiB, 7, "realloc shrunk");
  unsigned char *r4 = realloc(r3, 768 * KiB);
  CHECK(r4 == r3 || blocker == r3 + 256 * KiB, "realloc did not grow into the free pages behind");
  expect(r4, 256 * KiB, 7, "realloc regrown");
  free(blocker);
  free(r4);
  free(z);
}

/* Another thread frees runs this one allocated, while it allocates more. */
static unsigned char *handoff[64];
static void *freer(void *arg) {
  (void)arg;
  for (int i = 0; i < 64; i++) {
    expect(handoff[i], 100 * KiB, (unsigned char)i, "cross-thread");
    free(handoff[i]);
  }
  return NULL;
}
static void cross_thread(void) {
  for (int round = 0; round < 20; round++) {
    for (int i = 0; i < 64; i++) {
      handoff[i] = malloc(100 * KiB);
      fill(handoff[i], 100 * KiB, (unsigned char)i);
    }
    pthread_t t;
    CHECK(pthread_create(&t, NULL, freer, NULL) == 0, "pthread_create");
    void *mine[16];
    for (int i = 0; i < 16; i++) {
      mine[i] = malloc(300 * KiB);
      fill(mine[i], 300 * KiB, 9);
    }
    for (int i = 0; i < 16; i++) free(mine[i]);
    pthread_join(t, NULL);
  }
}

int main(void) {
  /* what the process held before the tests (the debug build's UBSan
   * runtime allocates a page run of its own at start) */
  hk_pages_stats_t st, before;
  hk_pages_stats(&before);
  boundaries();
  split_merge();
  steady();
  zero_and_resize();
  cross_thread();
  hk_pages_stats(&st);
  CHECK(st.in_use == before.in_use, "page runs still in use: %zu bytes (%zu before the tests)",
        st.in_use, before.in_use);
  printf("pages: ok (%zu segments, %zu MiB mapped)\n", st.segments, st.mapped >> 20);
  return 0;
}
