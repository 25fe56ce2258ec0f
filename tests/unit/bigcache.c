/* Direct mappings: a repeated 2 MiB malloc/free cycle makes no system call
 * once warm (BigCache); realloc of a direct mapping moves or grows its pages
 * with mremap instead of copying; calloc of a cached mapping is zeroed. */
#include "unit.h"

static size_t os_calls(void) {
  return atomic_load(&hk_os_counters.mmap_calls) + atomic_load(&hk_os_counters.munmap_calls) +
         atomic_load(&hk_os_counters.madvise_calls) + atomic_load(&hk_os_counters.mremap_calls);
}

int main(void) {
  void *p = malloc(2u << 20);
  CHECK(p, "malloc 2 MiB");
  CHECK(hk_ss_of(p)->kind == HK_SS_KIND_DIRECT, "2 MiB is a direct mapping");
  free(p);
  size_t before = os_calls();
  for (int i = 0; i < 1000; i++) {
    char *q = malloc(2u << 20);
    CHECK(q, "malloc 2 MiB (%d)", i);
    q[0] = 1; q[(2u << 20) - 1] = 2;
    free(q);
  }
  CHECK(os_calls() == before, "2 MiB malloc/free cycle made %zu system calls", os_calls() - before);

  /* calloc from the cache must be zero even though the cached pages were written */
  char *w = malloc(3u << 20);
  memset(w, 0xAB, 3u << 20);
  free(w);
  unsigned char *z = calloc(1, 3u << 20);
  CHECK(z, "calloc 3 MiB");
  for (size_t i = 0; i < (3u << 20); i += 4093) CHECK(z[i] == 0, "calloc byte %zu is %d", i, z[i]);
  free(z);

  /* realloc growth: mremap, contents kept */
  size_t n = 3u << 20;
  unsigned char *r = malloc(n);
  for (size_t i = 0; i < n; i += 512) r[i] = (unsigned char)(i >> 9);
  size_t remaps = atomic_load(&hk_os_counters.mremap_calls);
  for (int step = 0; step < 6; step++) {
    size_t m = n * 2;
    r = realloc(r, m);
    CHECK(r, "realloc to %zu", m);
    for (size_t i = 0; i < n; i += 512) CHECK(r[i] == (unsigned char)(i >> 9), "content lost at %zu", i);
    for (size_t i = n; i < m; i += 512) r[i] = (unsigned char)(i >> 9);
    n = m;
  }
  CHECK(atomic_load(&hk_os_counters.mremap_calls) > remaps, "realloc of a direct mapping did not use mremap");
  CHECK(hk_usable_size(r) >= n, "usable %zu < %zu", hk_usable_size(r), n);
  free(r);
  printf("bigcache: ok (%zu mremap calls)\n", atomic_load(&hk_os_counters.mremap_calls) - remaps);
  return 0;
}
