/* hakmem memory budget: HAKMEM_LIMIT_MB, hak_limit_set, the cgroup's limits.
 *
 * Two parts, on the process's resident memory: past the soft limit hakmem
 * gives back what it holds free (every heap's free slabs, the free page
 * runs, the free SuperSlabs, the calling thread's cache) before it takes
 * memory it has not used before; past the hard limit, after that effort, the
 * allocation fails with ENOMEM.  HAKMEM_LIMIT_MB=N sets the hard limit to N
 * MiB and the soft one to 90 % of it; hak_limit_set sets both.  Without
 * either, the soft limit keeps below the memory cgroup's limits (v2
 * memory.high and memory.max, v1 memory.soft_limit_in_bytes and
 * memory.limit_in_bytes, of the process's cgroup and its ancestors), read at
 * start and by hak_limit_refresh: 90 % of the lowest, so that hakmem gives
 * memory back before the kernel reclaims or kills.
 *
 * The check runs where hakmem takes memory it has not used before: a
 * SuperSlab for a heap, a page run, a direct mapping.  It estimates the
 * resident set from its last reading plus what was taken since, and reads
 * /proc/self/statm again only when that estimate nears a limit. */
#include "internal.h"
#include "cache.h"
#include "hakmem.h"

#include <errno.h>

#define MiB ((size_t)1 << 20)

typedef struct budget_s {
  _Atomic size_t soft, hard;  /* bytes; 0: none                             */
  _Atomic size_t user_soft;   /* hak_limit_set's; 0: 90 % of the hard one   */
  _Atomic size_t user_hard;   /* HAKMEM_LIMIT_MB's or hak_limit_set's       */
  _Atomic size_t cgroup;      /* the lowest cgroup limit found; 0: none      */
  _Atomic size_t rss;         /* resident bytes at the last reading         */
  _Atomic size_t taken;       /* bytes taken since that reading (estimate)  */
  _Atomic uint64_t reclaims;  /* soft limit reached: memory given back      */
  _Atomic uint64_t refusals;  /* hard limit reached: ENOMEM                 */
  _Atomic uint64_t reclaimed; /* bytes given back for the budget            */
} budget_t;
static budget_t budget;
_Atomic bool hk_budget_on;

/* ---- the cgroup's limits --------------------------------------------------- */

/* A number from a cgroup file, or 0 for "max", a missing file or anything
 * at or above 2^62 (v1's "no limit" is a page-rounded 2^63 - 1). */
static size_t read_limit(const char *path) {
  char buf[64];
  if (!hk_os_read_file(path, buf, sizeof buf)) return 0;
  uint64_t v = 0;
  const char *p = buf;
  if (*p < '0' || *p > '9') return 0;
  for (; *p >= '0' && *p <= '9'; p++) {
    if (v > (UINT64_MAX - 9) / 10) return 0;
    v = v * 10 + (uint64_t)(*p - '0');
  }
  return v >= ((uint64_t)1 << 62) ? 0 : (size_t)v;
}

static size_t lower(size_t a, size_t b) { return !a ? b : !b ? a : a < b ? a : b; }

/* The lowest of `files` in dir and each of its ancestors up to root. */
static size_t lowest_up(char *dir, size_t root_len, const char *const *files, int nfiles) {
  size_t best = 0;
  for (;;) {
    size_t len = strlen(dir);
    for (int i = 0; i < nfiles; i++) {
      char path[600];
      if (len + strlen(files[i]) + 2 > sizeof path) return best;
      memcpy(path, dir, len);
      path[len] = '/';
      strcpy(path + len + 1, files[i]);
      best = lower(best, read_limit(path));
    }
    char *slash = strrchr(dir, '/');
    if (!slash || (size_t)(slash - dir) < root_len) return best;
    *slash = 0;
  }
}

/* The process's memory cgroup limits (v2 unified, or the v1 memory
 * controller's), from /proc/self/cgroup.  0: none. */
static size_t cgroup_limit(void) {
  static const char *const v2[] = { "memory.high", "memory.max" };
  static const char *const v1[] = { "memory.soft_limit_in_bytes", "memory.limit_in_bytes" };
  char buf[2048];
  if (!hk_os_read_file("/proc/self/cgroup", buf, sizeof buf)) return 0;
  size_t best = 0;
  for (char *line = buf, *next; line && *line; line = next) {
    next = strchr(line, '\n');
    if (next) *next++ = 0;
    char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2 || c2[1] != '/') continue;
    const char *controllers = c1 + 1, *path = c2 + 1;
    bool unified = controllers == c2, memory = false;
    for (const char *c = controllers; c < c2 && !unified;) { /* "blkio,memory": co-mounted */
      const char *end = c;
      while (end < c2 && *end != ',') end++;
      memory |= end - c == 6 && strncmp(c, "memory", 6) == 0;
      c = end + 1;
    }
    if (!unified && !memory) continue;
    static const char *const roots_v2[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };
    static const char *const roots_v1[] = { "/sys/fs/cgroup/memory" };
    const char *const *roots = unified ? roots_v2 : roots_v1;
    for (int r = 0; r < (unified ? 2 : 1); r++) {
      char dir[512];
      size_t root_len = strlen(roots[r]);
      if (root_len + strlen(path) + 1 > sizeof dir) continue;
      strcpy(dir, roots[r]);
      strcat(dir, strcmp(path, "/") == 0 ? "" : path);
      best = lower(best, lowest_up(dir, root_len, unified ? v2 : v1, 2));
    }
  }
  return best;
}

/* ---- the limits in force ---------------------------------------------------- */

/* The program's limits; the soft one at most 90 % of the cgroup's. */
static void apply(void) {
  size_t hard = atomic_load(&budget.user_hard), cg = atomic_load(&budget.cgroup);
  size_t soft = atomic_load(&budget.user_soft);
  if (!soft && hard) soft = hard / 10 * 9;
  soft = lower(soft, cg / 10 * 9);
  atomic_store(&budget.hard, hard);
  atomic_store(&budget.soft, soft);
  atomic_store(&budget.taken, 0);
  atomic_store(&budget.rss, (size_t)hk_os_resident_bytes());
  atomic_store(&hk_budget_on, hard != 0 || soft != 0);
}

/* Process start: HAKMEM_LIMIT_MB (config.c) and the cgroup. */
void hk_budget_init(void) {
  atomic_store(&budget.user_hard, (size_t)hk_cfg.limit_mb * MiB);
  atomic_store(&budget.cgroup, cgroup_limit());
  apply();
}

/* ---- the check ----------------------------------------------------------------- */

/* Give back what hakmem holds free; returns the bytes purged.  The calling
 * thread's cache first, unless its heap's lock is held (the cache's slabs
 * need it). */
static size_t reclaim(hk_heap_t *held) {
  if (!held && hk_heap_tls != &hk_heap_empty) hk_cache_flush(hk_heap_tls);
  size_t n = hk_heap_purge_budget(held);
  n += hk_pages_decay(true);
  n += hk_arena_decay(true);
  atomic_fetch_add_explicit(&budget.reclaims, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&budget.reclaimed, n, memory_order_relaxed);
  return n;
}

#define STUCK_MS 50 /* a reclaim gave back almost nothing: no read nor reclaim this long */
static _Atomic uint64_t stuck_until_ms;

bool hk_budget_admit(hk_heap_t *held, size_t bytes) {
  size_t soft = atomic_load_explicit(&budget.soft, memory_order_relaxed);
  size_t hard = atomic_load_explicit(&budget.hard, memory_order_relaxed);
  size_t first = soft ? soft : hard;
  size_t est = atomic_load_explicit(&budget.rss, memory_order_relaxed) +
      atomic_fetch_add_explicit(&budget.taken, bytes, memory_order_relaxed) + bytes;
  if (!first || est <= first) return true;
  /* A live set that stays past the soft limit (the last reclaim found
   * nothing to give back) is not read and reclaimed at every allocation:
   * under the hard limit by the estimate, it goes on for STUCK_MS. */
  uint64_t now = hk_now_ms();
  bool stuck = now < atomic_load_explicit(&stuck_until_ms, memory_order_relaxed);
  if (stuck && (!hard || est <= hard)) return true;
  size_t rss = (size_t)hk_os_resident_bytes();
  if (soft && rss + bytes > soft && !stuck) {
    size_t got = reclaim(held);
    if (got < MiB) atomic_store_explicit(&stuck_until_ms, now + STUCK_MS, memory_order_relaxed);
    if (got) rss = (size_t)hk_os_resident_bytes();
  } else if (hard && rss + bytes > hard && reclaim(held)) { /* the last effort before ENOMEM */
    rss = (size_t)hk_os_resident_bytes();
  }
  atomic_store_explicit(&budget.rss, rss, memory_order_relaxed);
  atomic_store_explicit(&budget.taken, 0, memory_order_relaxed);
  if (hard && rss + bytes > hard) {
    atomic_fetch_add_explicit(&budget.refusals, 1, memory_order_relaxed);
    return false;
  }
  return true;
}

void hk_budget_stats(struct hak_stats *st) {
  st->limit_soft_bytes = atomic_load(&budget.soft);
  st->limit_hard_bytes = atomic_load(&budget.hard);
  st->limit_cgroup_bytes = atomic_load(&budget.cgroup);
  st->limit_reclaims = atomic_load(&budget.reclaims);
  st->limit_reclaimed_bytes = atomic_load(&budget.reclaimed);
  st->limit_refusals = atomic_load(&budget.refusals);
}

/* ---- the API ----------------------------------------------------------------- */

static hk_lock_t set_lock = HK_LOCK_INIT; /* one change at a time; fork takes it */
void hk_budget_fork_prepare(void) { hk_lock(&set_lock); }
void hk_budget_fork_parent(void) { hk_unlock(&set_lock); }

HAK_API int hak_limit_set(size_t soft_bytes, size_t hard_bytes) {
  if (hard_bytes && soft_bytes > hard_bytes) return EINVAL;
  hk_thread_init(); /* the start's reading first (a static constructor may call this) */
  hk_lock(&set_lock);
  atomic_store(&budget.user_soft, soft_bytes);
  atomic_store(&budget.user_hard, hard_bytes);
  apply();
  hk_unlock(&set_lock);
  return 0;
}

HAK_API int hak_limit_get(size_t *soft_bytes, size_t *hard_bytes) {
  if (!soft_bytes || !hard_bytes) return EINVAL;
  hk_thread_init();
  *soft_bytes = atomic_load(&budget.soft);
  *hard_bytes = atomic_load(&budget.hard);
  return 0;
}

HAK_API size_t hak_limit_refresh(void) {
  hk_thread_init();
  size_t cg = cgroup_limit();
  hk_lock(&set_lock);
  atomic_store(&budget.cgroup, cg);
  apply();
  hk_unlock(&set_lock);
  return cg;
}
