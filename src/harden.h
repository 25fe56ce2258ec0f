/* hakmem hardened mode, the inline parts: encoded free-list links, the
 * exact block-start test, and the checks free's slow path, realloc and
 * malloc_usable_size make in every mode.  Included by internal.h; the rest
 * (reports, guard pages, the hardened free) is in harden.c. */
#ifndef HK_HARDEN_H
#define HK_HARDEN_H

enum { HK_OP_FREE, HK_OP_REALLOC, HK_OP_USABLE };
hk_superslab_t *hk_check_block_slow(const void *p, unsigned op); /* aborts on misuse */
HK_COLD __attribute__((noreturn)) void hk_harden_corrupt(const void *block);
uint64_t hk_random_u64(void);
void hk_harden_ss_init(hk_superslab_t *ss);
void hk_harden_freeing(hk_slab_t *head, void *p);

static inline bool hk_hardened(void) { return hk_unlikely(hk_cfg.harden != 0); }

/* Hardened mode in the default build keeps direct[] empty and marks its
 * SuperSlabs "slow", so that every malloc and free reaches the checks
 * behind the default fast paths.  The hardened build (make hardened) tests
 * the mode first instead, and inlines hardened fast paths of its own
 * (alloc.h), which use direct[]. */
#define HK_HARDEN_FIRST (HK_HARDEN_DEFAULT != HK_HARDEN_OFF)
static inline bool hk_direct_used(void) { return HK_HARDEN_FIRST || !hk_hardened(); }

/* Is off (p - s->start) the start of a carved block?  With recip = 2^40 /
 * size + 1, off * recip is (off / size) * 2^40 plus a term below 2^21 when
 * size divides off, and at least recip otherwise, for every off below 2 MiB
 * (size <= 32 KiB), so no division is needed.  The table holds recip << 24:
 * one 64 x 64 -> 128-bit product then has the block index in its high half
 * (beyond the carved blocks for any off from p below start: about 2^64 -
 * 2^21) and those 40 low bits, at the top, in its low half. */
#define HK_RECIP_SHIFT 40
extern const uint64_t hk_class_recip[HK_NUM_CLASSES]; /* harden.c: recip << 24 */
static inline bool hk_block_start_ok(const hk_slab_t *s, uintptr_t off) {
  uint64_t recip = hk_class_recip[s->cls];
  unsigned __int128 m = (unsigned __int128)off * recip;
  return (uint64_t)m < recip &&
      (uint64_t)(m >> 64) < __atomic_load_n(&s->capacity, __ATOMIC_RELAXED);
}

/* A hardened link is stored as next ^ key ^ its own address (the key is
 * drawn for each SuperSlab when a heap takes it), and may name only an
 * address of its own slab (a carved block's, checked exactly when it leaves
 * the link's 64 KiB), or end the list.  Forging one takes the key; a stray
 * write decodes to noise, which lands in the slab by a chance below 2^-40. */
static inline uintptr_t hk_link_encode_ss(const hk_superslab_t *ss, const hk_block_t *b,
                                          const hk_block_t *next) {
  return (uintptr_t)next ^ ss->link_key ^ (uintptr_t)b;
}
static inline uintptr_t hk_link_encode(const hk_slab_t *s, const hk_block_t *b,
                                       const hk_block_t *next) {
  return hk_link_encode_ss((const hk_superslab_t *)((uintptr_t)s & ~(uintptr_t)HK_SS_MASK), b,
                           next);
}
static inline hk_block_t *hk_link_decode(const hk_slab_t *s, const hk_block_t *b) {
  return (hk_block_t *)hk_link_encode(s, b, b->next);
}
static inline bool hk_link_ok(const hk_slab_t *s, const hk_block_t *next) {
  return (uintptr_t)next - (uintptr_t)s->start < (uintptr_t)s->capacity * s->block_size ||
      next == NULL;
}
/* A block a hardened free may take (s: its slab, or span head): a carved
 * block's start whose first word decodes to neither NULL nor an address in
 * its SuperSlab.  A free block's link does (it names a block of its slab or
 * ends the list); a live block's data does by a chance below 2^-42.  Since
 * link ^ key = next ^ p, the test needs no decoding. */
static inline bool hk_harden_block_ok(const hk_superslab_t *ss, const hk_slab_t *s, const void *p) {
  if (!hk_block_start_ok(s, (uintptr_t)p - (uintptr_t)s->start))
    return false;                                                        /* below start: huge */
  uintptr_t t = (uintptr_t)((const hk_block_t *)p)->next ^ ss->link_key; /* read only now */
  return t > HK_SS_MASK && t != (uintptr_t)p;
}
/* The common case first: next in b's 64 KiB (link ^ key = next ^ b is
 * below 2^16) and not before the slab's first block (slab 0 follows the
 * header). */
static inline hk_block_t *hk_harden_link_get(const hk_slab_t *s, const hk_block_t *b) {
  const hk_superslab_t *ss = (const hk_superslab_t *)((uintptr_t)s & ~(uintptr_t)HK_SS_MASK);
  uintptr_t t = (uintptr_t)b->next ^ ss->link_key;
  hk_block_t *next = (hk_block_t *)(t ^ (uintptr_t)b);
  if (hk_likely(t < HK_SLAB_SIZE && (uintptr_t)next >= (uintptr_t)s->start)) return next;
  if (hk_unlikely(!hk_link_ok(s, next))) hk_harden_corrupt(b);
  return next;
}
static inline hk_block_t *hk_link_get(const hk_slab_t *s, const hk_block_t *b) {
  return hk_hardened() ? hk_harden_link_get(s, b) : b->next;
}
static inline void hk_link_set(const hk_slab_t *s, hk_block_t *b, hk_block_t *next) {
  b->next = hk_hardened() ? (hk_block_t *)hk_link_encode(s, b, next) : next;
}

/* The checks of free's slow path, realloc and usable size: a block of an
 * ordinary slab (in hardened mode, a carved block's start that does not
 * look free) passes inline; anything else, or a misuse, goes to
 * hk_check_block_slow.  Returns p's SuperSlab (or mapping header). */
static inline hk_superslab_t *hk_check_block(const void *p, unsigned op) {
  unsigned state = hk_map_at(p);
  if (hk_likely((state == HK_MAP_SLABS || state == HK_MAP_SLABS_SLOW) && ((uintptr_t)p & 7) == 0)) {
    hk_superslab_t *ss = hk_ss_of(p);
    uintptr_t off = (uintptr_t)p - (uintptr_t)ss;
    hk_slab_t *head = hk_slab_head(hk_slab_at(ss, p));
    if (hk_likely(off >= HK_SS_HEADER_SIZE && off < HK_SS_SIZE &&
                  !(hk_slab_flags(head) & HK_SLAB_FREE) &&
                  (state == HK_MAP_SLABS || hk_harden_block_ok(ss, head, p))))
      return ss;
  }
  return hk_check_block_slow(p, op);
}

/* Hardened layout: a guard page after the header page (slab 0 starts past
 * it) and one at the end of every SuperSlab. */
static inline size_t hk_ss_front_bytes(void) {
  return hk_hardened() ? HK_SS_HEADER_SIZE + HK_PAGE_SIZE : HK_SS_HEADER_SIZE;
}
static inline size_t hk_guard_bytes(void) { return hk_hardened() ? HK_PAGE_SIZE : 0; }

#endif /* HK_HARDEN_H */
