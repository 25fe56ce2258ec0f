/* A free into an abandoned SuperSlab adopts it, unless the freeing heap
 * already holds several times its share of free resident slabs (a thread
 * that frees what exited threads left and allocates little): that
 * SuperSlab stays on the abandoned list, where a heap short of spans
 * reclaims its memory, instead of piling up in the freer's heap
 * (tests/stress/churn.c: 2000 free slabs, 170 MiB peak).  Without the
 * check the second free adopts too. */
#include "unit.h"
#include "heap.h"
#include <pthread.h>
#include <string.h>

#define N 50

static void *left_behind(void *x) { /* allocates, exits: its SuperSlab is abandoned */
  void **blk = x;
  for (int i = 0; i < N; i++) {
    blk[i] = malloc(100);
    CHECK(blk[i] != NULL, "malloc");
    memset(blk[i], 0x5a, 100);
  }
  return NULL;
}

static void leave(void **blk) {
  pthread_t t;
  CHECK(pthread_create(&t, NULL, left_behind, blk) == 0, "pthread_create");
  pthread_join(t, NULL);
  hk_superslab_t *ss = hk_ss_of(blk[0]);
  CHECK(hk_ss_owner(ss) == NULL && ss->abandoned, "the exited thread's SuperSlab is not abandoned");
}

static void free_checked(void **blk) {
  for (int i = 0; i < N; i++) {
    for (int k = 0; k < 100; k++)
      CHECK(((unsigned char *)blk[i])[k] == 0x5a, "block %d corrupted", i);
    free(blk[i]);
  }
}

int main(void) {
  static void *a[N], *b[N], *mine[2000];
  free(malloc(16)); /* main has a heap */
  hk_heap_t *h = hk_heap_tls;

  /* a heap with few free resident slabs adopts on its first free */
  leave(a);
  hk_superslab_t *ssa = hk_ss_of(a[0]);
  CHECK(h->dirty_slabs <= 4 * hk_heap_retain(), "main holds %u free slabs at start",
        h->dirty_slabs);
  free(a[0]);
  CHECK(hk_ss_owner(ssa) == h, "a free by a heap within its share did not adopt");

  /* past its share (0 here: HAKMEM_RETAIN_MB=0), the heap leaves it */
  hk_tune.retain_mb = 0;
  for (int i = 0; i < 2000; i++) mine[i] = malloc(1000);
  for (int i = 0; i < 2000; i++) free(mine[i]);
  CHECK(h->dirty_slabs > 0, "main holds no free resident slab");
  leave(b);
  hk_superslab_t *ssb = hk_ss_of(b[0]);
  uint64_t live = atomic_load(&ssb->abandoned_state) & 0xfffff;
  free(b[0]);
  CHECK(hk_ss_owner(ssb) == NULL && ssb->abandoned, "a heap past its share adopted (%u free slabs)",
        h->dirty_slabs);
  CHECK((atomic_load(&ssb->abandoned_state) & 0xfffff) == live - 1,
        "the free did not count against the abandoned SuperSlab");

  b[0] = malloc(100); /* the rest, contents checked */
  memset(b[0], 0x5a, 100);
  free_checked(b);
  a[0] = malloc(100);
  memset(a[0], 0x5a, 100);
  free_checked(a);
  printf("adopt_share: ok\n");
  return 0;
}
