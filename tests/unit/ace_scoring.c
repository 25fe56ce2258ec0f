/* How learning scores an epoch (ace.c) and what a strategy switch does:
 *  - a purge is charged to the epoch that makes it, at the refault price,
 *    and the epoch that faults the pages back in is refunded: the two
 *    epochs' costs are as if each had run alone, the total unchanged;
 *  - the debt is forgotten over about a second, never refunds more than was
 *    purged, and a refund never makes a cost negative;
 *  - the refault price is measured (the kernel's CPU per fault, > 0);
 *  - a switch restarts the decay clock: hk_heap_age and hk_arena_age mark
 *    what is free now, so the next decay tick purges it.  Without them, a
 *    heap whose marks are stale (a slow strategy ran before) purges nothing.
 * Runs in fast mode (re-executed): no adaptive thread ticks behind its back. */
#include "unit.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

#define MiB (1024.0 * 1024.0)
#define PAGES(bytes) ((bytes) / HK_PAGE_SIZE)

static void check_cost(void) {
  const double refault = 1000.0, ops = 1000.0, cpu = 1e6, fault_cpu = 800.0;
  double debt = 0.0, pages = PAGES(8 * MiB);
  /* Epoch 1 purges 8 MiB and touches nothing: charged the refault. */
  hk_epoch_t e1 = {.cpu_ns = cpu, .purged = 8 * MiB, .wall_ms = 10, .ops = ops};
  double c1 = hk_ace_epoch_cost(&e1, refault, &debt);
  CHECK(fabs(c1 - (cpu + refault * pages) / ops) < 1e-9, "purging epoch: %f", c1);
  CHECK(debt == 8 * MiB, "debt %f after the purge", debt);
  /* Epoch 2 faults them back in (200 + 800 ns a page, the refault price):
   * refunded but for the debt's decay over 10 ms (1%). */
  hk_epoch_t e2 = {.cpu_ns = cpu + fault_cpu * pages,
                   .faults = pages,
                   .grown = 8 * MiB,
                   .wall_ms = 10,
                   .ops = ops};
  double c2 = hk_ace_epoch_cost(&e2, refault, &debt);
  CHECK(c2 >= cpu / ops && c2 < 1.03 * cpu / ops, "refaulting epoch: %f, alone %f", c2, cpu / ops);
  CHECK(debt == 0.0, "debt %f after the refault", debt);
  double unscored = (cpu + refault * pages) / ops + cpu / ops; /* the same work, unshifted */
  CHECK(fabs(c1 + c2 - unscored) < 0.02 * unscored, "total %f, without the debt %f", c1 + c2,
        unscored);

  /* Growth beyond the debt is not refunded; the debt fades in about a second. */
  debt = 1 * MiB;
  hk_epoch_t grow = {.cpu_ns = cpu + fault_cpu * pages,
                     .faults = pages,
                     .grown = 8 * MiB,
                     .wall_ms = 1,
                     .ops = ops};
  double c3 = hk_ace_epoch_cost(&grow, refault, &debt);
  double want = (cpu + refault * pages - refault * PAGES(1 * MiB)) / ops;
  CHECK(fabs(c3 - want) < 0.002 * want, "growth beyond the debt: %f, expected ~%f", c3, want);
  debt = 8 * MiB;
  hk_epoch_t quiet = {.cpu_ns = cpu, .wall_ms = 50, .ops = ops};
  for (int i = 0; i < 100; i++) hk_ace_epoch_cost(&quiet, refault, &debt); /* 5 s */
  CHECK(debt < 0.01 * 8 * MiB, "debt %f after 5 s untouched", debt);

  /* A refund larger than the epoch's work (huge pages) stops at zero. */
  debt = 64 * MiB;
  hk_epoch_t huge = {
      .cpu_ns = 1000, .faults = 32, .grown = 64 * MiB, .rss = 1 * MiB, .wall_ms = 10, .ops = ops};
  double c4 = hk_ace_epoch_cost(&huge, refault, &debt);
  CHECK(c4 > 0.0 && fabs(c4 - 150.0 * 1 * 10 / ops) < 1e-9, "huge refund: %f", c4);
}

/* Keep one block in each SuperSlab, free the rest: the heap holds free,
 * dirty slabs (none goes back to the arena). */
static void **hold(size_t n, size_t size) {
  void **v = calloc(n, sizeof *v);
  CHECK(v != NULL, "calloc");
  uintptr_t last = 0;
  for (size_t i = 0; i < n; i++) {
    v[i] = malloc(size);
    CHECK(v[i] != NULL, "malloc");
    memset(v[i], 1, size);
  }
  for (size_t i = 0; i < n; i++) {
    uintptr_t ss = (uintptr_t)v[i] >> HK_SS_SHIFT;
    if (ss == last) {
      free(v[i]);
      v[i] = NULL;
    }
    last = ss;
  }
  return v;
}

static void forget_marks(hk_heap_t *h) {
  for (hk_superslab_t *ss = h->ss_avail.first; ss; ss = ss->next) ss->purge_mark = 0;
}

static void check_heap_age(void) {
  HK_TUNE_SET(retain_mb, 0);
  void **v = hold(1024, 16384); /* 16 MiB */
  hk_heap_t *h = hk_heap_tls;
  uint32_t dirty = h->dirty_slabs;
  CHECK(dirty >= 64, "only %u free dirty slabs", dirty);
  unsigned t;
  bool w;
  forget_marks(h); /* a slow strategy left no fresh marks */
  unsigned n0 = hk_heap_tick(h, 50, true, UINT32_MAX, &t, &w);
  CHECK(n0 == 0, "a decay tick with stale marks purged %u slabs", n0);
  forget_marks(h);
  hk_heap_age(h); /* the switch: the clock restarts */
  for (hk_superslab_t *ss = h->ss_avail.first; ss; ss = ss->next)
    CHECK(ss->purge_mark == (ss->free_mask & ss->dirty_mask), "marks %#x, free and dirty %#x",
          ss->purge_mark, ss->free_mask & ss->dirty_mask);
  unsigned n1 = hk_heap_tick(h, 50, true, UINT32_MAX, &t, &w);
  CHECK(n1 >= dirty && h->dirty_slabs == 0, "after hk_heap_age: purged %u of %u, %u left", n1,
        dirty, h->dirty_slabs);
  for (size_t i = 0; i < 1024; i++) free(v[i]);
  free(v);
}

static void check_arena_age(void) {
  hk_arena_decay(false); /* whatever is aged goes, the rest is marked */
  hk_arena_decay(false);
  size_t n = 4096;
  void **v = malloc(n * sizeof *v);
  CHECK(v != NULL, "malloc");
  for (size_t i = 0; i < n; i++) {
    v[i] = malloc(8192);
    CHECK(v[i], "malloc");
    memset(v[i], 1, 8192);
  }
  for (size_t i = 0; i < n; i++) free(v[i]); /* 32 MiB: the SuperSlabs go back to the arena */
  free(v);
  size_t dirty = hk_arena_free_dirty_bytes();
  CHECK(dirty >= 8 * (size_t)MiB, "only %zu dirty free bytes in the arena", dirty);
  hk_arena_age();
  size_t purged = hk_arena_decay(false);
  CHECK(purged >= dirty, "after hk_arena_age: purged %zu of %zu", purged, dirty);
}

int main(int argc, char **argv) {
  (void)argc;
  if (!getenv("HAKMEM_MODE") || strcmp(getenv("HAKMEM_MODE"), "fast") != 0) {
    setenv("HAKMEM_MODE", "fast", 1);
    execv("/proc/self/exe", argv);
    CHECK(0, "execv failed");
  }
  check_cost();
  double f = hk_os_fault_ns();
  CHECK(f > 0.0 && f < 1e6, "refault CPU %f ns", f);
  free(malloc(1));
  CHECK(!hk_ace_decays(), "the adaptive layer runs in fast mode");
  check_arena_age();
  check_heap_age();
  printf("ace scoring: ok (a page faults in for %.0f ns of CPU here)\n", f);
  return 0;
}
