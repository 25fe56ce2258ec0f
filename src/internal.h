/* hakmem: internal interfaces between the layers (hidden symbols, hk_ prefix). */
#ifndef HK_INTERNAL_H
#define HK_INTERNAL_H

#include "types.h"
#include "config.h"

#include <stdio.h>
#include <string.h>

#define hk_likely(x)     __builtin_expect(!!(x), 1)
#define hk_unlikely(x)   __builtin_expect(!!(x), 0)
#define HK_NOINLINE      __attribute__((noinline))
#define HK_ALWAYS_INLINE inline __attribute__((always_inline))
#define HK_COLD          __attribute__((cold, noinline))

/* ---- assertions (HK_DEBUG: 0 none, 1 cheap, 2 internal invariants) ------ */
#ifndef HK_DEBUG
#define HK_DEBUG 0
#endif
HK_COLD __attribute__((noreturn)) void hk_fatal(const char *msg, const void *ptr);
HK_COLD __attribute__((noreturn)) void hk_assert_fail(const char *expr, const char *file, int line);
#if HK_DEBUG >= 1
#define hk_assert(x) ((x) ? (void)0 : hk_assert_fail(#x, __FILE__, __LINE__))
#else
#define hk_assert(x) ((void)0)
#endif
#if HK_DEBUG >= 2
#define hk_assert_internal(x) hk_assert(x)
#else
#define hk_assert_internal(x) ((void)0)
#endif

/* ---- locks: pthread mutexes, all taken before fork, released after ------ */
static inline void hk_lock(hk_lock_t *l) { pthread_mutex_lock(l); }
static inline void hk_unlock(hk_lock_t *l) { pthread_mutex_unlock(l); }

/* ---- size classes ------------------------------------------------------ */
/* Classes above 128 B: 8 per doubling, from the top 4 bits of n - 1. */
static inline unsigned hk_size_class_above128(size_t n) {
  size_t m = n - 1;
  unsigned b = 63u - (unsigned)__builtin_clzl(m); /* m >= 128: b >= 7 */
  return (b - 7u) * 8u + 1u + (unsigned)(m >> (b - 3u));
}
static inline unsigned hk_size_class(size_t n) {
  if (n <= 8) return 0;
  if (n <= 128) return (unsigned)((n + 15) >> 4);
  return hk_size_class_above128(n);
}
static inline size_t hk_class_size(unsigned cls) {
  if (cls == 0) return 8;
  if (cls <= 8) return (size_t)cls * 16;
  unsigned j = cls - 9, d = j >> 3, r = j & 7;
  return ((size_t)128 << d) + (size_t)(r + 1) * ((size_t)16 << d);
}
/* Slabs per span for a class: at least 8 blocks per span. */
static inline unsigned hk_class_span(unsigned cls) {
  size_t bs = hk_class_size(cls);
  size_t k = (bs * 8 + HK_SLAB_SIZE - 1) / HK_SLAB_SIZE;
  return k ? (unsigned)k : 1u;
}

/* ---- address to metadata ---------------------------------------------- */
static inline hk_superslab_t *hk_ss_of(const void *p) {
  return (hk_superslab_t *)(((uintptr_t)p - 1) & ~(uintptr_t)HK_SS_MASK);
}
/* The slab holding p: SuperSlabs are 2 MiB aligned, so the slab index is
 * bits 16..20 of the address, scaled to the 64-byte metadata entries. */
static inline hk_slab_t *hk_slab_at(hk_superslab_t *ss, const void *p) {
  uintptr_t off = ((uintptr_t)p >> (HK_SLAB_SHIFT - 6)) & ((uintptr_t)(HK_SLABS_PER_SS - 1) << 6);
  return (hk_slab_t *)((uint8_t *)ss->slabs + off);
}
/* Slab flags: written by the owner (or under its heap's lock), read by
 * other threads' frees: relaxed atomics there (plain byte moves on x86).
 * The owner's own reads stay plain. */
static inline unsigned hk_slab_flags(const hk_slab_t *s) {
  return __atomic_load_n(&s->flags, __ATOMIC_RELAXED);
}
static inline void hk_slab_set_flags(hk_slab_t *s, unsigned flags) {
  __atomic_store_n(&s->flags, (uint8_t)flags, __ATOMIC_RELAXED);
}
/* A span's head slab; the TAIL flag and delta are fixed while a block lives. */
static inline hk_slab_t *hk_slab_head(hk_slab_t *s) {
  return (hk_slab_flags(s) & HK_SLAB_TAIL) ? s - s->head_delta : s;
}
static inline unsigned hk_slab_index(hk_superslab_t *ss, const hk_slab_t *s) {
  return (unsigned)(s - ss->slabs);
}
static inline size_t hk_ss_front_bytes(void);
static inline uint8_t *hk_slab_area(hk_superslab_t *ss, unsigned idx) {
  return (uint8_t *)ss + (idx ? (size_t)idx << HK_SLAB_SHIFT : hk_ss_front_bytes());
}
static inline hk_heap_t *hk_ss_owner(hk_superslab_t *ss) {
  return atomic_load_explicit(&ss->owner, memory_order_relaxed);
}

/* ---- the address map (arena.c) ------------------------------------------ */
extern uint8_t hk_ss_map[HK_MAP_UNITS];
/* What hakmem has at p's 2 MiB unit (the unit hk_ss_of(p) names). */
static inline unsigned hk_map_at(const void *p) {
  size_t unit = ((uintptr_t)p - 1) >> HK_SS_SHIFT;
  return unit < HK_MAP_UNITS ? __atomic_load_n(&hk_ss_map[unit], __ATOMIC_RELAXED) : HK_MAP_NONE;
}
void hk_map_set(const void *base, size_t size, unsigned state);
/* The header of the page segment holding p (its map byte says how many
 * 2 MiB units back it is); laid out as a SuperSlab's up to `kind`. */
static inline hk_superslab_t *hk_pages_header(const void *p) {
  unsigned back = hk_map_at(p) & ~(unsigned)HK_MAP_PAGES;
  return (hk_superslab_t *)((((uintptr_t)p - 1) & ~(uintptr_t)HK_SS_MASK) -
                            ((uintptr_t)back << HK_SS_SHIFT));
}

/* ---- hardened mode and misuse checks ------------------------------------ */
#include "harden.h"

/* ---- thread heap (TLS) ------------------------------------------------- */
extern __thread hk_heap_t *hk_heap_tls __attribute__((tls_model("initial-exec")));
extern hk_heap_t hk_heap_empty;
extern hk_slab_t hk_slab_empty;

/* ---- telemetry (telemetry.h): the calling thread's counters --------------- */
extern hk_tel_t hk_tel_shared; /* threads without a heap: atomic adds */
#if HK_TELEMETRY
#define HK_TEL_HERE(field, n) \
  do { \
    hk_heap_t *h_ = hk_heap_tls; \
    if (h_ != &hk_heap_empty) HK_TEL_ADD(h_->tel.field, (n)); \
    else __atomic_fetch_add(&hk_tel_shared.field, (n), __ATOMIC_RELAXED); \
  } while (0)
#else
#define HK_TEL_HERE(field, n) ((void)0)
#endif
/* The row of a block of usable size n: its class, a large range or huge. */
static inline unsigned hk_tel_row(size_t n) {
  if (n <= HK_SMALL_MAX) return hk_size_class(n);
  if (n > HK_LARGE_MAX) return HK_TEL_ROW_HUGE;
  unsigned log2_ceil = 64u - (unsigned)__builtin_clzl(n - 1); /* 16..20 */
  return HK_TEL_ROW_LARGE + log2_ceil - 16u;
}
/* The row of a block of slab head: its class, or for a large span the row
 * of its size, kept in `cls` too. */
static inline unsigned hk_tel_row_of(const hk_slab_t *head) { return head->cls; }

/* os.c */
typedef struct hk_os_counters_s {
  _Atomic size_t mmap_calls, munmap_calls, madvise_calls, mremap_calls;
  _Atomic size_t mapped_bytes;                               /* currently mapped by hakmem */
  _Atomic size_t mapped_total, unmapped_total, purged_total; /* bytes, ever */
} hk_os_counters_t;
extern hk_os_counters_t hk_os_counters;
void *hk_os_map(size_t size);
void *hk_os_map_aligned(size_t size, size_t align, size_t skew);
bool hk_os_map_fixed(void *addr, size_t size);
void hk_os_unmap(void *p, size_t size);
void hk_os_purge(void *p, size_t size);
#define HK_THP_AUTO_FROM ((size_t)32 << 20) /* HAKMEM_THP=auto: huge pages from this heap on */
void hk_os_advise_thp(void *p, size_t size, bool runs);
bool hk_os_thp_crossed(size_t held);
bool hk_os_remap_inplace(void *p, size_t old_size, size_t new_size);
bool hk_os_remap_move(void *p, size_t old_size, size_t new_size, void *to);
uint64_t hk_os_resident_bytes(void);
bool hk_os_read_file(const char *path, char *buf, size_t size);
double hk_os_fault_ns(void);

/* arena.c: SuperSlabs from reserved chunks */
hk_superslab_t *hk_arena_alloc_ss(bool *clean, bool *from_os);
size_t hk_arena_free_dirty_bytes(void);
void hk_arena_free_ss(hk_superslab_t *ss);
size_t hk_arena_trim(bool release_address_space);
typedef void (*hk_ss_visitor)(hk_superslab_t *ss, void *arg);
void hk_arena_visit(hk_ss_visitor fn, void *arg);
size_t hk_arena_decay(bool all);
void hk_arena_age(void);
void hk_arena_advise_thp(void);
size_t hk_ss_span_bytes(void);             /* slabs in spans, in bytes (HAKMEM_THP=auto) */
void hk_ss_spans_gone(hk_superslab_t *ss); /* to the arena: its spans leave the count */
size_t hk_arena_unmap_stale(void);
void hk_arena_fork_prepare(void);
void hk_arena_fork_parent(void);

/* superslab.c: slab spans inside a SuperSlab */
void hk_ss_init(hk_superslab_t *ss, hk_heap_t *owner, bool clean);
hk_slab_t *hk_ss_take_span(hk_superslab_t *ss, unsigned nslabs, bool *clean);
void hk_ss_return_span(hk_superslab_t *ss, hk_slab_t *head);
unsigned hk_ss_purge(hk_superslab_t *ss, uint32_t which);
void hk_ss_age(hk_superslab_t *ss);

/* slab.c: blocks inside a slab */
void hk_slab_init(hk_slab_t *s, hk_superslab_t *ss, unsigned cls);
bool hk_slab_extend(hk_heap_t *h, hk_slab_t *s);
unsigned hk_slab_collect(hk_heap_t *h, hk_slab_t *s); /* returns a HAK_STAGE_ */
void hk_slab_collect_remote(hk_heap_t *h, hk_slab_t *s);
void hk_slab_collect_local(hk_heap_t *h, hk_slab_t *s);
unsigned hk_slab_listed(const hk_slab_t *s);
/* The same without the walk, for a slab whose lists are settled: every
 * carved block not in use on `free`, as the owner leaves it at exit (and
 * as it stays while abandoned: other threads' frees wait on remote_free,
 * still counted in `used`). */
static inline unsigned hk_slab_listed_settled(const hk_slab_t *s) {
  hk_assert_internal(s->local_free == NULL &&
                     hk_slab_listed(s) == (unsigned)(s->capacity - s->used));
  return (unsigned)(s->capacity - s->used);
}
void hk_slab_discard(hk_heap_t *h, hk_slab_t *s);
void hk_slab_recarve(hk_heap_t *h, hk_slab_t *s);
void hk_remote_free(hk_superslab_t *ss, hk_slab_t *head, void *p);

/* Blocks on a list of slab s (telemetry; slow paths only). */
static inline unsigned hk_block_count(const hk_slab_t *s, const hk_block_t *b) {
  unsigned n = 0;
  for (; b; b = hk_link_get(s, b)) n++;
  return n;
}

/* Pop the first block of s's free list (not empty). */
static HK_ALWAYS_INLINE hk_block_t *hk_slab_pop_as(hk_slab_t *s, bool hardened) {
  hk_block_t *b = s->free;
  s->free = hardened ? hk_harden_link_get(s, b) : b->next;
  if (hardened) b->next = NULL; /* a live block holds no valid link */
  s->used++;
  return b;
}
static inline hk_block_t *hk_slab_pop(hk_slab_t *s) { return hk_slab_pop_as(s, hk_hardened()); }

/* A slab whose free list ran dry with `avail` blocks back on its own lists:
 * carve more rather than recycle so few (fewer than live ones, or than a
 * page), or the next miss comes right after them.  A class of the thread
 * cache recycles what it has: its live count includes the cached blocks,
 * and carving would touch fresh pages the cache does not need. */
static inline bool hk_slab_should_carve(const hk_slab_t *s, unsigned avail) {
  if (s->flags & HK_SLAB_CACHED) return avail == 0;
  return avail < s->used || avail * s->block_size < HK_PAGE_SIZE;
}

/* The free list is empty: make the local list the free list, unless so few
 * blocks came back that the slow path should carve more. */
static inline bool hk_slab_swap_local(hk_heap_t *h, hk_slab_t *s) {
  (void)h;
  unsigned avail = (unsigned)s->capacity - s->used; /* all on the local list */
  if (hk_slab_should_carve(s, avail) && s->capacity < s->reserved) return false;
  s->free = s->local_free;
  s->local_free = NULL;
  HK_TEL_ADD(h->tel.moved_local[s->cls], avail);
  return true;
}

/* An emptied slab stays as it is when it is its class's only one (a loop
 * that mallocs and frees one block): the free fast path's test and
 * hk_heap_slab_freed_local's. */
static inline bool hk_slab_stays_empty(const hk_heap_t *h, const hk_slab_t *s) {
  return !(s->flags & HK_SLAB_FULL) && h->queues[s->cls].first == s && s->next == NULL;
}

/* heap.c: per-thread heaps */
hk_heap_t *hk_heap_acquire(void);
void hk_heap_release(hk_heap_t *h);
void *hk_heap_alloc_small(hk_heap_t *h, size_t n);
void hk_heap_slab_freed_local(hk_heap_t *h, hk_superslab_t *ss, hk_slab_t *s);
void hk_heap_collect(hk_heap_t *h, bool force);
void hk_heap_abandon(hk_heap_t *h);
size_t hk_heap_reclaim_all(hk_heap_t *h);
void hk_heap_abandoned_free(hk_superslab_t *ss, uint64_t seen);
bool hk_heap_adopt(hk_heap_t *h, hk_superslab_t *ss);
size_t hk_heap_abandoned_count(void);
void hk_heap_count_listed(hk_heap_t *h, uint64_t *listed); /* per class, adds */
size_t hk_heap_purge_all(hk_heap_t *h);
hk_heap_t *hk_heap_all(void);
void hk_heap_age(hk_heap_t *h);
unsigned hk_heap_tick(hk_heap_t *h, uint32_t elapsed, bool decay, uint32_t idle_ms,
                      unsigned *trimmed, bool *waiting);
size_t hk_heap_dirty_bytes_self(void);
bool hk_heap_any_dirty(void);
typedef void (*hk_heap_visitor)(hk_heap_t *h, void *arg);
size_t hk_heap_visit_all(hk_heap_visitor fn, void *arg); /* returns live heaps */
void hk_heap_fork_prepare(void);
void hk_heap_fork_parent(void);

/* pages.c: blocks above the size classes, up to HK_PAGES_MAX, as page runs */
void *hk_pages_alloc(hk_heap_t *h, size_t n, size_t align, bool zero);
void hk_pages_free(void *p);
bool hk_pages_resize(void *p, size_t n);
size_t hk_pages_usable(const void *p);
enum { HK_PAGES_LIVE, HK_PAGES_FREED, HK_PAGES_INTERIOR, HK_PAGES_FOREIGN };
unsigned hk_pages_check(const void *p);
size_t hk_pages_decay(bool all);
void hk_pages_age(void);
void hk_pages_advise_thp(void);
uint64_t hk_pages_activity(void);
size_t hk_pages_dirty_bytes(void);
size_t hk_pages_live_bytes(void);
size_t hk_pages_trim(void);
size_t hk_pages_release(void);
void hk_pages_orphan(hk_heap_t *h);
size_t hk_pages_free_heap(hk_heap_t *h);
typedef struct hk_pages_stats_s {
  size_t mapped, in_use, free_resident, header, segments, purged;
  size_t fresh; /* pages handed out unpopulated: a fault each when touched */
} hk_pages_stats_t;
void hk_pages_stats(hk_pages_stats_t *st);
void hk_pages_fork_prepare(void);
void hk_pages_fork_parent(void);

/* large.c: direct mappings */
void *hk_direct_alloc(size_t n, size_t align);
void hk_direct_free(hk_superslab_t *hdr);
void *hk_direct_realloc(hk_superslab_t *hdr, void *p, size_t n);
size_t hk_direct_usable(hk_superslab_t *hdr, const void *p);
void hk_direct_stats(size_t *bytes, size_t *count);

/* alloc.c / free.c: slow paths of the malloc family */
void *hk_malloc_generic(hk_heap_t *h, size_t n);
void *hk_malloc_hardened(hk_heap_t *h, size_t n);
void *hk_calloc(size_t count, size_t size);
void *hk_realloc(void *p, size_t n);
void *hk_aligned(size_t align, size_t n);
size_t hk_usable_size(const void *p);
void hk_free_generic(void *p);
void hk_free_checked(void *p);
void hk_free_sized_checked(void *p, size_t n);
void hk_free_block(hk_superslab_t *ss, hk_slab_t *head, void *p);

/* stats.c */
struct mallinfo2;
void hk_stats_mallinfo(struct mallinfo2 *mi);
void hk_stats_malloc_info(FILE *fp);
void hk_stats_print(int fd);
void hk_tel_sample(hk_tel_t *t, unsigned row, size_t n);
void hk_tel_latency(hk_tel_t *t, uint64_t ns);
uint64_t hk_tel_now_ns(void);
void hk_tel_row_moved(size_t old_usable, size_t new_usable);
void hk_stats_fork_prepare(void);
void hk_stats_fork_parent(void);

/* ace.c: the adaptive layer.  IDLE: no thread, the epochs run on the
 * program's calls; RUNNING: in the thread. */
enum { HK_ACE_OFF, HK_ACE_IDLE, HK_ACE_RUNNING, HK_ACE_FAILED, HK_ACE_STOPPED };
extern _Atomic int hk_ace_state;
/* The adaptive layer does the decay (else each layer on its free paths). */
static inline bool hk_ace_decays(void) {
  int s = atomic_load_explicit(&hk_ace_state, memory_order_relaxed);
  return s == HK_ACE_IDLE || s == HK_ACE_RUNNING;
}
void hk_ace_init(void);
void hk_ace_call(void);
extern _Atomic uint32_t hk_ace_pending; /* the thread: start on a malloc slow path */
void hk_ace_start_pending(void);
void hk_ace_thread_joined(void);
void hk_ace_thread_left(void);
/* Memory was freed: without the thread, an epoch may be due here, or the
 * thread may start. */
static inline void hk_ace_poke(void) {
  if (hk_unlikely(atomic_load_explicit(&hk_ace_state, memory_order_relaxed) == HK_ACE_IDLE))
    hk_ace_call();
}
/* Other threads' frees wait for a live owner (set by the free that starts
 * a batch, cleared by an epoch that finds none waiting): a reason for the
 * thread, which frees what a waiting owner's parked slabs got back. */
extern _Atomic uint32_t hk_ace_remote;
static inline void hk_ace_remote_waiting(void) {
  if (!atomic_load_explicit(&hk_ace_remote, memory_order_relaxed))
    atomic_store_explicit(&hk_ace_remote, 1, memory_order_relaxed);
  hk_ace_poke();
}
struct hak_stats;
void hk_ace_stats(struct hak_stats *st);
/* What an epoch measured, and its cost per allocation in CPU ns (learning
 * scores it).  debt: purged bytes not yet faulted back in, carried from
 * epoch to epoch. */
typedef struct hk_epoch_s {
  double cpu_ns, faults;    /* the program's threads' CPU, minor faults   */
  double purged, grown;     /* bytes purged; resident growth, tick to tick */
  double rss, wall_ms, ops; /* resident bytes at its end; its length; allocations */
} hk_epoch_t;
double hk_ace_epoch_cost(const hk_epoch_t *e, double refault_ns, double *debt);
void hk_ace_fork_prepare(void);
void hk_ace_fork_parent(void);
void hk_ace_fork_child(void);

/* Milliseconds of a coarse monotonic clock (slow paths). */
uint64_t hk_now_ms(void);

/* limit.c: the memory budget */
extern _Atomic bool hk_budget_on;
void hk_budget_init(void);
void hk_budget_fork_prepare(void);
void hk_budget_fork_parent(void);
void hk_config_fork_prepare(void);
void hk_config_fork_parent(void);
bool hk_budget_admit(hk_heap_t *held, size_t bytes);
/* Before taking `bytes` hakmem has not used before: false means ENOMEM.
 * `held`: the heap whose lock the caller holds, or NULL. */
static inline bool hk_budget_ok(hk_heap_t *held, size_t bytes) {
  return hk_likely(!atomic_load_explicit(&hk_budget_on, memory_order_relaxed)) ||
      hk_budget_admit(held, bytes);
}
struct hak_stats;
void hk_budget_stats(struct hak_stats *st);
size_t hk_heap_purge_budget(hk_heap_t *held);

/* init.c */
hk_heap_t *hk_thread_init(void);
void hk_thread_forget(void);
void hk_thp_check(void);
size_t hk_trim(void);

#endif /* HK_INTERNAL_H */
