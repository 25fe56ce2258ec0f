/* hakmem first-class heaps (hak_heap_new ...): a heap of the program's own,
 * as mimalloc's mi_heap and jemalloc's arenas, for a compiler's phase or a
 * server's request: its blocks come from its own SuperSlabs, page runs and
 * mappings, so that hak_heap_destroy frees all of them at once, and
 * hak_heap_release hands them, still live, to the threads' heaps.
 *
 * It is an hk_heap_t from the heap pool with no thread: `user` set, never
 * in a thread's TLS.  The program allocates from it on one thread at a
 * time; any thread frees its blocks with free (a remote free: the heap
 * collects them on its slow paths).  Its slabs never feed a thread cache
 * (slab.c), its page runs name it as their taker (pages.c), its direct
 * mappings are on its own list (large.c), so destroy finds them all.  It
 * takes no abandoned SuperSlab (heap.c): their live blocks are other
 * threads'.  Under memcheck (make valgrind) a destroyed heap's blocks stay
 * allocated: destroy does not walk them one by one. */
#include "internal.h"
#include "heap.h"
#include "track.h"
#include "hakmem.h"

#include <errno.h>

static hk_heap_t *heap_of(hak_heap_t *heap) { return (hk_heap_t *)(void *)heap; }

HAK_API hak_heap_t *hak_heap_new(void) {
  if (!hk_thread_init()) { /* the library set up; the pool */
    errno = ENOMEM;
    return NULL;
  }
  hk_heap_t *h = hk_heap_acquire();
  if (!h) {
    errno = ENOMEM;
    return NULL;
  }
  h->user = 1;
  return (hak_heap_t *)(void *)h;
}

static void *heap_alloc(hk_heap_t *h, size_t n) {
  if (n <= HK_SMALL_MAX) return hk_heap_alloc_small(h, n);
  if (n <= HK_PAGES_MAX) {
    void *p = hk_pages_alloc(h, n, 1, false);
    if (p) return p;
  }
  if (n > HK_MAX_REQUEST) return NULL;
  void *p = hk_direct_alloc(n, 1);
  if (!p) return NULL;
  hk_superslab_t *hdr = hk_ss_of(p); /* the header is at p's 2 MiB boundary */
  hk_lock(&h->lock);
  hdr->prev = NULL;
  hdr->next = h->user_direct;
  if (hdr->next) hdr->next->prev = hdr;
  h->user_direct = hdr;
  atomic_store_explicit(&hdr->owner, h, memory_order_release);
  hk_unlock(&h->lock);
  return p;
}

HAK_API void *hak_heap_malloc(hak_heap_t *heap, size_t size) {
  if (!heap) {
    errno = EINVAL;
    return NULL;
  }
  hk_track_quiet();
  void *p = heap_alloc(heap_of(heap), size);
  hk_track_end();
  if (!p) errno = ENOMEM;
  return hk_track_alloc(p, size, 0);
}

HAK_API void *hak_heap_calloc(hak_heap_t *heap, size_t count, size_t size) {
  size_t n;
  if (!heap) return hak_heap_malloc(heap, 0); /* EINVAL */
  if (__builtin_mul_overflow(count, size, &n)) {
    errno = ENOMEM;
    return NULL;
  }
  void *p = hak_heap_malloc(heap, n);
  if (p) memset(p, 0, n);
  return p;
}

/* Within the block when it fits and is not twice too big; else a new block
 * of the heap, the old one freed. */
HAK_API void *hak_heap_realloc(hak_heap_t *heap, void *ptr, size_t size) {
  if (!ptr) return hak_heap_malloc(heap, size);
  if (size == 0) {
    hak_free(ptr);
    return NULL;
  }
  size_t old = hk_usable_size(ptr); /* checks ptr as realloc does */
  if (size <= old && size >= old / 2) {
    hk_track_realloc_end(ptr, ptr, size, size);
    return ptr;
  }
  void *q = hak_heap_malloc(heap, size);
  if (!q) return NULL;
  hk_track_quiet(); /* the usable size: more than memcheck was told */
  memcpy(q, ptr, old < size ? old : size);
  hk_track_end();
  hak_free(ptr);
  return q;
}

/* Every SuperSlab, page run and mapping of the heap goes back, live blocks
 * and all; then the heap itself. */
HAK_API void hak_heap_destroy(hak_heap_t *heap) {
  if (!heap) return;
  hk_heap_t *h = heap_of(heap);
  hk_lock(&h->lock);
  hk_ss_list_t *lists[2] = { &h->ss_full, &h->ss_avail };
  for (int l = 0; l < 2; l++) {
    while (lists[l]->first) {
      hk_superslab_t *ss = lists[l]->first;
      hk_heap_ss_unlink(h, ss);
      ss->dirty_mask = ~0u; /* its blocks were in use: resident */
      hk_arena_free_ss(ss);
    }
  }
  memset(h->queues, 0, sizeof h->queues);
  for (unsigned i = 0; i < HK_DIRECT_SLOTS; i++) h->direct[i] = &hk_slab_empty;
  h->dirty_slabs = 0;
  hk_superslab_t *maps = h->user_direct;
  h->user_direct = NULL;
  for (hk_superslab_t *m = maps; m; m = m->next)
    atomic_store_explicit(&m->owner, NULL, memory_order_relaxed);
  hk_unlock(&h->lock);
  for (hk_superslab_t *m = maps, *next; m; m = next) {
    next = m->next;
    hk_direct_free(m);
  }
  hk_pages_free_heap(h);
  hk_pages_orphan(h);
  hk_heap_release(h);
}

/* The blocks stay; the SuperSlabs go to the abandoned list (the threads that
 * free into them adopt them, a heap short of spans reclaims them), page runs
 * and mappings become anyone's. */
HAK_API void hak_heap_release(hak_heap_t *heap) {
  if (!heap) return;
  hk_heap_t *h = heap_of(heap);
  hk_heap_abandon(h);
  hk_lock(&h->lock);
  for (hk_superslab_t *m = h->user_direct; m; m = m->next)
    atomic_store_explicit(&m->owner, NULL, memory_order_relaxed);
  h->user_direct = NULL;
  hk_unlock(&h->lock);
  hk_pages_orphan(h);
  hk_heap_release(h);
}
