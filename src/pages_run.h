/* hakmem pages, a segment's run table: the segment header (hk_pseg_t),
 * one entry per page (run_t), page bitmaps, bins of free runs by length,
 * carving a run from a free one and merging a freed run with its free
 * neighbours.  All of it works on one segment, under its lock.  Included
 * by pages.c alone (its functions are pages.c's, static), which has the
 * segments' list, purging and the interface. */
#ifndef HK_PAGES_RUN_H
#define HK_PAGES_RUN_H

#include "internal.h"

#define PG_SHIFT 12
#define PG_SIZE  ((size_t)1 << PG_SHIFT)
#define NBINS    64
#define NIL      UINT32_MAX
#define SCAN_BIN 16 /* runs of the exact bin tried for a fit */

/* A page's entry: the head and the tail page of each run say its length and
 * state; every other entry is zero (so an interior pointer never passes for
 * a run's start).  A free run's head links it in its bin; a used one's
 * names the heap that took it, by its gen (a free by another is a remote
 * free; hak_heap_destroy frees its heap's). */
enum { RUN_HEAD = 1, RUN_TAIL = 2, RUN_USED = 4, RUN_FREE = 8 };
typedef struct run_s {
  uint32_t len, flags;
  union {
    struct {
      uint32_t next, prev;
    };
    uint64_t taker; /* the taking heap's gen (its struct is recycled) */
  };
} run_t;

typedef struct hk_pseg_s {
  void *spare_;   /* laid out as hk_superslab_t up to kind */
  uint32_t kind;  /* HK_SS_KIND_PAGES */
  uint32_t units; /* 2 MiB units */
  hk_lock_t lock;
  _Atomic(hk_heap_t *) home;  /* the heap that allocates here first; NULL: any */
  struct hk_pseg_s *next;     /* every segment, newest first (grow-only) */
  _Atomic uint64_t bins_hint; /* `bins`, for a look without the lock */
  uint32_t npages, first;     /* pages; the first after the header */
  bool released;              /* all but this page unmapped (out of address space) */
  bool trimmed;               /* every free page given back (seg_trim) since then */
  /* under lock */
  uint32_t used_pages, free_pages, dirty_free; /* dirty_free: free, may be resident */
  uint32_t activity;                           /* runs taken and freed, ever */
  uint64_t bins;                               /* non-empty bins */
  uint32_t bin[NBINS];
  uint64_t *dirty; /* page may be resident (set when a run is freed) */
  uint64_t *aged;  /* free and resident at the last decay tick */
  run_t *runs;
} hk_pseg_t;

_Static_assert(offsetof(hk_pseg_t, kind) == offsetof(hk_superslab_t, kind),
               "the slow paths read kind from any header");
_Static_assert(sizeof(hk_pseg_t) <= PG_SIZE, "a released segment keeps its first page");

/* ---- bitmaps: one bit per page ------------------------------------------- */

static uint64_t word_bits(uint32_t from, uint32_t to, uint32_t w) {
  uint32_t lo = w * 64 > from ? 0 : from - w * 64;
  uint32_t hi = (w + 1) * 64 < to ? 64 : to - w * 64;
  uint64_t m = hi == 64 ? ~0ull : (1ull << hi) - 1;
  return m & ~((1ull << lo) - 1);
}
#define FOR_WORDS(from, n, w, m) \
  for (uint32_t w = (from) / 64, end_ = (from) + (n); w * 64 < end_; w++) \
    for (uint64_t m = word_bits((from), end_, w), once_ = 1; once_; once_ = 0)

static uint32_t bits_count(const uint64_t *map, uint32_t from, uint32_t n) {
  uint32_t c = 0;
  FOR_WORDS(from, n, w, m) c += (uint32_t)__builtin_popcountll(map[w] & m);
  return c;
}
static void bits_set(uint64_t *map, uint32_t from, uint32_t n) {
  FOR_WORDS(from, n, w, m) map[w] |= m;
}
static void bits_clear(uint64_t *map, uint32_t from, uint32_t n) {
  FOR_WORDS(from, n, w, m) map[w] &= ~m;
}

/* ---- runs and bins --------------------------------------------------------- */

/* Bins by length in pages: exact below 8, then 4 per doubling; a bin holds
 * lengths from its own lower bound to the next one's. */
static unsigned bin_of(uint32_t len) {
  if (len < 8) return len;
  unsigned b = 31u - (unsigned)__builtin_clz(len);
  return 8u + (b - 3u) * 4u + ((len >> (b - 2u)) & 3u);
}

static void set_top(hk_pseg_t *s) {
  atomic_store_explicit(&s->bins_hint, s->bins, memory_order_relaxed);
}

static void bin_push(hk_pseg_t *s, uint32_t i) {
  unsigned b = bin_of(s->runs[i].len);
  run_t *r = &s->runs[i];
  r->prev = NIL;
  r->next = s->bin[b];
  if (r->next != NIL) s->runs[r->next].prev = i;
  s->bin[b] = i;
  s->bins |= 1ull << b;
  set_top(s);
}

static void bin_remove(hk_pseg_t *s, uint32_t i) {
  run_t *r = &s->runs[i];
  unsigned b = bin_of(r->len);
  if (r->prev != NIL) s->runs[r->prev].next = r->next;
  else s->bin[b] = r->next;
  if (r->next != NIL) s->runs[r->next].prev = r->prev;
  if (s->bin[b] == NIL) {
    s->bins &= ~(1ull << b);
    set_top(s);
  }
}

/* Write the head and tail entries of run [i, i + len). */
static void set_run(hk_pseg_t *s, uint32_t i, uint32_t len, uint32_t state) {
  s->runs[i] = (run_t){ len, RUN_HEAD | state | (len == 1 ? RUN_TAIL : 0), { { NIL, NIL } } };
  if (len > 1) s->runs[i + len - 1] = (run_t){ len, RUN_TAIL | state, { { NIL, NIL } } };
}

static void clear_run(hk_pseg_t *s, uint32_t i, uint32_t len) {
  s->runs[i] = (run_t){ 0, 0, { { 0, 0 } } };
  s->runs[i + len - 1] = (run_t){ 0, 0, { { 0, 0 } } };
}

/* A free run of len pages at i joins the bins, merged with free neighbours.
 * Returns the merged run's first page. */
static uint32_t free_run(hk_pseg_t *s, uint32_t i, uint32_t len) {
  if (i > s->first && (s->runs[i - 1].flags & RUN_FREE)) {
    uint32_t l = i - s->runs[i - 1].len; /* the tail says the length */
    bin_remove(s, l);
    clear_run(s, l, s->runs[l].len);
    len += i - l;
    i = l;
  }
  uint32_t j = i + len;
  if (j < s->npages && (s->runs[j].flags & RUN_FREE)) {
    uint32_t rl = s->runs[j].len;
    bin_remove(s, j);
    clear_run(s, j, rl);
    len += rl;
  }
  set_run(s, i, len, RUN_FREE);
  bin_push(s, i);
  return i;
}

static uint8_t *page_addr(hk_pseg_t *s, uint32_t i) {
  return (uint8_t *)s + ((size_t)i << PG_SHIFT);
}

/* The first page at or after i whose address is a multiple of align. */
static uint32_t aligned_page(hk_pseg_t *s, uint32_t i, size_t align) {
  uintptr_t a = ((uintptr_t)page_addr(s, i) + align - 1) & ~(uintptr_t)(align - 1);
  return (uint32_t)((a - (uintptr_t)s) >> PG_SHIFT);
}

/* A free run that holds n pages at alignment align, or NIL: from the
 * smallest bin that has one, the lowest of the first few there (address
 * order packs the live runs low and leaves long free runs behind them). */
static uint32_t find_fit(hk_pseg_t *s, uint32_t n, size_t align) {
  for (uint64_t m = s->bins & ~((1ull << bin_of(n)) - 1); m; m &= m - 1) {
    uint32_t best = NIL, i = s->bin[__builtin_ctzll(m)];
    for (int k = 0; k < SCAN_BIN && i != NIL; k++, i = s->runs[i].next) {
      uint32_t at = align > PG_SIZE ? aligned_page(s, i, align) : i;
      if (at + n <= i + s->runs[i].len && i < best) best = i;
    }
    if (best != NIL) return best;
  }
  return NIL;
}

/* Take n pages at alignment align (a power of two) from free run i (which
 * fits), the rest going back to the bins.  Prefers the end whose pages are
 * resident.  Returns the first page. */
static uint32_t carve(hk_pseg_t *s, uint32_t i, uint32_t n, size_t align) {
  uint32_t len = s->runs[i].len, end = i + len, at = i;
  bin_remove(s, i);
  clear_run(s, i, len);
  if (align > PG_SIZE) {
    at = aligned_page(s, i, align);
  } else if (len > n && !(s->dirty[i / 64] >> (i % 64) & 1) &&
             (s->dirty[(end - 1) / 64] >> ((end - 1) % 64) & 1)) {
    at = end - n; /* the warm end */
  }
  hk_assert(at >= i && at + n <= end);
  if (at > i) free_run(s, i, at - i);
  if (at + n < end) free_run(s, at + n, end - at - n);
  set_run(s, at, n, RUN_USED);
  return at;
}

#endif
