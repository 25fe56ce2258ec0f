/* Size classes: every request fits its class, classes grow monotonically,
 * rounding loses at most 12.5% beyond 128 B, and blocks of 16 B or more are
 * 16-byte multiples (so they stay 16-byte aligned).  The hardened block-start
 * test (a multiply instead of off % size) is exact for every class and
 * offset. */
#include "unit.h"
#include "cache.h"

int main(void) {
  CHECK(hk_class_size(HK_NUM_CLASSES - 1) == HK_SMALL_MAX, "last class %zu",
        hk_class_size(HK_NUM_CLASSES - 1));
  for (unsigned c = 1; c < HK_NUM_CLASSES; c++) {
    CHECK(hk_class_size(c) > hk_class_size(c - 1), "class %u not increasing", c);
    CHECK(hk_class_size(c) % 16 == 0, "class %u size %zu not a multiple of 16", c,
          hk_class_size(c));
    CHECK(hk_size_class(hk_class_size(c)) == c, "class %u does not map to itself", c);
    unsigned span = hk_class_span(c);
    CHECK(span >= 1 && span <= 4, "class %u span %u", c, span);
    CHECK(((size_t)span << HK_SLAB_SHIFT) / hk_class_size(c) >= 8, "class %u: fewer than 8 blocks",
          c);
  }
  for (size_t n = 0; n <= HK_SMALL_MAX; n++) {
    unsigned c = hk_size_class(n);
    size_t bs = hk_class_size(c);
    CHECK(c < HK_NUM_CLASSES, "n=%zu class %u", n, c);
    CHECK(bs >= n, "n=%zu class size %zu too small", n, bs);
    CHECK(c == 0 || hk_class_size(c - 1) < n, "n=%zu: a smaller class fits", n);
    if (n > 128) CHECK((bs - n) * 8 <= n, "n=%zu wastes %zu bytes in class %zu", n, bs - n, bs);
    /* the malloc fast path's direct[] slot must agree with the class, and
     * above it the thread cache's table */
    if (n <= HK_DIRECT_MAX)
      CHECK(hk_size_class(((n + 7) >> 3) * 8) == c, "n=%zu direct slot disagrees", n);
    else
      CHECK(hk_cache_class[(n + 127) >> 7] == c, "n=%zu: the cache's table says %u, not %u", n,
            hk_cache_class[(n + 127) >> 7], c);
  }
  for (unsigned c = 0; c < HK_NUM_CLASSES; c++) {
    size_t bs = hk_class_size(c), bytes = (size_t)hk_class_span(c) << HK_SLAB_SHIFT;
    hk_slab_t s = {
        .cls = (uint8_t)c, .block_size = (uint32_t)bs, .capacity = (uint16_t)(bytes / bs)};
    size_t limit = (size_t)s.capacity * bs;
    for (size_t off = 0; off < HK_SS_SIZE; off++) /* p and start share a SuperSlab */
      CHECK(hk_block_start_ok(&s, off) == (off < limit && off % bs == 0), "class %u off %zu", c,
            off);
    for (size_t back = 1; back <= HK_SS_SIZE; back++) /* p below s->start */
      CHECK(!hk_block_start_ok(&s, (uintptr_t)0 - back), "class %u off -%zu", c, back);
  }
  printf("size classes: %d classes, 8 B .. %u B, ok\n", HK_NUM_CLASSES, HK_SMALL_MAX);
  return 0;
}
