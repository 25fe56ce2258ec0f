/* hakmem slab: the blocks of one size class inside a slab span.
 *
 * Three lists: `free` (malloc pops it), `local_free` (the owner's frees) and
 * `remote_free` (other threads' frees, an atomic stack).  Blocks are carved
 * lazily from the span, a page's worth at a time, so untouched memory stays
 * uncommitted. */
#include "internal.h"
#include "cache.h"
#include "hakmem.h"

void hk_slab_init(hk_slab_t *s, hk_superslab_t *ss, unsigned cls) {
  unsigned idx = hk_slab_index(ss, s);
  uint8_t *start = hk_slab_area(ss, idx);
  uint8_t *end = (uint8_t *)ss + ((size_t)(idx + s->span) << HK_SLAB_SHIFT);
  if (idx + s->span == HK_SLABS_PER_SS) end -= hk_guard_bytes(); /* hardened */
  size_t bs = hk_class_size(cls);
  s->free = NULL;
  s->local_free = NULL;
  atomic_store_explicit(&s->remote_free, NULL, memory_order_relaxed);
  s->next = s->prev = NULL;
  s->start = start;
  s->block_size = (uint32_t)bs;
  s->used = 0;
  s->capacity = 0;
  s->reserved = (uint16_t)((size_t)(end - start) / bs);
  s->cls = (uint8_t)cls;
  /* a cached class: every slab of the span sends the owner's frees to the
   * thread cache, which reads the class there */
  /* (never a first-class heap's: another thread's cache would keep its
   * blocks past hak_heap_destroy) */
  hk_heap_t *owner = hk_ss_owner(ss);
  uint8_t cached = cls >= hk_cache_from && !(owner && owner->user) ? HK_SLAB_CACHED : 0;
  hk_slab_set_flags(s, cached);
  for (unsigned k = 1; k < s->span; k++) {
    s[k].cls = (uint8_t)cls;
    hk_slab_set_flags(&s[k], HK_SLAB_TAIL | cached);
  }
  hk_assert_internal(s->reserved >= 1);
}

#define CARVE_FIRST 16 /* blocks a fresh slab carves first */

/* Link the next n uncarved blocks, in address order, onto the free list. */
static void carve(hk_heap_t *h, hk_slab_t *s, unsigned n) {
  size_t bs = s->block_size;
  uint8_t *first = s->start + (size_t)s->capacity * bs;
  uint8_t *p = first;
  for (unsigned i = 1; i < n; i++, p += bs) hk_link_set(s, (hk_block_t *)p, (hk_block_t *)(p + bs));
  /* first: the links name carved blocks; hardened frees of other threads
   * read it (hk_block_start_ok), the owner alone writes it */
  __atomic_store_n(&s->capacity, (uint16_t)(s->capacity + n), __ATOMIC_RELAXED);
  hk_link_set(s, (hk_block_t *)p, s->free);
  s->free = (hk_block_t *)first;
  HK_TEL_ADD(h->tel.carved[s->cls], n);
  (void)h;
}

/* Carve about a refill batch (a page or a few) of fresh blocks into the
 * free list; a fresh slab starts with CARVE_FIRST and doubles, so that a
 * thread taking a handful of a small class (a short-lived one) does not
 * link a page of 16-byte blocks it never uses. */
bool hk_slab_extend(hk_heap_t *h, hk_slab_t *s) {
  unsigned left = (unsigned)s->reserved - s->capacity;
  if (left == 0) return false;
  size_t bs = s->block_size;
  size_t batch = (size_t)HK_TUNE(refill_pages[s->cls]) * HK_PAGE_SIZE; /* ace.c tunes it */
  unsigned n = bs >= batch / 4 ? 4 : (unsigned)(batch / bs);
  unsigned grow = s->capacity < CARVE_FIRST ? CARVE_FIRST : s->capacity;
  if (n > grow) n = grow;
  if (n > left) n = left;
  carve(h, s, n);
  return true;
}

/* An emptied slab that stays (heap.c keep_empty), its lists dropped: its
 * blocks came back in the order another thread freed them, and handing
 * them out by chasing that list is a dependent miss per block.  Carve them
 * again in address order: as many as it had carved, up to a page's worth
 * (at least CARVE_FIRST), so that its next mallocs find a list as long as
 * before rather than a refill every CARVE_FIRST blocks. */
void hk_slab_recarve(hk_heap_t *h, hk_slab_t *s) {
  unsigned had = s->capacity;
  unsigned n = (unsigned)(HK_PAGE_SIZE / s->block_size);
  if (n < CARVE_FIRST) n = CARVE_FIRST;
  if (n > had) n = had;
  s->capacity = 0;
  if (n) carve(h, s, n);
}

/* Take the blocks other threads freed (they were still counted as used)
 * onto the local list: malloc sees them with the owner's next frees. */
void hk_slab_collect_remote(hk_heap_t *h, hk_slab_t *s) {
  if (atomic_load_explicit(&s->remote_free, memory_order_relaxed) == NULL) return;
  hk_block_t *list = atomic_exchange_explicit(&s->remote_free, NULL, memory_order_acquire);
  if (!list) return;
  unsigned count = 1;
  hk_block_t *tail = list;
  for (hk_block_t *next; (next = hk_link_get(s, tail)) != NULL; tail = next) count++;
  hk_assert(count <= s->used);
  hk_link_set(s, tail, s->local_free);
  s->local_free = list;
  s->used = (uint16_t)(s->used - count);
  HK_TEL_ADD(h->tel.collected[hk_tel_row_of(s)], count);
  (void)h;
}

/* Move the local list to the free list.  With the free list empty, the
 * local list holds every carved block that is not in use. */
static HK_ALWAYS_INLINE void collect_local(hk_heap_t *h, hk_slab_t *s) {
  (void)h;
  if (!s->local_free) return;
  unsigned n;
  if (!s->free) {
    n = (unsigned)s->capacity - s->used;
  } else {
    hk_block_t *tail = s->local_free;
    n = 1;
    for (hk_block_t *next; (next = hk_link_get(s, tail)) != NULL; n++) tail = next;
    hk_link_set(s, tail, s->free);
  }
  s->free = s->local_free;
  s->local_free = NULL;
  HK_TEL_ADD(h->tel.moved_local[s->cls], n);
  (void)n;
}

void hk_slab_collect_local(hk_heap_t *h, hk_slab_t *s) { collect_local(h, s); }

/* Refill the free list from the slab's own lists (other threads' frees
 * join the owner's first); the stage: local if they had blocks, else
 * partial (the caller carves the slab further). */
unsigned hk_slab_collect(hk_heap_t *h, hk_slab_t *s) {
  hk_slab_collect_remote(h, s);
  unsigned stage = HK_TELEMETRY && !s->local_free ? HAK_STAGE_PARTIAL : HAK_STAGE_LOCAL;
  collect_local(h, s);
  return stage;
}

/* ---- telemetry: allocations counted off the fast path (telemetry.h) ---- */

/* Blocks on the free list: fed, not (yet) allocated. */
unsigned hk_slab_listed(const hk_slab_t *s) { return hk_block_count(s, s->free); }

/* The blocks on the local list of an empty slab: every carved block is
 * on one of its two lists, so the two are walked in step only as far as
 * the shorter goes (a thread's few frees into a slab it carved a page of
 * blocks for: not the page). */
static unsigned empty_local_count(const hk_slab_t *s) {
  const hk_block_t *a = s->free, *b = s->local_free;
  unsigned n = 0;
  while (a && b) {
    a = hk_link_get(s, a);
    b = hk_link_get(s, b);
    n++;
  }
  return b == NULL ? n : (unsigned)s->capacity - n;
}

/* The slab is empty (used == 0) and its lists are dropped: the blocks of the
 * local list count as moved (freed), and every block as dropped, so that
 * what was fed and never allocated leaves the allocations. */
void hk_slab_discard(hk_heap_t *h, hk_slab_t *s) {
  hk_assert_internal(s->used == 0);
#if HK_TELEMETRY
  unsigned local = empty_local_count(s);
  hk_assert_internal(local <= s->capacity && local == s->capacity - hk_slab_listed(s));
  HK_TEL_ADD(h->tel.moved_local[s->cls], local);
  HK_TEL_ADD(h->tel.dropped[s->cls], s->capacity);
#endif
  (void)h;
  s->free = s->local_free = NULL;
}

/* A free from a thread that does not own the SuperSlab: push the block on
 * the slab's atomic stack.  The push that starts a batch also flags the slab
 * in the SuperSlab's remote mask and hints the owner, which then collects
 * without scanning every slab.  Both writes follow the push, when the owner
 * may already have collected the block and released the SuperSlab: a stale
 * flag is harmless, heaps are never unmapped (a hint to an exited heap costs
 * a spurious scan), and a SuperSlab's header page is never unmapped either. */
void hk_remote_free(hk_superslab_t *ss, hk_slab_t *head, void *p) {
  hk_block_t *b = (hk_block_t *)p;
  unsigned bit = 1u << hk_slab_index(ss, head);
  hk_heap_t *owner = hk_ss_owner(ss);
  hk_block_t *old = atomic_load_explicit(&head->remote_free, memory_order_relaxed);
  do {
    hk_link_set(head, b, old);
  } while (!atomic_compare_exchange_weak_explicit(&head->remote_free, &old, b, memory_order_release,
                                                  memory_order_relaxed));
  if (old == NULL) {
    atomic_fetch_or_explicit(&ss->remote_mask, bit, memory_order_release);
    if (owner) {
      atomic_store_explicit(&owner->remote_hint, 1, memory_order_release);
      hk_ace_remote_waiting();
    }
  }
}
