/* hakmem stats: the snapshot behind hak_stats_get, mallinfo2 and
 * malloc_stats, and its printing (table, JSON, at exit with HAKMEM_STATS).
 *
 * Counters come from every heap's hk_tel_t (telemetry.h), read racily:
 * exact when the process is quiescent; the caller's own heap is settled
 * first.  Memory figures come from walking the SuperSlabs in use.  Nothing
 * here allocates: output goes through a buffer on the stack. */
#include "internal.h"
#include "cache.h"
#include "hakmem.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

hk_tel_t hk_tel_shared;

/* One lock for the snapshot's scratch space and the output buffer (static:
 * together ~14 KiB, too much for a caller's stack). */
static hk_lock_t stats_lock = HK_LOCK_INIT;
static hk_tel_t sum;
static struct hak_stats snap;

void hk_stats_fork_prepare(void) { hk_lock(&stats_lock); }
void hk_stats_fork_parent(void) { hk_unlock(&stats_lock); }

/* The public enums and sizes that internal values are copied into as they
 * are: hak_stats.stage[] from the telemetry's stages, classes[] from its
 * rows, ace_state from hk_ace_state. */
_Static_assert(HK_TEL_STAGES == HAK_STAGE_COUNT, "a telemetry stage per enum hak_stage");
_Static_assert(HK_TEL_ROWS <= HAK_STATS_CLASSES, "hak_stats.classes holds every telemetry row");
_Static_assert((int)HK_ACE_OFF == (int)HAK_ACE_OFF &&
                   (int)HK_ACE_IDLE == (int)HAK_ACE_NOT_STARTED &&
                   (int)HK_ACE_RUNNING == (int)HAK_ACE_RUNNING &&
                   (int)HK_ACE_FAILED == (int)HAK_ACE_FAILED &&
                   (int)HK_ACE_STOPPED == (int)HAK_ACE_STOPPED,
               "hk_ace_state is enum hak_ace_state");

static const char *const stage_names[HAK_STAGE_COUNT] = {
  "local", "remote", "partial", "reuse", "new_slab", "new_superslab", "os", "bigcache",
};

/* ---- recording (slow paths) ---------------------------------------------- */

/* Sizes a row holds: (lo, hi]. */
static void row_bounds(unsigned row, size_t *lo, size_t *hi) {
  if (row < HK_NUM_CLASSES) {
    *lo = row ? hk_class_size(row - 1) : 0;
    *hi = hk_class_size(row);
  } else if (row < HK_TEL_ROW_HUGE) {
    *hi = (size_t)1 << (16 + row - HK_TEL_ROW_LARGE);
    *lo = *hi / 2;
  } else {
    *lo = HK_LARGE_MAX;
    *hi = HK_MAX_REQUEST;
  }
}

/* Size sketch: 8 equal bins across a row; huge blocks by powers of two. */
static unsigned size_bin(unsigned row, size_t n) {
  size_t lo, hi;
  row_bounds(row, &lo, &hi);
  if (n <= lo) return 0;
  if (row == HK_TEL_ROW_HUGE) {
    unsigned b = 63u - (unsigned)__builtin_clzl(n - 1) - 20u;
    return b < HK_TEL_BINS ? b : HK_TEL_BINS - 1;
  }
  size_t b = (n - lo - 1) * HK_TEL_BINS / (hi - lo);
  return b < HK_TEL_BINS ? (unsigned)b : HK_TEL_BINS - 1;
}

static size_t bin_upper(unsigned row, unsigned b) {
  size_t lo, hi;
  row_bounds(row, &lo, &hi);
  if (row == HK_TEL_ROW_HUGE) return HK_LARGE_MAX << (b + 1);
  return lo + (hi - lo) * (b + 1) / HK_TEL_BINS;
}

uint64_t hk_tel_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* t: the calling thread's heap counters, or NULL for the shared ones. */
void hk_tel_sample(hk_tel_t *t, unsigned row, size_t n) {
  unsigned b = size_bin(row, n);
  if (t) HK_TEL_ADD(t->sizes[row][b], 1);
  else __atomic_fetch_add(&hk_tel_shared.sizes[row][b], 1, __ATOMIC_RELAXED);
  (void)b;
}

void hk_tel_latency(hk_tel_t *t, uint64_t ns) {
  unsigned b = 63u - (unsigned)__builtin_clzll(ns | 1);
  HK_TEL_ADD(t->lat[b < HK_TEL_LAT_BINS ? b : HK_TEL_LAT_BINS - 1], 1);
  if (ns > t->lat_max) HK_TEL_ADD(t->lat_max, ns - t->lat_max);
  (void)b;
}

/* A block resized in place into another row: counted as freed and allocated. */
void hk_tel_row_moved(size_t old_usable, size_t new_usable) {
  unsigned from = hk_tel_row(old_usable), to = hk_tel_row(new_usable);
  if (from == to) return;
  HK_TEL_HERE(local_frees[from], 1);
  HK_TEL_HERE(allocs[to], 1);
  (void)from;
  (void)to;
}

/* ---- the snapshot ---------------------------------------------------------- */

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

static void add_tel(hk_tel_t *acc, const hk_tel_t *t) {
  for (unsigned r = 0; r < HK_TEL_ROWS; r++) {
    acc->allocs[r] += LOAD(t->allocs[r]);
    acc->carved[r] += LOAD(t->carved[r]);
    acc->dropped[r] += LOAD(t->dropped[r]);
    acc->moved_local[r] += LOAD(t->moved_local[r]);
    acc->collected[r] += LOAD(t->collected[r]);
    acc->local_frees[r] += LOAD(t->local_frees[r]);
    acc->remote_frees[r] += LOAD(t->remote_frees[r]);
    acc->refills[r] += LOAD(t->refills[r]);
    acc->cache_pushed[r] += LOAD(t->cache_pushed[r]);
    acc->cache_popped[r] += LOAD(t->cache_popped[r]);
    acc->cache_flushed[r] += LOAD(t->cache_flushed[r]);
    for (unsigned b = 0; b < HK_TEL_BINS; b++) acc->sizes[r][b] += LOAD(t->sizes[r][b]);
  }
  for (unsigned i = 0; i < HK_TEL_STAGES; i++) acc->stage[i] += LOAD(t->stage[i]);
  for (unsigned i = 0; i < HK_TEL_LAT_BINS; i++) acc->lat[i] += LOAD(t->lat[i]);
  uint64_t mx = LOAD(t->lat_max);
  if (mx > acc->lat_max) acc->lat_max = mx;
}

static size_t cached_bytes, cached_blocks; /* thread caches (under stats_lock) */

static void add_heap(hk_heap_t *h, void *arg) {
  add_tel(arg, &h->tel);
  cached_bytes += hk_cache_held(h, &cached_blocks, arg);
}

typedef struct mem_s {
  size_t superslabs, in_use, blocks, committed;
} mem_t;

static void add_ss(hk_superslab_t *ss, void *arg) {
  mem_t *m = arg;
  m->superslabs++;
  uint32_t dirty = __atomic_load_n(&ss->dirty_mask, __ATOMIC_RELAXED);
  m->committed += HK_SS_HEADER_SIZE + (size_t)__builtin_popcount(dirty) * HK_SLAB_SIZE -
      ((dirty & 1) ? HK_SS_HEADER_SIZE : 0);
  for (unsigned i = 0; i < HK_SLABS_PER_SS; i++) {
    hk_slab_t *s = &ss->slabs[i];
    unsigned flags = hk_slab_flags(s);
    if (flags & (HK_SLAB_FREE | HK_SLAB_TAIL)) continue;
    size_t used = __atomic_load_n(&s->used, __ATOMIC_RELAXED);
    size_t bs = __atomic_load_n(&s->block_size, __ATOMIC_RELAXED);
    m->in_use += used * bs;
    m->blocks += used;
  }
}

/* A percentile from a histogram: the index of the bin holding it. */
static int percentile_bin(const uint64_t *bins, unsigned n, uint64_t total, unsigned pct) {
  if (total == 0) return -1;
  uint64_t want = (total * pct + 99) / 100, seen = 0;
  for (unsigned i = 0; i < n; i++) {
    seen += bins[i];
    if (seen >= want) return (int)i;
  }
  return (int)n - 1;
}

/* Fill snap (under stats_lock). */
static void snapshot(size_t *small_blocks) {
  struct hak_stats *st = &snap;
  memset(st, 0, sizeof *st);
  static uint64_t listed[HK_NUM_CLASSES]; /* the caller's free lists (under stats_lock) */
  memset(listed, 0, sizeof listed);
  hk_heap_t *self = hk_heap_tls;
  if (self != &hk_heap_empty) {
    hk_heap_collect(self, true); /* the caller's own remote frees count once collected */
    hk_heap_count_listed(self, listed);
  }

  memset(&sum, 0, sizeof sum);
  cached_bytes = cached_blocks = 0;
  st->threads = (uint32_t)hk_heap_visit_all(add_heap, &sum);
  add_tel(&sum, &hk_tel_shared);

  st->abi_version = HAKMEM_ABI_VERSION;
  st->mode = hk_cfg.mode;
  st->telemetry = HK_TELEMETRY;
  st->nclasses = HK_TEL_ROWS;
  for (unsigned r = 0; r < HK_TEL_ROWS; r++) {
    struct hak_stats_class *c = &st->classes[r];
    size_t lo, hi;
    row_bounds(r, &lo, &hi);
    c->block_size = hi;
    /* slabs: fed (carved or moved) and not dropped, less what still waits
     * on the caller's free lists */
    uint64_t fed = sum.carved[r] + sum.moved_local[r], gone = sum.dropped[r];
    if (r < HK_NUM_CLASSES) gone += listed[r];
    /* the thread cache: blocks out, less those flushed back to slabs */
    uint64_t served =
        sum.cache_popped[r] > sum.cache_flushed[r] ? sum.cache_popped[r] - sum.cache_flushed[r] : 0;
    c->allocs = sum.allocs[r] + (fed > gone ? fed - gone : 0) + served;
    /* moved_local counts remote frees collected into local lists too;
     * between a collection and the next move the difference may dip */
    uint64_t local =
        sum.moved_local[r] > sum.collected[r] ? sum.moved_local[r] - sum.collected[r] : 0;
    c->remote_frees = sum.collected[r] + sum.remote_frees[r];
    /* a block the thread cache took counts as freed then, not again when
     * it goes back to its slab's local list */
    uint64_t cached =
        sum.cache_pushed[r] > sum.cache_flushed[r] ? sum.cache_pushed[r] - sum.cache_flushed[r] : 0;
    c->frees = local + sum.local_frees[r] + c->remote_frees + cached;
    c->refills = sum.refills[r];
    uint64_t bins[HK_TEL_BINS], n = 0;
    for (unsigned b = 0; b < HK_TEL_BINS; b++) n += bins[b] = sum.sizes[r][b];
    c->size_samples = n;
    int p50 = percentile_bin(bins, HK_TEL_BINS, n, 50),
        p95 = percentile_bin(bins, HK_TEL_BINS, n, 95);
    c->size_p50 = p50 < 0 ? 0 : bin_upper(r, (unsigned)p50);
    c->size_p95 = p95 < 0 ? 0 : bin_upper(r, (unsigned)p95);
    st->allocs += c->allocs;
    st->frees += c->frees;
    st->remote_frees += c->remote_frees;
    st->refills += c->refills;
  }
  for (unsigned i = 0; i < HAK_STAGE_COUNT; i++) st->stage[i] = sum.stage[i];
  uint64_t lat_n = 0;
  for (unsigned i = 0; i < HK_TEL_LAT_BINS; i++) lat_n += sum.lat[i];
  int l50 = percentile_bin(sum.lat, HK_TEL_LAT_BINS, lat_n, 50);
  int l95 = percentile_bin(sum.lat, HK_TEL_LAT_BINS, lat_n, 95);
  st->slow_samples = lat_n;
  st->slow_ns_max = sum.lat_max;
  st->slow_ns_p50 = l50 < 0 ? 0 : (uint64_t)2 << l50; /* bin i: [2^i, 2^(i+1)) ns */
  st->slow_ns_p95 = l95 < 0 ? 0 : (uint64_t)2 << l95;
  if (st->slow_ns_p50 > st->slow_ns_max) st->slow_ns_p50 = st->slow_ns_max;
  if (st->slow_ns_p95 > st->slow_ns_max) st->slow_ns_p95 = st->slow_ns_max;

  mem_t m = { 0, 0, 0, 0 };
  hk_arena_visit(add_ss, &m);
  size_t direct_bytes, direct_count;
  hk_direct_stats(&direct_bytes, &direct_count);
  st->superslab_bytes = m.superslabs * HK_SS_SIZE;
  hk_pages_stats_t ps;
  hk_pages_stats(&ps);
  /* blocks in thread caches are counted used in their slabs: free here */
  size_t slab_bytes = m.in_use > cached_bytes ? m.in_use - cached_bytes : 0;
  m.blocks = m.blocks > cached_blocks ? m.blocks - cached_blocks : 0;
  st->in_use_bytes = slab_bytes + ps.in_use + direct_bytes;
  st->thread_cache_bytes = cached_bytes;
  hk_budget_stats(st);
  st->pages_mapped_bytes = ps.mapped;
  st->pages_in_use_bytes = ps.in_use;
  st->pages_free_resident_bytes = ps.free_resident;
  st->pages_purged_bytes = ps.purged;
  st->pages_faults = ps.fresh;
  st->pages_segments = ps.segments;
  st->direct_bytes = direct_bytes;
  st->direct_count = direct_count;
  st->mapped_bytes = atomic_load(&hk_os_counters.mapped_bytes);
  st->committed_bytes = m.committed + hk_arena_free_dirty_bytes() + direct_bytes + ps.in_use +
      ps.free_resident + ps.header;
  st->abandoned_superslabs = hk_heap_abandoned_count();
  st->os_mmap = atomic_load(&hk_os_counters.mmap_calls);
  st->os_munmap = atomic_load(&hk_os_counters.munmap_calls);
  st->os_madvise = atomic_load(&hk_os_counters.madvise_calls);
  st->os_mremap = atomic_load(&hk_os_counters.mremap_calls);
  st->os_mapped_total = atomic_load(&hk_os_counters.mapped_total);
  st->os_unmapped_total = atomic_load(&hk_os_counters.unmapped_total);
  st->os_purged_total = atomic_load(&hk_os_counters.purged_total);
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) == 0) {
    st->peak_resident_bytes = (uint64_t)ru.ru_maxrss * 1024;
    st->minor_faults = (uint64_t)ru.ru_minflt;
    st->major_faults = (uint64_t)ru.ru_majflt;
  }
  st->resident_bytes = hk_os_resident_bytes();
  hk_ace_stats(st);
  if (st->peak_resident_bytes < st->resident_bytes) /* two sources, a few pages apart */
    st->peak_resident_bytes = st->resident_bytes;
  if (small_blocks) *small_blocks = m.blocks;
  st->size = sizeof *st;
}

HAK_API int hak_stats_get(struct hak_stats *out, size_t size) {
  if (!out || size < sizeof(size_t)) return EINVAL;
  hk_lock(&stats_lock);
  snapshot(NULL);
  size_t n = size < sizeof snap ? size : sizeof snap;
  snap.size = n;
  memcpy(out, &snap, n);
  hk_unlock(&stats_lock);
  return 0;
}

static void mallinfo_locked(struct mallinfo2 *mi) {
  size_t blocks;
  snapshot(&blocks);
  const struct hak_stats st = snap;
  memset(mi, 0, sizeof *mi);
  mi->arena = st.superslab_bytes + st.pages_mapped_bytes; /* SuperSlabs in use, page segments */
  mi->ordblks = blocks;
  mi->hblks = st.direct_count; /* direct mappings */
  mi->hblkhd = st.direct_bytes;
  mi->uordblks = st.in_use_bytes - st.direct_bytes; /* bytes in slab blocks and page runs */
  mi->fordblks = mi->arena > mi->uordblks ? mi->arena - mi->uordblks : 0;
  mi->keepcost = st.pages_free_resident_bytes; /* free and resident: malloc_trim's */
}

void hk_stats_mallinfo(struct mallinfo2 *mi) {
  hk_lock(&stats_lock);
  mallinfo_locked(mi);
  hk_unlock(&stats_lock);
}

/* malloc_info: glibc's XML layout, hakmem's figures.  One <heap> for the
 * process (hakmem's heaps are per thread and come and go); its <sizes> list
 * the size classes and large ranges with blocks in use (glibc's list free
 * chunks, which hakmem does not keep by size); "rest" is the free memory
 * still resident, "mmap" the direct mappings, "current" the committed
 * memory, "max" the process's peak resident set (or "current", when
 * more: committed memory need not be touched), "total" the address space
 * hakmem holds. */
void hk_stats_malloc_info(FILE *fp) {
  struct hak_stats s; /* a copy: fp's writes may allocate, outside the lock */
  hk_lock(&stats_lock);
  snapshot(NULL);
  s = snap;
  hk_unlock(&stats_lock);
  uint64_t free_resident =
      s.committed_bytes > s.in_use_bytes ? s.committed_bytes - s.in_use_bytes : 0;
  uint64_t most =
      s.peak_resident_bytes > s.committed_bytes ? s.peak_resident_bytes : s.committed_bytes;
  fprintf(fp, "<malloc version=\"1\" allocator=\"hakmem\" release=\"%s\">\n",
          HAKMEM_VERSION_STRING);
  fprintf(fp, "<heap nr=\"0\">\n<sizes>\n");
  uint64_t from = 1;
  for (uint32_t i = 0; i < s.nclasses && i < HAK_STATS_CLASSES; i++) {
    const struct hak_stats_class *c = &s.classes[i];
    if (c->block_size == 0) continue;
    uint64_t live = c->allocs > c->frees ? c->allocs - c->frees : 0;
    if (live)
      fprintf(fp, "  <size from=\"%llu\" to=\"%llu\" total=\"%llu\" count=\"%llu\"/>\n",
              (unsigned long long)from, (unsigned long long)c->block_size,
              (unsigned long long)(live * c->block_size), (unsigned long long)live);
    from = c->block_size + 1;
  }
  fprintf(fp, "</sizes>\n");
  for (int whole = 0; whole < 2; whole++) {
    if (whole) fprintf(fp, "</heap>\n");
    fprintf(fp, "<total type=\"fast\" count=\"0\" size=\"0\"/>\n");
    fprintf(fp, "<total type=\"rest\" count=\"0\" size=\"%llu\"/>\n",
            (unsigned long long)free_resident);
    if (whole)
      fprintf(fp, "<total type=\"mmap\" count=\"%llu\" size=\"%llu\"/>\n",
              (unsigned long long)s.direct_count, (unsigned long long)s.direct_bytes);
    fprintf(fp, "<system type=\"current\" size=\"%llu\"/>\n",
            (unsigned long long)s.committed_bytes);
    fprintf(fp, "<system type=\"max\" size=\"%llu\"/>\n", (unsigned long long)most);
    fprintf(fp, "<aspace type=\"total\" size=\"%llu\"/>\n", (unsigned long long)s.mapped_bytes);
    fprintf(fp, "<aspace type=\"mprotect\" size=\"%llu\"/>\n", (unsigned long long)s.mapped_bytes);
  }
  fprintf(fp, "</malloc>\n");
}

/* ---- output ------------------------------------------------------------------ */

typedef struct out_s {
  FILE *f;
  int fd;
  size_t n;
  char buf[4096];
} out_t;

static void out_flush(out_t *o) {
  if (o->f) {
    fwrite(o->buf, 1, o->n, o->f);
  } else {
    for (size_t off = 0; off < o->n;) {
      ssize_t w = write(o->fd, o->buf + off, o->n - off);
      if (w <= 0) break;
      off += (size_t)w;
    }
  }
  o->n = 0;
}

__attribute__((format(printf, 2, 3))) static void outf(out_t *o, const char *fmt, ...) {
  if (sizeof o->buf - o->n < 512) out_flush(o); /* every piece is < 512 bytes */
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(o->buf + o->n, sizeof o->buf - o->n, fmt, ap);
  va_end(ap);
  if (n > 0) o->n += (size_t)n < sizeof o->buf - o->n ? (size_t)n : sizeof o->buf - o->n - 1;
}

/* "12.3 MiB" without floating point. */
static const char *human(char *buf, size_t size, uint64_t v) {
  static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
  unsigned u = 0;
  uint64_t whole = v, tenth = 0;
  while (whole >= 1024 && u < 4) {
    tenth = (whole % 1024) * 10 / 1024;
    whole /= 1024;
    u++;
  }
  if (u == 0) snprintf(buf, size, "%llu B", (unsigned long long)v);
  else
    snprintf(buf, size, "%llu.%llu %s", (unsigned long long)whole, (unsigned long long)tenth,
             unit[u]);
  return buf;
}

#define U(x) ((unsigned long long)(x))

static const char *const ace_states[] = { "off", "on calls", "running", "failed", "stopped" };
_Static_assert(sizeof ace_states / sizeof *ace_states == HAK_ACE_STOPPED + 1,
               "a name per enum hak_ace_state");

static void print_ace_table(out_t *o, const struct hak_stats *s) {
  char a[32], b[32], c[32];
  outf(o,
       "  ace         %s (thread started %llu times), %llu epochs: purged %s (idle trim %s), "
       "unmapped %s\n",
       ace_states[s->ace_state], U(s->ace_threads_started), U(s->ace_epochs),
       human(a, sizeof a, s->ace_purged_bytes), human(b, sizeof b, s->ace_trimmed_bytes),
       human(c, sizeof c, s->ace_unmapped_bytes));
  if (!s->nstrategies) return;
  outf(o, "  strategy    %s (%s%s%s), learning re-opened %llu times\n",
       s->strategies[s->ace_strategy].name,
       s->ace_learning == 2  ? "frozen"
           : s->ace_learning ? "learning"
                             : "fixed",
       s->ace_learning == 1 ? ", leading: " : "",
       s->ace_learning == 1 ? s->strategies[s->ace_leader].name : "", U(s->ace_reopens));
  outf(o, "  %-12s %8s %12s %8s %6s %6s %6s %6s\n", "strategy", "rating", "ns/alloc", "epochs",
       "wins", "losses", "draws", "alive");
  for (unsigned i = 0; i < s->nstrategies; i++) {
    const struct hak_stats_strategy *k = &s->strategies[i];
    outf(o, "  %-12s %8.0f %12.1f %8llu %6llu %6llu %6llu %6s\n", k->name, k->rating, k->mean_cost,
         U(k->plays), U(k->wins), U(k->losses), U(k->draws), k->alive ? "yes" : "no");
  }
}

static void print_ace_json(out_t *o, const struct hak_stats *s) {
  outf(o,
       "  \"ace\": {\"state\": \"%s\", \"learning\": \"%s\", \"strategy\": \"%s\", "
       "\"leader\": \"%s\", \"epochs\": %llu, \"purged_bytes\": %llu, \"trimmed_bytes\": %llu, "
       "\"unmapped_bytes\": %llu, \"reopens\": %llu, \"threads_started\": %llu, "
       "\"strategies\": [",
       ace_states[s->ace_state],
       s->ace_learning == 2  ? "frozen"
           : s->ace_learning ? "learning"
                             : "fixed",
       s->nstrategies ? s->strategies[s->ace_strategy].name : "",
       s->nstrategies ? s->strategies[s->ace_leader].name : "", U(s->ace_epochs),
       U(s->ace_purged_bytes), U(s->ace_trimmed_bytes), U(s->ace_unmapped_bytes), U(s->ace_reopens),
       U(s->ace_threads_started));
  for (unsigned i = 0; i < s->nstrategies; i++) {
    const struct hak_stats_strategy *k = &s->strategies[i];
    outf(o,
         "%s\n    {\"name\": \"%s\", \"rating\": %.1f, \"mean_cost\": %.3f, "
         "\"plays\": %llu, \"wins\": %llu, \"losses\": %llu, \"draws\": %llu, "
         "\"alive\": %s}",
         i ? "," : "", k->name, k->rating, k->mean_cost, U(k->plays), U(k->wins), U(k->losses),
         U(k->draws), k->alive ? "true" : "false");
  }
  outf(o, "]},\n");
}

static void print_table(out_t *o, const struct hak_stats *s) {
  char a[32], b[32], c[32], d[32];
  outf(o, "hakmem statistics: mode %s, ABI %u, telemetry %s, %u live thread heap(s)\n",
       hk_mode_names[s->mode], s->abi_version, s->telemetry ? "on" : "compiled out", s->threads);
  outf(o, "  operations  allocs %llu  frees %llu  remote frees %llu  refills %llu\n", U(s->allocs),
       U(s->frees), U(s->remote_frees), U(s->refills));
  outf(o, "  memory      in use %s  superslabs %s  direct %s in %llu blocks  thread caches %s\n",
       human(a, sizeof a, s->in_use_bytes), human(b, sizeof b, s->superslab_bytes),
       human(c, sizeof c, s->direct_bytes), U(s->direct_count),
       human(d, sizeof d, s->thread_cache_bytes));
  outf(o, "              mapped %s  committed %s  process resident %s (peak %s)\n",
       human(a, sizeof a, s->mapped_bytes), human(b, sizeof b, s->committed_bytes),
       human(c, sizeof c, s->resident_bytes), human(d, sizeof d, s->peak_resident_bytes));
  outf(o, "  faults      minor %llu  major %llu\n", U(s->minor_faults), U(s->major_faults));
  outf(o,
       "  os calls    mmap %llu  munmap %llu  madvise %llu  mremap %llu  "
       "(in total: mapped %s, unmapped %s, purged %s)\n",
       U(s->os_mmap), U(s->os_munmap), U(s->os_madvise), U(s->os_mremap),
       human(a, sizeof a, s->os_mapped_total), human(b, sizeof b, s->os_unmapped_total),
       human(c, sizeof c, s->os_purged_total));
  outf(o,
       "  pages       in use %s  free resident %s  purged %s  faults %llu  (%llu segments, %s)\n",
       human(a, sizeof a, s->pages_in_use_bytes), human(b, sizeof b, s->pages_free_resident_bytes),
       human(c, sizeof c, s->pages_purged_bytes), U(s->pages_faults), U(s->pages_segments),
       human(d, sizeof d, s->pages_mapped_bytes));
  outf(o, "  slow path   memory found in:");
  for (unsigned i = 0; i < HAK_STAGE_COUNT; i++)
    outf(o, " %s %llu", stage_names[i], U(s->stage[i]));
  outf(o, "\n  latency     slow path, %llu sampled: p50 < %llu ns  p95 < %llu ns  max %llu ns\n",
       U(s->slow_samples), U(s->slow_ns_p50), U(s->slow_ns_p95), U(s->slow_ns_max));
  outf(o, "  abandoned   %llu SuperSlabs\n", U(s->abandoned_superslabs));
  print_ace_table(o, s);
  outf(o, "  %-12s %12s %12s %12s %10s %9s %9s\n", "block size", "allocs", "frees", "remote",
       "refills", "size p50", "size p95");
  for (unsigned r = 0; r < s->nclasses; r++) {
    const struct hak_stats_class *k = &s->classes[r];
    if (!k->allocs && !k->frees) continue;
    if (r == HK_TEL_ROW_HUGE) snprintf(a, sizeof a, "> 1 MiB");
    else if (r >= HK_TEL_ROW_LARGE) snprintf(a, sizeof a, "<= %llu KiB", U(k->block_size >> 10));
    else snprintf(a, sizeof a, "%llu", U(k->block_size));
    outf(o, "  %-12s %12llu %12llu %12llu %10llu %9llu %9llu\n", a, U(k->allocs), U(k->frees),
         U(k->remote_frees), U(k->refills), U(k->size_p50), U(k->size_p95));
  }
}

static void print_json(out_t *o, const struct hak_stats *s) {
  outf(o, "{\n  \"abi_version\": %u, \"mode\": \"%s\", \"telemetry\": %u, \"threads\": %u,\n",
       s->abi_version, hk_mode_names[s->mode], s->telemetry, s->threads);
  outf(o, "  \"allocs\": %llu, \"frees\": %llu, \"remote_frees\": %llu, \"refills\": %llu,\n",
       U(s->allocs), U(s->frees), U(s->remote_frees), U(s->refills));
  outf(o,
       "  \"in_use_bytes\": %llu, \"superslab_bytes\": %llu, \"direct_bytes\": %llu, "
       "\"direct_count\": %llu, \"thread_cache_bytes\": %llu,\n",
       U(s->in_use_bytes), U(s->superslab_bytes), U(s->direct_bytes), U(s->direct_count),
       U(s->thread_cache_bytes));
  outf(o,
       "  \"pages\": {\"mapped_bytes\": %llu, \"in_use_bytes\": %llu, \"free_resident_bytes\": "
       "%llu, "
       "\"purged_bytes\": %llu, \"faults\": %llu, \"segments\": %llu},\n",
       U(s->pages_mapped_bytes), U(s->pages_in_use_bytes), U(s->pages_free_resident_bytes),
       U(s->pages_purged_bytes), U(s->pages_faults), U(s->pages_segments));
  outf(o,
       "  \"mapped_bytes\": %llu, \"committed_bytes\": %llu, \"resident_bytes\": %llu, "
       "\"peak_resident_bytes\": %llu,\n",
       U(s->mapped_bytes), U(s->committed_bytes), U(s->resident_bytes), U(s->peak_resident_bytes));
  outf(o, "  \"minor_faults\": %llu, \"major_faults\": %llu, \"abandoned_superslabs\": %llu,\n",
       U(s->minor_faults), U(s->major_faults), U(s->abandoned_superslabs));
  outf(o,
       "  \"os\": {\"mmap\": %llu, \"munmap\": %llu, \"madvise\": %llu, \"mremap\": %llu, "
       "\"mapped_total\": %llu, \"unmapped_total\": %llu, \"purged_total\": %llu},\n",
       U(s->os_mmap), U(s->os_munmap), U(s->os_madvise), U(s->os_mremap), U(s->os_mapped_total),
       U(s->os_unmapped_total), U(s->os_purged_total));
  outf(o, "  \"stages\": {");
  for (unsigned i = 0; i < HAK_STAGE_COUNT; i++)
    outf(o, "%s\"%s\": %llu", i ? ", " : "", stage_names[i], U(s->stage[i]));
  outf(o,
       "},\n  \"slow_latency_ns\": {\"samples\": %llu, \"p50\": %llu, \"p95\": %llu, \"max\": "
       "%llu},\n",
       U(s->slow_samples), U(s->slow_ns_p50), U(s->slow_ns_p95), U(s->slow_ns_max));
  print_ace_json(o, s);
  outf(o, "  \"classes\": [\n");
  for (unsigned r = 0; r < s->nclasses; r++) {
    const struct hak_stats_class *k = &s->classes[r];
    outf(o,
         "    {\"block_size\": %llu, \"allocs\": %llu, \"frees\": %llu, \"remote_frees\": %llu, "
         "\"refills\": %llu, \"size_p50\": %llu, \"size_p95\": %llu, \"size_samples\": %llu}%s\n",
         U(k->block_size), U(k->allocs), U(k->frees), U(k->remote_frees), U(k->refills),
         U(k->size_p50), U(k->size_p95), U(k->size_samples), r + 1 < s->nclasses ? "," : "");
  }
  outf(o, "  ]\n}\n");
}

static out_t out;

static void emit(FILE *f, int fd, bool json) {
  hk_lock(&stats_lock);
  snapshot(NULL);
  out.f = f;
  out.fd = fd;
  out.n = 0;
  if (json) print_json(&out, &snap);
  else print_table(&out, &snap);
  out_flush(&out);
  hk_unlock(&stats_lock);
}

HAK_API void hak_stats_print(FILE *f) { emit(f, -1, false); }
HAK_API void hak_stats_print_json(FILE *f) { emit(f, -1, true); }

/* malloc_stats: glibc's first lines, then hakmem's kernel calls. */
void hk_stats_print(int fd) {
  struct mallinfo2 mi;
  hk_lock(&stats_lock);
  mallinfo_locked(&mi);
  out_t *o = &out;
  o->f = NULL;
  o->fd = fd;
  o->n = 0;
  outf(o,
       "hakmem:\n"
       "system bytes     = %10zu\n"
       "in use bytes     = %10zu\n"
       "Total (incl. mmap):\n"
       "system bytes     = %10zu\n"
       "in use bytes     = %10zu\n"
       "max mmap regions = %10zu\n"
       "max mmap bytes   = %10zu\n"
       "free resident of page runs = %10zu\n"
       "abandoned SuperSlabs = %zu (of %zu in use)\n",
       mi.arena, mi.uordblks, mi.arena + mi.hblkhd, mi.uordblks + mi.hblkhd, mi.hblks, mi.hblkhd,
       mi.keepcost, hk_heap_abandoned_count(), mi.arena / HK_SS_SIZE);
  outf(o, "os calls: mmap %zu, munmap %zu, madvise %zu, mremap %zu; mapped %zu bytes\n",
       atomic_load(&hk_os_counters.mmap_calls), atomic_load(&hk_os_counters.munmap_calls),
       atomic_load(&hk_os_counters.madvise_calls), atomic_load(&hk_os_counters.mremap_calls),
       atomic_load(&hk_os_counters.mapped_bytes));
  out_flush(o);
  hk_unlock(&stats_lock);
}

/* HAKMEM_STATS: the table on stderr, or JSON to a file ("%p" in the path
 * becomes the process id, for programs that fork and exec). */
__attribute__((destructor)) static void stats_at_exit(void) {
  if (hk_cfg.stats == HK_STATS_TABLE) {
    emit(NULL, 2, false);
    return;
  }
  if (hk_cfg.stats != HK_STATS_JSON) return;
  char path[sizeof hk_cfg.stats_path + 16];
  size_t n = 0;
  for (const char *p = hk_cfg.stats_path; *p && n < sizeof path - 12; p++) {
    if (p[0] == '%' && p[1] == 'p') {
      n += (size_t)snprintf(path + n, sizeof path - n, "%ld", (long)getpid());
      p++;
    } else {
      path[n++] = *p;
    }
  }
  path[n] = 0;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    hk_log("warning: HAKMEM_STATS: cannot write %s (errno %d)", path, errno);
    return;
  }
  emit(NULL, fd, true);
  close(fd);
}
