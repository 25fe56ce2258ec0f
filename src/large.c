/* hakmem large: blocks beyond 1 MiB get a mapping of their own, starting at
 * a 2 MiB boundary with a header page, so free(p) finds the header at
 * (p - 1) & ~(2 MiB - 1) as for slabs.  Freed mappings wait in the BigCache
 * (buckets of equal mapping size) so that a repeated large malloc/free makes
 * no syscall; realloc grows them with mremap. */
#include "internal.h"

#include <errno.h>
#include <sys/mman.h>

#include "hakmem.h"

#define BC_PER_BUCKET   8
#define BC_MAX_BYTES    ((size_t)HK_TUNE(bigcache_mb) << 20)   /* HAKMEM_BIGCACHE_MB */
#define BC_RESIDENT_MAX (BC_MAX_BYTES / 4)      /* of which a quarter keep their pages */
#define BC_MAX_MAP      ((size_t)32 << 20)      /* mappings above this are not cached */
#define HK_RETRY_MAX    ((size_t)1 << 44)       /* beyond 16 TiB a failure is final */
#define BC_FIT_UP       3                       /* reuse mappings up to ~40% larger */
#define BC_MIN_SHIFT    20                      /* smallest mapping class: 1 MiB + */
#define BC_BUCKETS      ((25 - BC_MIN_SHIFT + 1) * 8)

typedef struct bucket_s { hk_superslab_t *e[BC_PER_BUCKET]; unsigned n; } bucket_t;

static bucket_t buckets[BC_BUCKETS];
static size_t bc_bytes, bc_resident;
static hk_lock_t bc_lock = HK_LOCK_INIT;
static _Atomic size_t live_bytes, live_count;

/* Round a mapping size up to 8 steps per doubling; *bucket = -1 if not cached. */
static size_t map_class(size_t need, int *bucket) {
  size_t m = need - 1;
  unsigned b = 63u - (unsigned)__builtin_clzl(m | 1);
  size_t step = b >= 3 ? (size_t)1 << (b - 3) : 1;
  if (step < HK_PAGE_SIZE) step = HK_PAGE_SIZE;
  size_t size = (need + step - 1) & ~(step - 1);
  *bucket = -1;
  if (size <= BC_MAX_MAP && b >= BC_MIN_SHIFT)
    *bucket = (int)((b - BC_MIN_SHIFT) * 8 + (unsigned)((m >> (b - 3)) & 7));
  return size;
}

/* A cached mapping of class b, or of one up to BC_FIT_UP classes larger. */
static hk_superslab_t *bc_get(int b) {
  if (b < 0) return NULL;
  hk_lock(&bc_lock);
  hk_superslab_t *hdr = NULL;
  for (int c = b; c < BC_BUCKETS && c <= b + BC_FIT_UP && !hdr; c++) {
    bucket_t *k = &buckets[c];
    if (k->n) hdr = k->e[--k->n];
  }
  if (hdr) {
    bc_bytes -= hdr->map_size;
    if (!hdr->purged) bc_resident -= hdr->map_size;
  }
  hk_unlock(&bc_lock);
  return hdr;
}

/* Into bucket b, if it and the cache have room (under bc_lock). */
static bool bc_insert_locked(hk_superslab_t *hdr, int b) {
  bucket_t *k = &buckets[b];
  if (k->n >= BC_PER_BUCKET || bc_bytes + hdr->map_size > BC_MAX_BYTES) return false;
  k->e[k->n++] = hdr;
  bc_bytes += hdr->map_size;
  return true;
}

/* Unmap a direct mapping; the address map first says it is gone. */
static void direct_unmap(hk_superslab_t *hdr) {
  hk_map_set(hdr, hdr->map_size, HK_MAP_RELEASED);
  hk_os_unmap(hdr, hdr->map_size);
}

/* Keep a freed mapping for reuse.  Past the resident budget its pages are
 * purged first (one madvise now instead of munmap now and mmap later). */
static bool bc_put(hk_superslab_t *hdr) {
  int b;
  map_class(hdr->map_size, &b);
  if (b < 0 || hdr->map_size > BC_MAX_BYTES) return false;
  hk_lock(&bc_lock);
  bool resident = bc_resident + hdr->map_size <= BC_RESIDENT_MAX;
  if (resident) bc_resident += hdr->map_size;   /* reserve the budget */
  hk_unlock(&bc_lock);
  if (!resident) hk_os_purge((uint8_t *)hdr + HK_DIRECT_HDR, hdr->map_size - HK_DIRECT_HDR);
  hdr->purged = !resident;
  hdr->cached_ms = hk_now_ms();
  __atomic_store_n(&hdr->cached, 1, __ATOMIC_RELAXED);   /* freed: a second free is caught */
  hk_lock(&bc_lock);
  bool keep = bc_insert_locked(hdr, b);
  if (!keep && resident) bc_resident -= hdr->map_size;
  hk_unlock(&bc_lock);
  return keep;
}

size_t hk_bigcache_flush(void) {
  size_t freed = 0;
  for (;;) {
    hk_superslab_t *hdr = NULL;
    hk_lock(&bc_lock);
    for (int b = 0; b < BC_BUCKETS && !hdr; b++)
      if (buckets[b].n) hdr = buckets[b].e[--buckets[b].n];
    if (hdr) {
      bc_bytes -= hdr->map_size;
      if (!hdr->purged) bc_resident -= hdr->map_size;
    }
    hk_unlock(&bc_lock);
    if (!hdr) return freed;
    freed += hdr->map_size;
    direct_unmap(hdr);
  }
}

/* ---- the adaptive thread's tick (ace.c) ---------------------------------- */

#define BC_TICK_MAX 32   /* mappings handled per lock hold */

/* Take out up to BC_TICK_MAX cached mappings: those cached before `purge_before` that still
 * hold their pages, those cached before `evict_before`, and past the
 * capacity any (the oldest bucket entries first). */
static unsigned bc_take_old(hk_superslab_t **out, uint64_t purge_before, uint64_t evict_before) {
  unsigned n = 0;
  hk_lock(&bc_lock);
  for (int b = 0; b < BC_BUCKETS && n < BC_TICK_MAX; b++) {
    bucket_t *k = &buckets[b];
    for (unsigned i = 0; i < k->n && n < BC_TICK_MAX;) {
      hk_superslab_t *hdr = k->e[i];
      bool old = hdr->cached_ms < evict_before || bc_bytes > BC_MAX_BYTES;
      if (!old && (hdr->purged || hdr->cached_ms >= purge_before)) { i++; continue; }
      k->e[i] = k->e[--k->n];            /* order within a bucket does not matter */
      bc_bytes -= hdr->map_size;
      if (!hdr->purged) bc_resident -= hdr->map_size;
      hdr->purged = old;                 /* here: whether to unmap it */
      out[n++] = hdr;
    }
  }
  hk_unlock(&bc_lock);
  return n;
}

/* Mappings cached for purge_ms give their pages back; those cached for
 * evict_ms, or past the capacity (HK_TUNE(bigcache_mb)), are unmapped.
 * Returns bytes given back. */
size_t hk_bigcache_decay(uint64_t now, uint32_t purge_ms, uint32_t evict_ms) {
  hk_superslab_t *took[BC_TICK_MAX];
  size_t total = 0;
  uint64_t purge_before = now > purge_ms ? now - purge_ms : 0;
  uint64_t evict_before = now > evict_ms ? now - evict_ms : 0;
  unsigned n;
  do {
    n = bc_take_old(took, purge_before, evict_before);
    for (unsigned i = 0; i < n; i++) {
      hk_superslab_t *hdr = took[i];
      total += hdr->map_size;
      if (hdr->purged) {
        direct_unmap(hdr);
        continue;
      }
      hk_os_purge((uint8_t *)hdr + HK_DIRECT_HDR, hdr->map_size - HK_DIRECT_HDR);
      hdr->purged = 1;
      int b;
      map_class(hdr->map_size, &b);
      hk_lock(&bc_lock);
      bool keep = bc_insert_locked(hdr, b);
      hk_unlock(&bc_lock);
      if (!keep) direct_unmap(hdr);
    }
  } while (n == BC_TICK_MAX);
  return total;
}

size_t hk_bigcache_bytes(void) {
  hk_lock(&bc_lock);
  size_t n = bc_bytes;
  hk_unlock(&bc_lock);
  return n;
}

size_t hk_bigcache_resident_bytes(void) {
  hk_lock(&bc_lock);
  size_t n = bc_resident;
  hk_unlock(&bc_lock);
  return n;
}

/* The user pointer sits `offset` bytes past the header: one page, or the
 * alignment (up to 2 MiB: the header stays at the 2 MiB boundary below). */
static size_t user_offset(size_t align) {
  if (align <= HK_DIRECT_HDR) return HK_DIRECT_HDR;
  return align < HK_SS_SIZE ? align : HK_SS_SIZE;
}

void *hk_direct_alloc(size_t n, size_t align, bool zero) {
  size_t offset = user_offset(align);
  if (n > HK_MAX_REQUEST || align > HK_MAX_REQUEST / 2) { errno = ENOMEM; return NULL; }
  size_t need = offset + ((n + HK_PAGE_SIZE - 1) & ~(size_t)(HK_PAGE_SIZE - 1)) +
                hk_guard_bytes();                /* hardened: a guard page at the end */
  int b;
  size_t size = map_class(need, &b);
  /* the header must be 2 MiB aligned, and p = header + offset aligned to align */
  size_t map_align = align > HK_SS_SIZE ? align : HK_SS_SIZE;
  size_t skew = align > HK_SS_SIZE ? HK_SS_SIZE : 0;
  hk_superslab_t *hdr = align <= HK_SS_SIZE ? bc_get(b) : NULL;
  bool zeroed = hdr == NULL || hdr->purged;
  if (b >= 0 && align <= HK_SS_SIZE) {
    if (hdr) HK_TEL_HERE(bigcache_hits, 1);
    else HK_TEL_HERE(bigcache_misses, 1);
  }
  HK_TEL_HERE(stage[hdr ? HAK_STAGE_BIGCACHE : HAK_STAGE_OS], 1);
  if (!hdr) {
    hdr = hk_os_map_aligned(size, map_align, skew);
    if (!hdr && size <= HK_RETRY_MAX) {  /* out of address space: give back, retry */
      hk_bigcache_flush();
      hk_arena_trim(true);
      hk_pages_release();
      hdr = hk_os_map_aligned(size, map_align, skew);
    }
    if (!hdr) { errno = ENOMEM; return NULL; }
    if (hk_os_thp_crossed()) hk_thp_advise_all();
    hk_os_advise_thp(hdr, size);
    if (hk_guard_bytes()) mprotect((uint8_t *)hdr + size - hk_guard_bytes(), hk_guard_bytes(), PROT_NONE);
    atomic_store_explicit(&hdr->owner, NULL, memory_order_relaxed);
    hdr->kind = HK_SS_KIND_DIRECT;
    hdr->map_size = size;
    hk_map_set(hdr, size, HK_MAP_DIRECT);
  }
  hdr->purged = 0;
  __atomic_store_n(&hdr->cached, 0, __ATOMIC_RELAXED);
  hdr->user = (uint8_t *)hdr + offset;
  atomic_fetch_add_explicit(&live_bytes, hdr->map_size, memory_order_relaxed);
  atomic_fetch_add_explicit(&live_count, 1, memory_order_relaxed);
  if (zero && !zeroed) memset(hdr->user, 0, n);
#if HK_TELEMETRY
  unsigned row = hk_tel_row(hk_direct_usable(hdr, hdr->user));
  HK_TEL_HERE(allocs[row], 1);
#endif
  return hdr->user;
}

void hk_direct_free(hk_superslab_t *hdr) {
  hk_assert(hdr->kind == HK_SS_KIND_DIRECT);
  HK_TEL_HERE(local_frees[hk_tel_row(hk_direct_usable(hdr, hdr->user))], 1);
  atomic_fetch_sub_explicit(&live_bytes, hdr->map_size, memory_order_relaxed);
  atomic_fetch_sub_explicit(&live_count, 1, memory_order_relaxed);
  if (hk_cfg.harden == HK_HARDEN_ZERO)          /* zero on free: the pages go */
    hk_os_purge(hdr->user, hk_direct_usable(hdr, hdr->user));
  if (!bc_put(hdr)) direct_unmap(hdr);
  hk_ace_poke();
}

size_t hk_direct_usable(hk_superslab_t *hdr, const void *p) {
  return (size_t)((uint8_t *)hdr + hdr->map_size - hk_guard_bytes() - (const uint8_t *)p);
}

/* Resize in place, or move the pages with mremap (no copy).  NULL: the caller
 * copies (always in hardened mode: the guard page stays where it is).  The
 * header moves with the pages. */
void *hk_direct_realloc(hk_superslab_t *hdr, void *p, size_t n) {
  if (hk_hardened()) return NULL;
  size_t offset = (size_t)((uint8_t *)p - (uint8_t *)hdr);
  size_t need = offset + ((n + HK_PAGE_SIZE - 1) & ~(size_t)(HK_PAGE_SIZE - 1));
  int b;
  size_t size = map_class(need, &b);
  size_t old = hdr->map_size;
  if (size == old) return p;
  if (size < old || hk_os_remap_inplace(hdr, old, size)) {
    if (size < old) {
      hk_map_set(hdr, old, HK_MAP_RELEASED);
      hk_os_unmap((uint8_t *)hdr + size, old - size);
    }
    hdr->map_size = size;
    hk_map_set(hdr, size, HK_MAP_DIRECT);
  } else {
    if (offset >= HK_SS_SIZE) return NULL;   /* keep huge alignments simple: copy */
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

void hk_large_fork_prepare(void) { hk_lock(&bc_lock); }
void hk_large_fork_parent(void) { hk_unlock(&bc_lock); }
void hk_large_fork_child(void) { pthread_mutex_init(&bc_lock, NULL); }
