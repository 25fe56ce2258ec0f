/* hakmem free: the slow path behind the inline fast path in alloc.h —
 * page runs, direct mappings, slabs parked as full, frees from a thread
 * that does not own the block's SuperSlab, every free in hardened mode —
 * after the pointer's checks (harden.c). */
#include "alloc.h"

#include <errno.h>

/* A thread freeing into an abandoned SuperSlab adopts it (heap.c), taking
 * a heap first if it has none yet (a thread whose first call frees what an
 * exited thread left). */
static bool adopter(hk_heap_t *h) { return h != &hk_heap_empty || hk_thread_init() != NULL; }

/* A block of a slab span (head's), checked: onto the local list of its
 * owner, or pushed for the owner (or whoever adopts the abandoned
 * SuperSlab) to collect. */
void hk_free_block(hk_superslab_t *ss, hk_slab_t *head, void *p) {
  hk_heap_t *h = hk_heap_tls;
  hk_heap_t *owner = atomic_load_explicit(&ss->owner, memory_order_acquire);
  if (owner == h) {
    hk_assert(!(head->flags & HK_SLAB_FREE));
    hk_block_t *b = (hk_block_t *)p;
    hk_assert(head->used > 0);
    hk_link_set(head, b, head->local_free);
    head->local_free = b;
    if (--head->used != 0 && !(head->flags & HK_SLAB_FULL)) return; /* as the fast path */
    hk_heap_slab_freed_local(h, ss, head);
  } else if (owner != NULL) { /* counted by the owner when it collects it */
    hk_remote_free(ss, head, p);
  } else if (adopter(h) && hk_heap_adopt(hk_heap_tls, ss)) { /* abandoned: now ours */
    hk_free_block(ss, head, p);
  } else { /* abandoned: read the epoch before the push */
    uint64_t seen = atomic_load_explicit(&ss->abandoned_state, memory_order_acquire);
    hk_remote_free(ss, head, p);
    hk_heap_abandoned_free(ss, seen);
    hk_ace_poke();
  }
}

/* Every free but the fast paths', after the pointer's checks. */
void hk_free_checked(void *p) {
  if (p == NULL) return;
  int saved_errno = errno; /* free never changes errno */
  hk_superslab_t *ss = hk_check_block(p, HK_OP_FREE);
  if (ss->kind == HK_SS_KIND_PAGES) {
    if (hk_cfg.harden == HK_HARDEN_ZERO) memset(p, 0, hk_pages_usable(p));
    hk_pages_free(p);
  } else if (ss->kind == HK_SS_KIND_DIRECT) {
    hk_direct_free(ss);
  } else {
    hk_assert(ss->kind == HK_SS_KIND_SLABS);
    hk_slab_t *head = hk_slab_head(hk_slab_at(ss, p));
    if (hk_hardened()) hk_harden_freeing(head, p);
    hk_free_block(ss, head, p);
  }
  errno = saved_errno;
}

/* Hardened mode has its own common case (alloc.h); zero mode zeroes in
 * hk_free_checked. */
void hk_free_generic(void *p) {
  if (hk_cfg.harden == HK_HARDEN_ON) hk_harden_free_on(p);
  else hk_free_checked(p);
}
