/* hakmem under Valgrind's memcheck: the valgrind build (make valgrind,
 * -DHK_VALGRIND=1) tells memcheck, through its client requests, what the
 * exported entry points hand out and take back, so that memcheck reports a
 * read after free, an overflow past the size asked for, an uninitialised
 * read and a leak in a program preloading hakmem as it does with glibc's
 * malloc.  Every other build compiles these to nothing.
 *
 * A freed block is no access for the program but for its first word, where
 * hakmem keeps its free-list link (a use after free there goes unseen).
 * realloc keeps what memcheck knew of the bytes it keeps only as "defined".
 * In a program whose threads free and allocate the same blocks at once,
 * the requests of two threads may cross (a block freed on one thread and
 * handed out on another between a request and the next): use it on tests,
 * not to measure.  The other route is to let memcheck replace hakmem:
 * valgrind --soname-synonyms=somalloc='*hakmem*' (README). */
#ifndef HK_TRACK_H
#define HK_TRACK_H

#include "alloc.h"

#ifndef HK_VALGRIND
#define HK_VALGRIND 0
#endif

#if HK_VALGRIND
#include <valgrind/memcheck.h>

/* p (n bytes asked for) goes to the program. */
static inline void *hk_track_alloc(void *p, size_t n, int zeroed) {
  if (p) VALGRIND_MALLOCLIKE_BLOCK(p, n, 0, zeroed);
  return p;
}
/* p comes back (memcheck reports a double or foreign free here): no access
 * but for hakmem's link word, and no report of hakmem's own work on it
 * until hk_track_end. */
static inline void hk_track_free_begin(void *p) {
  if (p) {
    VALGRIND_FREELIKE_BLOCK(p, 0);
    VALGRIND_MAKE_MEM_UNDEFINED(p, sizeof(void *));
  }
  VALGRIND_DISABLE_ERROR_REPORTING;
}
static inline void hk_track_end(void) { VALGRIND_ENABLE_ERROR_REPORTING; }
/* hakmem at work in memory memcheck thinks freed (a link carved into a
 * reused slab, calloc's zeroing before the block is the program's). */
static inline void hk_track_quiet(void) { VALGRIND_DISABLE_ERROR_REPORTING; }
/* realloc(p, n): returns what of p stays the program's (its usable size,
 * at most n), and quiets memcheck while hakmem copies the whole block. */
static inline size_t hk_track_realloc_begin(void *p, size_t n, size_t usable) {
  VALGRIND_DISABLE_ERROR_REPORTING;
  return p ? (usable < n ? usable : n) : 0;
}
/* ... it gave q (NULL: failed, or n == 0 freed p). */
static inline void hk_track_realloc_end(void *p, void *q, size_t n, size_t kept) {
  VALGRIND_ENABLE_ERROR_REPORTING;
  if (!q && !(p && n == 0)) return; /* failed: p stays as it was */
  if (p) VALGRIND_FREELIKE_BLOCK(p, 0);
  if (p && p != q) VALGRIND_MAKE_MEM_UNDEFINED(p, sizeof(void *)); /* its link */
  if (!q) return;
  VALGRIND_MALLOCLIKE_BLOCK(q, n, 0, 0);
  if (kept) VALGRIND_MAKE_MEM_DEFINED(q, kept);
}
#else
static inline void *hk_track_alloc(void *p, size_t n, int zeroed) {
  (void)n, (void)zeroed;
  return p;
}
static inline void hk_track_free_begin(void *p) { (void)p; }
static inline void hk_track_end(void) {}
static inline void hk_track_quiet(void) {}
static inline size_t hk_track_realloc_begin(void *p, size_t n, size_t usable) {
  (void)p, (void)n, (void)usable;
  return 0;
}
static inline void hk_track_realloc_end(void *p, void *q, size_t n, size_t kept) {
  (void)p, (void)q, (void)n, (void)kept;
}
#endif

/* The exported entry points' bodies (override.c, cxx.c), with what the
 * valgrind build tells memcheck. */
static HK_ALWAYS_INLINE void *hk_api_malloc(size_t n) {
  hk_track_quiet();
  void *p = hk_malloc_inline(n);
  hk_track_end();
  return hk_track_alloc(p, n, 0);
}
static HK_ALWAYS_INLINE void hk_api_free(void *p) {
  hk_track_free_begin(p);
  hk_free_inline(p);
  hk_track_end();
}
static HK_ALWAYS_INLINE void hk_api_free_sized(void *p, size_t n) {
  hk_track_free_begin(p);
  hk_free_sized_inline(p, n);
  hk_track_end();
}
static inline void *hk_api_calloc(size_t count, size_t size) {
  size_t n = 0;
  (void)__builtin_mul_overflow(count, size, &n); /* hk_calloc refuses the overflow */
  hk_track_quiet();
  void *p = hk_calloc(count, size);
  hk_track_end();
  return hk_track_alloc(p, n, 1);
}
static inline void *hk_api_realloc(void *p, size_t n) {
  size_t kept = hk_track_realloc_begin(p, n, HK_VALGRIND && p ? hk_usable_size(p) : 0);
  void *q = hk_realloc(p, n);
  hk_track_realloc_end(p, q, n, kept);
  return q;
}
static inline void *hk_api_aligned(size_t align, size_t n) {
  hk_track_quiet();
  void *p = hk_aligned(align, n);
  hk_track_end();
  return hk_track_alloc(p, n, 0);
}

#endif
