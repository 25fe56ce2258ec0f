/* hakmem heap: one per thread.  Per size class a queue of slabs whose head
 * feeds the malloc fast path (through direct[] for sizes up to 1 KiB); the
 * SuperSlabs the heap owns, other threads' frees collected, spans found
 * and given back, and the adaptive thread's tick.  What a thread's exit
 * leaves is abandon.c's.  Everything here runs on slow paths and touches
 * only the calling thread's heap, except the pool lock. */
#include "internal.h"
#include "cache.h"
#include "heap.h"

#include "hakmem.h"

#include <sys/mman.h>

#define RECLAIM_TRIES 8 /* abandoned SuperSlabs tried before a new one */

static hk_lock_t pool_lock = HK_LOCK_INIT;
static hk_heap_t *pool_free; /* heaps are recycled, never unmapped */
static hk_heap_t *all_heaps; /* every heap ever made, for statistics */
static size_t live_heaps;
static uint8_t *pool_next;
static size_t pool_left;

/* ---- heap pool ---------------------------------------------------------- */

hk_heap_t *hk_heap_acquire(void) {
  hk_lock(&pool_lock);
  hk_heap_t *h = pool_free;
  if (h) {
    pool_free = h->pool_next;
  } else {
    size_t sz = (sizeof(hk_heap_t) + 63) & ~(size_t)63;
    if (pool_left < sz) {
      size_t chunk = 64 * 1024, guard = hk_guard_bytes(); /* hardened: guard pages around */
      pool_next = hk_os_map(chunk + 2 * guard);
      pool_left = pool_next ? chunk : 0;
      if (pool_next && guard) {
        mprotect(pool_next, guard, PROT_NONE);
        mprotect(pool_next + guard + chunk, guard, PROT_NONE);
        pool_next += guard;
      }
    }
    if (pool_left >= sz) { /* fresh pages: zero, counters included */
      h = (hk_heap_t *)pool_next;
      pool_next += sz;
      pool_left -= sz;
      pthread_mutex_init(&h->lock, NULL);
      h->all_next = all_heaps;
      __atomic_store_n(&all_heaps, h, __ATOMIC_RELEASE); /* hk_heap_all reads it unlocked */
    }
  }
  if (h) hk_cache_threads(HK_RELAXED_ADD(live_heaps, 1)); /* hk_heap_retain glances */
  hk_unlock(&pool_lock);
  if (!h) return NULL;
  hk_lock(&h->lock);                       /* the adaptive thread may be looking at it */
  memset(h, 0, offsetof(hk_heap_t, lock)); /* counters stay: totals are cumulative */
  static _Atomic uint64_t gens;
  h->gen = atomic_fetch_add_explicit(&gens, 1, memory_order_relaxed) + 1;
  for (unsigned i = 0; i < HK_DIRECT_SLOTS; i++) h->direct[i] = &hk_slab_empty;
  hk_cache_setup(h);
  hk_unlock(&h->lock);
  return h;
}

void hk_heap_release(hk_heap_t *h) {
  hk_lock(&pool_lock);
  h->pool_next = pool_free;
  pool_free = h;
  hk_cache_threads(HK_RELAXED_ADD(live_heaps, -1));
  hk_unlock(&pool_lock);
}

/* Every heap ever made, newest first, linked by all_next: the list only
 * grows at its head and heaps are never unmapped, so it is read unlocked. */
hk_heap_t *hk_heap_all(void) { return __atomic_load_n(&all_heaps, __ATOMIC_ACQUIRE); }

/* Statistics: fn on every heap ever made (live or pooled). */
size_t hk_heap_visit_all(hk_heap_visitor fn, void *arg) {
  hk_lock(&pool_lock);
  for (hk_heap_t *h = all_heaps; h; h = h->all_next) fn(h, arg);
  size_t live = live_heaps;
  hk_unlock(&pool_lock);
  return live;
}

/* ---- SuperSlab lists ---------------------------------------------------- */

static void ss_list_add(hk_ss_list_t *l, hk_superslab_t *ss) {
  hk_assert_internal(ss->next == NULL && ss->prev == NULL && l->first != ss);
  ss->prev = NULL;
  ss->next = l->first;
  if (l->first) l->first->prev = ss;
  __atomic_store_n(&l->first, ss, __ATOMIC_RELAXED); /* ace_epoch glances */
  l->count++;
}

static void ss_list_remove(hk_ss_list_t *l, hk_superslab_t *ss) {
  hk_assert_internal(l->count > 0 && (ss->prev ? ss->prev->next == ss : l->first == ss));
  if (ss->prev) ss->prev->next = ss->next;
  else __atomic_store_n(&l->first, ss->next, __ATOMIC_RELAXED);
  if (ss->next) ss->next->prev = ss->prev;
  ss->next = ss->prev = NULL;
  l->count--;
}

void hk_heap_ss_add(hk_heap_t *h, hk_superslab_t *ss) {
  hk_assert_internal(hk_ss_owner(ss) == h && ss->kind == HK_SS_KIND_SLABS && !ss->abandoned);
  ss->in_full_list = ss->free_mask == 0;
  ss_list_add(ss->in_full_list ? &h->ss_full : &h->ss_avail, ss);
}

void hk_heap_ss_unlink(hk_heap_t *h, hk_superslab_t *ss) {
  ss_list_remove(ss->in_full_list ? &h->ss_full : &h->ss_avail, ss);
}

/* Keep the avail/full lists in step with the free mask. */
static void ss_update_list(hk_heap_t *h, hk_superslab_t *ss) {
  bool full = ss->free_mask == 0;
  if (full == (bool)ss->in_full_list) return;
  hk_heap_ss_unlink(h, ss);
  hk_heap_ss_add(h, ss);
}

void hk_heap_ss_release(hk_heap_t *h, hk_superslab_t *ss) {
  hk_heap_ss_unlink(h, ss);
  HK_RELAXED_ADD(h->dirty_slabs, -(uint32_t)__builtin_popcount(ss->dirty_mask & ss->free_mask));
  hk_arena_free_ss(ss);
}

#define SLABS_PER_MB ((uint32_t)(((size_t)1 << 20) / HK_SLAB_SIZE))

/* Free slabs a heap keeps resident: its share of the retained memory
 * among the live heaps (at least 1 MiB), so that a program with many
 * threads retains what one with a few does. */
uint32_t hk_heap_retain(void) {
  size_t live = __atomic_load_n(&live_heaps, __ATOMIC_RELAXED);
  uint32_t all = HK_TUNE(retain_mb) * SLABS_PER_MB;
  uint32_t share = live > 1 ? (uint32_t)(all / live) : all;
  return share > SLABS_PER_MB ? share : (all < SLABS_PER_MB ? all : SLABS_PER_MB);
}

/* Batched decay on the owner's slow path: only slabs that stayed free for a
 * whole tick are purged, so a heap whose free memory churns does not purge
 * pages it is about to touch again.  With the adaptive layer (balanced and
 * above), the decay is its job, in its thread or at its epochs (a busy heap
 * past what it retains included). */
static void heap_maybe_purge(hk_heap_t *h, hk_superslab_t *freed_in) {
  uint32_t retain = hk_heap_retain();
  if (h->dirty_slabs <= retain) return;
  uint32_t delay = HK_TUNE(purge_delay_ms);
  if (delay == 0) {
    hk_ss_purge(freed_in, ~0u); /* no decay: purge where memory was freed */
    return;
  }
  if (hk_ace_decays()) return;
  uint64_t now = hk_now_ms();
  if (now - h->last_purge_ms < delay) return;
  h->last_purge_ms = now;
  for (hk_superslab_t *ss = h->ss_avail.first; ss; ss = ss->next) {
    hk_ss_purge(ss, ss->purge_mark);
    hk_ss_age(ss);
  }
}

/* A span is free again.  Returns true when its SuperSlab went back to the
 * arena (the heap keeps one empty SuperSlab as a spare unless `no_spare`). */
bool hk_heap_span_freed(hk_heap_t *h, hk_superslab_t *ss, hk_slab_t *head, bool no_spare) {
  hk_assert_internal(hk_ss_owner(ss) == h && head->used == 0 && head->next == NULL &&
                     head->prev == NULL);
  hk_assert_internal(!(head->flags & (HK_SLAB_FREE | HK_SLAB_TAIL)));
  h->activity++;
  hk_ss_return_span(ss, head);
  ss_update_list(h, ss);
  if (ss->free_mask == ~0u && (no_spare || h->ss_avail.count > 1)) {
    hk_heap_ss_release(h, ss);
    return true;
  }
  heap_maybe_purge(h, ss);
  return false;
}

/* ---- remote frees ------------------------------------------------------- */

/* An empty slab stays when it is, or would be, its class's only one: a
 * class whose blocks come back from other threads as fast as it hands them
 * out (a producer) would otherwise give its span back at each collection
 * and take one again at its next malloc. */
static bool keep_empty(hk_heap_t *h, hk_slab_t *s) {
  hk_queue_t *q = &h->queues[s->cls];
  if (!(s->flags & HK_SLAB_FULL)) return q->first == s && s->next == NULL;
  if (q->first) return false;
  hk_slab_set_flags(s, s->flags & ~(unsigned)HK_SLAB_FULL);
  queue_push_back(h, s);
  return true;
}

/* After collecting remote frees of slab s: free it if empty (unless kept),
 * re-queue it if it was full and now has blocks.  Returns true if the
 * SuperSlab was released. */
static bool slab_after_collect(hk_heap_t *h, hk_superslab_t *ss, hk_slab_t *s, bool no_spare) {
  if (s->used == 0 && !no_spare && keep_empty(h, s)) {
    hk_slab_discard(h, s);
    hk_slab_recarve(h, s);
    return false;
  }
  if (s->used == 0) {
    if (!(s->flags & HK_SLAB_FULL)) queue_remove(h, s);
    hk_slab_discard(h, s);
    return hk_heap_span_freed(h, ss, s, no_spare);
  }
  if ((s->flags & HK_SLAB_FULL) && (s->free || s->local_free)) {
    hk_slab_set_flags(s, s->flags & ~(unsigned)HK_SLAB_FULL);
    queue_push_back(h, s);
  }
  return false;
}

/* Collect the slabs flagged in a SuperSlab's remote mask. */
static void ss_collect_flagged(hk_heap_t *h, hk_superslab_t *ss) {
  if (atomic_load_explicit(&ss->remote_mask, memory_order_relaxed) == 0) return;
  uint32_t m = atomic_exchange_explicit(&ss->remote_mask, 0, memory_order_acquire);
  while (m) {
    hk_slab_t *s = &ss->slabs[__builtin_ctz(m)];
    m &= m - 1;
    if (s->flags & (HK_SLAB_FREE | HK_SLAB_TAIL)) continue; /* stale flag */
    hk_slab_collect_remote(h, s);
    if (slab_after_collect(h, ss, s, false)) return;
  }
}

/* Take other threads' frees (under the heap lock). */
static void collect_locked(hk_heap_t *h) {
  h->collections++;
  atomic_store_explicit(&h->remote_hint, 0, memory_order_relaxed);
  atomic_thread_fence(memory_order_seq_cst);
  hk_ss_list_t *lists[2] = { &h->ss_full, &h->ss_avail };
  for (int l = 0; l < 2; l++) {
    hk_superslab_t *next;
    for (hk_superslab_t *ss = lists[l]->first; ss; ss = next) {
      next = ss->next;
      ss_collect_flagged(h, ss);
    }
  }
}

/* Take other threads' frees: when hinted, or always with `force`. */
void hk_heap_collect(hk_heap_t *h, bool force) {
  if (!force && atomic_load_explicit(&h->remote_hint, memory_order_relaxed) == 0) return;
  hk_lock(&h->lock);
  collect_locked(h);
  hk_unlock(&h->lock);
}

/* Statistics: the blocks on the free lists of the calling thread's heap,
 * per class (fed but not allocated), after taking its local lists back. */
void hk_heap_count_listed(hk_heap_t *h, uint64_t *listed) {
  hk_lock(&h->lock);
  hk_ss_list_t *lists[2] = { &h->ss_full, &h->ss_avail };
  for (int l = 0; l < 2; l++) {
    for (hk_superslab_t *ss = lists[l]->first; ss; ss = ss->next) {
      for (unsigned i = 0; i < HK_SLABS_PER_SS; i++) {
        hk_slab_t *s = &ss->slabs[i];
        if (s->flags & (HK_SLAB_FREE | HK_SLAB_TAIL)) continue;
        hk_slab_collect_local(h, s);
        listed[s->cls] += hk_slab_listed(s);
      }
    }
  }
  hk_unlock(&h->lock);
}

/* malloc_trim: purge every free slab of the heap. */
size_t hk_heap_purge_all(hk_heap_t *h) {
  size_t n = 0;
  hk_lock(&h->lock);
  for (hk_superslab_t *ss = h->ss_avail.first; ss; ss = ss->next)
    n += (size_t)hk_ss_purge(ss, ~0u) << HK_SLAB_SHIFT;
  hk_unlock(&h->lock);
  return n;
}

/* The memory budget's soft limit (limit.c): every heap's free slabs go
 * back, `held`'s (whose lock the caller holds, or NULL) and those of the
 * heaps whose lock is free now (a trylock: the caller may hold its own). */
size_t hk_heap_purge_budget(hk_heap_t *held) {
  size_t n = 0;
  for (hk_heap_t *h = hk_heap_all(); h; h = h->all_next) {
    if (h != held && pthread_mutex_trylock(&h->lock) != 0) continue;
    for (hk_superslab_t *ss = h->ss_avail.first; ss; ss = ss->next)
      n += (size_t)hk_ss_purge(ss, ~0u) << HK_SLAB_SHIFT;
    if (h != held) hk_unlock(&h->lock);
  }
  return n;
}

/* ---- finding memory ----------------------------------------------------- */

static hk_slab_t *take_span_owned(hk_heap_t *h, unsigned n, bool *clean, hk_superslab_t **out) {
  for (hk_superslab_t *ss = h->ss_avail.first; ss; ss = ss->next) {
    hk_slab_t *head = hk_ss_take_span(ss, n, clean);
    if (head) {
      ss_update_list(h, ss);
      *out = ss;
      return head;
    }
  }
  return NULL;
}

/* A span of n slabs: from owned SuperSlabs, then after collecting remote
 * frees, then from abandoned SuperSlabs, then from the arena.  *stage says
 * which (enum hak_stage).  Under the heap lock. */
static hk_slab_t *take_span_locked(hk_heap_t *h, unsigned n, bool *clean, hk_superslab_t **out,
                                   unsigned *stage) {
  *stage = HAK_STAGE_NEW_SS;
  hk_slab_t *head = take_span_owned(h, n, clean, out);
  if (!head) {
    collect_locked(h);
    head = take_span_owned(h, n, clean, out);
  }
  if (head) {
    *stage = *clean ? HAK_STAGE_NEW_SLAB : HAK_STAGE_REUSE;
    return head;
  }
  /* not a first-class heap: its destroy would take other threads' live
   * blocks with them */
  for (int i = 0; i < RECLAIM_TRIES && !h->user; i++) {
    hk_superslab_t *ss = hk_abandoned_pop(false);
    if (!ss) break;
    hk_heap_reclaim(h, ss);
    if ((head = take_span_owned(h, n, clean, out))) return head;
  }
  bool fresh, from_os;
  if (!hk_budget_ok(h, HK_SS_SIZE)) return NULL; /* the memory budget: ENOMEM */
  hk_superslab_t *ss = hk_arena_alloc_ss(&fresh, &from_os);
  if (!ss) return NULL;
  if (from_os) *stage = HAK_STAGE_OS;
  hk_ss_init(ss, h, fresh);
  hk_heap_ss_add(h, ss);
  head = hk_ss_take_span(ss, n, clean);
  ss_update_list(h, ss);
  *out = ss;
  return head;
}

static hk_slab_t *take_span(hk_heap_t *h, unsigned n, bool *clean, hk_superslab_t **out,
                            unsigned *stage) {
  hk_lock(&h->lock);
  h->activity++;
  hk_slab_t *head = take_span_locked(h, n, clean, out, stage);
  hk_unlock(&h->lock);
  return head;
}

/* Walk a class queue for a slab with free blocks, parking the full ones.
 * `remote`: the walk after collecting other threads' frees (the stage). */
static HK_ALWAYS_INLINE hk_slab_t *scan_queue(hk_heap_t *h, hk_queue_t *q, bool remote) {
  hk_slab_t *next;
  for (hk_slab_t *s = q->first; s; s = next) {
    next = s->next;
    unsigned stage = HAK_STAGE_PARTIAL;
    if (!s->free) {
      stage = hk_slab_collect(h, s);
      /* a sparse slab recycles what it has and stays small */
      if (hk_slab_should_carve(s, (unsigned)(s->capacity - s->used))) hk_slab_extend(h, s);
    }
    if (s->free) {
      if (s != q->first) {
        queue_remove(h, s);
        queue_push_front(h, s);
      }
      HK_TEL_ADD(h->tel.stage[remote ? HAK_STAGE_REMOTE : stage], 1);
      (void)stage;
      (void)remote;
      return s;
    }
    queue_remove(h, s); /* every block is out: park it until one comes back */
    hk_slab_set_flags(s, s->flags | HK_SLAB_FULL);
  }
  return NULL;
}

/* The class queue is exhausted at its head: find a slab with free blocks. */
static HK_NOINLINE hk_slab_t *find_slab(hk_heap_t *h, unsigned cls) {
  hk_queue_t *q = &h->queues[cls];
  HK_VALIDATE(h);
  HK_TEL_ADD(h->tel.refills[cls], 1);
  hk_cache_sweep(h);
  hk_slab_t *found = scan_queue(h, q, false);
  if (found) return found;
  hk_heap_collect(h, false);
  found = scan_queue(h, q, true);
  if (found) return found;
  bool clean;
  hk_superslab_t *ss;
  unsigned stage;
  hk_slab_t *s = take_span(h, hk_class_span(cls), &clean, &ss, &stage);
  if (!s) return NULL;
  HK_TEL_ADD(h->tel.stage[stage], 1);
  hk_slab_init(s, ss, cls);
  hk_slab_extend(h, s);
  queue_push_front(h, s);
  return s;
}

#if HK_TELEMETRY
/* A sampled refill: its requested size, and one in HK_TEL_LAT_EVERY timed. */
static HK_NOINLINE hk_slab_t *find_slab_sampled(hk_heap_t *h, unsigned cls, size_t n) {
  hk_tel_sample(&h->tel, cls, n);
  if (++h->tel.lat_tick % HK_TEL_LAT_EVERY != 0) return find_slab(h, cls);
  uint64_t t0 = hk_tel_now_ns();
  hk_slab_t *s = find_slab(h, cls);
  hk_tel_latency(&h->tel, hk_tel_now_ns() - t0);
  return s;
}
#endif

void *hk_heap_alloc_small(hk_heap_t *h, size_t n) {
  unsigned cls = hk_size_class(n);
  hk_slab_t *s = h->queues[cls].first;
  if (!s || !s->free) {
#if HK_TELEMETRY
    if (HK_TEL_SAMPLE_NOW(&h->tel)) s = find_slab_sampled(h, cls, n);
    else
#endif
      s = find_slab(h, cls);
    if (!s) return NULL;
  }
  return hk_slab_pop(s);
}

/* The owner freed the last block of slab s (fast path) or a block of a
 * full slab (slow path, s->used already updated). */
void hk_heap_slab_freed_local(hk_heap_t *h, hk_superslab_t *ss, hk_slab_t *s) {
  HK_VALIDATE(h);
  if (s->used == 0 && hk_slab_stays_empty(h, s)) {
    /* keep a class's last slab: no churn for a malloc/free cycle */
  } else if (s->used == 0) {
    hk_lock(&h->lock);
    slab_after_collect(h, ss, s, false);
    hk_unlock(&h->lock);
    hk_ace_poke();
  } else if (s->flags & HK_SLAB_FULL) {
    slab_after_collect(h, ss, s, false); /* back in its queue: no span changes */
  }
  hk_heap_collect(h, false); /* a heap that only frees still takes remote frees */
}

/* ---- the adaptive thread's tick (ace.c) ------------------------------------ */

/* Slab s, parked full, if every block it handed out came back from other
 * threads: its remote list is taken and the slab freed (true).  Safe under
 * the heap lock without the owner: a parked slab is in no queue and the
 * owner holds none of its blocks (a block in its thread cache counts as
 * used), so nothing else reaches it.  Counted in the shared counters (the
 * owner's are its own): the blocks as remote frees, then dropped. */
static bool parked_slab_returned(hk_slab_t *s) {
  if ((s->flags & (HK_SLAB_FREE | HK_SLAB_TAIL | HK_SLAB_FULL)) != HK_SLAB_FULL || s->free ||
      s->local_free || s->used == 0)
    return false;
  hk_block_t *list = atomic_load_explicit(&s->remote_free, memory_order_acquire);
  unsigned n = 0;
  for (hk_block_t *b = list; b && n <= s->used; b = hk_link_get(s, b)) n++;
  if (n != s->used || n != s->capacity) return false;
  if (!atomic_compare_exchange_strong_explicit(&s->remote_free, &list, NULL, memory_order_acquire,
                                               memory_order_relaxed))
    return false; /* a push came in: leave it to the owner */
#if HK_TELEMETRY
  unsigned row = hk_tel_row_of(s);
  __atomic_fetch_add(&hk_tel_shared.collected[row], n, __ATOMIC_RELAXED);
  __atomic_fetch_add(&hk_tel_shared.moved_local[row], n, __ATOMIC_RELAXED);
  __atomic_fetch_add(&hk_tel_shared.dropped[row], n, __ATOMIC_RELAXED);
#endif
  s->used = 0;
  return true;
}

/* Other threads' frees wait, and the owner collected none for a tick: it
 * sleeps, or lives on what its slabs hold.  Its parked slabs that came back
 * whole are freed (under the heap lock), so that a thread that handed its
 * blocks to others and waits (a main thread, a producer between bursts)
 * does not keep their memory.  The rest stays for the owner's next
 * collection.  Returns the slabs freed. */
static unsigned collect_parked(hk_heap_t *h) {
  unsigned freed = 0;
  hk_ss_list_t *lists[2] = { &h->ss_full, &h->ss_avail };
  for (int l = 0; l < 2; l++) {
    hk_superslab_t *next;
    for (hk_superslab_t *ss = lists[l]->first; ss; ss = next) {
      next = ss->next;
      uint32_t m = atomic_load_explicit(&ss->remote_mask, memory_order_acquire);
      while (m) {
        unsigned i = (unsigned)__builtin_ctz(m);
        m &= m - 1;
        hk_slab_t *s = &ss->slabs[i];
        if (!parked_slab_returned(s)) continue;
        atomic_fetch_and_explicit(&ss->remote_mask, ~(1u << i), memory_order_relaxed);
        freed++;
        if (hk_heap_span_freed(h, ss, s, false)) break; /* the SuperSlab went back */
      }
    }
  }
  return freed;
}

#define DECAY_BATCH 64 /* slabs (4 MiB) per lock hold: the owner waits one batch at most */

/* Purge up to DECAY_BATCH free resident slabs: every one (`all`), or those
 * that aged a tick while the heap holds more than it retains. */
static unsigned decay_batch(hk_heap_t *h, bool all) {
  uint32_t retain = all ? 0 : hk_heap_retain();
  unsigned purged = 0;
  for (hk_superslab_t *ss = h->ss_avail.first; ss && purged < DECAY_BATCH; ss = ss->next) {
    if (h->dirty_slabs <= retain) break;
    purged += hk_ss_purge(ss, all ? ~0u : ss->purge_mark);
  }
  return purged;
}

/* One tick of the adaptive thread on heap h, `elapsed` ms after the last:
 * at a decay tick, purge what aged beyond the heap's retain and age the
 * rest; once no span was taken or freed for idle_ms, purge every free slab
 * (idle trim: the heap's cache goes back).  Returns slabs purged; *trimmed
 * counts them when the idle trim did it. */
unsigned hk_heap_tick(hk_heap_t *h, uint32_t elapsed, bool decay, uint32_t idle_ms,
                      unsigned *trimmed, bool *waiting) {
  unsigned total = 0, n;
  *trimmed = 0;
  hk_lock(&h->lock);
  bool busy = h->activity != h->ace_activity;
  if (busy) {
    h->ace_activity = h->activity;
    h->ace_idle_ms = 0;
  } else if (h->ace_idle_ms < idle_ms) {
    h->ace_idle_ms += elapsed;
  }
  /* remote frees wait, and the owner collected none since the last tick:
   * it sleeps, or lives on what its slabs hold (an owner that collects is
   * left alone).  Where that freed slabs, more may follow: look again at
   * the next tick. */
  *waiting = false;
  if (atomic_load_explicit(&h->remote_hint, memory_order_relaxed) != 0 &&
      h->collections == h->ace_collections)
    *waiting = collect_parked(h) != 0;
  h->ace_collections = h->collections;
  /* A heap whose spans changed since the last tick is freeing or refilling:
   * its free slabs may soon be reused, or leave with their whole SuperSlab
   * (purged by the arena in bigger batches).  Its decay waits for a quiet
   * tick, unless it holds more than it retains (its share). */
  bool tick = decay;
  if (busy && h->dirty_slabs <= hk_heap_retain()) decay = false;
  for (;;) {
    bool idle = h->activity == h->ace_activity && h->ace_idle_ms >= idle_ms;
    if (!idle && !decay) break;
    n = decay_batch(h, idle);
    total += n;
    if (idle) *trimmed += n;
    if (n < DECAY_BATCH) break;
    hk_unlock(&h->lock); /* let the owner in between batches */
    hk_lock(&h->lock);
  }
  if (tick)
    for (hk_superslab_t *ss = h->ss_avail.first; ss; ss = ss->next) hk_ss_age(ss);
  hk_unlock(&h->lock);
  return total;
}

/* The decay clock starts over (the adaptive thread switched strategies):
 * what is free now has aged at the next decay tick. */
void hk_heap_age(hk_heap_t *h) {
  hk_lock(&h->lock);
  for (hk_superslab_t *ss = h->ss_avail.first; ss; ss = ss->next) hk_ss_age(ss);
  hk_unlock(&h->lock);
}

/* Free resident memory of the calling thread's heap, of any heap (the
 * adaptive thread: whether to start, whether to keep its pace). */
size_t hk_heap_dirty_bytes_self(void) {
  return (size_t)__atomic_load_n(&hk_heap_tls->dirty_slabs, __ATOMIC_RELAXED) << HK_SLAB_SHIFT;
}

bool hk_heap_any_dirty(void) {
  for (hk_heap_t *h = hk_heap_all(); h; h = h->all_next)
    if (__atomic_load_n(&h->dirty_slabs, __ATOMIC_RELAXED)) return true;
  return false;
}

/* ---- fork ---------------------------------------------------------------- */

/* Every heap lock is taken too: a heap in the child (its owner thread gone)
 * is never left half updated for the adaptive thread to find. */
void hk_heap_fork_prepare(void) {
  hk_lock(&pool_lock);
  for (hk_heap_t *h = all_heaps; h; h = h->all_next) hk_lock(&h->lock);
  hk_abandoned_fork_prepare();
}
void hk_heap_fork_parent(void) {
  hk_abandoned_fork_parent();
  for (hk_heap_t *h = all_heaps; h; h = h->all_next) hk_unlock(&h->lock);
  hk_unlock(&pool_lock);
}
