/* The thread cache (cache.h): blocks of 1-32 KiB the owner frees wait in a
 * LIFO bin per class and its next malloc of the class takes them back;
 * bins are bounded, swept, flushed at thread exit, malloc_trim and fork is
 * harmless; a live thread's block freed by another enters the freer's
 * cache only for a class the freer allocates too (its malloc reuses it;
 * its flush gives it back, to the owner or, once the owner exited, to the
 * abandoned SuperSlab), an exited thread's is adopted with its SuperSlab;
 * every block keeps its contents while live (content checks throughout). */
#include "unit.h"
#include "cache.h"
#include "hakmem.h"

#include <malloc.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

static size_t cached_bytes(void) {
  struct hak_stats st;
  CHECK(hak_stats_get(&st, sizeof st) == 0, "hak_stats_get");
  return st.thread_cache_bytes;
}

/* Count and check one bin of the calling thread's heap. */
static unsigned bin_check(hk_heap_t *h, unsigned cls) {
  hk_cache_bin_t *c = &h->cache[cls - HK_CACHE_FIRST];
  unsigned n = 0;
  for (hk_block_t *b = c->top; b; b = b->next, n++) {
    hk_superslab_t *ss = hk_ss_of(b);
    CHECK(hk_map_at(b) == HK_MAP_SLABS, "cached block %p outside the slabs", (void *)b);
    hk_slab_t *s = hk_slab_at(ss, b);
    CHECK((s->flags & HK_SLAB_CACHED) && s->cls == cls,
          "cached block %p in slab flags %#x class %u", (void *)b, s->flags, s->cls);
  }
  CHECK(n == hk_cache_count(c) && n <= c->limit, "bin %u: %u blocks listed, count %u, limit %u",
        cls, n, hk_cache_count(c), c->limit);
  return n;
}

static void fill(unsigned char *p, size_t n, unsigned tag) {
  for (size_t i = 0; i + 1 < n; i += 512) p[i] = (unsigned char)(tag + i / 512);
  p[n - 1] = (unsigned char)tag;
}
static void verify(const unsigned char *p, size_t n, unsigned tag) {
  for (size_t i = 0; i + 1 < n; i += 512)
    CHECK(p[i] == (unsigned char)(tag + i / 512), "block %p (%zu B, tag %u) changed at %zu",
          (const void *)p, n, tag, i);
  CHECK(p[n - 1] == (unsigned char)tag, "block %p (%zu B) changed at its end", (const void *)p, n);
}

/* Random replacement of 1-32 KiB blocks with content checks. */
#define SLOTS 512
typedef struct {
  unsigned char *p;
  size_t n;
  unsigned tag;
} slot_t;
static uint64_t rng_next(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}
static void churn(slot_t *slots, unsigned nslots, long iters, uint64_t seed) {
  for (long i = 0; i < iters; i++) {
    uint64_t r = rng_next(&seed);
    slot_t *s = &slots[r % nslots];
    if (s->p) {
      verify(s->p, s->n, s->tag);
      free(s->p);
    }
    s->n = 1025 + (size_t)((r >> 20) % (32768 - 1024));
    s->tag = (unsigned)(r >> 50);
    s->p = malloc(s->n);
    CHECK(s->p, "malloc(%zu)", s->n);
    fill(s->p, s->n, s->tag);
  }
}
static void release(slot_t *slots, unsigned nslots) {
  for (unsigned i = 0; i < nslots; i++)
    if (slots[i].p) {
      verify(slots[i].p, slots[i].n, slots[i].tag);
      free(slots[i].p);
      slots[i].p = NULL;
    }
}

static slot_t handed[SLOTS]; /* allocated by one thread, freed by another */

static pthread_barrier_t handed_over, freed;

static void *alloc_for_main(void *arg) {
  bool wait = arg != NULL;
  uint64_t seed = 99;
  for (unsigned i = 0; i < SLOTS; i++) {
    uint64_t r = rng_next(&seed);
    handed[i].n = 1025 + (size_t)(r % 20000);
    handed[i].tag = (unsigned)(r >> 40);
    handed[i].p = malloc(handed[i].n);
    CHECK(handed[i].p, "malloc");
    fill(handed[i].p, handed[i].n, handed[i].tag);
  }
  if (wait) { /* alive while main frees its blocks */
    pthread_barrier_wait(&handed_over);
    pthread_barrier_wait(&freed);
  }
  return NULL;
}

/* A thread allocates handed[] and stays alive until `freed`. */
static pthread_t start_owner(void) {
  static int wait = 1;
  pthread_t t;
  pthread_barrier_init(&handed_over, NULL, 2);
  pthread_barrier_init(&freed, NULL, 2);
  CHECK(pthread_create(&t, NULL, alloc_for_main, &wait) == 0, "pthread_create");
  pthread_barrier_wait(&handed_over);
  return t;
}

static size_t cached_here(hk_heap_t *h) {
  size_t n = 0;
  for (unsigned c = HK_CACHE_FIRST; c < HK_NUM_CLASSES; c++) n += bin_check(h, c);
  return n;
}

static void *exit_with_cache(void *arg) {
  slot_t *slots = arg;
  churn(slots, 64, 20000, 7);
  release(slots, 64);
  CHECK(cached_bytes() > 0, "the exiting thread's cache is empty");
  return NULL;
}

int main(void) {
  hk_heap_t *h;
  { /* LIFO reuse of the class just freed */
    void *p = malloc(5000);
    CHECK(p, "malloc");
    h = hk_heap_tls;
    unsigned cls = hk_size_class(5000);
    free(p);
    CHECK(bin_check(h, cls) == 1, "a free of 5000 B did not stay in the cache");
    CHECK(cached_bytes() >= hk_class_size(cls), "thread_cache_bytes %zu", cached_bytes());
    void *q = malloc(4900); /* same class */
    CHECK(q == p, "malloc did not take the cached block back (%p, %p)", q, p);
    CHECK(bin_check(h, cls) == 0, "bin not empty");
    free(q);
  }
  { /* bounded: freeing many blocks of one class keeps at most the bin's maximum */
    enum { N = 600 };
    void *v[N];
    for (int i = 0; i < N; i++) {
      v[i] = malloc(2000);
      CHECK(v[i], "malloc");
    }
    for (int i = 0; i < N; i++) free(v[i]);
    unsigned cls = hk_size_class(2000);
    unsigned n = bin_check(h, cls);
    CHECK(n <= HK_CACHE_BIN_MAX && n * hk_class_size(cls) <= HK_CACHE_BIN_BYTES,
          "bin holds %u blocks", n);
    CHECK(h->cache_limits <= HK_CACHE_HEAP_MAX, "limits %zu", h->cache_limits);
  }
  { /* a program that frees without allocating (a phase's end) sweeps its
       * bins down to nothing: cached blocks would keep their spans */
    enum { N = 3000 };
    static void *v[N];
    unsigned cls = hk_size_class(3000);
    for (int i = 0; i < N; i++) {
      v[i] = malloc(3000);
      CHECK(v[i], "malloc");
    }
    for (int i = 0; i < N; i++) free(v[i]);
    hk_cache_bin_t *c = &h->cache[cls - HK_CACHE_FIRST];
    CHECK(bin_check(h, cls) <= 4 && c->limit <= 4,
          "after %d frees the bin holds %u blocks, limit %u", N, hk_cache_count(c), c->limit);
  }
  { /* content checks under random replacement; the bins stay consistent */
    static slot_t slots[SLOTS];
    churn(slots, SLOTS, 200000, 42);
    for (unsigned c = HK_CACHE_FIRST; c < HK_NUM_CLASSES; c++) bin_check(h, c);
    release(slots, SLOTS);
  }
  { /* sweeps: what stayed in a bin through two sweeps goes back */
    void *p = malloc(3000);
    free(p);
    CHECK(cached_bytes() > 0, "nothing cached");
    hk_cache_sweep_now(h); /* marks what is there now */
    hk_cache_sweep_now(h); /* ... which stayed: flushed */
    for (unsigned c = HK_CACHE_FIRST; c < HK_NUM_CLASSES; c++)
      CHECK(bin_check(h, c) == 0, "bin %u kept %u blocks through two sweeps", c,
            hk_cache_count(&h->cache[c - HK_CACHE_FIRST]));
  }
  { /* a live thread's blocks, freed here by a thread that does not
       * allocate their classes (a consumer): remote frees, not cached */
    pthread_t t = start_owner();
    hk_cache_sweep_now(h); /* no class missed since */
    size_t before = cached_here(h);
    for (unsigned i = 0; i < SLOTS; i++) {
      verify(handed[i].p, handed[i].n, handed[i].tag);
      free(handed[i].p);
    }
    size_t after = cached_here(h);
    CHECK(after == before, "a consumer cached another thread's blocks (%zu -> %zu)", before, after);
    pthread_barrier_wait(&freed);
    pthread_join(t, NULL);
  }
  { /* ... and by a thread that allocates their class too (a server):
       * cached here, reused by its next malloc, contents intact; the rest
       * go back to the owner, alive or exited, when the bins flush */
    pthread_t t = start_owner();
    hk_cache_flush(h); /* every bin empty ... */
    unsigned cls = hk_size_class(handed[0].n);
    void *mine = malloc(handed[0].n); /* ... so this malloc misses its class */
    CHECK(mine, "malloc");
    CHECK(h->cache[cls - HK_CACHE_FIRST].missed, "the malloc did not miss");
    hk_superslab_t *theirs = hk_ss_of(handed[0].p);
    CHECK(hk_ss_owner(theirs) != h, "the block is this heap's");
    unsigned before = bin_check(h, cls);
    verify(handed[0].p, handed[0].n, handed[0].tag);
    free(handed[0].p);
    CHECK(bin_check(h, cls) == before + 1,
          "another heap's block of a class this thread allocates was not cached");
    void *again = malloc(handed[0].n);
    CHECK(again == handed[0].p, "malloc did not reuse the cached block (%p, %p)", again,
          handed[0].p);
    fill(again, handed[0].n, 77);
    for (unsigned i = 1; i < SLOTS; i++) {
      verify(handed[i].p, handed[i].n, handed[i].tag);
      free(handed[i].p);
    }
    pthread_barrier_wait(&freed);
    pthread_join(t, NULL); /* the owner exits: its SuperSlabs wait for our frees */
    verify(again, handed[0].n, 77);
    free(again);
    free(mine);
    malloc_trim(0); /* flushes: other heaps' blocks go home */
    struct hak_stats st;
    hak_stats_get(&st, sizeof st);
    CHECK(st.abandoned_superslabs == 0, "%llu SuperSlabs still abandoned after the flush",
          (unsigned long long)st.abandoned_superslabs);
    CHECK(cached_bytes() == 0, "malloc_trim kept %zu bytes cached", cached_bytes());
  }
  { /* an exited thread's blocks: the first free adopts their SuperSlab,
       * the blocks are this thread's from then on */
    pthread_t t;
    CHECK(pthread_create(&t, NULL, alloc_for_main, NULL) == 0, "pthread_create");
    pthread_join(t, NULL);
    struct hak_stats st;
    hak_stats_get(&st, sizeof st);
    CHECK(st.abandoned_superslabs > 0, "the exited thread left nothing");
    for (unsigned i = 0; i < SLOTS; i++) {
      verify(handed[i].p, handed[i].n, handed[i].tag);
      free(handed[i].p);
      CHECK(hk_ss_owner(hk_ss_of(handed[i].p)) == h, "block %u: its SuperSlab not adopted", i);
    }
    hak_stats_get(&st, sizeof st);
    CHECK(st.abandoned_superslabs == 0, "%llu SuperSlabs still abandoned",
          (unsigned long long)st.abandoned_superslabs);
    CHECK(cached_here(h) > 0, "the adopted blocks did not reach the cache");
  }
  { /* thread exit with blocks in the cache: flushed, and its memory reused */
    static slot_t slots[64];
    for (int round = 0; round < 20; round++) {
      pthread_t t;
      CHECK(pthread_create(&t, NULL, exit_with_cache, slots) == 0, "pthread_create");
      pthread_join(t, NULL);
    }
    size_t mine = 0;
    for (unsigned c = HK_CACHE_FIRST; c < HK_NUM_CLASSES; c++)
      mine += bin_check(h, c) * hk_class_size(c);
    CHECK(cached_bytes() == mine, "exited threads left %zu bytes cached", cached_bytes() - mine);
  }
  { /* fork with a non-empty cache: both sides reuse their copy */
    static slot_t slots[128];
    churn(slots, 128, 5000, 3);
    release(slots, 64); /* half of them: the cache is not empty */
    CHECK(cached_bytes() > 0, "nothing cached before fork");
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
      churn(slots + 64, 64, 20000, 5);
      release(slots + 64, 64);
      _exit(0);
    }
    churn(slots + 64, 64, 20000, 6);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "the child failed (status %#x)", status);
    release(slots + 64, 64);
  }
  { /* malloc_trim gives the caller's cache back */
    void *p = malloc(9000);
    free(p);
    CHECK(cached_bytes() > 0, "nothing cached");
    malloc_trim(0);
    CHECK(cached_bytes() == 0, "malloc_trim kept %zu bytes cached", cached_bytes());
  }
  printf("thread cache: LIFO reuse, bounds, sweeps, remote frees, thread exit, fork, trim ok\n");
  return 0;
}
