/* hakmem fast paths: a malloc hit and a same-thread free, inlined into the
 * exported entry points.  No lock, no atomic read-modify-write, no counter;
 * everything else goes to the out-of-line slow paths. */
#ifndef HK_ALLOC_H
#define HK_ALLOC_H

#include "internal.h"

/* Hardened mode keeps direct[] empty and marks its SuperSlabs "slow", so
 * that every malloc and free reaches the checks behind these paths.  The
 * hardened build (make hardened) tests the mode first instead and goes
 * straight to them. */
#define HK_HARDEN_FIRST (HK_HARDEN_DEFAULT != HK_HARDEN_OFF)

static inline void *hk_malloc_inline(size_t n) {
  hk_heap_t *h = hk_heap_tls;
  if (HK_HARDEN_FIRST && hk_hardened()) return hk_malloc_hardened(h, n);
  if (hk_likely(n <= HK_DIRECT_MAX)) {
    hk_slab_t *s = h->direct[(n + 7) >> 3];
    hk_block_t *b = s->free;
    if (hk_likely(b != NULL)) {
      s->free = b->next;
      s->used++;
      return b;
    }
  }
  return hk_malloc_generic(h, n);
}

/* The address map comes first: a pointer outside hakmem's SuperSlabs (NULL
 * included) or in a hardened one goes to the checks of the slow path before
 * anything is read at it. */
static inline void hk_free_inline(void *p) {
  if (HK_HARDEN_FIRST && hk_hardened()) { hk_harden_free(p); return; }
  /* bits 21..46 of p - 1 name the unit.  The bits above are dropped: NULL
   * looks up the top unit, never marked HK_MAP_SLABS (hk_map_set), and a
   * non-canonical pointer aliases a user unit (at worst it faults on the
   * header read; the slow path's lookup is exact). */
  size_t unit = ((uintptr_t)p - 1) << (64 - 47) >> (64 - 47 + HK_SS_SHIFT);
  if (hk_likely(hk_ss_map[unit] == HK_MAP_SLABS)) {
    hk_superslab_t *ss = hk_ss_of(p);
    hk_slab_t *s = hk_slab_at(ss, p);
    hk_heap_t *h = hk_heap_tls;
    if (hk_likely(hk_ss_owner(ss) == h && s->flags == 0)) {
      hk_block_t *b = (hk_block_t *)p;
      b->next = s->local_free;
      s->local_free = b;
      if (hk_likely(--s->used != 0)) return;
      hk_heap_slab_freed_local(h, ss, s);
      return;
    }
  }
  hk_free_generic(p);
}

#endif /* HK_ALLOC_H */
