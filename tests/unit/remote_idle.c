/* Other threads free everything a thread allocated while it waits without
 * calling the allocator (a main thread that hands out work, a producer
 * between bursts).  The adaptive thread frees the waiting owner's parked
 * slabs whose every block came back; a slab with a block still live stays,
 * its blocks intact; the owner then collects the rest itself and allocates
 * as before (issue 18).  Without the fix the first slab stays full of
 * uncollected frees for as long as its owner waits. */
#include "unit.h"
#include "hakmem.h"
#include <pthread.h>
#include <semaphore.h>
#include <string.h>
#include <unistd.h>

#define N 20000
#define SIZE 256
#define KEEP 10000 /* stays live: its slab must stay */

static unsigned char *blk[N];
static sem_t freed, leave;

static void fill(int i) { memset(blk[i], (unsigned char)(i * 7 + 1), SIZE); }
static void check(int i) {
  for (int k = 0; k < SIZE; k++)
    CHECK(blk[i][k] == (unsigned char)(i * 7 + 1), "block %d corrupted at %d", i, k);
}

/* Frees every block but KEEP, then stays (a second thread with a heap: the
 * adaptive thread runs) until main has looked. */
static void *freer(void *x) {
  (void)x;
  free(malloc(64));
  for (int i = 0; i < N; i++) {
    if (i == KEEP) continue;
    check(i);
    free(blk[i]);
  }
  sem_post(&freed);
  sem_wait(&leave);
  return NULL;
}

static bool slab_released(hk_slab_t *s) {
  uint8_t f = __atomic_load_n(&s->flags, __ATOMIC_ACQUIRE);
  return (f & HK_SLAB_FREE) != 0;
}

int main(void) {
  sem_init(&freed, 0, 0);
  sem_init(&leave, 0, 0);
  printf("remote_idle: start\n"); /* stdio's buffer, before the wait */
  fflush(stdout);
  for (int i = 0; i < N; i++) {
    blk[i] = malloc(SIZE);
    CHECK(blk[i] != NULL, "malloc failed");
    fill(i);
  }
  hk_slab_t *first = unit_slab_of(blk[0]), *kept = unit_slab_of(blk[KEEP]);
  CHECK(first != kept, "the first and the kept block share a slab");
  CHECK(first->flags & HK_SLAB_FULL, "the first slab is not parked (flags %x)", first->flags);
  CHECK(kept->flags & HK_SLAB_FULL, "the kept block's slab is not parked (flags %x)", kept->flags);

  pthread_t t;
  pthread_create(&t, NULL, freer, NULL);
  sem_wait(&freed);
  /* main makes no call into the allocator until the slab is back */
  bool back = false;
  for (int ms = 0; ms < 5000 && !back; ms += 10) {
    usleep(10000);
    back = slab_released(first);
  }
  CHECK(back, "the first slab was not freed in 5 s (flags %x, used %u)", first->flags, first->used);
  CHECK(!slab_released(kept), "the slab of a live block was freed");
  check(KEEP);
  sem_post(&leave);
  pthread_join(t, NULL);

  /* the owner carries on: its own frees and mallocs, contents checked */
  free(blk[KEEP]);
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < N; i++) {
      blk[i] = malloc(SIZE);
      CHECK(blk[i] != NULL, "malloc failed");
      fill(i);
    }
    for (int i = 0; i < N; i++) {
      check(i);
      free(blk[i]);
    }
  }
  struct hak_stats st;
  CHECK(hak_stats_get(&st, sizeof st) == 0, "hak_stats_get failed");
  CHECK(st.allocs - st.frees < 64, "allocs %llu frees %llu", (unsigned long long)st.allocs,
        (unsigned long long)st.frees);
  printf("remote_idle: ok (parked slab freed while its owner waited)\n");
  return 0;
}
