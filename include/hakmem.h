/* hakmem — a general-purpose memory allocator for Linux.
 *
 * Linking libhakmem (or LD_PRELOAD=libhakmem.so) replaces malloc, free and the
 * rest of the C library's allocator.  This header declares hakmem's own API,
 * which works the same whether or not the malloc family is overridden.
 */
#ifndef HAKMEM_H
#define HAKMEM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The release (CHANGELOG.md).  The major number is the soname's
 * (libhakmem.so.0): it moves when a program built against an older release
 * could break; the minor when the API grows. */
#define HAKMEM_VERSION_MAJOR 0
#define HAKMEM_VERSION_MINOR 1
#define HAKMEM_VERSION_PATCH 0
#define HAKMEM_VERSION (HAKMEM_VERSION_MAJOR * 10000 + HAKMEM_VERSION_MINOR * 100 + HAKMEM_VERSION_PATCH)
#define HAKMEM_STR_(x) #x
#define HAKMEM_STR(x) HAKMEM_STR_(x)
#define HAKMEM_VERSION_STRING                                                \
  HAKMEM_STR(HAKMEM_VERSION_MAJOR) "." HAKMEM_STR(HAKMEM_VERSION_MINOR) "." \
  HAKMEM_STR(HAKMEM_VERSION_PATCH)

/* ABI version: bumped when a public struct or a function's meaning changes. */
#define HAKMEM_ABI_VERSION 1

#if defined(__GNUC__)
#define HAK_API __attribute__((visibility("default")))
#define HAK_MALLOC_ATTR __attribute__((malloc, warn_unused_result))
#else
#define HAK_API
#define HAK_MALLOC_ATTR
#endif

HAK_API HAK_MALLOC_ATTR void *hak_malloc(size_t size);
HAK_API HAK_MALLOC_ATTR void *hak_calloc(size_t count, size_t size);
HAK_API void *hak_realloc(void *ptr, size_t size);
/* alignment: a power of two (any size is accepted, as C23 aligned_alloc). */
HAK_API HAK_MALLOC_ATTR void *hak_aligned_alloc(size_t alignment, size_t size);
HAK_API void hak_free(void *ptr);
/* Free with the size given at allocation (or any size up to hak_usable_size). */
HAK_API void hak_free_sized(void *ptr, size_t size);
/* Bytes usable at ptr (at least the size requested); 0 for NULL. */
HAK_API size_t hak_usable_size(const void *ptr);
/* The library's HAKMEM_ABI_VERSION: compare with the header's. */
HAK_API int hak_abi_version(void);
/* The library's release, HAKMEM_VERSION_STRING when it was built ("0.1.0"). */
HAK_API const char *hak_version(void);

/* Nonzero when the library loaded at run time was built for this header. */
static inline int hak_abi_compatible(void) { return hak_abi_version() == HAKMEM_ABI_VERSION; }

/* Prints one line to stderr and returns 0 when the header and the library
 * disagree; returns 1 when they match. */
static inline int hak_abi_check(void) {
  int lib = hak_abi_version();
  if (lib == HAKMEM_ABI_VERSION) return 1;
  fprintf(stderr, "hakmem: ABI mismatch: built against version %d, library is version %d\n",
          HAKMEM_ABI_VERSION, lib);
  return 0;
}

/* ---- options from the program -------------------------------------------
 * The options that can change while the program runs.  Each takes what its
 * HAKMEM_* variable accepts (README's table), which sets it at start.
 * hak_option_set returns 0, or EINVAL (nothing changed) for an unknown
 * option or a value the variable does not accept; hak_option_get 0 or
 * EINVAL.  A purge delay or retained amount set by the program stays: in
 * learning mode the strategies no longer change it. */
enum hak_option {
  HAK_OPTION_PURGE_DELAY_MS, /* 0..60000: free memory stays resident this long */
  HAK_OPTION_RETAIN_MB,      /* 0..4096: free memory a heap keeps before any purge */
  HAK_OPTION_CACHE_MB,       /* 0..1024: the threads' caches of 1-32 KiB blocks, in all */
  HAK_OPTION_STATS,          /* 0, 1 (the table at exit), 2 (JSON: HAKMEM_STATS's path) */
  HAK_OPTION_VERBOSE,        /* 0, 1: the adaptive layer logs its decisions */
  HAK_OPTION_LIMIT_MB,       /* 0..16777216: the memory budget's hard limit (soft: 90 %) */
  HAK_OPTION_COUNT
};
HAK_API int hak_option_get(enum hak_option option, long *value);
HAK_API int hak_option_set(enum hak_option option, long value);

/* ---- first-class heaps ---------------------------------------------------
 * A heap of the program's own (as mimalloc's mi_heap_*, jemalloc's arenas):
 * for a compiler's phase or a server's request.  Allocate from it on one
 * thread at a time; free its blocks with free() or hak_free from any
 * thread.  hak_heap_destroy frees every block still allocated from it at
 * once (no block of it may be used or freed after, in any thread);
 * hak_heap_release keeps the blocks, which live on as ordinary blocks, and
 * gives its memory to the threads' heaps.  hak_heap_new: NULL with ENOMEM;
 * hak_heap_malloc and the others as malloc (NULL with ENOMEM; EINVAL for
 * a NULL heap). */
typedef struct hak_heap hak_heap_t;
HAK_API hak_heap_t *hak_heap_new(void);
HAK_API HAK_MALLOC_ATTR void *hak_heap_malloc(hak_heap_t *heap, size_t size);
HAK_API HAK_MALLOC_ATTR void *hak_heap_calloc(hak_heap_t *heap, size_t count, size_t size);
HAK_API void *hak_heap_realloc(hak_heap_t *heap, void *ptr, size_t size);
HAK_API void hak_heap_destroy(hak_heap_t *heap);
HAK_API void hak_heap_release(hak_heap_t *heap);

/* ---- the memory budget ---------------------------------------------------
 * On the process's resident memory (HAKMEM_LIMIT_MB sets the hard limit at
 * start).  Past the soft limit, hakmem gives back the free memory it holds
 * before it takes memory it has not used before; past the hard limit, after
 * that, the allocation fails with ENOMEM.  hak_limit_set(0, hard): soft at
 * 90 % of hard; (0, 0): no limit of the program's.  Whatever the program
 * sets, the soft limit stays at most 90 % of the memory cgroup's limit
 * (v2 memory.high / memory.max, v1 memory.soft_limit_in_bytes /
 * memory.limit_in_bytes), read at start and again by hak_limit_refresh,
 * which returns that cgroup limit (0: none).  EINVAL: soft above hard, or a
 * NULL pointer. */
HAK_API int hak_limit_set(size_t soft_bytes, size_t hard_bytes);
HAK_API int hak_limit_get(size_t *soft_bytes, size_t *hard_bytes);
HAK_API size_t hak_limit_refresh(void);

/* ---- statistics ---------------------------------------------------------
 * hak_stats_get(&s, sizeof s) fills a snapshot.  The struct only ever grows
 * at its end: the library fills min(size, its own sizeof) bytes and stores
 * that count in s.size, so a program built against an older, smaller
 * struct keeps reading the same fields.  Counters are per thread and reach
 * the totals on slow paths and at thread exit; the calling thread's own
 * counters are always settled, so a quiescent process reads exact values. */

enum hak_mode { HAK_MODE_MINIMAL, HAK_MODE_FAST, HAK_MODE_BALANCED, HAK_MODE_LEARNING,
                HAK_MODE_RESEARCH };

/* Where the slow path of malloc found memory. */
enum hak_stage {
  HAK_STAGE_LOCAL,     /* blocks freed into the slab (its own lists)         */
  HAK_STAGE_REMOTE,    /* found after collecting other threads' frees heap-wide */
  HAK_STAGE_PARTIAL,   /* a partly used slab: another queued one, or carving */
  HAK_STAGE_REUSE,     /* an emptied slab of an owned SuperSlab, reused      */
  HAK_STAGE_NEW_SLAB,  /* a never used slab of an owned SuperSlab            */
  HAK_STAGE_NEW_SS,    /* a SuperSlab from the arena or an exited thread     */
  HAK_STAGE_OS,        /* fresh memory from the kernel (mmap)                */
  HAK_STAGE_BIGCACHE,  /* unused: the BigCache gave way to the page layer   */
  HAK_STAGE_COUNT
};

#define HAK_STATS_CLASSES 96   /* rows: size classes, then large and huge ranges */

struct hak_stats_class {
  uint64_t block_size;         /* largest size of the row (0: row unused)       */
  uint64_t allocs, frees;      /* frees include remote_frees                    */
  uint64_t remote_frees;       /* freed by a thread other than the owner        */
  uint64_t refills;            /* slow-path refills of the row's blocks         */
  uint64_t size_p50, size_p95; /* requested sizes, sampled on slow paths        */
  uint64_t size_samples;
};

struct hak_stats {
  size_t size;                 /* bytes filled by hak_stats_get                 */
  uint32_t abi_version;        /* HAKMEM_ABI_VERSION of the library             */
  uint32_t mode;               /* enum hak_mode                                 */
  uint32_t telemetry;          /* 1: per-class counters collected (build option) */
  uint32_t threads;            /* heaps of live threads                         */
  /* totals over all rows */
  uint64_t allocs, frees, remote_frees, refills;
  /* memory, as mallinfo2 reports it */
  uint64_t in_use_bytes;       /* blocks handed out (uordblks + hblkhd)         */
  uint64_t superslab_bytes;    /* SuperSlabs in use (mallinfo2.arena)           */
  uint64_t direct_bytes;       /* mappings of blocks > 64 MiB (hblkhd)          */
  uint64_t direct_count;       /* (hblks)                                       */
  uint64_t bigcache_bytes;     /* unused (0): the BigCache gave way to the page */
  uint64_t bigcache_hits, bigcache_misses;   /* layer; kept for the ABI        */
  uint64_t mapped_bytes;       /* address space hakmem holds                    */
  uint64_t committed_bytes;    /* of which possibly resident (not purged)       */
  uint64_t resident_bytes;     /* the process's resident set (/proc/self/statm) */
  uint64_t peak_resident_bytes;
  uint64_t minor_faults, major_faults;   /* the process's (getrusage)           */
  uint64_t abandoned_superslabs;         /* left by exited threads               */
  /* calls to the kernel and their bytes */
  uint64_t os_mmap, os_munmap, os_madvise, os_mremap;
  uint64_t os_mapped_total, os_unmapped_total, os_purged_total;
  uint64_t stage[HAK_STAGE_COUNT];
  /* malloc slow-path latency, sampled (1 slow malloc of a thread in 256) */
  uint64_t slow_samples, slow_ns_p50, slow_ns_p95, slow_ns_max;
  uint32_t nclasses;           /* rows used in classes[]                        */
  uint32_t pad_;
  struct hak_stats_class classes[HAK_STATS_CLASSES];
  /* the adaptive layer (ACE): its background thread and what it did */
  uint32_t ace_state;          /* enum hak_ace_state                             */
  uint32_t ace_learning;       /* 0 static, 1 learning, 2 frozen on a strategy   */
  uint32_t ace_strategy;       /* index in strategies[] in use (learning modes)  */
  uint32_t nstrategies;        /* entries of strategies[] (0: not learning mode) */
  uint64_t ace_epochs;
  uint64_t ace_purged_bytes;   /* free memory it gave back (decay and idle trim) */
  uint64_t ace_trimmed_bytes;  /* of which by idle trim                          */
  uint64_t ace_unmapped_bytes; /* empty SuperSlabs unmapped                      */
  uint64_t ace_bigcache_bytes; /* unused (0), kept for the ABI                   */
  uint64_t ace_reopens;        /* learning re-opened by a drift of the workload  */
  struct hak_stats_strategy {
    char name[16];
    double rating;             /* ELO                                            */
    double mean_cost;          /* ns per allocation, CPU + faults + memory       */
    uint64_t plays;            /* epochs it ran                                  */
    uint64_t wins, losses, draws;
    uint32_t alive;            /* still competing                                */
    uint32_t pad_;
  } strategies[8];
  uint32_t ace_leader;         /* learning: the best rated so far, the one it
                                  would choose now (frozen: the winner; fixed:
                                  ace_strategy)                                 */
  uint32_t pad2_;
  /* the page layer: blocks above the size classes, up to 64 MiB (in_use_bytes
   * and committed_bytes include it; mallinfo2 counts it in arena) */
  uint64_t pages_mapped_bytes;        /* address space of its segments          */
  uint64_t pages_in_use_bytes;        /* runs handed out                        */
  uint64_t pages_free_resident_bytes; /* free runs' pages not yet given back    */
  uint64_t pages_purged_bytes;        /* given back (madvise), ever             */
  uint64_t pages_faults;              /* pages handed out unpopulated: a fault
                                         each when touched (4 KiB pages), one
                                         per 2 MiB under huge pages           */
  uint64_t pages_segments;
  /* the adaptive layer, continued */
  uint64_t ace_threads_started; /* times its thread started (it ends when the
                                   program has too few threads of its own)   */
  uint64_t thread_cache_bytes;  /* free blocks of 1-32 KiB held in the threads'
                                   caches for their next mallocs (not in use) */
  /* the memory budget (hak_limit_set) */
  uint64_t limit_soft_bytes, limit_hard_bytes; /* in force (0: none)          */
  uint64_t limit_cgroup_bytes;    /* the memory cgroup's lowest limit (0: none) */
  uint64_t limit_reclaims;        /* soft limit reached: free memory given back */
  uint64_t limit_reclaimed_bytes; /* ... this much of it                        */
  uint64_t limit_refusals;        /* hard limit reached: ENOMEM                 */
};

/* hak_stats.ace_state: OFF in minimal and fast mode; NOT_STARTED (also
 * named ON_CALLS): no thread now, the adaptive layer runs on the program's
 * allocator calls; RUNNING: in its thread; FAILED: the thread could not be
 * created (on calls from then on); STOPPED: at exit. */
enum hak_ace_state { HAK_ACE_OFF, HAK_ACE_NOT_STARTED, HAK_ACE_RUNNING, HAK_ACE_FAILED,
                     HAK_ACE_STOPPED, HAK_ACE_ON_CALLS = HAK_ACE_NOT_STARTED };

/* 0 on success; EINVAL if out is NULL or size < sizeof(size_t). */
HAK_API int hak_stats_get(struct hak_stats *out, size_t size);
/* The readable table HAKMEM_STATS=1 prints at exit. */
HAK_API void hak_stats_print(FILE *f);
/* The same as JSON (what HAKMEM_STATS=json:PATH writes at exit). */
HAK_API void hak_stats_print_json(FILE *f);

#ifdef __cplusplus
}
#endif

#endif /* HAKMEM_H */
