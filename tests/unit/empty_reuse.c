/* Empty slabs: the free that empties a slab gives it back to its SuperSlab at
 * once, and another size class takes it; a SuperSlab whose slabs are all
 * free goes back to the arena; remote frees are collected by the owner. */
#include "unit.h"
#include <pthread.h>

#define N 4000

static void *blocks[N];

static void *alloc_one(void *arg) { return malloc((size_t)(uintptr_t)arg); }

static void *free_all(void *arg) {
  (void)arg;
  for (int i = 0; i < N; i++) free(blocks[i]); /* remote frees */
  return NULL;
}

int main(void) {
  /* Fill several slabs of the 64-byte class. */
  for (int i = 0; i < N; i++) {
    blocks[i] = malloc(64);
    CHECK(blocks[i], "malloc");
  }
  hk_slab_t *first = unit_slab_of(blocks[0]);
  hk_slab_t *last = unit_slab_of(blocks[N - 1]);
  CHECK(first != last, "expected several slabs");
  hk_superslab_t *ss = hk_ss_of(blocks[0]);
  unsigned idx = hk_slab_index(ss, first);
  /* Free every block of the first slab: it must become free at once. */
  for (int i = 0; i < N; i++)
    if (unit_slab_of(blocks[i]) == first) {
      free(blocks[i]);
      blocks[i] = NULL;
    }
  CHECK(first->flags == HK_SLAB_FREE, "emptied slab not released (flags %#x)", first->flags);
  CHECK(ss->free_mask & (1u << idx), "emptied slab not in the free mask");
  /* Another class takes the same slab right away. */
  void *other = malloc(3000);
  CHECK(unit_slab_of(other) == first, "empty slab not reused by another class (%p)", other);
  CHECK(first->block_size == hk_class_size(hk_size_class(3000)), "reused slab has class %u",
        first->block_size);
  free(other);

  /* Remote frees: another thread frees the rest; the owner collects them and
   * the emptied slabs return to the free mask. */
  pthread_t t;
  CHECK(pthread_create(&t, NULL, free_all, NULL) == 0, "pthread_create");
  pthread_join(t, NULL);
  hk_heap_collect(hk_heap_tls, true);
  for (int i = 0; i < N; i++)
    if (blocks[i]) {
      hk_slab_t *s = unit_slab_of(blocks[i]);
      CHECK((s->flags & HK_SLAB_FREE) || s->used == 0 || s == hk_heap_tls->queues[s->cls].first,
            "slab of a remotely freed block still holds %u blocks", s->used);
    }

  /* A thread that exits leaves its SuperSlabs to be reclaimed, not leaked. */
  size_t before = atomic_load(&hk_os_counters.mapped_bytes);
  for (int round = 0; round < 200; round++) {
    CHECK(pthread_create(&t, NULL, alloc_one, (void *)(uintptr_t)100) == 0, "thread");
    void *leftover;
    pthread_join(t, &leftover);
    free(leftover);
  }
  size_t after = atomic_load(&hk_os_counters.mapped_bytes);
  CHECK(after <= before + 4 * HK_SS_SIZE, "thread churn mapped %zu more bytes", after - before);
  printf("empty reuse: ok (mapped %zu -> %zu bytes)\n", before, after);
  return 0;
}
