/* hakmem alloc: the slow path of malloc and the rest of the family
 * (calloc, realloc, aligned allocation, usable size), by size range:
 * small classes (<= 32 KiB), page runs (<= 64 MiB), direct mappings. */
#include "alloc.h"

#include <errno.h>

/* Above the small classes: a page run, else a direct mapping. */
static void *alloc_big(hk_heap_t *h, size_t n) {
  if (n <= HK_PAGES_MAX) {
    void *p = hk_pages_alloc(h, n, 1, false);
    if (p) return p;
  }
  if (n > HK_MAX_REQUEST) return NULL;
  return hk_direct_alloc(n, 1);
}

static hk_heap_t *heap_ready(void) {
  hk_heap_t *h = hk_heap_tls;
  return h != &hk_heap_empty ? h : hk_thread_init();
}

#if HK_TELEMETRY
/* A sampled large or huge malloc (small ones are sampled in heap.c): its
 * requested size, and one in HK_TEL_LAT_EVERY timed. */
static HK_NOINLINE void *alloc_big_sample(hk_heap_t *h, size_t n) {
  hk_tel_sample(&h->tel, hk_tel_row(n), n);
  if (++h->tel.lat_tick % HK_TEL_LAT_EVERY != 0) return alloc_big(h, n);
  uint64_t t0 = hk_tel_now_ns();
  void *p = alloc_big(h, n);
  hk_tel_latency(&h->tel, hk_tel_now_ns() - t0);
  return p;
}

static inline void *alloc_big_sampled(hk_heap_t *h, size_t n) {
  if (!HK_TEL_SAMPLE_NOW(&h->tel)) return alloc_big(h, n);
  return alloc_big_sample(h, n);
}
#else
#define alloc_big_sampled alloc_big
#endif

static HK_NOINLINE void *malloc_slow(hk_heap_t *h, size_t n) {
  if (hk_unlikely(h == &hk_heap_empty)) {
    h = hk_thread_init();
    if (!h) {
      errno = ENOMEM;
      return NULL;
    }
  }
  /* the adaptive thread starts here (a thread's first malloc included),
   * never in free (ace.c) */
  if (hk_unlikely(atomic_load_explicit(&hk_ace_pending, memory_order_relaxed)))
    hk_ace_start_pending();
  void *p = n <= HK_SMALL_MAX ? hk_heap_alloc_small(h, n) : alloc_big_sampled(h, n);
  if (hk_unlikely(!p)) errno = ENOMEM;
  return p;
}

/* The head slab of n's class queue serves, from its free list or else
 * from the owner's frees (when enough came back); else the slow path.
 * Hardened: the links are decoded and checked, a popped block's cleared. */
static HK_ALWAYS_INLINE void *serve(hk_heap_t *h, hk_slab_t *s, size_t n, bool hardened) {
  if (hk_likely(s != NULL)) {
    hk_block_t *b = s->free;
    if (!b && s->local_free && hk_slab_swap_local(h, s)) b = s->free;
    if (hk_likely(b != NULL)) return hk_slab_pop_as(s, hardened);
  }
  return malloc_slow(h, n);
}

/* Hardened malloc, behind direct[] in the hardened build (alloc.h); every
 * hardened malloc of the default build, whose direct[] stays empty. */
HK_NOINLINE void *hk_malloc_hardened(hk_heap_t *h, size_t n) {
  if (n > HK_SMALL_MAX) return malloc_slow(h, n);
  return serve(h, h->queues[hk_size_class(n)].first, n, true);
}

/* Behind the inline fast path: the sizes direct[] does not cover
 * (1-32 KiB), a direct[] slab whose free list ran dry, hardened mode. */
HK_NOINLINE void *hk_malloc_generic(hk_heap_t *h, size_t n) {
  if (hk_hardened()) return hk_malloc_hardened(h, n);
  hk_slab_t *s;
  if (n <= HK_DIRECT_MAX) {
    s = h->direct[(n + 7) >> 3];
  } else if (hk_likely(n <= HK_SMALL_MAX)) {
    unsigned cls = hk_size_class_above128(n);
    /* the inline path found its bin empty (hk_heap_empty's are shared: not counted) */
    if (cls >= hk_cache_from && h != &hk_heap_empty) hk_cache_missed(h, cls);
    s = h->queues[cls].first;
  } else {
    return malloc_slow(h, n);
  }
  return serve(h, s, n, false);
}

void *hk_calloc(size_t count, size_t size) {
  size_t n;
  if (__builtin_mul_overflow(count, size, &n) || n > HK_MAX_REQUEST) {
    errno = ENOMEM;
    return NULL;
  }
  if (n > HK_SMALL_MAX) {        /* pages known to be zero are not cleared; mappings are fresh */
    hk_heap_t *h = heap_ready(); /* the config first */
    if (!h) {
      errno = ENOMEM;
      return NULL;
    }
    void *p = n <= HK_PAGES_MAX ? hk_pages_alloc(h, n, 1, true) : NULL;
    if (!p) p = hk_direct_alloc(n, 1);
    if (!p) errno = ENOMEM;
    return p;
  }
  void *p = hk_malloc_inline(n);
  if (!p) return NULL;
  memset(p, 0, n);
  return p;
}

/* Aligned allocation; align is a power of two. */
void *hk_aligned(size_t align, size_t n) {
  if (align <= HK_ALIGN_NATURAL) return hk_malloc_inline(n < align ? align : n);
  if (n > HK_MAX_REQUEST || align > HK_MAX_REQUEST / 2) {
    errno = ENOMEM;
    return NULL;
  }
  if (n == 0) n = 1; /* a unique block, never an empty span */
  hk_heap_t *h = heap_ready();
  if (!h) {
    errno = ENOMEM;
    return NULL;
  }
  void *p = NULL;
  if (align <= HK_PAGE_SIZE && n <= HK_SMALL_MAX) {
    /* Slabs start page aligned: a class whose size is a multiple of align
     * has every block aligned. */
    for (unsigned cls = hk_size_class(n < align ? align : n); cls < HK_NUM_CLASSES; cls++) {
      size_t bs = hk_class_size(cls);
      if ((bs & (align - 1)) == 0) {
        if (cls >= hk_cache_from) { /* its blocks are aligned too: the cache first */
          if ((p = hk_cache_pop(h, cls)) != NULL) goto done;
          hk_cache_missed(h, cls);
        }
        p = hk_heap_alloc_small(h, bs);
        goto done;
      }
    }
  }
  if (n <= HK_PAGES_MAX && align <= HK_PAGES_ALIGN_MAX) {
    p = hk_pages_alloc(h, n, align, false);
    if (p) goto done;
  }
  p = hk_direct_alloc(n, align);
done:
  if (!p) errno = ENOMEM;
  hk_assert(!p || ((uintptr_t)p & (align - 1)) == 0);
  return p;
}

/* ss: p's header, from hk_check_block (a page segment's is not hk_ss_of(p)). */
static size_t usable_in(hk_superslab_t *ss, const void *p) {
  if (ss->kind == HK_SS_KIND_DIRECT) return hk_direct_usable(ss, p);
  if (ss->kind == HK_SS_KIND_PAGES) return hk_pages_usable(p);
  return hk_slab_head(hk_slab_at(ss, p))->block_size;
}

size_t hk_usable_size(const void *p) {
  return p ? usable_in(hk_check_block(p, HK_OP_USABLE), p) : 0;
}

/* A sized free, checked (hardened mode, the debug build): the pointer as
 * free checks it, then a size larger than the block (a mismatched sized
 * delete, a wrong count given to free_sized) is a misuse. */
void hk_free_sized_checked(void *p, size_t n) {
  if (p != NULL && n > usable_in(hk_check_block(p, HK_OP_FREE), p))
    hk_fatal("sized free of more bytes than the block has", p);
  hk_free_inline(p);
}

void *hk_realloc(void *p, size_t n) {
  if (p == NULL) return hk_malloc_inline(n);
  if (n == 0) {
    hk_free_inline(p);
    return NULL;
  } /* as glibc */
  if (n > HK_MAX_REQUEST) {
    errno = ENOMEM;
    return NULL;
  }
  hk_superslab_t *ss = hk_check_block(p, HK_OP_REALLOC);
  size_t old = usable_in(ss, p);
  if (n <= old && n >= old / 2) return p; /* fits, not too loose */
  if (ss->kind == HK_SS_KIND_DIRECT) {
    if (n > HK_PAGES_MAX) {
      void *q = hk_direct_realloc(ss, p, n);
      if (q) return q;
    }
  } else if (ss->kind == HK_SS_KIND_PAGES && n > HK_SMALL_MAX && n <= HK_PAGES_MAX &&
             hk_pages_resize(p, n)) {
    return p;
  }
  void *q = hk_malloc_inline(n);
  if (!q) return NULL; /* p stays valid */
  memcpy(q, p, n < old ? n : old);
  hk_free_inline(p);
  return q;
}
