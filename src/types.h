/* hakmem: constants and data structures shared by every layer.
 *
 * Layout: the arena reserves address space in chunks and hands out 2 MiB
 * SuperSlabs aligned to 2 MiB.  A SuperSlab is cut into 32 slabs of 64 KiB;
 * its first 4 KiB hold the SuperSlab header with the metadata of all 32
 * slabs.  A slab (or a span of a few slabs) serves one size class, or holds
 * one large block.  Blocks above the size classes, up to HK_PAGES_MAX, are
 * runs of pages in page segments (pages.c); beyond it, direct mappings whose
 * first page holds a header laid out like a SuperSlab header, so that
 * free(p) finds its metadata at ((p - 1) & ~(2 MiB - 1)) for slabs and
 * direct mappings, and a page segment's a map byte's count of units before.
 */
#ifndef HK_TYPES_H
#define HK_TYPES_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Built for ThreadSanitizer (make tsan): the few plain accesses that race
 * on purpose become the relaxed atomics they stand for (telemetry.h). */
#if defined(__SANITIZE_THREAD__)
#define HK_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HK_TSAN 1
#endif
#endif
#ifndef HK_TSAN
#define HK_TSAN 0
#endif

/* A count written under its lock (or by its only writer) and read unlocked
 * elsewhere as a glance: a relaxed load and store, no locked instruction,
 * which is what a plain add does on x86, said to the compiler and to TSan.
 * Yields the new value. */
#define HK_RELAXED_ADD(var, n) \
  __extension__({ \
    __typeof__(var) v_ = (__typeof__(var))(__atomic_load_n(&(var), __ATOMIC_RELAXED) + (n)); \
    __atomic_store_n(&(var), v_, __ATOMIC_RELAXED); \
    v_; \
  })

#define HK_SS_SHIFT       21
#define HK_SS_SIZE        ((size_t)1 << HK_SS_SHIFT) /* 2 MiB */
#define HK_SS_MASK        (HK_SS_SIZE - 1)
#define HK_SLAB_SHIFT     16
#define HK_SLAB_SIZE      ((size_t)1 << HK_SLAB_SHIFT) /* 64 KiB */
#define HK_SLABS_PER_SS   32
#define HK_SS_HEADER_SIZE 4096 /* slab 0 starts here */
#define HK_PAGE_SIZE      4096

/* Size ranges. */
#define HK_SMALL_MAX       32768u             /* size classes (slabs)      */
#define HK_LARGE_MAX       ((size_t)1 << 20)  /* telemetry: large rows end here */
#define HK_PAGES_MAX       ((size_t)64 << 20) /* page runs (pages.c)         */
#define HK_PAGES_ALIGN_MAX ((size_t)16 << 20) /* alignments page runs serve  */
#define HK_DIRECT_HDR      HK_PAGE_SIZE       /* header page of a mapping   */
#define HK_MAX_REQUEST     (PTRDIFF_MAX - 2 * HK_SS_SIZE)

/* Size classes: 8, 16..128 in steps of 16, then 8 classes per doubling up
 * to 32 KiB (at most 12.5% rounding loss from 128 B up). */
#define HK_NUM_CLASSES  73
#define HK_DIRECT_MAX   1024u /* sizes served through direct[] */
#define HK_DIRECT_SLOTS (HK_DIRECT_MAX / 8 + 1)

#define HK_ALIGN_NATURAL 16 /* malloc's alignment for >= 16 B */

/* The address map (arena.c): one byte per 2 MiB of the 47-bit user address
 * space says what hakmem has there.  free() reads it before the header, so
 * a pointer hakmem never handed out is reported instead of followed. */
#define HK_MAP_UNITS ((size_t)1 << (47 - HK_SS_SHIFT))
enum {
  HK_MAP_NONE = 0,     /* not hakmem's                                   */
  HK_MAP_SLABS = 1,    /* a SuperSlab in use: the free fast path may run */
  HK_MAP_SLABS_SLOW,   /* a SuperSlab in use, hardened: every free checks */
  HK_MAP_DIRECT,       /* the first 2 MiB of a direct mapping (its header) */
  HK_MAP_DIRECT_TAIL,  /* the rest of a direct mapping                   */
  HK_MAP_RELEASED,     /* was hakmem's: back in the arena, or unmapped   */
  HK_MAP_PAGES = 0x80, /* a page segment: | units back to its header     */
};
#define HK_MAP_PAGES_UNITS 127 /* the largest page segment, in 2 MiB units */

/* Slab flags: 0 means "ordinary small slab, in its class queue", the only
 * state the free fast path handles; anything else goes the slow way.  A
 * head slab is in its class queue unless FULL. */
enum {
  HK_SLAB_FREE = 1u << 0,   /* not in use (part of the SuperSlab's free mask) */
  HK_SLAB_FULL = 1u << 1,   /* no free block: detached from the class queue   */
  HK_SLAB_TAIL = 1u << 3,   /* non-head slab of a span                        */
  HK_SLAB_CACHED = 1u << 4, /* a class the thread cache serves (cache.h): the
                                owner's frees go there, off the fast path  */
};

/* Locks: pthread mutexes, all taken before fork and released after it. */
typedef pthread_mutex_t hk_lock_t;
#define HK_LOCK_INIT PTHREAD_MUTEX_INITIALIZER

typedef struct hk_block_s {
  struct hk_block_s *next;
} hk_block_t;

struct hk_heap_s;
struct hk_superslab_s;

/* Per-slab metadata: 64 bytes, kept in the SuperSlab header. */
typedef struct hk_slab_s {
  hk_block_t *free;                  /* blocks malloc pops (owner only)     */
  hk_block_t *local_free;            /* blocks freed by the owner           */
  _Atomic(hk_block_t *) remote_free; /* blocks freed by other threads       */
  struct hk_slab_s *next, *prev;     /* class queue links                   */
  uint8_t *start;                    /* first block                         */
  uint32_t block_size;               /* bytes per block (large: span bytes) */
  uint16_t used;                     /* blocks handed out, not freed locally */
  uint16_t capacity;                 /* blocks carved so far (lazy build)   */
  uint16_t reserved;                 /* blocks that fit in the span         */
  uint8_t flags;                     /* HK_SLAB_*                           */
  uint8_t cls;                       /* size class (large: telemetry row)   */
  uint8_t span;                      /* slabs in the span (head)            */
  uint8_t head_delta;                /* tail slab: distance to its head     */
  uint16_t pad_;
} hk_slab_t;

enum { HK_SS_KIND_SLABS = 1, HK_SS_KIND_DIRECT = 2, HK_SS_KIND_PAGES = 3 };

typedef struct hk_superslab_s {
  /* Line 0: what only slow paths read.  Blocks that start at a 4 KiB
   * boundary share its cache set (in L1, and every 64 KiB in L2), so the
   * free path reads nothing here: its owner test would miss. */
  struct hk_superslab_s *next; /* heap list or abandoned list         */
  uint32_t kind;               /* HK_SS_KIND_* (offset 8, as a page
                                          segment's header)                   */
  uint32_t purge_mark;         /* free dirty slabs seen at the last purge tick */
  struct hk_superslab_s *prev;
  size_t map_size;      /* direct mappings: bytes mapped from this header on */
  uint8_t *user;        /* direct mappings: pointer handed out */
  uint8_t in_full_list; /* heap bookkeeping: on ss_full list   */
  uint8_t abandoned;    /* on the abandoned list (under its lock) */
  /* Line 1: the free path's. */
  _Atomic(struct hk_heap_s *) owner __attribute__((aligned(64))); /* NULL when abandoned/direct */
  uint64_t link_key;                /* hardened: free-list link key (harden.h) */
  uint32_t free_mask;               /* slabs not in use (owner only)       */
  uint32_t dirty_mask;              /* slabs whose pages may be resident   */
  _Atomic uint32_t remote_mask;     /* slabs with pending remote frees     */
  _Atomic uint64_t abandoned_state; /* epoch << 32 | blocks still live while abandoned */
  hk_slab_t slabs[HK_SLABS_PER_SS] __attribute__((aligned(64)));
} hk_superslab_t;

_Static_assert(sizeof(hk_slab_t) == 64, "slab metadata must be 64 bytes");
_Static_assert(sizeof(hk_superslab_t) <= HK_SS_HEADER_SIZE, "header must fit 4 KiB");
_Static_assert(offsetof(hk_superslab_t, owner) == 64 && offsetof(hk_superslab_t, slabs) == 128,
               "the free path reads header line 1 and slab metadata only");

typedef struct hk_queue_s {
  hk_slab_t *first, *last;
} hk_queue_t;
typedef struct hk_ss_list_s {
  hk_superslab_t *first;
  size_t count;
} hk_ss_list_t;

/* The thread cache (cache.h): per class above HK_DIRECT_MAX, the owner's
 * last frees, handed out first by its mallocs (LIFO, still counted as used
 * in their slabs). */
#define HK_CACHE_FIRST   33 /* the first class above 1 KiB */
#define HK_CACHE_CLASSES (HK_NUM_CLASSES - HK_CACHE_FIRST)
typedef struct hk_cache_bin_s {
  hk_block_t *top;
  uint64_t pushed, popped; /* blocks in and out, ever (the count is
                                          their difference; statistics sum them) */
  uint16_t limit;
  uint16_t low;    /* fewest blocks held since the last sweep */
  uint16_t missed; /* a malloc found it empty since then    */
  uint16_t pad_;
} hk_cache_bin_t;

#include "telemetry.h"

/* A thread heap.  direct[] comes first: the malloc fast path indexes it. */
typedef struct hk_heap_s {
  hk_slab_t *direct[HK_DIRECT_SLOTS];     /* (size+7)/8 -> current slab of its class */
  hk_queue_t queues[HK_NUM_CLASSES];      /* slabs with (possibly) free blocks    */
  hk_cache_bin_t cache[HK_CACHE_CLASSES]; /* thread cache of the classes above 1 KiB */
  size_t cache_limits;                    /* its bins' limits, in bytes           */
  uint32_t cache_events;                  /* misses and overflows since the last sweep */
  _Atomic uint32_t cache_sweep; /* set by the adaptive layer: sweep at the next slow path */
  hk_ss_list_t ss_avail;        /* owned SuperSlabs with free slabs     */
  hk_ss_list_t ss_full;         /* owned SuperSlabs without free slabs  */
  _Atomic uint32_t remote_hint; /* set by remote frees: scan remote masks */
  /* under `lock` (the adaptive thread purges a heap's free slabs): the
   * SuperSlab lists, the masks of the owned SuperSlabs, and these */
  uint32_t dirty_slabs;               /* free but resident slabs (purge batch) */
  uint32_t activity;                  /* spans taken and freed, ever          */
  uint64_t last_purge_ms;             /* when they were last purged          */
  uint32_t ace_activity;              /* the adaptive thread's last look      */
  uint32_t ace_idle_ms;               /* how long the heap's spans stayed put */
  uint32_t collections;               /* the owner's collections of remote frees, ever */
  uint32_t ace_collections;           /* ... at the adaptive thread's last look */
  struct hk_heap_s *pool_next;        /* heap pool free list                  */
  uint8_t user;                       /* a first-class heap (heaps.c): no thread */
  uint64_t gen;                       /* this acquisition's number, never reused: what
                                         page runs name as their taker */
  struct hk_superslab_s *user_direct; /* its direct mappings, under `lock` */
  /* kept when the heap is recycled for another thread: */
  hk_lock_t lock;             /* initialised once, never wiped        */
  struct hk_heap_s *all_next; /* every heap ever made (statistics)    */
  hk_tel_t tel;               /* this heap's counters, cumulative     */
} hk_heap_t;

#endif /* HK_TYPES_H */
