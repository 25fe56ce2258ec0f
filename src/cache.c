/* hakmem thread cache: limits, flushes and sweeps (the inline pop and push
 * are in cache.h). */
#include "cache.h"
#include "hakmem.h"

uint8_t hk_cache_from = HK_NUM_CLASSES; /* off until hk_cache_init */
#define C4(a)  a, a, a, a
#define C8(a)  C4(a), C4(a)
#define C16(a) C8(a), C8(a)
/* classes 33.. (1152 B ..): 8 per doubling, so 1, 2, 4, 8, 16 granules of
 * 128 B each between 1 KiB and 32 KiB */
/* clang-format off */
const uint8_t hk_cache_class[HK_SMALL_MAX / 128 + 1] = {
  [0 ... 8] = HK_CACHE_FIRST,          /* unused: sizes up to 1 KiB use direct[] */
  33, 34, 35, 36, 37, 38, 39, 40,
  41, 41, 42, 42, 43, 43, 44, 44, 45, 45, 46, 46, 47, 47, 48, 48,
  C4(49), C4(50), C4(51), C4(52), C4(53), C4(54), C4(55), C4(56),
  C8(57), C8(58), C8(59), C8(60), C8(61), C8(62), C8(63), C8(64),
  C16(65), C16(66), C16(67), C16(68), C16(69), C16(70), C16(71), C16(72),
};
/* clang-format on */
_Static_assert(sizeof hk_cache_class == 257, "one entry per 128 B up to 32 KiB");

static size_t heap_share = HK_CACHE_HEAP_MAX; /* a heap's bins, in bytes */
static size_t live_heaps = 1;                 /* as hk_cache_threads was last told */

/* A heap's share of HAKMEM_CACHE_MB; none when it is 0 (the bins shrink to
 * it at their next sweeps). */
void hk_cache_threads(size_t live) {
  size_t total = (size_t)__atomic_load_n(&hk_cfg.cache_mb, __ATOMIC_RELAXED) << 20;
  size_t share = live ? total / live : HK_CACHE_HEAP_MAX;
  if (share > HK_CACHE_HEAP_MAX) share = HK_CACHE_HEAP_MAX;
  if (share < HK_CACHE_HEAP_MIN && total) share = HK_CACHE_HEAP_MIN;
  __atomic_store_n(&live_heaps, live, __ATOMIC_RELAXED);
  __atomic_store_n(&heap_share, share, __ATOMIC_RELAXED);
}
void hk_cache_resize(void) { hk_cache_threads(__atomic_load_n(&live_heaps, __ATOMIC_RELAXED)); }

void hk_cache_init(void) {
  bool on = !hk_hardened() && hk_cfg.mode != HAK_MODE_MINIMAL;
  hk_cache_from = on ? HK_CACHE_FIRST : HK_NUM_CLASSES;
}

static unsigned limit_for(unsigned i, size_t bytes) {
  size_t n = bytes / hk_class_size(HK_CACHE_FIRST + i);
  if (n > HK_CACHE_BIN_MAX) n = HK_CACHE_BIN_MAX;
  return n < HK_CACHE_BIN_MIN ? HK_CACHE_BIN_MIN : (unsigned)n;
}

void hk_cache_setup(hk_heap_t *h) {
  h->cache_limits = 0;
  for (unsigned i = 0; i < HK_CACHE_CLASSES; i++) {
    unsigned n = limit_for(i, HK_CACHE_BIN_START);
    h->cache[i] = (hk_cache_bin_t){ .limit = (uint16_t)n }; /* empty, not missed */
    h->cache_limits += n * hk_class_size(HK_CACHE_FIRST + i);
  }
}

/* A malloc found bin cls empty: the class takes blocks back faster than it
 * keeps them, so its bin may grow at its next overflow.  A sweep, if asked. */
void hk_cache_missed(hk_heap_t *h, unsigned cls) {
  hk_cache_event(h);
  h->cache[cls - HK_CACHE_FIRST].missed = 1;
}

/* A free found bin cls full.  The bin grows by a block when its class also
 * missed since the last sweep (it both allocates and frees: a program that
 * only frees, say before it exits or idles, fills its bins to their limits
 * and no more) and the heap's share has room; otherwise p goes to its slab. */
void hk_cache_free_full(hk_heap_t *h, unsigned cls, void *p) {
  unsigned i = cls - HK_CACHE_FIRST;
  if (hk_unlikely(i >= HK_CACHE_CLASSES)) {
    hk_free_checked(p);
    return;
  } /* never: a cached slab's class */
  hk_cache_bin_t *c = &h->cache[i];
  size_t bs = hk_class_size(cls);
  hk_cache_event(h);
  if (c->missed && hk_cache_count(c) >= c->limit &&
      h->cache_limits + bs <= __atomic_load_n(&heap_share, __ATOMIC_RELAXED) &&
      c->limit < limit_for(i, HK_CACHE_BIN_BYTES)) {
    c->limit++;
    h->cache_limits += bs;
  }
  if (hk_cache_count(c) < c->limit) {
    hk_cache_push(c, p);
    return;
  }
  hk_free_checked(p);
}

/* Debug builds (HK_DEBUG=2): a bin lists `count` blocks of its class, each
 * in a cached slab of the heap, at most `limit`. */
static void bin_validate(hk_heap_t *h, unsigned i) {
#if HK_DEBUG >= 2
  hk_cache_bin_t *c = &h->cache[i];
  unsigned n = 0;
  for (hk_block_t *b = c->top; b; b = b->next, n++) {
    hk_superslab_t *ss = hk_ss_of(b);
    hk_slab_t *s = hk_slab_at(ss, b);
    hk_assert(hk_map_at(b) == HK_MAP_SLABS);
    hk_assert((hk_slab_flags(s) & HK_SLAB_CACHED) && s->cls == HK_CACHE_FIRST + i);
    hk_assert(n < hk_cache_count(c));
  }
  hk_assert(n == hk_cache_count(c) && n <= c->limit && c->low <= n);
#else
  (void)h;
  (void)i;
#endif
}

/* Give the bottom `n` blocks of bin i (the longest held) back to their
 * slabs, as the owner's frees. */
static void bin_flush(hk_heap_t *h, unsigned i, unsigned n) {
  hk_cache_bin_t *c = &h->cache[i];
  unsigned count = hk_cache_count(c);
  if (n == 0 || count == 0) {
    bin_validate(h, i);
    return;
  }
  if (n > count) n = count;
  hk_block_t **link = &c->top;
  for (unsigned keep = count - n; keep; keep--) link = &(*link)->next;
  hk_block_t *b = *link;
  *link = NULL;
  c->popped += n; /* out, not served: counted as flushed */
  if (c->low > count - n) c->low = (uint16_t)(count - n);
  HK_TEL_ADD(h->tel.cache_flushed[HK_CACHE_FIRST + i], n);
  while (b) { /* this heap's, or another's (a remote free) */
    hk_block_t *next = b->next;
    hk_superslab_t *ss = hk_ss_of(b);
    hk_free_block(ss, hk_slab_head(hk_slab_at(ss, b)), b);
    b = next;
  }
  bin_validate(h, i);
}

/* Everything back (thread exit, malloc_trim): the bins start over, no
 * class missed (another heap's blocks wait for the next miss). */
void hk_cache_flush(hk_heap_t *h) {
  atomic_store_explicit(&h->cache_sweep, 0, memory_order_relaxed);
  for (unsigned i = 0; i < HK_CACHE_CLASSES; i++) {
    bin_flush(h, i, hk_cache_count(&h->cache[i]));
    h->cache[i].missed = 0;
  }
}

/* The heap goes back to the pool (its bins empty): what went in and out of
 * them joins its cumulative counters, which outlive the heap's reuse. */
void hk_cache_retire(hk_heap_t *h) {
  for (unsigned i = 0; i < HK_CACHE_CLASSES; i++) {
    hk_cache_bin_t *c = &h->cache[i];
    hk_assert(hk_cache_count(c) == 0);
    HK_TEL_ADD(h->tel.cache_pushed[HK_CACHE_FIRST + i], c->pushed);
    HK_TEL_ADD(h->tel.cache_popped[HK_CACHE_FIRST + i], c->popped);
    __atomic_store_n(&c->pushed, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&c->popped, 0, __ATOMIC_RELAXED);
  }
}

/* A sweep (every HK_CACHE_SWEEP_EVENTS misses and overflows, or at a decay
 * tick of the adaptive layer): what stayed in a bin since the last one, its
 * low-water mark, was not needed: it goes back, and the bin's limit drops by
 * half of it, to nothing for a class that only frees.  A heap over its
 * share (more threads came) drops every limit by half. */
void hk_cache_sweep_now(hk_heap_t *h) {
  atomic_store_explicit(&h->cache_sweep, 0, memory_order_relaxed);
  h->cache_events = 0;
  bool over = h->cache_limits > __atomic_load_n(&heap_share, __ATOMIC_RELAXED);
  for (unsigned i = 0; i < HK_CACHE_CLASSES; i++) {
    hk_cache_bin_t *c = &h->cache[i];
    unsigned cut = over ? (c->limit + 1u) / 2 : (c->low + 1u) / 2;
    if (cut > c->limit) cut = c->limit;
    c->limit = (uint16_t)(c->limit - cut);
    h->cache_limits -= cut * hk_class_size(HK_CACHE_FIRST + i);
    unsigned count = hk_cache_count(c), drop = c->low;
    if (count - drop > c->limit) drop = count - c->limit;
    bin_flush(h, i, drop);
    c->low = (uint16_t)hk_cache_count(c);
    c->missed = 0;
  }
}

size_t hk_cache_held(const hk_heap_t *h, size_t *blocks, hk_tel_t *t) {
  size_t bytes = 0;
  for (unsigned i = 0; i < HK_CACHE_CLASSES; i++) {
    uint64_t in = __atomic_load_n(&h->cache[i].pushed, __ATOMIC_RELAXED);
    uint64_t out = __atomic_load_n(&h->cache[i].popped, __ATOMIC_RELAXED);
    size_t n = in > out ? (size_t)(in - out) : 0; /* read apart: may be off by one */
    *blocks += n;
    bytes += n * hk_class_size(HK_CACHE_FIRST + i);
    t->cache_pushed[HK_CACHE_FIRST + i] += in;
    t->cache_popped[HK_CACHE_FIRST + i] += out;
  }
  return bytes;
}
