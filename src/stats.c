/* hakmem stats: mallinfo2 and malloc_stats, computed by walking the
 * SuperSlabs in use (the fast paths keep no counters).  Other threads'
 * slab counters are read racily: exact when the process is quiescent. */
#include "internal.h"

#include <malloc.h>
#include <stdio.h>
#include <unistd.h>

typedef struct totals_s {
  size_t superslabs, in_use, small_blocks, large_blocks;
} totals_t;

static void add_ss(hk_superslab_t *ss, void *arg) {
  totals_t *t = arg;
  t->superslabs++;
  for (unsigned i = 0; i < HK_SLABS_PER_SS; i++) {
    hk_slab_t *s = &ss->slabs[i];
    uint8_t flags = __atomic_load_n(&s->flags, __ATOMIC_RELAXED);
    if (flags & (HK_SLAB_FREE | HK_SLAB_TAIL)) continue;
    size_t used = __atomic_load_n(&s->used, __ATOMIC_RELAXED);
    if (flags & HK_SLAB_LARGE) {
      t->in_use += used ? s->block_size : 0;
      t->large_blocks += used;
    } else {
      t->in_use += used * s->block_size;
      t->small_blocks += used;
    }
  }
}

void hk_stats_mallinfo(struct mallinfo2 *mi) {
  totals_t t = { 0, 0, 0, 0 };
  hk_arena_visit(add_ss, &t);
  size_t direct_bytes, direct_count;
  hk_direct_stats(&direct_bytes, &direct_count);
  memset(mi, 0, sizeof *mi);
  mi->arena = t.superslabs * HK_SS_SIZE;               /* SuperSlabs in use */
  mi->ordblks = t.small_blocks + t.large_blocks;
  mi->hblks = direct_count;                            /* direct mappings */
  mi->hblkhd = direct_bytes;
  mi->uordblks = t.in_use;                             /* bytes in slab blocks handed out */
  mi->fordblks = mi->arena > t.in_use ? mi->arena - t.in_use : 0;
  mi->keepcost = hk_bigcache_bytes();                  /* cached, releasable by malloc_trim */
}

void hk_stats_print(int fd) {
  struct mallinfo2 mi;
  hk_stats_mallinfo(&mi);
  char buf[1024];
  int n = snprintf(buf, sizeof buf,
      "hakmem:\n"
      "system bytes     = %10zu\n"
      "in use bytes     = %10zu\n"
      "Total (incl. mmap):\n"
      "system bytes     = %10zu\n"
      "in use bytes     = %10zu\n"
      "max mmap regions = %10zu\n"
      "max mmap bytes   = %10zu\n"
      "bigcache bytes   = %10zu\n"
      "abandoned SuperSlabs = %zu (of %zu in use)\n"
      "os calls: mmap %zu, munmap %zu, madvise %zu, mremap %zu; mapped %zu bytes\n",
      mi.arena, mi.uordblks, mi.arena + mi.hblkhd, mi.uordblks + mi.hblkhd,
      mi.hblks, mi.hblkhd, mi.keepcost, hk_heap_abandoned_count(), mi.arena / HK_SS_SIZE,
      atomic_load(&hk_os_counters.mmap_calls), atomic_load(&hk_os_counters.munmap_calls),
      atomic_load(&hk_os_counters.madvise_calls), atomic_load(&hk_os_counters.mremap_calls),
      atomic_load(&hk_os_counters.mapped_bytes));
  if (n > 0) {
    ssize_t w = write(fd, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    (void)w;
  }
}
