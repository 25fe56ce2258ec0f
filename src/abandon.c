/* hakmem abandonment: a thread's exit leaves its SuperSlabs that still hold
 * live blocks on the process's abandoned list; the first free into one
 * makes the freeing thread adopt it, a heap out of spans reclaims one for
 * its memory, and the free of the last live block gives it back to the
 * arena.  Runs on slow paths only: one lock for the list, the heap's lock
 * for what the heap takes. */
#include "internal.h"
#include "heap.h"

static hk_lock_t abandoned_lock = HK_LOCK_INIT;
static hk_superslab_t *abandoned, *abandoned_tail; /* newest first; under the lock */
static _Atomic uint64_t abandon_epoch;             /* global: an epoch is never reused */

/* Abandoned state: epoch << HK_LIVE_BITS | blocks still live.  Epochs come
 * from one global counter, so a header that was wiped (memset when reused,
 * zeroed by a purge) never brings back an epoch a late freer still holds. */
#define HK_LIVE_BITS 20 /* 32 slabs x 8192 blocks < 2^20 */
#define HK_LIVE_MASK (((uint64_t)1 << HK_LIVE_BITS) - 1)

static uint64_t abandoned_state_new(uint32_t live) {
  uint64_t epoch = atomic_fetch_add_explicit(&abandon_epoch, 1, memory_order_relaxed) + 1;
  return (epoch << HK_LIVE_BITS) | live;
}

static void abandoned_push_locked(hk_superslab_t *ss) {
  ss->prev = NULL;
  ss->next = abandoned;
  if (abandoned) abandoned->prev = ss;
  else abandoned_tail = ss;
  __atomic_store_n(&abandoned, ss, __ATOMIC_RELAXED); /* hk_abandoned_pop glances */
  ss->abandoned = 1;
}

static void abandoned_unlink_locked(hk_superslab_t *ss) {
  if (ss->prev) ss->prev->next = ss->next;
  else __atomic_store_n(&abandoned, ss->next, __ATOMIC_RELAXED);
  if (ss->next) ss->next->prev = ss->prev;
  else abandoned_tail = ss->prev;
  ss->next = ss->prev = NULL;
  ss->abandoned = 0;
}

/* Newest first (reclaim for memory), or oldest first (sweep). */
hk_superslab_t *hk_abandoned_pop(bool oldest) {
  if (__atomic_load_n(&abandoned, __ATOMIC_RELAXED) == NULL) return NULL;
  hk_lock(&abandoned_lock);
  hk_superslab_t *ss = oldest ? abandoned_tail : abandoned;
  if (ss) abandoned_unlink_locked(ss);
  hk_unlock(&abandoned_lock);
  return ss;
}

/* Free the empty spans of a SuperSlab and sort its slabs into the heap's
 * queues.  Returns false if the SuperSlab went back to the arena. */
static bool ss_settle(hk_heap_t *h, hk_superslab_t *ss, bool no_spare) {
  for (unsigned i = 0; i < HK_SLABS_PER_SS; i++) {
    hk_slab_t *s = &ss->slabs[i];
    if (s->flags & (HK_SLAB_FREE | HK_SLAB_TAIL)) continue;
    hk_slab_collect_remote(h, s);
    if (s->used == 0) {
      if (!(s->flags & HK_SLAB_FULL)) queue_remove(h, s);
      hk_slab_discard(h, s);
      if (hk_heap_span_freed(h, ss, s, no_spare)) return false;
    }
  }
  if (no_spare && ss->free_mask == ~0u) { /* e.g. a heap's spare: never abandon it */
    hk_heap_ss_release(h, ss);
    return false;
  }
  return true;
}

void hk_heap_reclaim(hk_heap_t *h, hk_superslab_t *ss) {
  hk_assert_internal(hk_ss_owner(ss) == NULL && !ss->abandoned && ss->next == NULL &&
                     ss->prev == NULL);
  atomic_store_explicit(&ss->abandoned_state, abandoned_state_new(0), memory_order_release);
  atomic_store_explicit(&ss->owner, h, memory_order_release);
  atomic_store_explicit(&ss->remote_mask, 0, memory_order_relaxed);
  atomic_thread_fence(memory_order_seq_cst);
  HK_RELAXED_ADD(h->dirty_slabs, (uint32_t)__builtin_popcount(ss->dirty_mask & ss->free_mask));
  hk_heap_ss_add(h, ss);
  for (unsigned i = 0; i < HK_SLABS_PER_SS; i++) { /* abandoned slabs are all FULL */
    hk_slab_t *s = &ss->slabs[i];
    if (s->flags & (HK_SLAB_FREE | HK_SLAB_TAIL)) continue;
    HK_TEL_ADD(h->tel.carved[s->cls], hk_slab_listed_settled(s)); /* dropped by the last owner */
    hk_slab_collect(h, s);
    if (s->used != 0 && (s->free || s->capacity < s->reserved)) {
      hk_slab_set_flags(s, s->flags & ~(unsigned)HK_SLAB_FULL);
      queue_push_back(h, s);
    }
  }
  ss_settle(h, ss, true);
}

#define ADOPT_KEEP 4 /* times its share of free resident slabs an adopter keeps */

/* A free into an abandoned SuperSlab: the freeing thread adopts it (as a
 * reclaim for memory would), so that its next frees there are local and its
 * mallocs reuse the memory, already resident, of the thread that exited.
 * False if another thread adopted it first (the block then goes the
 * abandoned way). */
bool hk_heap_adopt(hk_heap_t *h, hk_superslab_t *ss) {
  if (__atomic_load_n(&h->dirty_slabs, __ATOMIC_RELAXED) > ADOPT_KEEP * hk_heap_retain())
    return false;
  hk_lock(&abandoned_lock);
  bool mine = ss->abandoned && hk_ss_owner(ss) == NULL;
  if (mine) abandoned_unlink_locked(ss);
  hk_unlock(&abandoned_lock);
  if (!mine) return false;
  hk_lock(&h->lock);
  hk_heap_reclaim(h, ss); /* p is live: its SuperSlab is not released */
  hk_unlock(&h->lock);
  return true;
}

#define SWEEP_AT_EXIT 4 /* oldest abandoned SuperSlabs an exiting thread refreshes */

/* Thread exit: give back what is empty, leave the rest for other threads.
 * The exiting thread first adopts a few of the oldest abandoned SuperSlabs,
 * so that one stranded by a free that raced with its owner's exit (counted
 * live, yet pushed after the final collection) is collected and released. */
void hk_heap_abandon(hk_heap_t *h) {
  HK_VALIDATE(h);
  hk_lock(&h->lock);
  for (int i = 0; i < SWEEP_AT_EXIT; i++) {
    hk_superslab_t *ss = hk_abandoned_pop(true);
    if (!ss) break;
    hk_heap_reclaim(h, ss);
  }
  hk_ss_list_t *lists[2] = { &h->ss_full, &h->ss_avail };
  for (int l = 0; l < 2; l++) {
    while (lists[l]->first) {
      hk_superslab_t *ss = lists[l]->first;
      for (unsigned i = 0; i < HK_SLABS_PER_SS; i++) {
        hk_slab_t *s = &ss->slabs[i];
        if (s->flags & (HK_SLAB_FREE | HK_SLAB_TAIL)) continue;
        hk_slab_collect(h, s);
        if (!(s->flags & HK_SLAB_FULL)) queue_remove(h, s);
        hk_slab_set_flags(s, s->flags | HK_SLAB_FULL); /* out of every queue while abandoned */
      }
      if (!ss_settle(h, ss, true)) continue;
      uint32_t live = 0;
      for (unsigned i = 0; i < HK_SLABS_PER_SS; i++) {
        hk_slab_t *s = &ss->slabs[i];
        if (s->flags & (HK_SLAB_FREE | HK_SLAB_TAIL)) continue;
        live += s->used;
        hk_slab_collect_local(h, s); /* what ss_settle collected: all on `free` */
        /* listed blocks leave this heap's allocations; the next owner adopts them */
        HK_TEL_ADD(h->tel.dropped[s->cls], hk_slab_listed_settled(s));
      }
      hk_heap_ss_unlink(h, ss);
      HK_RELAXED_ADD(h->dirty_slabs, -(uint32_t)__builtin_popcount(ss->dirty_mask & ss->free_mask));
      atomic_store_explicit(&ss->abandoned_state, abandoned_state_new(live), memory_order_relaxed);
      /* listed and ownerless at once, as hk_heap_abandoned_free checks both */
      hk_lock(&abandoned_lock);
      atomic_store_explicit(&ss->owner, NULL, memory_order_release);
      abandoned_push_locked(ss);
      hk_unlock(&abandoned_lock);
    }
  }
  hk_unlock(&h->lock);
  for (unsigned c = 0; c < HK_NUM_CLASSES; c++) hk_assert_internal(h->queues[c].first == NULL);
}

/* A block of an abandoned SuperSlab was freed and pushed on its slab's
 * remote list; `seen` is the abandoned state read before the push.  The free
 * that brings the live count of that same abandonment (epoch) to zero gives
 * the SuperSlab back to the arena.  A freer whose epoch has passed does not
 * count: the block was either collected by the reclaimer or is counted as
 * live in the next epoch, whose count then never reaches zero by frees, and
 * the SuperSlab waits for a reclaim instead. */
void hk_heap_abandoned_free(hk_superslab_t *ss, uint64_t seen) {
  uint64_t st = seen, next;
  do {
    if ((st & HK_LIVE_MASK) == 0 || (st >> HK_LIVE_BITS) != (seen >> HK_LIVE_BITS)) return;
    next = st - 1;
  } while (!atomic_compare_exchange_weak_explicit(&ss->abandoned_state, &st, next,
                                                  memory_order_acq_rel, memory_order_relaxed));
  if ((next & HK_LIVE_MASK) != 0) return;
  hk_lock(&abandoned_lock);
  bool last = ss->abandoned && hk_ss_owner(ss) == NULL &&
      atomic_load_explicit(&ss->abandoned_state, memory_order_relaxed) == next;
  if (last) abandoned_unlink_locked(ss);
  hk_unlock(&abandoned_lock);
  if (last) {
#if HK_TELEMETRY
    for (unsigned i = 0; i < HK_SLABS_PER_SS; i++) { /* frees nobody will collect */
      hk_slab_t *s = &ss->slabs[i];
      if (s->flags & (HK_SLAB_FREE | HK_SLAB_TAIL)) continue;
      /* every block live at abandonment is on the remote list now */
      unsigned n = s->used;
      hk_assert_internal(
          n == hk_block_count(s, atomic_load_explicit(&s->remote_free, memory_order_acquire)));
      if (n) HK_TEL_HERE(remote_frees[hk_tel_row_of(s)], n);
    }
#endif
    ss->dirty_mask = ~0u;
    hk_arena_free_ss(ss);
  }
}

/* malloc_trim: adopt every abandoned SuperSlab, releasing the empty ones. */
size_t hk_heap_reclaim_all(hk_heap_t *h) {
  size_t n = 0;
  hk_superslab_t *ss;
  hk_lock(&h->lock);
  while ((ss = hk_abandoned_pop(false)) != NULL) {
    hk_heap_reclaim(h, ss);
    n++;
  }
  hk_unlock(&h->lock);
  return n;
}

/* Statistics: SuperSlabs on the list. */
size_t hk_heap_abandoned_count(void) {
  size_t n = 0;
  hk_lock(&abandoned_lock);
  for (hk_superslab_t *ss = abandoned; ss; ss = ss->next) n++;
  hk_unlock(&abandoned_lock);
  return n;
}

/* fork: hk_heap_fork_* take the list's lock after every heap's. */
void hk_abandoned_fork_prepare(void) { hk_lock(&abandoned_lock); }
void hk_abandoned_fork_parent(void) { hk_unlock(&abandoned_lock); }
