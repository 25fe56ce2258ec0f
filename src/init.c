/* hakmem init: process and thread set-up, thread exit, fork handlers.
 *
 * A thread starts on hk_heap_empty, whose direct[] slots all point at an
 * empty slab: its first malloc misses and lands in the slow path, which sets
 * up the heap.  So the fast path never asks "initialised?".  Nothing here
 * allocates through libc. */
#include "internal.h"
#include "cache.h"

#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

hk_slab_t hk_slab_empty;
hk_heap_t hk_heap_empty = { .direct = { [0 ... HK_DIRECT_SLOTS - 1] = &hk_slab_empty } };
__thread hk_heap_t *hk_heap_tls __attribute__((tls_model("initial-exec"))) = &hk_heap_empty;

static _Atomic int process_state; /* 0 none, 1 in progress, 2 ready */
static __thread int in_process_init __attribute__((tls_model("initial-exec")));
static pthread_key_t heap_key;
static _Atomic bool heap_key_ready;

static void write_stderr(const char *s) {
  size_t n = strlen(s);
  while (n) {
    ssize_t w = write(2, s, n);
    if (w <= 0) return;
    s += w;
    n -= (size_t)w;
  }
}

void hk_fatal(const char *msg, const void *ptr) {
  char buf[160];
  static const char hex[] = "0123456789abcdef";
  char num[19] = "0x";
  uintptr_t v = (uintptr_t)ptr;
  for (int i = 0; i < 16; i++) num[2 + i] = hex[(v >> (60 - 4 * i)) & 15];
  num[18] = 0;
  buf[0] = 0;
  strncat(buf, "hakmem: ", sizeof buf - 1);
  strncat(buf, msg, sizeof buf - strlen(buf) - 1);
  strncat(buf, " (pointer ", sizeof buf - strlen(buf) - 1);
  strncat(buf, num, sizeof buf - strlen(buf) - 1);
  strncat(buf, ")\n", sizeof buf - strlen(buf) - 1);
  write_stderr(buf);
  abort();
}

void hk_assert_fail(const char *expr, const char *file, int line) {
  char num[12];
  int i = (int)sizeof num - 1;
  num[i] = 0;
  do {
    num[--i] = (char)('0' + line % 10);
    line /= 10;
  } while (line && i > 0);
  write_stderr("hakmem: internal assertion failed: ");
  write_stderr(expr);
  write_stderr(" at ");
  write_stderr(file);
  write_stderr(":");
  write_stderr(&num[i]);
  write_stderr("\n");
  abort();
}

/* ---- thread exit --------------------------------------------------------- */

static void release_heap(hk_heap_t *h) {
  hk_cache_flush(h);
  hk_heap_tls = &hk_heap_empty; /* later frees of this thread go the remote way */
  hk_cache_retire(h);
  hk_heap_abandon(h);
  hk_pages_orphan(h);
  hk_heap_release(h);
  hk_ace_thread_left();
}

static void thread_exit(void *arg) {
  hk_heap_t *h = (hk_heap_t *)arg;
  if (h == NULL || h == &hk_heap_empty) return;
  release_heap(h);
  hk_ace_poke();
}

/* The adaptive thread ends: its heap, if it took one, goes back now (its
 * key is cleared: nothing left for thread exit). */
void hk_thread_forget(void) {
  hk_heap_t *h = hk_heap_tls;
  if (h == &hk_heap_empty) return;
  if (atomic_load_explicit(&heap_key_ready, memory_order_acquire))
    pthread_setspecific(heap_key, NULL);
  release_heap(h);
}

/* ---- fork -------------------------------------------------------------- */

static void fork_prepare(void) {
  hk_config_fork_prepare(); /* the program's option and limit changes first */
  hk_budget_fork_prepare();
  hk_stats_fork_prepare();
  hk_ace_fork_prepare();
  hk_heap_fork_prepare();
  hk_pages_fork_prepare();
  hk_arena_fork_prepare();
}
static void fork_parent(void) {
  hk_arena_fork_parent();
  hk_pages_fork_parent();
  hk_heap_fork_parent();
  hk_ace_fork_parent();
  hk_stats_fork_parent();
  hk_budget_fork_parent();
  hk_config_fork_parent();
}
/* The child's one thread is the one that locked everything: it unlocks, as
 * the parent does (a lock initialised again while held is what
 * ThreadSanitizer cannot follow), then resets what the parent's other
 * threads left behind. */
static void fork_child(void) {
  fork_parent();
  hk_ace_fork_child();
}

/* ---- process and thread init ---------------------------------------------- */

static void process_init(void) {
  if (atomic_load_explicit(&process_state, memory_order_acquire) == 2 || in_process_init) return;
  int expected = 0;
  if (atomic_compare_exchange_strong(&process_state, &expected, 1)) {
    in_process_init = 1; /* libc may call malloc from what follows */
    hk_config_init();
    hk_budget_init();
    hk_cache_init();
    hk_ace_init();
    if (pthread_key_create(&heap_key, thread_exit) == 0)
      atomic_store_explicit(&heap_key_ready, true, memory_order_release);
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    in_process_init = 0;
    atomic_store_explicit(&process_state, 2, memory_order_release);
    return;
  }
  while (atomic_load_explicit(&process_state, memory_order_acquire) != 2) sched_yield();
}

hk_heap_t *hk_thread_init(void) {
  process_init();
  hk_heap_t *h = hk_heap_tls; /* set up re-entrantly from process_init? */
  if (h == &hk_heap_empty) {
    h = hk_heap_acquire();
    if (!h) return NULL;
    hk_heap_tls = h;
    hk_ace_thread_joined();
  }
  if (atomic_load_explicit(&heap_key_ready, memory_order_acquire)) pthread_setspecific(heap_key, h);
  return h;
}

__attribute__((constructor)) static void hk_constructor(void) {
  if (hk_heap_tls == &hk_heap_empty) hk_thread_init();
}

/* HAKMEM_THP=auto: once the heap (spans of slabs, page runs and mappings
 * in use) holds HK_THP_AUTO_FROM, what is mapped gets huge pages too (later
 * mappings get them when made). */
void hk_thp_check(void) {
  size_t direct, count;
  hk_direct_stats(&direct, &count);
  if (hk_os_thp_crossed(hk_ss_span_bytes() + hk_pages_live_bytes() + direct)) {
    hk_arena_advise_thp();
    hk_pages_advise_thp();
  }
}

/* malloc_trim: take every remote free and abandoned SuperSlab, then give
 * back all free pages. */
size_t hk_trim(void) {
  hk_heap_t *h = hk_heap_tls;
  if (h != &hk_heap_empty) {
    hk_cache_flush(h);
    hk_heap_collect(h, true);
    hk_heap_reclaim_all(h);
  }
  size_t n = hk_pages_trim();
  if (h != &hk_heap_empty) n += hk_heap_purge_all(h);
  return n + hk_arena_trim(false);
}
