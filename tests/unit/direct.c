/* Direct mappings (blocks over HK_PAGES_MAX): realloc grows them with
 * mremap instead of copying, a page run that grows past the page layer
 * becomes one, calloc of one reads as zero. */
#include "unit.h"

#define MiB ((size_t)1 << 20)

int main(void) {
  void *p = malloc(HK_PAGES_MAX + 1);
  CHECK(p, "malloc 64 MiB + 1");
  CHECK(hk_ss_of(p)->kind == HK_SS_KIND_DIRECT, "64 MiB + 1 is a direct mapping");
  CHECK(hk_usable_size(p) > HK_PAGES_MAX, "usable %zu", hk_usable_size(p));
  free(p);

  unsigned char *z = calloc(1, 80 * MiB);
  CHECK(z, "calloc 80 MiB");
  for (size_t i = 0; i < 80 * MiB; i += 4093) CHECK(z[i] == 0, "calloc byte %zu is %d", i, z[i]);
  free(z);

  /* realloc growth from a page run into direct mappings: contents kept,
   * mremap once direct */
  size_t n = 3 * MiB;
  unsigned char *r = malloc(n);
  for (size_t i = 0; i < n; i += 512) r[i] = (unsigned char)(i >> 9);
  size_t remaps = atomic_load(&hk_os_counters.mremap_calls);
  for (int step = 0; step < 7; step++) {
    size_t m = n * 2;
    r = realloc(r, m);
    CHECK(r, "realloc to %zu", m);
    for (size_t i = 0; i < n; i += 512)
      CHECK(r[i] == (unsigned char)(i >> 9), "content lost at %zu", i);
    for (size_t i = n; i < m; i += 512) r[i] = (unsigned char)(i >> 9);
    n = m;
  }
  CHECK(n > HK_PAGES_MAX * 2 && hk_ss_of(r)->kind == HK_SS_KIND_DIRECT, "384 MiB is direct");
  CHECK(atomic_load(&hk_os_counters.mremap_calls) > remaps,
        "realloc of a direct mapping did not use mremap");
  CHECK(hk_usable_size(r) >= n, "usable %zu < %zu", hk_usable_size(r), n);
  free(r);
  printf("direct: ok (%zu mremap calls)\n", atomic_load(&hk_os_counters.mremap_calls) - remaps);
  return 0;
}
