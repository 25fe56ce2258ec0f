/* hakmem thread cache: the classes above 1 KiB (which direct[] does not
 * serve) keep the owner's last frees in a LIFO bin per class, and malloc
 * takes them first (another live heap's blocks too, for a class the
 * thread allocates: hk_cache_free_foreign).  A program that frees and allocates blocks of 1-32 KiB
 * at random then reuses the block it just freed, instead of walking slabs
 * of 2-16 blocks that fill and drain at every step; and each class keeps a
 * pool of free blocks as deep as its own ups and downs, so that it rarely
 * takes a fresh span while others sit half empty.
 *
 * A cached block stays counted as used in its slab (its span never retires
 * under it), so the bins hold what the program is about to reuse and no
 * more.  A bin's limit starts at HK_CACHE_BIN_START worth of blocks and
 * grows by one block when a free finds it full after a malloc found it
 * empty (the class both allocates and frees), up to HK_CACHE_BIN_MAX blocks
 * or HK_CACHE_BIN_BYTES, while the limits of the heap's bins stay within its
 * share of HAKMEM_CACHE_MB among the live threads.  A sweep, every
 * HK_CACHE_SWEEP_EVENTS misses and overflows and at each decay tick of the
 * adaptive layer, gives back what each bin held untouched since the last
 * one (its low-water mark, as jemalloc's tcache GC) and lowers its limit by
 * half of that: a program that only frees (a phase's end, before it idles)
 * sweeps its bins down to nothing, and its spans retire as without a
 * cache.  Thread exit and malloc_trim give back everything.  Off in hardened
 * mode (its frees are checked one by one) and in minimal mode (no memory
 * held back). */
#ifndef HK_CACHE_H
#define HK_CACHE_H

#include "internal.h"

#define HK_CACHE_BIN_START    ((size_t)32 << 10)  /* a bin's first limit, in bytes */
#define HK_CACHE_BIN_BYTES    ((size_t)1 << 20)   /* a bin's limit, at most        */
#define HK_CACHE_BIN_MAX      64u                 /* ... and in blocks             */
#define HK_CACHE_BIN_MIN      2u                  /* a bin's limit, at least       */
#define HK_CACHE_HEAP_MAX     ((size_t)16 << 20)  /* the limits of a heap's bins,  */
#define HK_CACHE_HEAP_MIN     ((size_t)512 << 10) /* ... between these, sharing    */
                                                  /* HAKMEM_CACHE_MB among threads */
#define HK_CACHE_SWEEP_EVENTS 256u                /* misses + overflows per sweep  */

/* The first class the cache serves (HK_CACHE_FIRST), or above every class
 * when it is off: the owner's frees of slabs from this class on go to the
 * cache. */
extern uint8_t hk_cache_from;
/* The class of n, 1 KiB < n <= 32 KiB, at [(n + 127) >> 7]: classes there
 * step by 128 B or multiples of it. */
extern const uint8_t hk_cache_class[HK_SMALL_MAX / 128 + 1];

void hk_cache_free_full(hk_heap_t *h, unsigned cls, void *p); /* the bin is full */

/* Blocks in a bin.  pushed and popped are the bin's own state, not extra
 * counters: statistics read them, so the hits count nothing else. */
static inline unsigned hk_cache_count(const hk_cache_bin_t *c) {
  return (unsigned)(c->pushed - c->popped);
}

static HK_ALWAYS_INLINE void *hk_cache_pop(hk_heap_t *h, unsigned cls) {
  hk_cache_bin_t *c = &h->cache[cls - HK_CACHE_FIRST];
  hk_block_t *b = c->top;
  if (hk_unlikely(b == NULL)) return NULL;
  c->top = b->next;
  unsigned n = (unsigned)(c->pushed - ++c->popped);
  if (n < c->low) c->low = (uint16_t)n;
  return b;
}

static HK_ALWAYS_INLINE void hk_cache_push(hk_cache_bin_t *c, void *p) {
  hk_block_t *b = (hk_block_t *)p;
  b->next = c->top;
  c->top = b;
  c->pushed++;
}

/* The owner frees p, of a cached class: onto its bin, or when the bin is
 * full out of line (a tail call: the inline free saves no register). */
static HK_ALWAYS_INLINE void hk_cache_free(hk_heap_t *h, unsigned cls, void *p) {
  hk_cache_bin_t *c = &h->cache[cls - HK_CACHE_FIRST];
  if (hk_unlikely(hk_cache_count(c) >= c->limit)) {
    hk_cache_free_full(h, cls, p);
    return;
  }
  hk_cache_push(c, p);
}

/* Another heap's block, freed here (a request freed by its server, a
 * response by its client): onto this thread's bin of its class if the
 * class missed here since the last sweep (this thread allocates it too:
 * its next malloc reuses the block instead of the owner collecting it
 * later), else false (a remote free: a full bin does not grow for
 * another heap's blocks).  A thread that only frees, a
 * consumer, leaves its bins alone.  The block stays counted as used in
 * its slab; a flush gives it back as a remote free.  hk_heap_empty's
 * bins never miss. */
static HK_ALWAYS_INLINE bool hk_cache_free_foreign(hk_heap_t *h, unsigned cls, void *p) {
  hk_cache_bin_t *c = &h->cache[cls - HK_CACHE_FIRST];
  if (!c->missed || hk_cache_count(c) >= c->limit) return false;
  hk_cache_push(c, p);
  return true;
}

void hk_cache_init(void);              /* process start, after the config */
void hk_cache_setup(hk_heap_t *h);     /* a heap is taken: set its limits */
void hk_cache_threads(size_t live);    /* live heaps changed (pool lock)  */
void hk_cache_resize(void);            /* HAKMEM_CACHE_MB changed         */
void hk_cache_flush(hk_heap_t *h);     /* every bin back to the slabs     */
void hk_cache_retire(hk_heap_t *h);    /* thread exit, after the flush: into the counters */
void hk_cache_sweep_now(hk_heap_t *h); /* the sweep the adaptive layer asked for */
void hk_cache_missed(hk_heap_t *h, unsigned cls); /* a malloc found bin cls empty */
/* Statistics, from any thread: bytes held; *blocks += blocks held, and
 * the bins' blocks in and out are added to t's cache_pushed/_popped. */
size_t hk_cache_held(const hk_heap_t *h, size_t *blocks, hk_tel_t *t);

/* The adaptive layer, at a decay tick (any thread): sweep at the next slow path. */
static inline void hk_cache_sweep_ask(hk_heap_t *h) {
  if (!atomic_load_explicit(&h->cache_sweep, memory_order_relaxed))
    atomic_store_explicit(&h->cache_sweep, 1, memory_order_relaxed);
}

/* On the owner's slow paths: a sweep, when the adaptive layer asked. */
static inline void hk_cache_sweep(hk_heap_t *h) {
  if (hk_unlikely(atomic_load_explicit(&h->cache_sweep, memory_order_relaxed)))
    hk_cache_sweep_now(h);
}

/* A miss or an overflow: a sweep every HK_CACHE_SWEEP_EVENTS of them (a
 * program that only frees sweeps its bins down to nothing), or when asked. */
static inline void hk_cache_event(hk_heap_t *h) {
  if (hk_unlikely(++h->cache_events >= HK_CACHE_SWEEP_EVENTS)) hk_cache_sweep_now(h);
  else hk_cache_sweep(h);
}

#endif /* HK_CACHE_H */
