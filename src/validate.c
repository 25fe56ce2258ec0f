/* hakmem heap validator (HK_DEBUG >= 3): walks a heap's class queues,
 * direct[] slots, SuperSlab lists, masks, slab free lists and counts, and
 * aborts with the broken invariant's text at the first one that does not
 * hold.  The owner calls it on its slow paths (HK_VALIDATE), where the heap
 * is settled; the heap's lock keeps the adaptive thread out meanwhile.
 * Cost: a walk of every block on the heap's lists, so only the HK_DEBUG=3
 * build (make asan) runs it. */
#include "internal.h"
#include "heap.h"

#if HK_DEBUG >= 3

#define V(x) ((x) ? (void)0 : hk_assert_fail("heap validation: " #x, __FILE__, __LINE__))

/* A block list of slab s (free or local_free): carved block starts only,
 * at most `max` of them.  Returns its length. */
static unsigned list_check(const hk_slab_t *s, const hk_block_t *b, unsigned max) {
  unsigned n = 0;
  const uint8_t *end = s->start + (size_t)s->capacity * s->block_size;
  for (; b; b = hk_link_get(s, b)) {
    const uint8_t *p = (const uint8_t *)b;
    V(p >= s->start && p < end);
    V((size_t)(p - s->start) % s->block_size == 0);
    V(++n <= max); /* more than carved: a cycle */
  }
  return n;
}

/* A head slab in use: its span's tails, its counts, its two lists. */
static void slab_check(hk_heap_t *h, hk_superslab_t *ss, hk_slab_t *s, unsigned idx,
                       unsigned *unqueued) {
  V(s->span >= 1 && idx + s->span <= HK_SLABS_PER_SS);
  for (unsigned k = 1; k < s->span; k++)
    V((s[k].flags & HK_SLAB_TAIL) && s[k].head_delta == k && !(s[k].flags & HK_SLAB_FREE));
  if (s->block_size > HK_SMALL_MAX) return; /* a large block's span: no lists */
  V(s->cls < HK_NUM_CLASSES && s->block_size == hk_class_size(s->cls));
  V(s->capacity <= s->reserved && s->used <= s->capacity);
  V(s->start >= hk_slab_area(ss, idx));
  unsigned listed = list_check(s, s->free, s->capacity) + list_check(s, s->local_free, s->capacity);
  V(listed == (unsigned)(s->capacity - s->used)); /* cached blocks count as used */
  if (!(s->flags & HK_SLAB_FULL)) unqueued[s->cls]++;
  (void)h;
}

/* A SuperSlab list of h: links, count, which list, owner. */
static void ss_list_check(hk_heap_t *h, const hk_ss_list_t *l, bool full, uint32_t *dirty,
                          unsigned *unqueued) {
  size_t n = 0;
  hk_superslab_t *prev = NULL;
  for (hk_superslab_t *ss = l->first; ss; prev = ss, ss = ss->next) {
    V(ss->prev == prev);
    V(++n <= l->count);
    V(ss->kind == HK_SS_KIND_SLABS && hk_ss_owner(ss) == h && !ss->abandoned);
    V((bool)ss->in_full_list == full && (ss->free_mask == 0) == full);
    *dirty += (uint32_t)__builtin_popcount(ss->dirty_mask & ss->free_mask);
    for (unsigned i = 0; i < HK_SLABS_PER_SS; i++) {
      hk_slab_t *s = &ss->slabs[i];
      bool free_bit = (ss->free_mask >> i) & 1;
      V(!!(s->flags & HK_SLAB_FREE) == free_bit);
      if (free_bit || (s->flags & HK_SLAB_TAIL)) continue;
      slab_check(h, ss, s, i, unqueued);
    }
  }
  V(n == l->count);
}

/* A class queue: links, last, and what is on it (in use, not FULL, its
 * class, this heap's).  Returns its length. */
static unsigned queue_check(hk_heap_t *h, unsigned cls) {
  const hk_queue_t *q = &h->queues[cls];
  unsigned n = 0;
  hk_slab_t *prev = NULL;
  for (hk_slab_t *s = q->first; s; prev = s, s = s->next) {
    V(s->prev == prev);
    V(s->cls == cls && !(s->flags & (HK_SLAB_FREE | HK_SLAB_TAIL | HK_SLAB_FULL)));
    V(hk_ss_owner(hk_ss_of(s->start)) == h);
    V(++n <= HK_SLABS_PER_SS * (h->ss_avail.count + h->ss_full.count));
  }
  V(q->last == prev);
  return n;
}

void hk_heap_validate(hk_heap_t *h) {
  if (h == &hk_heap_empty) return;
  hk_lock(&h->lock);
  unsigned unqueued[HK_NUM_CLASSES] = { 0 }; /* slabs not FULL, per class */
  uint32_t dirty = 0;
  ss_list_check(h, &h->ss_avail, false, &dirty, unqueued);
  ss_list_check(h, &h->ss_full, true, &dirty, unqueued);
  V(dirty == h->dirty_slabs);
  for (unsigned c = 0; c < HK_NUM_CLASSES; c++) {
    V(queue_check(h, c) == unqueued[c]); /* every slab with room is queued */
    if (hk_class_size(c) > HK_DIRECT_MAX || !hk_direct_used()) continue;
    hk_slab_t *front = h->queues[c].first ? h->queues[c].first : &hk_slab_empty;
    size_t lo = c == 0 ? 0 : hk_class_size(c - 1) / 8 + 1, hi = hk_class_size(c) / 8;
    for (size_t i = lo; i <= hi; i++) V(h->direct[i] == front);
  }
  hk_unlock(&h->lock);
}

#endif
