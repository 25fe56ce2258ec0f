/* A class's only slab, emptied by another thread's frees, stays and is
 * carved again in address order with as many blocks as it had carved (up
 * to a page's worth): its owner's next mallocs walk a list as long as
 * before, in address order, instead of taking the slow path every few
 * blocks (reqresp) or chasing the other thread's free order (multithread).
 * Without the fix the slab's capacity falls back to 0. */
#include "unit.h"
#include <pthread.h>
#include <string.h>

#define SIZE 48 /* a class no other block of this test uses */
#define N 60    /* carved 16 + 32 + ... : more than N, at most a page */

static void *blk[N];

static void *free_all(void *x) {
  (void)x;
  for (int i = 0; i < N; i++) {
    for (int k = 0; k < SIZE; k++)
      CHECK(((unsigned char *)blk[i])[k] == (unsigned char)i, "block %d corrupted", i);
    free(blk[i]); /* remote frees */
  }
  return NULL;
}

int main(void) {
  for (int i = 0; i < N; i++) {
    blk[i] = malloc(SIZE);
    CHECK(blk[i] != NULL, "malloc");
    memset(blk[i], i, SIZE);
  }
  hk_slab_t *s = unit_slab_of(blk[0]);
  for (int i = 1; i < N; i++) CHECK(unit_slab_of(blk[i]) == s, "block %d in another slab", i);
  unsigned had = s->capacity;
  unsigned page = HK_PAGE_SIZE / s->block_size;
  CHECK(had >= N && had <= page, "capacity %u after %d mallocs", had, N);

  pthread_t t;
  CHECK(pthread_create(&t, NULL, free_all, NULL) == 0, "pthread_create");
  pthread_join(t, NULL);
  hk_heap_collect(hk_heap_tls, true);

  CHECK(!(s->flags & HK_SLAB_FREE), "the class's only slab was given back (flags %#x)", s->flags);
  CHECK(s->used == 0, "used %u after every block came back", s->used);
  CHECK(s->capacity == had, "carved %u blocks again, had %u", s->capacity, had);
  unsigned n = 0;
  uint8_t *prev = NULL;
  for (hk_block_t *b = s->free; b; b = hk_link_get(s, b), n++) {
    CHECK((uint8_t *)b == s->start + (size_t)n * s->block_size,
          "block %u of the list at %p, not in address order (previous %p)", n, (void *)b,
          (void *)prev);
    prev = (uint8_t *)b;
  }
  CHECK(n == had, "%u blocks on the free list, %u carved", n, had);

  /* the owner allocates them again, in address order, contents its own */
  for (int i = 0; i < N; i++) {
    blk[i] = malloc(SIZE);
    CHECK(unit_slab_of(blk[i]) == s, "malloc %d left the kept slab", i);
    CHECK((uint8_t *)blk[i] == s->start + (size_t)i * s->block_size, "malloc %d out of order", i);
    memset(blk[i], i, SIZE);
  }
  for (int i = 0; i < N; i++) free(blk[i]);
  printf("kept_recarve: ok (%u blocks carved again in address order)\n", had);
  return 0;
}
