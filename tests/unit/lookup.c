/* Address to metadata: for blocks of every size range, the mask-and-shift
 * lookup finds the SuperSlab and slab, the page segment, or the mapping
 * header that hold it. */
#include "unit.h"

static void check_block(void *p, size_t n) {
  hk_superslab_t *ss = hk_ss_of(p);
  CHECK(((uintptr_t)ss & HK_SS_MASK) == 0, "header of %p not 2 MiB aligned", p);
  CHECK(hk_usable_size(p) >= n, "usable %zu < %zu", hk_usable_size(p), n);
  if (n > HK_SMALL_MAX && n <= HK_PAGES_MAX) {
    hk_superslab_t *seg = hk_pages_header(p);
    CHECK(seg->kind == HK_SS_KIND_PAGES, "n=%zu: expected a page run", n);
    CHECK((uint8_t *)seg < (uint8_t *)p && ((uintptr_t)seg & HK_SS_MASK) == 0, "n=%zu: segment", n);
    CHECK(((uintptr_t)p & (HK_PAGE_SIZE - 1)) == 0, "page run not page aligned");
    CHECK(hk_pages_check(p) == HK_PAGES_LIVE, "n=%zu: not a live run", n);
    return;
  }
  if (n > HK_PAGES_MAX) {
    CHECK(ss->kind == HK_SS_KIND_DIRECT, "n=%zu: expected a direct mapping", n);
    CHECK(ss->user == p, "direct header does not point back at %p", p);
    return;
  }
  CHECK(ss->kind == HK_SS_KIND_SLABS, "n=%zu: expected a SuperSlab", n);
  CHECK(hk_ss_owner(ss) == hk_heap_tls, "n=%zu: SuperSlab not owned by this thread", n);
  hk_slab_t *s = unit_slab_of(p);
  uint8_t *b = p;
  CHECK(!(s->flags & (HK_SLAB_FREE | HK_SLAB_TAIL)), "n=%zu: slab flags %#x", n, s->flags);
  CHECK(b >= s->start &&
            b < (uint8_t *)ss + ((size_t)(hk_slab_index(ss, s) + s->span) << HK_SLAB_SHIFT),
        "n=%zu: block outside its span", n);
  CHECK(s->block_size == hk_class_size(hk_size_class(n)), "n=%zu: block size %u", n, s->block_size);
  CHECK((size_t)(b - s->start) % s->block_size == 0, "n=%zu: not at a block boundary", n);
}

int main(void) {
  static void *ptrs[4096];
  static size_t sizes[4096];
  size_t k = 0;
  for (size_t n = 1; n <= HK_PAGES_MAX * 2 && k < 4096; n = n < 64 ? n + 1 : n + n / 7) {
    for (int rep = 0; rep < 3 && k < 4096; rep++) {
      ptrs[k] = malloc(n);
      CHECK(ptrs[k] != NULL, "malloc(%zu)", n);
      sizes[k++] = n;
    }
  }
  for (size_t i = 0; i < k; i++) check_block(ptrs[i], sizes[i]);
  /* aligned page runs */
  for (size_t a = 32; a <= (1u << 20); a <<= 1) {
    void *p = aligned_alloc(a, 100000);
    CHECK(p && ((uintptr_t)p & (a - 1)) == 0, "aligned_alloc(%zu)", a);
    CHECK(hk_usable_size(p) >= 100000, "aligned usable %zu", hk_usable_size(p));
    free(p);
  }
  for (size_t i = 0; i < k; i++) free(ptrs[i]);
  printf("lookup: %zu blocks checked, ok\n", k);
  return 0;
}
