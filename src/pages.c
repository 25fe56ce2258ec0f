/* hakmem pages: every block above the slab classes (32 KiB) up to
 * HK_PAGES_MAX (64 MiB) is a run of 4 KiB pages in a page segment: 64-254
 * MiB of address space, 2 MiB aligned, whose header holds one entry per
 * page.  A run is carved (split) from a free run to fit, and merged with its
 * free neighbours when freed, so freed memory of any size serves requests of
 * any size.  free(p) finds the header through the address map (each 2 MiB
 * unit of a segment records how many units back its header is), and the run
 * at entry (p - segment) >> 12: a mask, a shift, no search.
 *
 * Freed pages stay resident: they are given back (madvise) only once they
 * stayed free for a whole purge delay, the oldest first, and only beyond
 * what the layer retains (HAKMEM_RETAIN_MB, or half of the live page
 * blocks if more), by the adaptive layer or, without it (fast), on a free
 * every purge delay at most.  So a loop whose live heap does not grow takes no
 * fault and makes no system call once warm.
 *
 * Each segment has a lock, taken by whoever allocates from it, frees into it
 * or purges it; a heap allocates from the segments it made or adopted (its
 * home), so threads rarely meet on one; an exited thread's segments serve
 * any heap.  Segments stay mapped (an empty one keeps only its header's
 * touched pages once purged) unless the process runs out of address space:
 * then empty ones are unmapped but for their first page, which stays on the
 * list (a heap's hint may still name it) and is mapped again when needed. */
#include "internal.h"

#include "hakmem.h"

#define SEG_MIN_UNITS  32                 /* 64 MiB */
#define SEG_STD_UNITS  127                /* 254 MiB: new segments grow to it */
#define SEG_MAX_UNITS  HK_MAP_PAGES_UNITS /* 254 MiB: what the map can point back */
#define DECAY_BATCH_PG 1024               /* 4 MiB per lock hold */

#include "pages_run.h"

static hk_lock_t segs_lock = HK_LOCK_INIT; /* creating segments; fork */
static _Atomic(hk_pseg_t *) segs;          /* read unlocked: never unlinked */
static size_t seg_units_total;             /* under segs_lock */
static _Atomic size_t live_pages, dirty_pages, fresh_pages, purged_pages;
static _Atomic uint64_t last_tick_ms;

static void count_dirty(hk_pseg_t *s, int64_t d);

/* ---- segments ---------------------------------------------------------------- */

static size_t header_pages(uint32_t units) {
  size_t npages = (size_t)units << (HK_SS_SHIFT - PG_SHIFT);
  size_t words = (npages + 63) / 64;
  size_t bytes = sizeof(hk_pseg_t) + 2 * words * sizeof(uint64_t) + npages * sizeof(run_t);
  return (bytes + PG_SIZE - 1) >> PG_SHIFT;
}

/* Lay out a mapped segment's header: one free run of every page after it. */
static void seg_init(hk_pseg_t *s, uint32_t units) {
  /* huge pages past the first 2 MiB, which holds the header (touched here
   * and there: as one huge page it would all be resident) */
  hk_os_advise_thp((uint8_t *)s + HK_SS_SIZE, ((size_t)units - 1) << HK_SS_SHIFT, true);
  size_t npages = (size_t)units << (HK_SS_SHIFT - PG_SHIFT), words = (npages + 63) / 64;
  s->kind = HK_SS_KIND_PAGES;
  s->units = units;
  s->released = s->trimmed = false;
  s->npages = (uint32_t)npages;
  s->first = (uint32_t)header_pages(units);
  s->dirty = (uint64_t *)(s + 1);
  s->aged = s->dirty + words;
  s->runs = (run_t *)(s->aged + words);
  s->used_pages = s->dirty_free = 0;
  s->bins = 0;
  for (unsigned b = 0; b < NBINS; b++) s->bin[b] = NIL;
  s->free_pages = s->npages - s->first;
  set_run(s, s->first, s->free_pages, RUN_FREE);
  bin_push(s, s->first);
  hk_map_set(s, (size_t)units << HK_SS_SHIFT, HK_MAP_PAGES);
}

static hk_pseg_t *seg_map(uint32_t units) {
  hk_pseg_t *s = hk_os_map_aligned((size_t)units << HK_SS_SHIFT, HK_SS_SIZE, 0);
  if (!s) return NULL;
  pthread_mutex_init(&s->lock, NULL);
  seg_init(s, units);
  return s;
}

/* A released segment of `units` mapped again, if its range is still free. */
static hk_pseg_t *seg_revive(hk_heap_t *h, size_t units) {
  for (hk_pseg_t *s = atomic_load_explicit(&segs, memory_order_acquire); s; s = s->next) {
    if (!__atomic_load_n(&s->released, __ATOMIC_RELAXED) || s->units < units) continue;
    hk_lock(&s->lock);
    bool ok = s->released &&
        hk_os_map_fixed((uint8_t *)s + PG_SIZE, ((size_t)s->units << HK_SS_SHIFT) - PG_SIZE);
    if (ok) {
      memset(s + 1, 0, PG_SIZE - sizeof *s); /* the kept page's bitmap words and entries */
      seg_init(s, s->units);
      atomic_store_explicit(&s->home, h, memory_order_relaxed);
    }
    hk_unlock(&s->lock);
    if (ok) return s;
  }
  return NULL;
}

/* Out of address space: unmap every empty segment but its first page.
 * Returns bytes unmapped. */
size_t hk_pages_release(void) {
  size_t n = 0;
  hk_lock(&segs_lock);
  for (hk_pseg_t *s = atomic_load_explicit(&segs, memory_order_acquire); s; s = s->next) {
    hk_lock(&s->lock);
    if (!s->released && s->used_pages == 0) {
      size_t bytes = ((size_t)s->units << HK_SS_SHIFT) - PG_SIZE;
      hk_map_set(s, (size_t)s->units << HK_SS_SHIFT, HK_MAP_RELEASED);
      count_dirty(s, -(int64_t)s->dirty_free);
      s->bins = 0;
      set_top(s);
      __atomic_store_n(&s->released, true, __ATOMIC_RELAXED);
      hk_os_unmap((uint8_t *)s + PG_SIZE, bytes);
      n += bytes;
    }
    hk_unlock(&s->lock);
  }
  hk_unlock(&segs_lock);
  return n;
}

/* The fewest 2 MiB units whose segment holds a run of `need` pages beside
 * its header. */
static size_t units_for(size_t need) {
  size_t u = 1;
  while ((u << (HK_SS_SHIFT - PG_SHIFT)) < header_pages((uint32_t)u) + need) u++;
  return u;
}

/* A new segment for a run of `need` pages: sized to what the layer holds
 * already (64 MiB, growing to 254 MiB), or to the run.  Its home is h. */
static hk_pseg_t *seg_new(hk_heap_t *h, size_t need) {
  hk_lock(&segs_lock);
  size_t base = seg_units_total < SEG_MIN_UNITS ? SEG_MIN_UNITS
      : seg_units_total > SEG_STD_UNITS         ? SEG_STD_UNITS
                                                : seg_units_total;
  size_t fit = units_for(need); /* tried alone if the usual size cannot be mapped */
  size_t units = fit > base ? fit : base;
  hk_pseg_t *s = NULL;
  if (fit <= SEG_MAX_UNITS) {
    s = seg_revive(h, fit);
    if (s) {
      hk_unlock(&segs_lock);
      return s;
    }
    s = seg_map((uint32_t)units);
    if (!s && fit < units) s = seg_map((uint32_t)fit);
  }
  if (s) {
    seg_units_total += s->units;
    atomic_store_explicit(&s->home, h, memory_order_relaxed);
    s->next = atomic_load_explicit(&segs, memory_order_relaxed);
    atomic_store_explicit(&segs, s, memory_order_release);
  }
  hk_unlock(&segs_lock);
  return s;
}

static hk_pseg_t *seg_of(const void *p) { return (hk_pseg_t *)hk_pages_header(p); }

/* ---- purging ------------------------------------------------------------------ */

static size_t retain_pages(void) {
  size_t r = (size_t)HK_TUNE(retain_mb) << (20 - PG_SHIFT);
  size_t live = atomic_load_explicit(&live_pages, memory_order_relaxed) / 2;
  return live > r ? live : r;
}

static void count_dirty(hk_pseg_t *s, int64_t d) {
  s->dirty_free = (uint32_t)((int64_t)s->dirty_free + d);
  if (d >= 0) atomic_fetch_add_explicit(&dirty_pages, (size_t)d, memory_order_relaxed);
  else atomic_fetch_sub_explicit(&dirty_pages, (size_t)-d, memory_order_relaxed);
}

/* Give back the resident pages of free run i that are in `which` (the
 * aged map, or every dirty page when NULL), at most *budget.  One madvise
 * per stretch of pages. */
static void purge_run(hk_pseg_t *s, uint32_t i, const uint64_t *which, size_t *budget) {
  uint32_t end = i + s->runs[i].len, p = i;
  while (p < end && *budget) {
    uint64_t d = s->dirty[p / 64] & (which ? which[p / 64] : ~0ull) & word_bits(p, end, p / 64);
    if (!d) {
      p = (p / 64 + 1) * 64;
      continue;
    }
    uint32_t lo = p / 64 * 64 + (uint32_t)__builtin_ctzll(d), hi = lo;
    while (hi < end && (s->dirty[hi / 64] >> (hi % 64) & 1) &&
           (!which || (which[hi / 64] >> (hi % 64) & 1)) && hi - lo < *budget)
      hi++;
    hk_os_purge(page_addr(s, lo), (size_t)(hi - lo) << PG_SHIFT);
    bits_clear(s->dirty, lo, hi - lo);
    count_dirty(s, -(int64_t)(hi - lo));
    atomic_fetch_add_explicit(&purged_pages, hi - lo, memory_order_relaxed);
    *budget -= hi - lo;
    p = hi;
  }
}

/* Purge the free resident pages of s that aged a tick, up to budget
 * pages.  Under s->lock. */
static size_t seg_purge(hk_pseg_t *s, size_t budget) {
  size_t start = budget;
  for (uint64_t m = s->bins; m && budget; m &= m - 1)
    for (uint32_t i = s->bin[__builtin_ctzll(m)]; i != NIL && budget; i = s->runs[i].next)
      purge_run(s, i, s->aged, &budget);
  return start - budget;
}

/* Trim: every free run goes back whole, whatever its dirty bits say (under
 * transparent huge pages, a page never handed out is resident when another
 * in its 2 MiB was touched), and an empty segment's entry pages too: they
 * are all zero but the one run's head and tail, and read as zero again.
 * Once per segment until it hands out a run again.  Returns dirty pages
 * purged.  Under s->lock. */
static size_t seg_trim(hk_pseg_t *s) {
  if (s->trimmed) return 0;
  size_t n = 0;
  for (uint64_t m = s->bins; m; m &= m - 1)
    for (uint32_t i = s->bin[__builtin_ctzll(m)]; i != NIL; i = s->runs[i].next) {
      uint32_t len = s->runs[i].len, d = bits_count(s->dirty, i, len);
      hk_os_purge(page_addr(s, i), (size_t)len << PG_SHIFT);
      bits_clear(s->dirty, i, len);
      count_dirty(s, -(int64_t)d);
      n += d;
    }
  atomic_fetch_add_explicit(&purged_pages, n, memory_order_relaxed);
  if (s->used_pages == 0) {
    uintptr_t from = ((uintptr_t)&s->runs[s->first + 1] + PG_SIZE - 1) & ~(uintptr_t)(PG_SIZE - 1);
    uintptr_t to = (uintptr_t)&s->runs[s->npages - 1] & ~(uintptr_t)(PG_SIZE - 1);
    if (to > from) hk_os_purge((void *)from, to - from);
  }
  s->trimmed = true;
  return n;
}

/* Decay: the free pages resident now have aged at the next tick. */
static void seg_age(hk_pseg_t *s) {
  for (uint64_t m = s->bins; m; m &= m - 1)
    for (uint32_t i = s->bin[__builtin_ctzll(m)]; i != NIL; i = s->runs[i].next) {
      uint32_t len = s->runs[i].len;
      FOR_WORDS(i, len, w, mk) s->aged[w] = (s->aged[w] & ~mk) | (s->dirty[w] & mk);
    }
}

/* One decay tick over every segment: purge what aged beyond the retained
 * pages, a batch per lock hold (all: trim every segment), then age the rest.
 * `wait`: take busy locks (the adaptive thread) or skip them (a free).
 * Returns bytes purged. */
static size_t decay(bool all, bool wait) {
  size_t total = 0, keep = all ? 0 : retain_pages();
  for (hk_pseg_t *s = atomic_load_explicit(&segs, memory_order_acquire); s; s = s->next) {
    if (wait) hk_lock(&s->lock);
    else if (pthread_mutex_trylock(&s->lock) != 0) continue;
    if (all && !s->released) total += seg_trim(s);
    for (; !s->released && !all;) {
      size_t over = atomic_load_explicit(&dirty_pages, memory_order_relaxed);
      over = over > keep ? over - keep : 0;
      if (!over) break;
      size_t n = seg_purge(s, over < DECAY_BATCH_PG ? over : DECAY_BATCH_PG);
      total += n;
      if (n < DECAY_BATCH_PG) break;
      hk_unlock(&s->lock); /* let the program in between batches */
      hk_lock(&s->lock);
    }
    if (!s->released) seg_age(s);
    hk_unlock(&s->lock);
  }
  return total << PG_SHIFT;
}

/* Without the adaptive layer (fast): a decay tick on a free, every purge delay at
 * most, once more than the retained pages are resident and free. */
static void decay_on_free(void) {
  if (atomic_load_explicit(&dirty_pages, memory_order_relaxed) <= retain_pages()) return;
  uint64_t now = hk_now_ms(), last = atomic_load_explicit(&last_tick_ms, memory_order_relaxed);
  if (now - last < HK_TUNE(purge_delay_ms)) return;
  if (!atomic_compare_exchange_strong_explicit(&last_tick_ms, &last, now, memory_order_relaxed,
                                               memory_order_relaxed))
    return; /* another thread ticks */
  decay(false, false);
}

/* ---- the allocation interface ---------------------------------------------- */

#if HK_DEBUG >= 2
/* Every run of s: heads and tails agree, free runs are merged and binned,
 * the counts add up, every other entry is zero. */
static void seg_validate(hk_pseg_t *s) {
  uint32_t used = 0, freep = 0, dirty = 0, prev_free = 0;
  for (uint32_t i = s->first; i < s->npages;) {
    run_t *r = &s->runs[i];
    hk_assert(r->flags & RUN_HEAD && r->len >= 1 && i + r->len <= s->npages);
    run_t *t = &s->runs[i + r->len - 1];
    hk_assert(t->flags & RUN_TAIL && t->len == r->len);
    hk_assert((r->flags & (RUN_USED | RUN_FREE)) == (t->flags & (RUN_USED | RUN_FREE)));
    for (uint32_t k = i + 1; k + 1 < i + r->len && k < i + 64; k++)
      hk_assert(s->runs[k].flags == 0);
    if (r->flags & RUN_FREE) {
      hk_assert(!prev_free); /* merged */
      hk_assert(s->bins >> bin_of(r->len) & 1);
      freep += r->len;
      dirty += bits_count(s->dirty, i, r->len);
    } else {
      used += r->len;
    }
    prev_free = r->flags & RUN_FREE;
    i += r->len;
  }
  hk_assert(used == s->used_pages && freep == s->free_pages && dirty == s->dirty_free);
}
#define VALIDATE(s) seg_validate(s)
#else
#define VALIDATE(s) ((void)0)
#endif

/* Take a run in s (locked), or NULL.  *zero_from: the run's dirty map
 * copied for calloc (pages to zero), when asked. */
static void *seg_alloc(hk_pseg_t *s, hk_heap_t *h, uint32_t n, size_t align, uint64_t *dirty_copy,
                       uint32_t *dirty_n) {
  if (s->released) return NULL;
  uint32_t i = find_fit(s, n, align);
  if (i == NIL) return NULL;
  uint32_t at = carve(s, i, n, align);
  s->runs[at].taker = h->gen;
  s->trimmed = false;
  uint32_t d = bits_count(s->dirty, at, n);
  if (dirty_copy && d && d < n) {
    FOR_WORDS(at, n, w, m) {
      uint64_t bits = s->dirty[w] & m; /* re-based on `at` */
      size_t bit0 = (size_t)w * 64;
      for (; bits; bits &= bits - 1) {
        size_t k = bit0 + (size_t)__builtin_ctzll(bits) - at;
        dirty_copy[k / 64] |= 1ull << (k % 64);
      }
    }
  }
  *dirty_n = d;
  bits_clear(s->aged, at, n);
  s->used_pages += n;
  s->free_pages -= n;
  HK_RELAXED_ADD(s->activity, 1);
  count_dirty(s, -(int64_t)d);
  VALIDATE(s);
  return page_addr(s, at);
}

/* A block of n bytes (32 KiB < n <= HK_PAGES_MAX), aligned to align (a
 * power of two, at most HK_PAGES_ALIGN_MAX), zeroed if asked; NULL when
 * memory is exhausted (the caller tries a direct mapping). */
void *hk_pages_alloc(hk_heap_t *h, size_t n, size_t align, bool zero) {
  if (!hk_budget_ok(NULL, n)) return NULL; /* the memory budget: ENOMEM */
  uint32_t np = (uint32_t)((n + PG_SIZE - 1) >> PG_SHIFT);
  if (np == 0) np = 1;
  /* Under huge pages a run of 2 MiB or more starts on one: else it would
   * make one more huge page resident than it covers. */
  if (np >= HK_SS_SIZE >> PG_SHIFT && align < HK_SS_SIZE && hk_cfg.thp != HK_THP_OFF)
    align = HK_SS_SIZE;
  uint32_t span = np + (align > PG_SIZE ? (uint32_t)(align >> PG_SHIFT) - 1 : 0); /* at worst */
  int want = (int)bin_of(np);
  uint64_t copy_buf[HK_PAGES_MAX / PG_SIZE / 64];
  uint64_t *copy = zero ? copy_buf : NULL;
  if (zero) memset(copy_buf, 0, ((np + 63) / 64) * sizeof(uint64_t));
  uint32_t d = 0;
  void *p = NULL;
  unsigned stage = HAK_STAGE_REUSE;
  /* Best fit over segments: the one whose smallest free run that may fit is
   * the smallest (the lower address on a tie), so that freed memory is
   * reused before a segment's untouched pages.  Its own segments first, then
   * an exited thread's (adopted), then anyone's. */
  for (int pass = 0; !p && pass < 3; pass++) {
    for (int tries = 0; !p && tries < 4; tries++) {
      hk_pseg_t *best = NULL;
      unsigned best_bin = NBINS;
      for (hk_pseg_t *s = atomic_load_explicit(&segs, memory_order_acquire); s; s = s->next) {
        hk_heap_t *home = atomic_load_explicit(&s->home, memory_order_relaxed);
        if ((pass == 0) != (home == h) || (pass == 1) != (home == NULL)) continue;
        uint64_t m =
            atomic_load_explicit(&s->bins_hint, memory_order_relaxed) & ~((1ull << want) - 1);
        if (!m) continue;
        unsigned b = (unsigned)__builtin_ctzll(m);
        if (b < best_bin || (b == best_bin && s < best)) {
          best = s;
          best_bin = b;
        }
      }
      if (!best) break;
      hk_lock(&best->lock);
      p = seg_alloc(best, h, np, align, copy, &d);
      if (p && pass == 1) atomic_store_explicit(&best->home, h, memory_order_relaxed); /* adopted */
      hk_unlock(&best->lock);
      if (!p && best_bin == (unsigned)want) want++; /* its runs of that bin were too short */
      if (want >= NBINS) break;
    }
    want = (int)bin_of(np);
  }
  if (!p) {
    hk_pseg_t *s = seg_new(h, span);
    if (!s) { /* out of address space: give back, try once more */
      hk_arena_trim(true);
      hk_pages_release();
      s = seg_new(h, span);
      if (!s) return NULL;
    }
    hk_lock(&s->lock);
    p = seg_alloc(s, h, np, align, copy, &d);
    hk_unlock(&s->lock);
    stage = HAK_STAGE_OS;
  } else if (d == 0) {
    stage = HAK_STAGE_NEW_SLAB;
  }
  atomic_fetch_add_explicit(&live_pages, np, memory_order_relaxed);
  if (np > d) { /* fresh pages: huge pages from now on? */
    atomic_fetch_add_explicit(&fresh_pages, np - d, memory_order_relaxed);
    hk_thp_check();
  }
  if (zero && d == np) memset(p, 0, (size_t)np << PG_SHIFT);
  else if (zero && d) /* only the pages that may hold data */
    for (uint32_t k = 0; k < np; k++)
      if (copy[k / 64] >> (k % 64) & 1) memset((uint8_t *)p + ((size_t)k << PG_SHIFT), 0, PG_SIZE);
#if HK_TELEMETRY
  unsigned row = hk_tel_row((size_t)np << PG_SHIFT);
  HK_TEL_ADD(h->tel.allocs[row], 1);
  HK_TEL_ADD(h->tel.stage[stage], 1);
#else
  (void)stage;
#endif
  return p;
}

/* What p (in a page segment) is: the start of a run in use, a freed
 * block, an interior pointer, or not a block at all (the checks of free,
 * realloc and usable size).  Reads the entries without the lock: a live
 * run's head does not change until it is freed. */
unsigned hk_pages_check(const void *p) {
  hk_pseg_t *s = seg_of(p);
  uintptr_t off = (uintptr_t)p - (uintptr_t)s;
  uint32_t i = (uint32_t)(off >> PG_SHIFT);
  if (i < s->first || i >= s->npages) return HK_PAGES_FOREIGN;
  uint32_t f = __atomic_load_n(&s->runs[i].flags, __ATOMIC_RELAXED);
  if ((off & (PG_SIZE - 1)) == 0 && (f & (RUN_HEAD | RUN_USED)) == (RUN_HEAD | RUN_USED))
    return HK_PAGES_LIVE;
  if ((off & (PG_SIZE - 1)) == 0 && (f & RUN_HEAD)) return HK_PAGES_FREED;
  /* inside a run: the nearest entry to the left is its head */
  for (uint32_t k = i; k >= s->first; k--) {
    f = __atomic_load_n(&s->runs[k].flags, __ATOMIC_RELAXED);
    if (f & RUN_HEAD) return (f & RUN_FREE) ? HK_PAGES_FREED : HK_PAGES_INTERIOR;
    if (f & RUN_TAIL && k != i) break;
  }
  return HK_PAGES_FREED;
}

size_t hk_pages_usable(const void *p) {
  hk_pseg_t *s = seg_of(p);
  uint32_t i = (uint32_t)(((uintptr_t)p - (uintptr_t)s) >> PG_SHIFT);
  return (size_t)__atomic_load_n(&s->runs[i].len, __ATOMIC_RELAXED) << PG_SHIFT;
}

/* The used run at i (len pages) is free again, merged with free
 * neighbours (s locked); returns the head of the free run it is part of. */
static uint32_t release_run(hk_pseg_t *s, uint32_t i, uint32_t len) {
  clear_run(s, i, len);
  bits_set(s->dirty, i, len);
  s->trimmed = false; /* resident free pages again */
  s->used_pages -= len;
  s->free_pages += len;
  HK_RELAXED_ADD(s->activity, 1);
  count_dirty(s, len);
  return free_run(s, i, len);
}

void hk_pages_free(void *p) {
  hk_pseg_t *s = seg_of(p);
  uint32_t i = (uint32_t)(((uintptr_t)p - (uintptr_t)s) >> PG_SHIFT);
  hk_lock(&s->lock);
  run_t *r = &s->runs[i];
  if (hk_unlikely((r->flags & (RUN_HEAD | RUN_USED)) != (RUN_HEAD | RUN_USED) ||
                  ((uintptr_t)p & (PG_SIZE - 1)))) {
    hk_unlock(&s->lock);
    hk_fatal("double free", p); /* hk_check_block let it through: it raced */
  }
  uint32_t len = r->len;
#if HK_TELEMETRY
  unsigned row = hk_tel_row((size_t)len << PG_SHIFT); /* by another heap than its home: remote */
  if (r->taker == hk_heap_tls->gen) HK_TEL_HERE(local_frees[row], 1);
  else HK_TEL_HERE(remote_frees[row], 1);
#endif
  uint32_t head = release_run(s, i, len);
  bool now = HK_TUNE(purge_delay_ms) == 0; /* minimal: no decay, purge at once */
  if (now) {
    size_t all = SIZE_MAX;
    purge_run(s, head, NULL, &all);
  }
  VALIDATE(s);
  hk_unlock(&s->lock);
  atomic_fetch_sub_explicit(&live_pages, len, memory_order_relaxed);
  if (!now) {
    if (!hk_ace_decays()) decay_on_free();
    hk_ace_poke();
  }
}

/* Resize block p in place to n bytes: shrink (the tail goes back), or grow
 * into the free run that follows.  False if it cannot. */
bool hk_pages_resize(void *p, size_t n) {
  hk_pseg_t *s = seg_of(p);
  uint32_t i = (uint32_t)(((uintptr_t)p - (uintptr_t)s) >> PG_SHIFT);
  uint32_t np = (uint32_t)((n + PG_SIZE - 1) >> PG_SHIFT);
  bool ok = false;
  hk_lock(&s->lock);
  uint32_t len = s->runs[i].len, j = i + len;
  uint64_t taker = s->runs[i].taker;
  if (np < len) {
    clear_run(s, i, len);
    set_run(s, i, np, RUN_USED);
    s->runs[i].taker = taker;
    bits_set(s->dirty, i + np, len - np);
    s->trimmed = false;
    s->used_pages -= len - np;
    s->free_pages += len - np;
    count_dirty(s, len - np);
    free_run(s, i + np, len - np);
    atomic_fetch_sub_explicit(&live_pages, len - np, memory_order_relaxed);
    ok = true;
  } else if (j < s->npages && (s->runs[j].flags & RUN_FREE) && len + s->runs[j].len >= np) {
    uint32_t rl = s->runs[j].len, add = np - len;
    uint32_t d = bits_count(s->dirty, j, add);
    bin_remove(s, j);
    clear_run(s, j, rl);
    clear_run(s, i, len);
    set_run(s, i, np, RUN_USED);
    s->runs[i].taker = taker;
    if (rl > add) free_run(s, j + add, rl - add);
    bits_clear(s->aged, j, add);
    s->used_pages += add;
    s->free_pages -= add;
    count_dirty(s, -(int64_t)d);
    atomic_fetch_add_explicit(&live_pages, add, memory_order_relaxed);
    if (add > d) atomic_fetch_add_explicit(&fresh_pages, add - d, memory_order_relaxed);
    ok = true;
  }
  if (ok) HK_RELAXED_ADD(s->activity, 1);
  VALIDATE(s);
  hk_unlock(&s->lock);
  if (ok) hk_tel_row_moved((size_t)len << PG_SHIFT, (size_t)np << PG_SHIFT);
  return ok;
}

/* ---- the adaptive thread, trim, statistics, threads, fork ----------------------- */

/* A decay tick (ace.c); with `all`, every free page goes (idle trim). */
size_t hk_pages_decay(bool all) { return decay(all, true); }

/* The decay clock starts over (a strategy switch): what is free now has
 * aged at the next tick. */
void hk_pages_age(void) {
  for (hk_pseg_t *s = atomic_load_explicit(&segs, memory_order_acquire); s; s = s->next) {
    hk_lock(&s->lock);
    if (!s->released) seg_age(s);
    hk_unlock(&s->lock);
  }
}

/* HAKMEM_THP=auto crossed its threshold: huge pages for every segment. */
void hk_pages_advise_thp(void) {
  for (hk_pseg_t *s = atomic_load_explicit(&segs, memory_order_acquire); s; s = s->next)
    if (!__atomic_load_n(&s->released, __ATOMIC_RELAXED))
      hk_os_advise_thp((uint8_t *)s + HK_SS_SIZE, ((size_t)s->units - 1) << HK_SS_SHIFT, true);
}

/* Runs taken and freed, ever (the adaptive thread's idle test). */
uint64_t hk_pages_activity(void) {
  uint64_t n = 0;
  for (hk_pseg_t *s = atomic_load_explicit(&segs, memory_order_acquire); s; s = s->next)
    n += __atomic_load_n(&s->activity, __ATOMIC_RELAXED);
  return n;
}

size_t hk_pages_live_bytes(void) {
  return atomic_load_explicit(&live_pages, memory_order_relaxed) << PG_SHIFT;
}

size_t hk_pages_dirty_bytes(void) {
  return atomic_load_explicit(&dirty_pages, memory_order_relaxed) << PG_SHIFT;
}

/* malloc_trim: every free page goes back. */
size_t hk_pages_trim(void) { return decay(true, true); }

/* Thread exit: h's segments serve any heap (the next one to need memory
 * adopts them). */
/* hak_heap_destroy: every run heap h took goes back, as hk_pages_free
 * would give it back.  Returns the runs freed. */
size_t hk_pages_free_heap(hk_heap_t *h) {
  size_t n = 0;
  for (hk_pseg_t *s = atomic_load_explicit(&segs, memory_order_acquire); s; s = s->next) {
    hk_lock(&s->lock);
    if (s->released) { /* its run table is unmapped (out of address space) */
      hk_unlock(&s->lock);
      continue;
    }
    for (uint32_t i = s->first; i < s->npages;) {
      run_t *r = &s->runs[i];
      uint32_t len = r->len;
      if ((r->flags & (RUN_HEAD | RUN_USED)) != (RUN_HEAD | RUN_USED) || r->taker != h->gen) {
        i += (r->flags & RUN_HEAD) && len ? len : 1; /* a merged run's inside: page by page */
        continue;
      }
      release_run(s, i, len);
      atomic_fetch_sub_explicit(&live_pages, len, memory_order_relaxed);
      n++;
      i += len;
    }
    VALIDATE(s);
    hk_unlock(&s->lock);
  }
  return n;
}

void hk_pages_orphan(hk_heap_t *h) {
  for (hk_pseg_t *s = atomic_load_explicit(&segs, memory_order_acquire); s; s = s->next) {
    hk_heap_t *home = h;
    atomic_compare_exchange_strong_explicit(&s->home, &home, NULL, memory_order_relaxed,
                                            memory_order_relaxed);
  }
}

void hk_pages_stats(hk_pages_stats_t *st) {
  memset(st, 0, sizeof *st);
  for (hk_pseg_t *s = atomic_load_explicit(&segs, memory_order_acquire); s; s = s->next) {
    hk_lock(&s->lock);
    if (s->released) {
      hk_unlock(&s->lock);
      continue;
    }
    st->mapped += (size_t)s->units << HK_SS_SHIFT;
    st->in_use += (size_t)s->used_pages << PG_SHIFT;
    st->free_resident += (size_t)s->dirty_free << PG_SHIFT;
    st->header += (size_t)s->first << PG_SHIFT;
    st->segments++;
    hk_unlock(&s->lock);
  }
  st->purged = atomic_load_explicit(&purged_pages, memory_order_relaxed) << PG_SHIFT;
  st->fresh = atomic_load_explicit(&fresh_pages, memory_order_relaxed);
}

void hk_pages_fork_prepare(void) {
  hk_lock(&segs_lock);
  for (hk_pseg_t *s = atomic_load_explicit(&segs, memory_order_acquire); s; s = s->next)
    hk_lock(&s->lock);
}
void hk_pages_fork_parent(void) {
  for (hk_pseg_t *s = atomic_load_explicit(&segs, memory_order_acquire); s; s = s->next)
    hk_unlock(&s->lock);
  hk_unlock(&segs_lock);
}
