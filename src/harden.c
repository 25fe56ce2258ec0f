/* hakmem harden: misuse detection and the hardened mode.
 *
 * Every mode: the slow paths of free, realloc and malloc_usable_size check
 * the pointer against the address map and the metadata they already read
 * (a pointer hakmem never handed out, a block of a released slab or mapping,
 * a misaligned pointer, the wrong pointer into a large block) and report it
 * with one line before aborting.  HAKMEM_HARDEN=1 sends every malloc and
 * free through checks (hk_malloc_hardened in alloc.c, hk_harden_free_on in
 * alloc.h)
 * and adds, for small blocks, free-list links encoded with a per-SuperSlab
 * random key (harden.h: read back only if they stay in their slab), exact
 * interior-pointer and double-free checks, and guard pages (hardened layout
 * in superslab.c, large.c and heap.c); HAKMEM_HARDEN=zero also zeroes every
 * freed block. */
#include "internal.h"

#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>

enum { P_FOREIGN, P_FREED, P_INTERIOR, P_MISALIGNED };

static HK_COLD __attribute__((noreturn)) void misuse(unsigned op, unsigned problem, const void *p) {
  static const char *const ops[] = { "free", "realloc", "malloc_usable_size" };
  static const char *const what[] = { "a pointer hakmem did not allocate", "a freed block",
                                      "an interior pointer", "a misaligned pointer" };
  if (op == HK_OP_FREE && problem == P_FREED) hk_fatal("double free", p);
  char msg[80] = "";
  strcat(msg, ops[op]);
  strcat(msg, " of ");
  strcat(msg, what[problem]);
  hk_fatal(msg, p);
}

/* ---- random keys -------------------------------------------------------- */

static uint64_t rng_seed;
static _Atomic uint64_t rng_count;

/* A 64-bit value no one can guess: splitmix64 over a counter, seeded once
 * from the kernel.  Slow paths only (slab set-up). */
uint64_t hk_random_u64(void) {
  uint64_t seed = __atomic_load_n(&rng_seed, __ATOMIC_RELAXED);
  if (hk_unlikely(seed == 0)) {
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed) {
      struct timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      seed = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15u ^ (uintptr_t)&ts ^ (uint64_t)ts.tv_sec;
    }
    seed |= 1;
    __atomic_store_n(&rng_seed, seed, __ATOMIC_RELAXED);
  }
  uint64_t z =
      seed + atomic_fetch_add_explicit(&rng_count, 0x9e3779b97f4a7c15u, memory_order_relaxed);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

/* ---- block-start reciprocals (harden.h), per size class ---------------- */

#define CLASS_SIZE(c) \
  ((c) == 0       ? 8u \
       : (c) <= 8 ? (c)*16u \
                  : (128u << (((c) >= 9 ? (c)-9 : 0) >> 3)) + \
           ((((c) >= 9 ? (c)-9 : 0) & 7) + 1) * (16u << (((c) >= 9 ? (c)-9 : 0) >> 3)))
#define RECIP(c) ((((uint64_t)1 << HK_RECIP_SHIFT) / CLASS_SIZE(c) + 1) << (64 - HK_RECIP_SHIFT))
#define RECIP8(c) \
  RECIP(c), RECIP(c + 1), RECIP(c + 2), RECIP(c + 3), RECIP(c + 4), RECIP(c + 5), RECIP(c + 6), \
      RECIP(c + 7)
const uint64_t hk_class_recip[HK_NUM_CLASSES] = {
  RECIP8(0),  RECIP8(8),  RECIP8(16), RECIP8(24), RECIP8(32),
  RECIP8(40), RECIP8(48), RECIP8(56), RECIP8(64), RECIP(72),
};
_Static_assert(CLASS_SIZE(72) == HK_SMALL_MAX, "the table covers the size classes");

HK_COLD void hk_harden_corrupt(const void *block) { hk_fatal("free-list corruption", block); }

/* Guard pages: after the header page, and the last page of the SuperSlab
 * (the next SuperSlab's header follows it).  A failure (the process is out
 * of mappings) leaves the memory readable: the checks still run. */
void hk_harden_ss_init(hk_superslab_t *ss) {
  ss->link_key = hk_random_u64(); /* no block of ss is in use */
#if HK_DEBUG >= 2
  for (unsigned c = 0; c < HK_NUM_CLASSES; c++)
    hk_assert(hk_class_recip[c] ==
              (((uint64_t)1 << HK_RECIP_SHIFT) / hk_class_size(c) + 1) << (64 - HK_RECIP_SHIFT));
#endif
  mprotect((uint8_t *)ss + HK_SS_HEADER_SIZE, HK_PAGE_SIZE, PROT_NONE);
  mprotect((uint8_t *)ss + HK_SS_SIZE - HK_PAGE_SIZE, HK_PAGE_SIZE, PROT_NONE);
}

/* ---- checks --------------------------------------------------------------- */

/* Is b on one of s's lists?  The owner's view, bounded by the carved blocks. */
static bool on_lists(const hk_slab_t *s, const hk_block_t *b) {
  const hk_block_t *lists[3] = { s->free, s->local_free,
                                 atomic_load_explicit(&s->remote_free, memory_order_acquire) };
  for (int i = 0; i < 3; i++) {
    unsigned n = 0;
    for (const hk_block_t *x = lists[i]; x && n <= s->capacity; x = hk_link_get(s, x), n++)
      if (x == b) return true;
  }
  return false;
}

/* A small block p of slab head s (hardened): at a carved block's start, and
 * not free.  A free block holds a valid encoded link; a live one holds user
 * data or the zero malloc left (hk_slab_pop), which decodes to nonsense. */
static void check_small(const hk_superslab_t *ss, const hk_slab_t *s, const void *p, unsigned op) {
  uintptr_t off = (uintptr_t)p - (uintptr_t)s->start;
  if ((uintptr_t)p < (uintptr_t)s->start || off >= (uintptr_t)s->capacity * s->block_size)
    misuse(op, P_FOREIGN, p);
  if (!hk_block_start_ok(s, off)) misuse(op, P_INTERIOR, p);
  const hk_block_t *b = (const hk_block_t *)p;
  if (!hk_link_ok(s, hk_link_decode(s, b))) return;
  /* Most likely free.  The owner makes sure; another thread cannot walk the
   * owner's lists, and a live block matches only by a chance below 2^-40. */
  if (hk_ss_owner((hk_superslab_t *)ss) != hk_heap_tls || on_lists(s, b)) misuse(op, P_FREED, p);
}

/* The checks of every mode, on the metadata the slow path reads anyway;
 * hardened mode adds the small blocks' exact checks.  Returns p's
 * SuperSlab (or direct mapping header).  hk_check_block (internal.h) passes
 * the common case inline. */
hk_superslab_t *hk_check_block_slow(const void *p, unsigned op) {
  unsigned state = hk_map_at(p);
  if (state == HK_MAP_NONE) misuse(op, P_FOREIGN, p);
  if ((uintptr_t)p & 7) misuse(op, P_MISALIGNED, p);
  if (state == HK_MAP_RELEASED) misuse(op, P_FREED, p);
  if (state == HK_MAP_DIRECT_TAIL) misuse(op, P_INTERIOR, p);
  if (state & HK_MAP_PAGES) {
    static const unsigned problem[] = {
      [HK_PAGES_FREED] = P_FREED, [HK_PAGES_INTERIOR] = P_INTERIOR, [HK_PAGES_FOREIGN] = P_FOREIGN
    };
    unsigned v = hk_pages_check(p);
    if (v != HK_PAGES_LIVE) misuse(op, problem[v], p);
    return hk_pages_header(p);
  }
  hk_superslab_t *ss = hk_ss_of(p);
  if (state == HK_MAP_DIRECT) {
    if (p != ss->user) misuse(op, P_INTERIOR, p);
    return ss;
  }
  uintptr_t off = (uintptr_t)p - (uintptr_t)ss; /* p - 1 named the unit */
  if (off < hk_ss_front_bytes() || off >= HK_SS_SIZE) misuse(op, P_FOREIGN, p);
  hk_slab_t *head = hk_slab_head(hk_slab_at(ss, p));
  unsigned flags = hk_slab_flags(head);
  if (flags & HK_SLAB_FREE) misuse(op, P_FREED, p);
  if (hk_hardened()) { check_small(ss, head, p, op); }
  return ss;
}

/* HAKMEM_HARDEN=zero: a block is zeroed when freed (its link is written
 * after). */
void hk_harden_freeing(hk_slab_t *head, void *p) {
  if (hk_cfg.harden != HK_HARDEN_ZERO) return;
  memset(p, 0, head->block_size);
}
