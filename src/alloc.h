/* hakmem fast paths: a malloc hit and a same-thread free, inlined into the
 * exported entry points.  No lock, no atomic read-modify-write, no counter;
 * everything else goes to the out-of-line slow paths. */
#ifndef HK_ALLOC_H
#define HK_ALLOC_H

#include "internal.h"
#include "cache.h"

/* The unit of the address map p names: bits 21..46 of p - 1.  The bits
 * above are dropped: NULL looks up the top unit, never marked in use
 * (hk_map_set), and a non-canonical pointer aliases a user unit (at worst
 * it faults on the header read; the slow paths' lookup is exact). */
static inline size_t hk_fast_unit(const void *p) {
  return ((uintptr_t)p - 1) << (64 - 47) >> (64 - 47 + HK_SS_SHIFT);
}

/* Hardened malloc hit (hardened build): the fast path's, with the link
 * decoded and checked and the popped block's cleared (hk_slab_pop_as). */
static HK_ALWAYS_INLINE void *hk_malloc_hardened_inline(hk_heap_t *h, size_t n) {
  if (hk_likely(n <= HK_DIRECT_MAX)) {
    hk_slab_t *s = h->direct[(n + 7) >> 3];
    if (hk_likely(s->free != NULL)) return hk_slab_pop_as(s, true);
  }
  return hk_malloc_hardened(h, n);
}

/* Hardened free (mode on, not zero): a carved block's start in an ordinary
 * slab, holding no link into its slab (else it may be free already), is
 * pushed as the fast path pushes, its link encoded, or handed to
 * hk_free_block when another thread owns it (checked once).  Anything else
 * (a span's tail, a suspected double free, a misuse) is left to
 * hk_free_checked. */
static HK_ALWAYS_INLINE void hk_harden_free_on(void *p) {
  if (hk_likely(hk_ss_map[hk_fast_unit(p)] == HK_MAP_SLABS_SLOW)) {
    hk_superslab_t *ss = hk_ss_of(p);
    hk_slab_t *s = hk_slab_at(ss, p);
    if (hk_likely(hk_slab_flags(s) == 0 && hk_harden_block_ok(ss, s, p))) {
      hk_heap_t *h = hk_heap_tls;
      if (hk_unlikely(hk_ss_owner(ss) != h)) {
        hk_free_block(ss, s, p);
        return;
      }
      hk_block_t *b = (hk_block_t *)p;
      b->next = (hk_block_t *)hk_link_encode_ss(ss, b, s->local_free);
      s->local_free = b;
      if (hk_likely(--s->used != 0)) return;
      hk_heap_slab_freed_local(h, ss, s);
      return;
    }
  }
  hk_free_checked(p);
}

static HK_ALWAYS_INLINE void *hk_malloc_inline(size_t n) {
  hk_heap_t *h = hk_heap_tls;
  if (HK_HARDEN_FIRST && hk_hardened()) return hk_malloc_hardened_inline(h, n);
  if (hk_likely(n <= HK_DIRECT_MAX)) {
    hk_slab_t *s = h->direct[(n + 7) >> 3];
    hk_block_t *b = s->free;
    if (hk_likely(b != NULL)) {
      s->free = b->next;
      s->used++;
      return b;
    }
  } else if (hk_likely(n <= HK_SMALL_MAX)) {                   /* 1-32 KiB: the thread cache */
    void *p = hk_cache_pop(h, hk_cache_class[(n + 127) >> 7]); /* empty when it is off */
    if (hk_likely(p != NULL)) return p;
  }
  return hk_malloc_generic(h, n);
}

/* The address map comes first: a pointer outside hakmem's SuperSlabs (NULL
 * included) or in a hardened one goes to the checks of the slow path before
 * anything is read at it. */
static HK_ALWAYS_INLINE void hk_free_inline(void *p) {
  if (HK_HARDEN_FIRST && hk_likely(hk_cfg.harden == HK_HARDEN_ON)) {
    hk_harden_free_on(p);
    return;
  }
#if HK_DEBUG >= 1
  /* A misaligned pointer goes to the checks (and aborts) before the fast
   * path writes a link at it, which UBSan reports as undefined; the release
   * build spends no instruction on it and takes it as a block (a misuse
   * only hardened mode detects there). */
  if ((uintptr_t)p & 7) {
    hk_free_generic(p);
    return;
  }
#endif
  if (hk_likely(hk_ss_map[hk_fast_unit(p)] == HK_MAP_SLABS)) {
    hk_superslab_t *ss = hk_ss_of(p);
    hk_slab_t *s = hk_slab_at(ss, p);
    hk_heap_t *h = hk_heap_tls, *owner = hk_ss_owner(ss);
    if (hk_likely(owner == h)) {
      if (hk_likely(s->flags == 0)) {
        hk_block_t *b = (hk_block_t *)p;
        b->next = s->local_free;
        s->local_free = b;
        if (hk_likely(--s->used != 0)) return;
        /* empty: decided here when it stays and no remote frees wait */
        if (hk_slab_stays_empty(h, s) &&
            !atomic_load_explicit(&h->remote_hint, memory_order_relaxed))
          return;
        hk_heap_slab_freed_local(h, ss, s);
        return;
      }
      /* a block of 1-32 KiB (any slab of its span): into the thread cache.
       * The flags are read again (one load, off the path above, whose
       * cmpb then tests memory directly: 25 instructions, not 26). */
      if (hk_slab_flags(s) & HK_SLAB_CACHED) {
        hk_cache_free(h, s->cls, p);
        return;
      }
    } else if (owner != NULL && (hk_slab_flags(s) & HK_SLAB_CACHED)) {
      /* a live heap's block of 1-32 KiB: into this thread's cache when it
       * allocates the class too (hk_cache_free_foreign); an exited
       * thread's is adopted on the slow path */
      if (hk_cache_free_foreign(h, s->cls, p)) return;
    }
  }
  hk_free_generic(p);
}

/* A free with the size the program allocated (free_sized, sized delete):
 * free's fast path, which needs no size class.  Hardened mode and the
 * debug build first check that the size fits the block (free.c). */
static HK_ALWAYS_INLINE void hk_free_sized_inline(void *p, size_t n) {
  if (HK_DEBUG >= 1 || hk_hardened()) {
    hk_free_sized_checked(p, n);
    return;
  }
  (void)n;
  hk_free_inline(p);
}

#endif /* HK_ALLOC_H */
