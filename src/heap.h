/* hakmem heap internals shared by heap.c (queues, SuperSlab lists, finding
 * memory) and abandon.c (abandonment, adoption and reclaim).  Everything
 * here is under the heap's lock or on its owner's thread. */
#ifndef HK_HEAP_H
#define HK_HEAP_H

#include "internal.h"

/* The heap validator (validate.c): on the owner's slow paths at HK_DEBUG=3. */
#if HK_DEBUG >= 3
void hk_heap_validate(hk_heap_t *h);
#define HK_VALIDATE(h) hk_heap_validate(h)
#else
#define HK_VALIDATE(h) ((void)0)
#endif

/* ---- class queues ------------------------------------------------------- */

/* Point the direct[] slots of a class at the queue head (or the empty slab). */
static inline void queue_front_changed(hk_heap_t *h, unsigned cls) {
  size_t bs = hk_class_size(cls);
  if (bs > HK_DIRECT_MAX || !hk_direct_used()) return;
  hk_slab_t *s = h->queues[cls].first ? h->queues[cls].first : &hk_slab_empty;
  size_t lo = cls == 0 ? 0 : hk_class_size(cls - 1) / 8 + 1;
  for (size_t i = lo; i <= bs / 8; i++) h->direct[i] = s;
}

static HK_ALWAYS_INLINE void queue_remove(hk_heap_t *h, hk_slab_t *s) {
  hk_queue_t *q = &h->queues[s->cls];
  hk_assert_internal(s->prev ? s->prev->next == s : q->first == s);
  hk_assert_internal(s->next ? s->next->prev == s : q->last == s);
  bool was_first = q->first == s;
  if (s->prev) s->prev->next = s->next;
  else q->first = s->next;
  if (s->next) s->next->prev = s->prev;
  else q->last = s->prev;
  s->next = s->prev = NULL;
  if (was_first) queue_front_changed(h, s->cls);
}

/* A slab joins its queue with room, in use, off every queue. */
static HK_ALWAYS_INLINE void queue_push_front(hk_heap_t *h, hk_slab_t *s) {
  hk_queue_t *q = &h->queues[s->cls];
  hk_assert_internal(!(s->flags & (HK_SLAB_FREE | HK_SLAB_TAIL | HK_SLAB_FULL)));
  hk_assert_internal(s->next == NULL && s->prev == NULL && q->first != s);
  s->prev = NULL;
  s->next = q->first;
  if (q->first) q->first->prev = s;
  else q->last = s;
  q->first = s;
  queue_front_changed(h, s->cls);
}

static HK_ALWAYS_INLINE void queue_push_back(hk_heap_t *h, hk_slab_t *s) {
  hk_queue_t *q = &h->queues[s->cls];
  if (!q->first) {
    queue_push_front(h, s);
    return;
  }
  hk_assert_internal(!(s->flags & (HK_SLAB_FREE | HK_SLAB_TAIL | HK_SLAB_FULL)));
  hk_assert_internal(s->next == NULL && s->prev == NULL && q->first != s);
  s->next = NULL;
  s->prev = q->last;
  q->last->next = s;
  q->last = s;
}

/* ---- SuperSlab lists and spans (heap.c) --------------------------------- */

void hk_heap_ss_add(hk_heap_t *h, hk_superslab_t *ss); /* onto avail or full */
void hk_heap_ss_unlink(hk_heap_t *h, hk_superslab_t *ss);
void hk_heap_ss_release(hk_heap_t *h, hk_superslab_t *ss); /* unlink, back to the arena */
uint32_t hk_heap_retain(void); /* free slabs a heap keeps resident: its share */
bool hk_heap_span_freed(hk_heap_t *h, hk_superslab_t *ss, hk_slab_t *head, bool no_spare);

/* ---- abandoned SuperSlabs (abandon.c) ----------------------------------- */

hk_superslab_t *hk_abandoned_pop(bool oldest);          /* off the list, or NULL */
void hk_heap_reclaim(hk_heap_t *h, hk_superslab_t *ss); /* h takes it (its lock held) */
void hk_abandoned_fork_prepare(void);
void hk_abandoned_fork_parent(void);

#endif /* HK_HEAP_H */
