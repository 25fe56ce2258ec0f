/* hakmem large: blocks beyond the page layer (HK_PAGES_MAX, 64 MiB) get a
 * mapping of their own, starting at a 2 MiB boundary with a header page, so
 * free(p) finds the header at (p - 1) & ~(2 MiB - 1) as for slabs.  A free
 * unmaps it (a block that large is used for long, and its pages would be
 * purged soon anyway); realloc grows and moves it with mremap. */
#include "internal.h"

#include <errno.h>
#include <sys/mman.h>

#include "hakmem.h"

#define HK_RETRY_MAX ((size_t)1 << 44) /* beyond 16 TiB a failure is final */

static _Atomic size_t live_bytes, live_count;

/* A mapping's size: the need rounded up to 8 steps per doubling, so that a
 * block grown a little by realloc fits in place. */
static size_t map_size_for(size_t need) {
  size_t m = need - 1;
  unsigned b = 63u - (unsigned)__builtin_clzl(m | 1);
  size_t step = b >= 3 ? (size_t)1 << (b - 3) : 1;
  if (step < HK_PAGE_SIZE) step = HK_PAGE_SIZE;
  return (need + step - 1) & ~(step - 1);
}

/* Unmap a direct mapping; the address map first says it is gone (a second
 * free of it is reported as a double free). */
static void direct_unmap(hk_superslab_t *hdr) {
  hk_map_set(hdr, hdr->map_size, HK_MAP_RELEASED);
  hk_os_unmap(hdr, hdr->map_size);
}

/* The user pointer sits `offset` bytes past the header: one page, or the
 * alignment (up to 2 MiB: the header stays at the 2 MiB boundary below). */
static size_t user_offset(size_t align) {
  if (align <= HK_DIRECT_HDR) return HK_DIRECT_HDR;
  return align < HK_SS_SIZE ? align : HK_SS_SIZE;
}

void *hk_direct_alloc(size_t n, size_t align) {
  size_t offset = user_offset(align);
  if (n > HK_MAX_REQUEST || align > HK_MAX_REQUEST / 2) {
    errno = ENOMEM;
    return NULL;
  }
  size_t need = offset + ((n + HK_PAGE_SIZE - 1) & ~(size_t)(HK_PAGE_SIZE - 1)) +
      hk_guard_bytes(); /* hardened: a guard page at the end */
  size_t size = map_size_for(need);
  if (!hk_budget_ok(NULL, size)) { /* the memory budget */
    errno = ENOMEM;
    return NULL;
  }
  /* the header must be 2 MiB aligned, and p = header + offset aligned to align */
  size_t map_align = align > HK_SS_SIZE ? align : HK_SS_SIZE;
  size_t skew = align > HK_SS_SIZE ? HK_SS_SIZE : 0;
  HK_TEL_HERE(stage[HAK_STAGE_OS], 1);
  hk_superslab_t *hdr = hk_os_map_aligned(size, map_align, skew);
  if (!hdr && size <= HK_RETRY_MAX) { /* out of address space: give back, retry */
    hk_arena_trim(true);
    hk_pages_release();
    hdr = hk_os_map_aligned(size, map_align, skew);
  }
  if (!hdr) {
    errno = ENOMEM;
    return NULL;
  }
  if (hk_guard_bytes())
    mprotect((uint8_t *)hdr + size - hk_guard_bytes(), hk_guard_bytes(), PROT_NONE);
  atomic_store_explicit(&hdr->owner, NULL, memory_order_relaxed);
  hdr->kind = HK_SS_KIND_DIRECT;
  hdr->map_size = size;
  hk_map_set(hdr, size, HK_MAP_DIRECT);
  hdr->user = (uint8_t *)hdr + offset;
  atomic_fetch_add_explicit(&live_bytes, hdr->map_size, memory_order_relaxed);
  atomic_fetch_add_explicit(&live_count, 1, memory_order_relaxed);
  hk_thp_check(); /* after the count: it may make the heap large */
  hk_os_advise_thp(hdr, size, false);
#if HK_TELEMETRY
  unsigned row = hk_tel_row(hk_direct_usable(hdr, hdr->user));
  HK_TEL_HERE(allocs[row], 1);
#endif
  return hdr->user;
}

/* A first-class heap's mapping (owner set, heaps.c) leaves its list, under
 * the heap's lock; hak_heap_release may clear the owner meanwhile. */
static void leave_heap(hk_superslab_t *hdr) {
  hk_heap_t *h;
  while ((h = atomic_load_explicit(&hdr->owner, memory_order_acquire)) != NULL) {
    hk_lock(&h->lock); /* heaps are never unmapped: safe even if recycled */
    if (atomic_load_explicit(&hdr->owner, memory_order_relaxed) == h) {
      if (hdr->prev) hdr->prev->next = hdr->next;
      else h->user_direct = hdr->next;
      if (hdr->next) hdr->next->prev = hdr->prev;
      atomic_store_explicit(&hdr->owner, NULL, memory_order_relaxed);
      hk_unlock(&h->lock);
      return;
    }
    hk_unlock(&h->lock);
  }
}

void hk_direct_free(hk_superslab_t *hdr) {
  hk_assert(hdr->kind == HK_SS_KIND_DIRECT);
  leave_heap(hdr);
  HK_TEL_HERE(local_frees[hk_tel_row(hk_direct_usable(hdr, hdr->user))], 1);
  atomic_fetch_sub_explicit(&live_bytes, hdr->map_size, memory_order_relaxed);
  atomic_fetch_sub_explicit(&live_count, 1, memory_order_relaxed);
  direct_unmap(hdr);
}

size_t hk_direct_usable(hk_superslab_t *hdr, const void *p) {
  return (size_t)((uint8_t *)hdr + hdr->map_size - hk_guard_bytes() - (const uint8_t *)p);
}

/* Resize in place, or move the pages with mremap (no copy).  NULL: the caller
 * copies (always in hardened mode: the guard page stays where it is).  The
 * header moves with the pages. */
void *hk_direct_realloc(hk_superslab_t *hdr, void *p, size_t n) {
  /* a first-class heap's mapping is on its list: the caller copies */
  if (hk_hardened() || atomic_load_explicit(&hdr->owner, memory_order_relaxed)) return NULL;
  size_t offset = (size_t)((uint8_t *)p - (uint8_t *)hdr);
  size_t need = offset + ((n + HK_PAGE_SIZE - 1) & ~(size_t)(HK_PAGE_SIZE - 1));
  size_t size = map_size_for(need);
  size_t old = hdr->map_size;
  if (size == old) return p;
  if (size > old && !hk_budget_ok(NULL, size - old)) return NULL; /* the caller's copy fails too */
  if (size < old || hk_os_remap_inplace(hdr, old, size)) {
    if (size < old) {
      hk_map_set(hdr, old, HK_MAP_RELEASED);
      hk_os_unmap((uint8_t *)hdr + size, old - size);
    }
    hdr->map_size = size;
    hk_map_set(hdr, size, HK_MAP_DIRECT);
  } else {
    if (offset >= HK_SS_SIZE) return NULL; /* keep huge alignments simple: copy */
    uint8_t *to = hk_os_map_aligned(size, HK_SS_SIZE, 0);
    if (!to) return NULL;
    hk_map_set(hdr, old, HK_MAP_RELEASED);
    if (!hk_os_remap_move(hdr, old, size, to)) {
      hk_map_set(hdr, old, HK_MAP_DIRECT);
      hk_os_unmap(to, size);
      return NULL;
    }
    hdr = (hk_superslab_t *)to;
    hdr->map_size = size;
    hdr->user = to + offset;
    hk_map_set(hdr, size, HK_MAP_DIRECT);
  }
  if (size > old) atomic_fetch_add_explicit(&live_bytes, size - old, memory_order_relaxed);
  else atomic_fetch_sub_explicit(&live_bytes, old - size, memory_order_relaxed);
  hk_tel_row_moved(old - offset, size - offset);
  return hdr->user;
}

void hk_direct_stats(size_t *bytes, size_t *count) {
  *bytes = atomic_load_explicit(&live_bytes, memory_order_relaxed);
  *count = atomic_load_explicit(&live_count, memory_order_relaxed);
}
