/* hakmem superslab: a 2 MiB unit cut into 32 slabs of 64 KiB.  The header
 * keeps which slabs are free and which may hold resident pages; a span is a
 * run of free slabs found with a few shifts of the free mask.  Only the
 * owning thread changes these masks. */
#include "internal.h"

static uint32_t span_bits(unsigned n, unsigned at) {
  return (n >= 32 ? ~0u : ((1u << n) - 1)) << at;
}

/* Bit i of the result: slabs i .. i+n-1 are all set in m. */
static uint32_t runs_of(uint32_t m, unsigned n) {
  uint32_t r = m;
  for (unsigned k = 1; k < n && r; k++) r &= m >> k;
  return r;
}

/* Slabs in spans, over every SuperSlab: the heap's size for HAKMEM_THP=auto
 * (not the SuperSlabs' 2 MiB each, which threads that share out their
 * blocks leave a third full). */
static _Atomic size_t spans_slabs;

size_t hk_ss_span_bytes(void) {
  return atomic_load_explicit(&spans_slabs, memory_order_relaxed) << HK_SLAB_SHIFT;
}

/* The SuperSlab leaves its heap for the arena: the spans it still holds
 * (an abandoned one given back by its last free) leave the count. */
void hk_ss_spans_gone(hk_superslab_t *ss) {
  unsigned n = (unsigned)__builtin_popcount(~ss->free_mask);
  if (n) atomic_fetch_sub_explicit(&spans_slabs, n, memory_order_relaxed);
}

void hk_ss_init(hk_superslab_t *ss, hk_heap_t *owner, bool clean) {
  memset(ss, 0, sizeof *ss);
  ss->kind = HK_SS_KIND_SLABS;
  ss->free_mask = ~0u;
  ss->dirty_mask = clean ? 0 : ~0u;
  for (unsigned i = 0; i < HK_SLABS_PER_SS; i++) hk_slab_set_flags(&ss->slabs[i], HK_SLAB_FREE);
  if (hk_hardened()) hk_harden_ss_init(ss);
  if (!clean) HK_RELAXED_ADD(owner->dirty_slabs, HK_SLABS_PER_SS);
  atomic_store_explicit(&ss->owner, owner, memory_order_release);
}

/* Take a run of n free slabs.  *clean: the run reads as zero. */
hk_slab_t *hk_ss_take_span(hk_superslab_t *ss, unsigned n, bool *clean) {
  hk_assert(n >= 1 && n <= HK_SLABS_PER_SS);
  uint32_t avail = ss->free_mask;
  uint32_t any = runs_of(avail, n);
  if (!any) return NULL;
  uint32_t warm = runs_of(avail & ss->dirty_mask, n); /* reuse resident pages first */
  unsigned at = (unsigned)__builtin_ctz(warm ? warm : any);
  uint32_t bits = span_bits(n, at);
  hk_assert_internal((avail & bits) == bits && at + n <= HK_SLABS_PER_SS);
  uint32_t was_dirty = ss->dirty_mask & bits;
  *clean = was_dirty == 0;
  HK_RELAXED_ADD(hk_ss_owner(ss)->dirty_slabs, -(uint32_t)__builtin_popcount(was_dirty));
  ss->free_mask &= ~bits;
  atomic_fetch_add_explicit(&spans_slabs, n, memory_order_relaxed);
  ss->dirty_mask |= bits;
  ss->purge_mark &= ~bits; /* in use again: its decay starts over */
  hk_slab_t *head = &ss->slabs[at];
  hk_slab_set_flags(head, 0);
  head->span = (uint8_t)n;
  head->head_delta = 0;
  for (unsigned k = 1; k < n; k++) {
    hk_slab_set_flags(&head[k], HK_SLAB_TAIL);
    head[k].head_delta = (uint8_t)k;
  }
  return head;
}

void hk_ss_return_span(hk_superslab_t *ss, hk_slab_t *head) {
  unsigned n = head->span, at = hk_slab_index(ss, head);
  hk_assert_internal(n >= 1 && at + n <= HK_SLABS_PER_SS);
  hk_assert_internal((ss->free_mask & span_bits(n, at)) == 0);
  for (unsigned k = 0; k < n; k++) hk_slab_set_flags(&head[k], HK_SLAB_FREE);
  ss->free_mask |= span_bits(n, at);
  atomic_fetch_sub_explicit(&spans_slabs, n, memory_order_relaxed);
  HK_RELAXED_ADD(hk_ss_owner(ss)->dirty_slabs, n);
}

/* Give back the pages of the free slabs in `which` (batched: one madvise
 * per run of slabs).  Returns slabs purged.  The caller holds the owner's
 * heap lock. */
unsigned hk_ss_purge(hk_superslab_t *ss, uint32_t which) {
  uint32_t m = ss->free_mask & ss->dirty_mask & which;
  unsigned purged = (unsigned)__builtin_popcount(m);
  ss->dirty_mask &= ~m;
  while (m) {
    unsigned lo = (unsigned)__builtin_ctz(m);
    uint32_t gap = ~(m >> lo);
    unsigned len = gap ? (unsigned)__builtin_ctz(gap) : 32 - lo;
    uint8_t *from = hk_slab_area(ss, lo);
    uint8_t *to = (uint8_t *)ss + ((size_t)(lo + len) << HK_SLAB_SHIFT);
    hk_os_purge(from, (size_t)(to - from));
    m &= ~span_bits(len, lo);
  }
  HK_RELAXED_ADD(hk_ss_owner(ss)->dirty_slabs, -purged);
  return purged;
}

/* Decay: remember which free slabs are resident now; those still free and
 * resident at the next tick have aged (hk_ss_purge(ss, ss->purge_mark)). */
void hk_ss_age(hk_superslab_t *ss) { ss->purge_mark = ss->free_mask & ss->dirty_mask; }
