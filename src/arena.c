/* hakmem arena: reserves address space in chunks of up to 64 MiB and hands
 * out 2 MiB-aligned SuperSlabs.  Free SuperSlabs stay mapped and are purged
 * (madvise) in batches: on the freeing thread (fast mode), or by the
 * adaptive layer (decay), which also unmaps those that stay empty.  Their
 * address space is also returned on malloc_trim or when the process runs out
 * of it.  One lock, taken once per 2 MiB. */
#include "internal.h"

#define CHUNK_SS_MAX   32    /* 64 MiB */
#define MAX_CHUNKS     16384 /* 1 TiB of SuperSlabs */
/* With HAKMEM_RETAIN_MB x 2 MiB of free SuperSlabs resident, purge every
 * HAKMEM_PURGE_DELAY_MS those free for a whole tick, and all of them past
 * four times that (at least 256 MiB). */
#define PURGE_BATCH_SS (HK_TUNE(retain_mb))
#define PURGE_GAP_MS   (HK_TUNE(purge_delay_ms))
#define PURGE_HARD_SS  (4 * PURGE_BATCH_SS > 128 ? 4 * PURGE_BATCH_SS : 128)

typedef struct chunk_s {
  uint8_t *base;          /* 2 MiB aligned */
  uint32_t n;             /* SuperSlabs in the chunk */
  uint32_t free_mask;     /* SuperSlabs not in use */
  uint32_t clean_mask;    /* free and known to read as zero (fresh or purged) */
  uint32_t unmapped_mask; /* free, address space returned (all but the header page) */
  uint32_t lost_mask;     /* could not be mapped again: never used any more */
  uint32_t aged_mask;     /* free and resident at the last purge tick */
  uint32_t purged_mask;   /* free, purged after use: unmapped if it stays so */
  uint32_t stale_mask;    /* purged and free at the last unmap tick */
} chunk_t;

static chunk_t chunks[MAX_CHUNKS];
static size_t chunk_count;
static size_t dirty_free; /* free SuperSlabs whose pages may be resident */
static uint64_t last_purge_ms;
static hk_lock_t arena_lock = HK_LOCK_INIT;

static uint32_t all_bits(uint32_t n) { return n >= 32 ? ~0u : ((1u << n) - 1); }

/* ---- the address map: what hakmem has at each 2 MiB unit ------------------- */

/* 64 MiB of .bss, of which only the pages covering hakmem's address ranges
 * are ever touched (one page maps 8 GiB). */
uint8_t hk_ss_map[HK_MAP_UNITS] __attribute__((aligned(4096)));

/* Units [base, base + size): `state`, or for a direct mapping its header
 * unit HK_MAP_DIRECT and the rest HK_MAP_DIRECT_TAIL, or for a page segment
 * HK_MAP_PAGES | the units back to its header.  base is 2 MiB aligned. */
void hk_map_set(const void *base, size_t size, unsigned state) {
  size_t first = (uintptr_t)base >> HK_SS_SHIFT;
  size_t end = ((uintptr_t)base + size + HK_SS_MASK) >> HK_SS_SHIFT;
  for (size_t u = first; u < end && u < HK_MAP_UNITS; u++) {
    unsigned v = state == HK_MAP_DIRECT && u != first ? HK_MAP_DIRECT_TAIL
        : state == HK_MAP_PAGES                       ? HK_MAP_PAGES | (unsigned)(u - first)
                                                      : state;
    if (u == HK_MAP_UNITS - 1 && v == HK_MAP_SLABS) v = HK_MAP_SLABS_SLOW; /* NULL's unit */
    __atomic_store_n(&hk_ss_map[u], (uint8_t)v, __ATOMIC_RELAXED);
  }
}

static bool reserve_chunk(void) {
  if (chunk_count >= MAX_CHUNKS) return false;
  static const uint32_t sizes[] = { CHUNK_SS_MAX, 8, 2, 1 };
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    uint32_t n = sizes[k];
    uint8_t *base = hk_os_map_aligned((size_t)n * HK_SS_SIZE, HK_SS_SIZE, 0);
    if (base) {
      hk_os_advise_thp(base, (size_t)n * HK_SS_SIZE, false);
      chunks[chunk_count++] = (chunk_t){ base, n, all_bits(n), all_bits(n), 0, 0, 0, 0, 0 };
      return true;
    }
  }
  return false;
}

/* Take a free SuperSlab from chunk c (its bit in `avail`); prefer warm pages. */
static bool took_from_os; /* under the lock: the last take mapped memory */

static hk_superslab_t *take(chunk_t *c, uint32_t avail, bool *clean) {
  uint32_t warm = avail & ~c->clean_mask;
  unsigned i = (unsigned)__builtin_ctz(warm ? warm : avail);
  uint32_t bit = 1u << i;
  uint8_t *p = c->base + (size_t)i * HK_SS_SIZE;
  if (c->unmapped_mask & bit) {
    if (!hk_os_map_fixed(p + HK_PAGE_SIZE, HK_SS_SIZE - HK_PAGE_SIZE)) {
      c->free_mask &= ~bit; /* someone else mapped there: give up the slot */
      c->unmapped_mask &= ~bit;
      c->lost_mask |= bit;
      return NULL;
    }
    took_from_os = true;
    c->unmapped_mask &= ~bit;
    c->clean_mask |= bit;
  }
  *clean = (c->clean_mask & bit) != 0;
  if (!*clean) HK_RELAXED_ADD(dirty_free, -1); /* hk_arena_free_dirty_bytes glances */
  c->free_mask &= ~bit;
  c->clean_mask &= ~bit;
  c->aged_mask &= ~bit;
  c->purged_mask &= ~bit;
  c->stale_mask &= ~bit;
  return (hk_superslab_t *)p;
}

static hk_superslab_t *alloc_locked(bool *clean) {
  for (int pass = 0; pass < 2; pass++) {
    for (size_t i = 0; i < chunk_count; i++) {
      chunk_t *c = &chunks[i];
      uint32_t avail = c->free_mask & (pass == 0 ? ~c->unmapped_mask : c->unmapped_mask);
      if (!avail) continue;
      hk_superslab_t *ss = take(c, avail, clean);
      if (ss) return ss;
    }
  }
  if (!reserve_chunk()) return NULL;
  took_from_os = true;
  chunk_t *c = &chunks[chunk_count - 1];
  return take(c, c->free_mask, clean);
}

/* *from_os: the SuperSlab's memory was just mapped (telemetry). */
hk_superslab_t *hk_arena_alloc_ss(bool *clean, bool *from_os) {
  hk_lock(&arena_lock);
  took_from_os = false;
  hk_superslab_t *ss = alloc_locked(clean);
  *from_os = took_from_os;
  hk_unlock(&arena_lock);
  if (ss) {
    hk_map_set(ss, HK_SS_SIZE, hk_hardened() ? HK_MAP_SLABS_SLOW : HK_MAP_SLABS);
    hk_thp_check();
    return ss;
  }
  /* Out of address space: give back what we hold and try once more. */
  hk_arena_trim(true);
  hk_pages_release();
  hk_lock(&arena_lock);
  took_from_os = false;
  ss = alloc_locked(clean);
  *from_os = took_from_os;
  hk_unlock(&arena_lock);
  if (ss) hk_map_set(ss, HK_SS_SIZE, hk_hardened() ? HK_MAP_SLABS_SLOW : HK_MAP_SLABS);
  return ss;
}

/* Free SuperSlabs whose pages may still be resident. */
size_t hk_arena_free_dirty_bytes(void) {
  return __atomic_load_n(&dirty_free, __ATOMIC_RELAXED) * HK_SS_SIZE; /* a glance */
}

static chunk_t *chunk_of(const void *p, uint32_t *bit) {
  for (size_t i = 0; i < chunk_count; i++) {
    chunk_t *c = &chunks[i];
    if ((const uint8_t *)p >= c->base && (const uint8_t *)p < c->base + (size_t)c->n * HK_SS_SIZE) {
      *bit = 1u << (((const uint8_t *)p - c->base) >> HK_SS_SHIFT);
      return c;
    }
  }
  return NULL;
}

/* Purge free SuperSlabs whose pages may be resident, one madvise per run,
 * at most `budget` of them: all, or (aged) only those already free at the
 * previous tick.  Returns bytes purged. */
static size_t purge_locked(bool aged, size_t budget) {
  size_t purged = 0;
  for (size_t i = 0; i < chunk_count && budget; i++) {
    chunk_t *c = &chunks[i];
    uint32_t resident = c->free_mask & ~c->clean_mask & ~c->unmapped_mask;
    uint32_t m = resident & (aged ? c->aged_mask : ~0u);
    while (m && budget) {
      unsigned lo = (unsigned)__builtin_ctz(m);
      uint32_t gap = ~(m >> lo); /* run of set bits */
      unsigned len = gap ? (unsigned)__builtin_ctz(gap) : 32 - lo;
      if (len > budget) len = (unsigned)budget;
      hk_os_purge(c->base + (size_t)lo * HK_SS_SIZE, (size_t)len * HK_SS_SIZE);
      uint32_t run = all_bits(len) << lo;
      c->clean_mask |= run;
      c->purged_mask |= run;
      m &= ~run;
      purged += (size_t)len * HK_SS_SIZE;
      HK_RELAXED_ADD(dirty_free, -(size_t)len);
      budget -= len;
    }
  }
  return purged;
}

/* Decay: what is free and resident now has aged at the next tick. */
static void age_locked(void) {
  for (size_t i = 0; i < chunk_count; i++) {
    chunk_t *c = &chunks[i];
    c->aged_mask = c->free_mask & ~c->clean_mask & ~c->unmapped_mask;
  }
}

void hk_arena_free_ss(hk_superslab_t *ss) {
  bool clean = ss->dirty_mask == 0; /* only the header page was touched */
  hk_ss_spans_gone(ss);
  hk_map_set(ss, HK_SS_SIZE, HK_MAP_RELEASED);
  hk_lock(&arena_lock);
  uint32_t bit;
  chunk_t *c = chunk_of(ss, &bit);
  hk_assert(c != NULL && !(c->free_mask & bit));
  if (c) {
    c->free_mask |= bit;
    if (clean) c->clean_mask |= bit;
    else if (HK_RELAXED_ADD(dirty_free, 1) >= PURGE_BATCH_SS) {
      /* with the adaptive layer (balanced and above), the decay is its job */
      if (dirty_free > PURGE_HARD_SS || PURGE_GAP_MS == 0) {
        purge_locked(false, SIZE_MAX);
        age_locked();
      } else if (!hk_ace_decays()) {
        uint64_t now = hk_now_ms();
        if (now - last_purge_ms >= PURGE_GAP_MS) {
          last_purge_ms = now;
          purge_locked(true, SIZE_MAX);
          age_locked();
        }
      }
    }
  }
  hk_unlock(&arena_lock);
}

/* Return the address space of a chunk's free SuperSlabs in m (the header
 * page stays: a late remote free may still write its flag there, and it
 * keeps the slot from being mapped over). */
static void unmap_locked(chunk_t *c, uint32_t m) {
  c->unmapped_mask |= m;
  c->clean_mask |= m;
  c->purged_mask &= ~m;
  c->stale_mask &= ~m;
  while (m) {
    unsigned lo = (unsigned)__builtin_ctz(m);
    hk_os_unmap(c->base + (size_t)lo * HK_SS_SIZE + HK_PAGE_SIZE, HK_SS_SIZE - HK_PAGE_SIZE);
    m &= m - 1;
  }
}

/* Purge all free SuperSlabs; with release_address_space also unmap them. */
size_t hk_arena_trim(bool release_address_space) {
  hk_lock(&arena_lock);
  size_t n = purge_locked(false, SIZE_MAX);
  age_locked();
  for (size_t i = 0; release_address_space && i < chunk_count; i++)
    unmap_locked(&chunks[i], chunks[i].free_mask & ~chunks[i].unmapped_mask);
  hk_unlock(&arena_lock);
  return n;
}

/* ---- the adaptive thread (ace.c) ---------------------------------------- */

#define DECAY_BATCH_SS 2 /* 4 MiB per lock hold: one madvise batch */

/* The decay clock starts over (see hk_heap_age); a decay tick ends
 * with it. */
void hk_arena_age(void) {
  hk_lock(&arena_lock);
  age_locked();
  hk_unlock(&arena_lock);
}

/* A decay tick: purge the free SuperSlabs that aged a tick (or all of them),
 * a batch per lock hold, then age what is left.  Returns bytes purged. */
size_t hk_arena_decay(bool all) {
  size_t total = 0, n;
  do {
    hk_lock(&arena_lock);
    n = purge_locked(!all, DECAY_BATCH_SS);
    hk_unlock(&arena_lock);
    total += n;
  } while (n);
  hk_arena_age();
  return total;
}

/* An unmap tick: unmap the SuperSlabs purged after use that stayed free
 * since the previous tick.  Returns bytes unmapped. */
size_t hk_arena_unmap_stale(void) {
  size_t n = 0;
  hk_lock(&arena_lock);
  for (size_t i = 0; i < chunk_count; i++) {
    chunk_t *c = &chunks[i];
    uint32_t m = c->stale_mask & c->free_mask & c->purged_mask & ~c->unmapped_mask;
    n += (size_t)__builtin_popcount(m) * (HK_SS_SIZE - HK_PAGE_SIZE);
    unmap_locked(c, m);
    c->stale_mask = c->free_mask & c->purged_mask & ~c->unmapped_mask;
  }
  hk_unlock(&arena_lock);
  return n;
}

/* HAKMEM_THP=auto crossed its threshold: huge pages for every chunk. */
void hk_arena_advise_thp(void) {
  hk_lock(&arena_lock);
  for (size_t i = 0; i < chunk_count; i++)
    hk_os_advise_thp(chunks[i].base, (size_t)chunks[i].n * HK_SS_SIZE, false);
  hk_unlock(&arena_lock);
}

/* Call fn on every SuperSlab in use (for statistics). */
void hk_arena_visit(hk_ss_visitor fn, void *arg) {
  hk_lock(&arena_lock);
  for (size_t i = 0; i < chunk_count; i++) {
    chunk_t *c = &chunks[i];
    uint32_t used = all_bits(c->n) & ~c->free_mask & ~c->lost_mask;
    while (used) {
      unsigned lo = (unsigned)__builtin_ctz(used);
      fn((hk_superslab_t *)(c->base + (size_t)lo * HK_SS_SIZE), arg);
      used &= used - 1;
    }
  }
  hk_unlock(&arena_lock);
}

void hk_arena_fork_prepare(void) { hk_lock(&arena_lock); }
void hk_arena_fork_parent(void) { hk_unlock(&arena_lock); }
