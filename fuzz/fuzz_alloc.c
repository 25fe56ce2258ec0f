/* hakmem libFuzzer target: sequences of allocation calls of fuzzed sizes
 * through hakmem's own API, every block checked against a shadow.
 *
 * The input is a byte program.  Each op is one opcode byte, one slot byte
 * (an index into a table of NSLOTS live blocks) and a few argument bytes;
 * a truncated last op is dropped.  Every block holds a pattern derived from
 * a per-slot seed (slot, generation) over its requested size; the shadow is
 * the seed and the size, so the expected contents are recomputed.  Blocks
 * beyond FULL_MAX bytes get the pattern only on a few pages (first, last,
 * three in the middle) to stay fast.  Contents are verified before every
 * free and realloc and in a final sweep that frees everything; after a
 * realloc the preserved prefix min(old, new) is verified.  calloc must give
 * zeroed memory, usable_size >= the request, alignment must be honoured,
 * live blocks must not overlap.  A mismatch prints one line and traps.
 *
 * Ops reach a second thread synchronously (a worker created once, handed
 * one task at a time under a mutex and condvar) for remote frees, remote
 * reallocs and blocks owned by another heap, and a short-lived thread
 * (created and joined) that allocates a block and exits, leaving its heap's
 * memory behind.  Build: make build/fuzz/fuzz_alloc (fuzz/fuzz.mk). */
#define _GNU_SOURCE
#include "hakmem.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSLOTS 64
#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define FULL_MAX (MiB + 64 * KiB)   /* blocks up to this size are checked whole */
#define PAGE ((size_t)4096)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
  uint8_t *p;
  size_t size;       /* bytes the pattern covers (the request, or usable size) */
  uint64_t seed;
} slot_t;

static slot_t slots[NSLOTS];
static uint64_t generation;     /* reset per input */
static size_t op_index;

/* ---- failure reporting -------------------------------------------------- */

__attribute__((noreturn, format(printf, 1, 2)))
static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "fuzz_alloc: op %zu: ", op_index);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  fflush(stderr);
  __builtin_trap();
}

/* ---- pattern ------------------------------------------------------------- */

/* The loops over block contents: no coverage instrumentation (its compare
 * hooks would cost more than the allocator), and nothing to learn there. */
#define NOCOV __attribute__((no_sanitize("coverage"), noinline))

/* Word i of the pattern: distinct for every word of a block and every seed. */
static inline uint64_t pat_word(uint64_t seed, size_t i) {
  return seed + (uint64_t)i * 0x9E3779B97F4A7C15ull;
}

static inline uint8_t pat_byte(uint64_t seed, size_t off) {
  return (uint8_t)(pat_word(seed, off >> 3) >> ((off & 7) * 8));
}

/* Ranges of a block of n bytes that carry the pattern. */
static int pat_ranges(size_t n, size_t lo[5], size_t hi[5]) {
  if (n <= FULL_MAX) { lo[0] = 0; hi[0] = n; return 1; }
  lo[0] = 0;                       hi[0] = PAGE;
  lo[1] = (n / 4) & ~(PAGE - 1);   hi[1] = lo[1] + PAGE;
  lo[2] = (n / 2) & ~(PAGE - 1);   hi[2] = lo[2] + PAGE;
  lo[3] = (3 * n / 4) & ~(PAGE - 1); hi[3] = lo[3] + PAGE;
  lo[4] = n - PAGE;                hi[4] = n;
  return 5;
}

NOCOV static void fill_range(uint8_t *p, uint64_t seed, size_t a, size_t b) {
  size_t o = a;
  for (; o < b && (o & 7); o++) p[o] = pat_byte(seed, o);
  for (; o + 8 <= b; o += 8) {
    uint64_t w = pat_word(seed, o >> 3);
    memcpy(p + o, &w, 8);
  }
  for (; o < b; o++) p[o] = pat_byte(seed, o);
}

/* First offset in [a, b) where p differs from the pattern, or b. */
NOCOV static size_t check_range(const uint8_t *p, uint64_t seed, size_t a, size_t b) {
  size_t o = a;
  for (; o < b && (o & 7); o++)
    if (p[o] != pat_byte(seed, o)) return o;
  for (; o + 8 <= b; o += 8) {
    uint64_t w;
    memcpy(&w, p + o, 8);
    if (w != pat_word(seed, o >> 3)) break;
  }
  for (; o < b; o++)
    if (p[o] != pat_byte(seed, o)) return o;
  return b;
}

static void fill(uint8_t *p, uint64_t seed, size_t n) {
  size_t lo[5], hi[5];
  int k = pat_ranges(n, lo, hi);
  for (int i = 0; i < k; i++) fill_range(p, seed, lo[i], hi[i]);
}

/* Verify the first `upto` bytes of a block whose pattern covers n bytes. */
static void verify(const uint8_t *p, uint64_t seed, size_t n, size_t upto, int slot,
                   const char *when) {
  size_t lo[5], hi[5];
  int k = pat_ranges(n, lo, hi);
  for (int i = 0; i < k; i++) {
    size_t a = lo[i], b = hi[i] < upto ? hi[i] : upto;
    if (a >= b) continue;
    size_t bad = check_range(p, seed, a, b);
    if (bad != b)
      fail("%s: slot %d block %p size %zu: byte %zu is 0x%02x, expected 0x%02x", when, slot,
           (const void *)p, n, bad, p[bad], pat_byte(seed, bad));
  }
}

static void verify_slot(int i, const char *when) {
  if (slots[i].p) verify(slots[i].p, slots[i].seed, slots[i].size, slots[i].size, i, when);
}

/* First nonzero offset in [a, b) of p, or b. */
NOCOV static size_t zero_range(const uint8_t *p, size_t a, size_t b) {
  size_t o = a;
  for (; o < b && (o & 7); o++)
    if (p[o]) return o;
  for (; o + 8 <= b; o += 8) {
    uint64_t w;
    memcpy(&w, p + o, 8);
    if (w) break;
  }
  for (; o < b; o++)
    if (p[o]) return o;
  return b;
}

/* calloc's block of n bytes: whole up to FULL_MAX; beyond, the pattern's
 * pages and the first 256 bytes of every 64 KiB (reading every page would
 * dominate the run time). */
static void check_zero(const uint8_t *p, size_t n) {
  size_t lo[5 + 8 * MiB / (64 * KiB)], hi[5 + 8 * MiB / (64 * KiB)];
  int k = pat_ranges(n, lo, hi);
  if (n > FULL_MAX)
    for (size_t o = 0; o + 256 <= n && k < (int)(sizeof lo / sizeof lo[0]); o += 64 * KiB) {
      lo[k] = o;
      hi[k++] = o + 256;
    }
  for (int i = 0; i < k; i++) {
    size_t bad = zero_range(p, lo[i], hi[i]);
    if (bad != hi[i])
      fail("calloc: block %p size %zu: byte %zu is 0x%02x, expected 0", (const void *)p, n, bad,
           p[bad]);
  }
}

/* ---- shadow bookkeeping ------------------------------------------------- */

static uint64_t new_seed(int slot) {
  return ((uint64_t)(unsigned)slot << 56) ^ (++generation * 0xD6E8FEB86659FD93ull);
}

/* malloc's alignment for n bytes: 16 from 16 bytes up, else 8 from 8 up. */
static size_t natural_align(size_t n) { return n >= 16 ? 16 : n >= 8 ? 8 : 1; }

/* Checks of a fresh block of n bytes: usable size, alignment, no overlap. */
static void check_new(int slot, const uint8_t *p, size_t n, size_t align, const char *what) {
  if (!p) fail("%s(%zu) returned NULL (errno %d)", what, n, errno);
  size_t u = hak_usable_size(p);
  if (u < n) fail("%s(%zu) = %p: usable size %zu < request", what, n, (const void *)p, u);
  if (((uintptr_t)p & (align - 1)) != 0)
    fail("%s(%zu) = %p: not aligned to %zu", what, n, (const void *)p, align);
  size_t len = n ? n : 1;
  for (int j = 0; j < NSLOTS; j++) {
    if (j == slot || !slots[j].p) continue;
    const uint8_t *q = slots[j].p;
    size_t qlen = slots[j].size ? slots[j].size : 1;
    if (p < q + qlen && q < p + len)
      fail("%s(%zu) = %p overlaps slot %d (%p, %zu bytes)", what, n, (const void *)p, j,
           (const void *)q, slots[j].size);
  }
}

static void set_slot(int i, uint8_t *p, size_t n) {
  slots[i].p = p;
  slots[i].size = n;
  slots[i].seed = new_seed(i);
  fill(p, slots[i].seed, n);
}

/* ---- the input reader ---------------------------------------------------- */

typedef struct {
  const uint8_t *d;
  size_t n, pos;
} reader_t;

static uint8_t rd8(reader_t *r) { return r->pos < r->n ? r->d[r->pos++] : 0; }
static uint32_t rd24(reader_t *r) {
  uint32_t v = rd8(r);
  v |= (uint32_t)rd8(r) << 8;
  v |= (uint32_t)rd8(r) << 16;
  return v;
}

/* A size from 4 bytes: the first picks the range (and at times a size near
 * a power of two), 3 more give the value.
 *   range (b & 15): 0-7 tiny 0..1 KiB, 8-11 small ..32 KiB, 12-14 large
 *   ..1 MiB, 15 huge 1..8 MiB; b >> 6 == 3: 2^k + {-8,-1,0,1,8,16} in range. */
static size_t rd_size(reader_t *r) {
  uint8_t b = rd8(r);
  uint32_t v = rd24(r);
  size_t lo, hi;
  unsigned r4 = b & 15;
  if (r4 < 8) { lo = 0; hi = KiB; }
  else if (r4 < 12) { lo = KiB + 1; hi = 32 * KiB; }
  else if (r4 < 15) { lo = 32 * KiB + 1; hi = MiB; }
  else { lo = MiB + 1; hi = 8 * MiB; }
  if ((b >> 6) == 3) {
    static const int delta[6] = { -8, -1, 0, 1, 8, 16 };
    unsigned klo = 0, khi = 0;
    while (((size_t)1 << (klo + 1)) <= lo) klo++;
    while (((size_t)1 << (khi + 1)) <= hi) khi++;
    unsigned k = klo + (v & 0xff) % (khi - klo + 1);
    long long s = (long long)((size_t)1 << k) + delta[(v >> 8) % 6];
    if (s < (long long)lo) s = (long long)lo;
    if (s > (long long)hi) s = (long long)hi;
    return (size_t)s;
  }
  return lo + v % (hi - lo + 1);
}

/* ---- other threads ------------------------------------------------------- */

enum { T_NONE, T_FREE, T_FREE_SIZED, T_MALLOC, T_REALLOC };

typedef struct {
  int cmd;
  void *p;
  size_t n;
  void *result;
} task_t;

static void run_task(task_t *t) {
  switch (t->cmd) {
  case T_FREE: hak_free(t->p); break;
  case T_FREE_SIZED: hak_free_sized(t->p, t->n); break;
  case T_MALLOC: t->result = hak_malloc(t->n); break;
  case T_REALLOC: t->result = hak_realloc(t->p, t->n); break;
  default: break;
  }
}

static pthread_mutex_t w_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t w_cond = PTHREAD_COND_INITIALIZER;
static task_t *w_task;          /* non-NULL: a task for the worker */
static bool w_started;

static void *worker_main(void *arg) {
  (void)arg;
  pthread_mutex_lock(&w_lock);
  for (;;) {
    while (!w_task) pthread_cond_wait(&w_cond, &w_lock);
    run_task(w_task);
    w_task = NULL;
    pthread_cond_broadcast(&w_cond);
  }
  return NULL;
}

/* Runs t on the persistent worker thread and waits for it. */
static void on_worker(task_t *t) {
  if (!w_started) {
    pthread_t th;
    if (pthread_create(&th, NULL, worker_main, NULL) != 0) fail("pthread_create failed");
    pthread_detach(th);
    w_started = true;
  }
  pthread_mutex_lock(&w_lock);
  w_task = t;
  pthread_cond_broadcast(&w_cond);
  while (w_task) pthread_cond_wait(&w_cond, &w_lock);
  pthread_mutex_unlock(&w_lock);
}

static void *oneshot_main(void *arg) {
  run_task(arg);
  return NULL;
}

/* Runs t on a new thread that exits at once (its heap is left behind). */
static void on_new_thread(task_t *t) {
  pthread_t th;
  if (pthread_create(&th, NULL, oneshot_main, t) != 0) fail("pthread_create failed");
  pthread_join(th, NULL);
}

/* ---- ops ------------------------------------------------------------------ */

static void release(int i, const char *when) {
  verify_slot(i, when);
  hak_free(slots[i].p);
  slots[i].p = NULL;
}

/* A size for hak_free_sized: anything from the request up to usable size. */
static size_t sized_arg(int i, uint8_t b) {
  size_t u = hak_usable_size(slots[i].p);
  if (u < slots[i].size) fail("slot %d: usable size %zu < %zu", i, u, slots[i].size);
  return slots[i].size + (size_t)((u - slots[i].size) * (uint64_t)b / 255);
}

static void op_malloc(int i, reader_t *r) {
  size_t n = rd_size(r);
  if (slots[i].p) release(i, "before malloc");
  uint8_t *p = hak_malloc(n);
  check_new(i, p, n, natural_align(n), "malloc");
  set_slot(i, p, n);
}

static void op_calloc(int i, reader_t *r) {
  uint8_t c = rd8(r);
  size_t n = rd_size(r);
  size_t count = c % 17;                 /* 0..16 */
  size_t elem = count ? n / count : n;
  if (c & 0x80) { size_t t = count; count = elem; elem = t; }
  if (slots[i].p) release(i, "before calloc");
  uint8_t *p = hak_calloc(count, elem);
  size_t total = count * elem;
  check_new(i, p, total, natural_align(total), "calloc");
  check_zero(p, total);
  set_slot(i, p, total);
}

static void op_realloc(int i, reader_t *r) {
  uint8_t how = rd8(r);
  size_t n = rd_size(r);
  if ((how & 7) == 0) n = 0;
  else if ((how & 7) == 1 && slots[i].p)                       /* grow a bit */
    n = slots[i].size + (how >> 3);
  else if ((how & 7) == 2 && slots[i].p)                       /* shrink */
    n = slots[i].size - slots[i].size / (1 + (how >> 3));
  uint8_t *old = slots[i].p;
  if (!old) {
    uint8_t *p = hak_realloc(NULL, n);
    check_new(i, p, n, natural_align(n), "realloc(NULL)");
    set_slot(i, p, n);
    return;
  }
  verify_slot(i, "before realloc");
  if (n == 0) {
    void *q = hak_realloc(old, 0);       /* frees and returns NULL, as glibc */
    if (q) fail("realloc(%p, 0) returned %p, expected NULL", (void *)old, q);
    slots[i].p = NULL;
    return;
  }
  task_t t = { T_REALLOC, old, n, NULL };
  if ((how & 0x30) == 0x30) on_worker(&t);   /* realloc from a thread not the owner */
  else run_task(&t);
  uint8_t *p = t.result;
  slots[i].p = NULL;                         /* old block gone (or moved) */
  check_new(i, p, n, natural_align(n), "realloc");
  size_t keep = n < slots[i].size ? n : slots[i].size;
  verify(p, slots[i].seed, slots[i].size, keep, i, "after realloc");
  set_slot(i, p, n);
}

static void op_aligned(int i, reader_t *r) {
  uint8_t kb = rd8(r);
  size_t n = rd_size(r);
  unsigned k = kb % 32;                   /* 0..21, favouring 3..12 */
  if (k >= 22) k = 3 + (k - 22);
  size_t align = (size_t)1 << k;
  if (slots[i].p) release(i, "before aligned_alloc");
  uint8_t *p = hak_aligned_alloc(align, n);
  check_new(i, p, n, align > natural_align(n) ? align : natural_align(n), "aligned_alloc");
  set_slot(i, p, n);
}

static void op_free(int i, reader_t *r) {
  uint8_t b = rd8(r);
  if (!slots[i].p) return;
  verify_slot(i, "before free");
  if (b & 1) hak_free_sized(slots[i].p, sized_arg(i, b));
  else hak_free(slots[i].p);
  slots[i].p = NULL;
}

static void op_usable(int i, reader_t *r) {
  uint8_t b = rd8(r);
  if (!slots[i].p) {
    if (hak_usable_size(NULL) != 0) fail("usable_size(NULL) != 0");
    return;
  }
  size_t u = hak_usable_size(slots[i].p);
  if (u < slots[i].size) fail("slot %d: usable size %zu < %zu", i, u, slots[i].size);
  if (b & 1) {                             /* claim the slack: the whole usable size */
    verify_slot(i, "before claiming usable size");
    set_slot(i, slots[i].p, u);
  }
}

static void op_write(int i, reader_t *r) {
  (void)rd8(r);
  if (!slots[i].p) return;
  verify_slot(i, "before rewrite");
  set_slot(i, slots[i].p, slots[i].size);
}

/* Free on the worker thread (a remote free). */
static void op_remote_free(int i, reader_t *r) {
  uint8_t b = rd8(r);
  if (!slots[i].p) return;
  verify_slot(i, "before remote free");
  task_t t = { (b & 1) ? T_FREE_SIZED : T_FREE, slots[i].p, 0, NULL };
  if (b & 1) t.n = sized_arg(i, b);
  slots[i].p = NULL;
  on_worker(&t);
}

/* A block allocated by another thread: the worker, or a thread that exits. */
static void op_foreign_malloc(int i, reader_t *r) {
  uint8_t b = rd8(r);
  size_t n = rd_size(r);
  if (slots[i].p) release(i, "before foreign malloc");
  task_t t = { T_MALLOC, NULL, n, NULL };
  if (b & 1) on_new_thread(&t);
  else on_worker(&t);
  check_new(i, t.result, n, natural_align(n),
            (b & 1) ? "malloc on an exiting thread" : "malloc on the worker");
  set_slot(i, t.result, n);
}

/* Requests that must fail, and calls on NULL. */
static void op_absurd(int i, reader_t *r) {
  uint8_t b = rd8(r);
  void *q;
  switch (b % 6) {
  case 0:
    q = hak_malloc(SIZE_MAX - (b >> 3));
    if (q) fail("malloc(SIZE_MAX - %d) returned %p", b >> 3, q);
    break;
  case 1:
    q = hak_calloc(SIZE_MAX / 2 + 1 + (b >> 3), 2);
    if (q) fail("calloc overflow returned %p", q);
    break;
  case 2:
    q = hak_aligned_alloc(3 + 2 * (size_t)(b >> 3), 64);   /* odd: not a power of two */
    if (q) fail("aligned_alloc(non power of two) returned %p", q);
    break;
  case 3:
    q = hak_aligned_alloc(64, SIZE_MAX - (b >> 3));
    if (q) fail("aligned_alloc(64, SIZE_MAX) returned %p", q);
    break;
  case 4:
    if (slots[i].p) {
      q = hak_realloc(slots[i].p, SIZE_MAX - (b >> 3));
      if (q) fail("realloc(p, SIZE_MAX) returned %p", q);
      verify_slot(i, "after a failed realloc");
    }
    break;
  default:
    hak_free(NULL);
    hak_free_sized(NULL, 0);
    if (hak_usable_size(NULL) != 0) fail("usable_size(NULL) != 0");
    break;
  }
}

typedef void (*op_fn)(int, reader_t *);
static const op_fn ops[] = {
  op_malloc, op_malloc, op_calloc, op_realloc, op_realloc, op_aligned, op_free, op_free,
  op_usable, op_write, op_remote_free, op_foreign_malloc, op_absurd,
};
#define NOPS (sizeof ops / sizeof ops[0])

#ifdef FUZZ_TRACE   /* -DFUZZ_TRACE: one line per op on stderr */
static const char *const op_names[NOPS] = {
  "malloc", "malloc", "calloc", "realloc", "realloc", "aligned_alloc", "free", "free",
  "usable", "write", "remote_free", "foreign_malloc", "absurd",
};
static void trace(uint8_t op, int slot, size_t pos, size_t end) {
  fprintf(stderr, "op %zu: %s slot %d args [%zu,%zu)%s%p size %zu\n", op_index,
          op_names[op % NOPS], slot, pos, end, slots[slot].p ? " -> " : " -> empty ",
          (void *)slots[slot].p, slots[slot].size);
}
#else
#define trace(op, slot, pos, end) ((void)(op), (void)(slot), (void)(pos), (void)(end))
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  reader_t r = { data, size, 0 };
  generation = 0;
  op_index = 0;
  while (r.pos + 2 <= r.n) {
    uint8_t op = rd8(&r);
    int slot = rd8(&r) % NSLOTS;
    size_t pos = r.pos;
    ops[op % NOPS](slot, &r);
    trace(op, slot, pos, r.pos);
    op_index++;
  }
  for (int i = 0; i < NSLOTS; i++)
    if (slots[i].p) release(i, "final sweep");
  return 0;
}
