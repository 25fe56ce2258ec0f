/* hakmem ace: the adaptive layer.  A background thread observes, decides and
 * applies, every epoch, off the program's threads:
 *   - decay purge: free slabs of thread heaps, free SuperSlabs of the arena
 *     and free page runs that stayed unused for the purge delay give
 *     their pages back (batched madvise, a few MiB per lock hold); arena
 *     SuperSlabs that then stay empty are unmapped;
 *   - idle trim: a heap whose spans did not change for a while, and the
 *     page layer once no run was taken or freed for as long, lose the free
 *     memory they retain;
 *   - refill batch: size classes refilled often get more blocks per refill;
 *   - learning (learning, research): K candidate strategies compete on a
 *     cost per allocation from CPU time, page faults and resident memory,
 *     rated by ELO (or UCB1), until one is frozen (learn.c).
 * It changes only parameters slow paths read (hk_tune).  It starts lazily
 * in balanced, learning and research modes, the first time there is free
 * memory worth purging, never in minimal or fast; it holds ace_lock while it
 * works, which fork takes first (the child restarts it lazily), and it is
 * stopped and joined at exit. */
#include "internal.h"
#include "learn.h"

#include "hakmem.h"

#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>

#define EPOCH_MS       50      /* an epoch while there is work or learning   */
#define LAZY_EPOCH_MS  1000    /* ... and when the last ones found nothing    */
#define START_BYTES    ((size_t)1 << 20)   /* free memory that starts the thread */
#define MIN_EPOCH_OPS  2000    /* fewer allocations: the epoch is not scored  */

/* The candidates learning mode chooses from: each a vector of the knobs
 * (hk_tune) that the slow paths read. */
typedef struct strategy_s {
  uint32_t purge_delay_ms, retain_mb;
  uint8_t refill_max;          /* pages carved per refill, at most          */
} strategy_t;

const char *const hk_strategy_names[HK_STRATEGIES] = { "lean", "balanced", "warm", "hoard" };
static const strategy_t strategies[HK_STRATEGIES] = {
  { 50,   0,   1 },
  { 100,  8,   4 },
  { 1000, 64,  4 },
  { 5000, 256, 8 },
};

/* Cost of an epoch per allocation, in CPU nanoseconds: CPU time, plus a
 * price for each minor fault (latency beyond its CPU time) and for memory
 * held (a GiB held for a second priced like 0.15 s of a core, the ratio of
 * their cloud prices).
 *
 * A purge's price comes later, when the program touches the pages again:
 * often in the next epoch, which may run another candidate.  So the epoch
 * that purges pays for faulting its pages back in (FAULT_NS plus the
 * kernel's CPU per fault, measured at start, per page), the bytes become a
 * debt, and later growth of the resident set, up to the debt, is refunded
 * at that price.  Growth is counted in bytes, from tick to tick, not in
 * faults: a huge page comes back in one fault.  Pages not touched again are
 * forgotten from the debt over DEBT_MS, about when keeping them would have
 * cost as much as the refault. */
#define FAULT_NS        200.0
#define MIB_MS_NS       150.0
#define DEBT_MS         1000.0

_Atomic int hk_ace_state;

static hk_lock_t ace_lock = HK_LOCK_INIT;
static pthread_cond_t ace_cond;
static pthread_t ace_thread;
static bool ace_stop;

/* The thread's state, under ace_lock. */
static struct {
  uint64_t last_decay_ms, last_unmap_ms;
  uint64_t pages_activity;  /* page runs taken and freed at the last look */
  uint32_t pages_idle_ms;   /* since when they stayed put */
  bool pages_trimmed;       /* the idle trim went by since */
  uint32_t quiet_epochs;
  uint64_t epochs, purged, trimmed, unmapped;   /* bytes */
  uint64_t refill_prev[HK_NUM_CLASSES];
  /* learning */
  bool learning;
  unsigned strategy;
  hk_learn_t learn;
  uint64_t cpu_ns, self_ns, faults, ops;    /* at the start of the epoch */
  uint64_t epoch_start_ms;
  bool started;             /* the program's start-up epoch went by         */
  uint64_t purged_bytes, grown_bytes;   /* in the epoch, from tick to tick  */
  uint64_t rss;             /* resident bytes after the last tick           */
  double refault_ns;        /* price of faulting a purged page back in     */
  double debt;              /* purged bytes not yet faulted back in         */
} ace;

/* ---- observing ------------------------------------------------------------- */

static uint64_t clock_ns(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t minor_faults(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (uint64_t)ru.ru_minflt;
}

/* Allocations so far, as slow paths count them (telemetry.h): blocks fed to
 * free lists plus blocks of their own span or mapping. */
static uint64_t allocations(void) {
  uint64_t n = 0;
  for (hk_heap_t *h = hk_heap_all(); h; h = h->all_next) {
    for (unsigned r = 0; r < HK_TEL_ROWS; r++) {
      n += __atomic_load_n(&h->tel.allocs[r], __ATOMIC_RELAXED);
      if (r < HK_NUM_CLASSES)
        n += __atomic_load_n(&h->tel.carved[r], __ATOMIC_RELAXED) +
             __atomic_load_n(&h->tel.moved_local[r], __ATOMIC_RELAXED);
    }
  }
  return n;
}

/* ---- deciding and applying -------------------------------------------------- */

static void apply_strategy(unsigned i) {
  const strategy_t *s = &strategies[i];
  ace.strategy = i;
  HK_TUNE_SET(purge_delay_ms, s->purge_delay_ms);
  HK_TUNE_SET(retain_mb, s->retain_mb);
}

static uint8_t refill_max(void) {
  return hk_cfg.learning ? strategies[ace.strategy].refill_max : strategies[1].refill_max;
}

/* Classes refilled often carve more pages per refill: fewer slow paths in
 * a growing heap, at the price of touching memory a little earlier. */
static bool tune_refills(uint32_t elapsed) {
  bool changed = false;
  uint64_t refills[HK_NUM_CLASSES] = { 0 };
  for (hk_heap_t *h = hk_heap_all(); h; h = h->all_next)
    for (unsigned c = 0; c < HK_NUM_CLASSES; c++)
      refills[c] += __atomic_load_n(&h->tel.refills[c], __ATOMIC_RELAXED);
  for (unsigned c = 0; c < HK_NUM_CLASSES; c++) {
    uint64_t per_s = (refills[c] - ace.refill_prev[c]) * 1000 / (elapsed ? elapsed : 1);
    ace.refill_prev[c] = refills[c];
    uint8_t pages = per_s >= 20000 ? 8 : per_s >= 5000 ? 4 : per_s >= 1000 ? 2 : 1;
    if (pages > refill_max()) pages = refill_max();
    if (pages != HK_TUNE(refill_pages[c])) {
      HK_TUNE_SET(refill_pages[c], pages);
      changed = true;
    }
  }
  return changed;
}

/* Research mode (with HAKMEM_VERBOSE, its default) logs every decision. */
static bool logs(void) { return hk_cfg.mode == HAK_MODE_RESEARCH && hk_cfg.verbose; }

static void log_learning(unsigned ev) {
  hk_learn_t *l = &ace.learn;
  if (ev & HK_LEARN_EV_MATCH)
    hk_log("ace: match %s %.1f ns/op vs %s %.1f ns/op: %s; ratings %.0f %.0f",
           hk_strategy_names[l->last_a], l->last_cost_a, hk_strategy_names[l->last_b],
           l->last_cost_b, l->last_score_a == 1 ? "first wins" : l->last_score_a == 0 ?
           "second wins" : "draw", l->cand[l->last_a].rating, l->cand[l->last_b].rating);
  for (unsigned i = 0; (ev & HK_LEARN_EV_ELIMINATED) && i < l->k; i++)
    if (l->last_eliminated & (1u << i))
      hk_log("ace: strategy %s eliminated (rating %.0f)", hk_strategy_names[i], l->cand[i].rating);
  if (ev & HK_LEARN_EV_FROZEN)
    hk_log("ace: frozen on strategy %s after %llu epochs (rating %.0f)",
           hk_strategy_names[l->winner], (unsigned long long)l->epochs, l->cand[l->winner].rating);
  if (ev & HK_LEARN_EV_REOPENED)
    hk_log("ace: the cost of %s drifted: learning again", hk_strategy_names[l->winner]);
}

double hk_ace_epoch_cost(const hk_epoch_t *e, double refault_ns, double *debt) {
  *debt = *debt * hk_learn_exp(-e->wall_ms / DEBT_MS) + e->purged;
  double refunded = e->grown < *debt ? e->grown : *debt;
  *debt -= refunded;
  /* The CPU and faults measured, less the refund (never below zero: a huge
   * page faults back in for less than its 4 KiB pages would), plus the
   * purges' price and the memory held. */
  double work = e->cpu_ns + FAULT_NS * e->faults, refund = refault_ns * refunded / HK_PAGE_SIZE;
  return ((refund < work ? work - refund : 0.0) + refault_ns * e->purged / HK_PAGE_SIZE +
          MIB_MS_NS * e->rss / (1 << 20) * e->wall_ms) / e->ops;
}

/* Start an epoch: what it is measured from. */
static void learn_restart(uint64_t now) {
  ace.cpu_ns = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
  ace.self_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID);
  ace.faults = minor_faults();
  ace.ops = allocations();
  ace.epoch_start_ms = now;
  ace.purged_bytes = ace.grown_bytes = 0;
}

/* Score the epoch that ran ace.strategy, pick the next one (learning mode;
 * with a fixed candidate, only score it). */
static void learn_epoch(uint64_t now) {
  uint64_t cpu = clock_ns(CLOCK_PROCESS_CPUTIME_ID), self = clock_ns(CLOCK_THREAD_CPUTIME_ID);
  uint64_t faults = minor_faults(), ops = allocations();
  uint64_t d_ops = ops - ace.ops, wall = now - ace.epoch_start_ms;
  double d_cpu = (double)(cpu - ace.cpu_ns) - (double)(self - ace.self_ns);
  if (d_ops < MIN_EPOCH_OPS) {          /* too quiet to score: the epoch goes on, */
    if (wall >= LAZY_EPOCH_MS) learn_restart(now);   /* or starts over */
    return;
  }
  if (!ace.started) {   /* the heap grew from nothing: the program's cost, whatever runs */
    ace.started = true;
    learn_restart(now);
    return;
  }
  hk_epoch_t e = { .cpu_ns = d_cpu, .faults = (double)(faults - ace.faults),
                   .purged = (double)ace.purged_bytes, .grown = (double)ace.grown_bytes,
                   .rss = (double)ace.rss, .wall_ms = (double)wall, .ops = (double)d_ops };
  double cost = hk_ace_epoch_cost(&e, ace.refault_ns, &ace.debt);
  if (ace.learning) {
    unsigned ev = hk_learn_report(&ace.learn, cost);
    if (logs() && (ev & ~HK_LEARN_EV_IGNORED)) log_learning(ev);
    unsigned next = hk_learn_next(&ace.learn);
    if (next != ace.strategy) {
      apply_strategy(next);
      /* Its decay clock starts now, what is free now aging from now, as if
       * it had been running: otherwise how much it purges would depend on
       * the previous candidate's pace (a slow one leaves no fresh marks). */
      ace.last_decay_ms = now;
      for (hk_heap_t *h = hk_heap_all(); h; h = h->all_next) hk_heap_age(h);
      hk_arena_age();
      hk_pages_age();
    }
  } else {                              /* a fixed candidate: measured alike */
    hk_learn_record(&ace.learn, ace.strategy, cost);
  }
  learn_restart(now);
}

static uint32_t idle_after_ms(uint32_t delay) {
  uint64_t t = (uint64_t)delay * 10;
  return t < 1000 ? 1000 : t > 60000 ? 60000 : (uint32_t)t;
}

/* One epoch, `elapsed` ms after the previous one.  Returns true if it found
 * something to do (the next epoch comes soon). */
static bool ace_epoch(uint64_t now, uint32_t elapsed) {
  uint32_t delay = HK_TUNE(purge_delay_ms), idle_ms = idle_after_ms(delay);
  bool decay = now - ace.last_decay_ms >= delay;
  if (decay) ace.last_decay_ms = now;
  ace.epochs++;
  uint64_t rss = 0;
  if (hk_cfg.learning) {        /* growth since the last tick: refaults among it */
    rss = hk_os_resident_bytes();
    ace.grown_bytes += rss > ace.rss ? rss - ace.rss : 0;
  }
  size_t heaps = 0, trimmed = 0, arena = 0, unmapped = 0;
  for (hk_heap_t *h = hk_heap_all(); h; h = h->all_next) {
    if (!__atomic_load_n(&h->ss_avail.first, __ATOMIC_RELAXED)) continue;
    unsigned t;
    heaps += (size_t)hk_heap_tick(h, elapsed, decay, idle_ms, &t) << HK_SLAB_SHIFT;
    trimmed += (size_t)t << HK_SLAB_SHIFT;
  }
  if (decay) arena = hk_arena_decay(delay == 0);
  /* page runs: the decay, and once no run was taken or freed for idle_ms,
   * every free page (idle trim) */
  uint64_t act = hk_pages_activity();
  if (act != ace.pages_activity) {
    ace.pages_activity = act;
    ace.pages_idle_ms = 0;
    ace.pages_trimmed = false;
  } else if (ace.pages_idle_ms < idle_ms) {
    ace.pages_idle_ms += elapsed;
  }
  bool pages_idle = ace.pages_idle_ms >= idle_ms && !ace.pages_trimmed;
  if (decay || pages_idle) {
    size_t n = hk_pages_decay(pages_idle || delay == 0);
    heaps += n;
    if (pages_idle) trimmed += n;
    ace.pages_trimmed |= pages_idle;
  }
  if (now - ace.last_unmap_ms >= idle_ms) {
    ace.last_unmap_ms = now;
    unmapped = hk_arena_unmap_stale();
  }
  bool refills = HK_TELEMETRY && tune_refills(elapsed);
  if (hk_cfg.learning) {
    ace.purged_bytes += heaps + arena;
    ace.rss = heaps + arena ? hk_os_resident_bytes() : rss;
    learn_epoch(now);
  }
  ace.purged += heaps + arena;
  ace.trimmed += trimmed;
  ace.unmapped += unmapped;
  bool acted = heaps || arena || unmapped;
  if (acted && logs())
    hk_log("ace: purged %.1f MiB of heaps and page runs (%.1f MiB by idle trim), %.1f MiB of free SuperSlabs; "
           "unmapped %.1f MiB", (double)heaps / (1 << 20), (double)trimmed / (1 << 20),
           (double)arena / (1 << 20), (double)unmapped / (1 << 20));
  return acted || refills || hk_heap_any_dirty() || hk_arena_free_dirty_bytes() ||
         hk_pages_dirty_bytes();
}

static void *ace_main(void *arg) {
  (void)arg;
  hk_lock(&ace_lock);
  uint64_t last = hk_now_ms();
  ace.last_decay_ms = ace.last_unmap_ms = last;
  if (hk_cfg.learning) {
    ace.refault_ns = FAULT_NS + hk_os_fault_ns();
    ace.rss = hk_os_resident_bytes();
    if (logs()) hk_log("ace: a purged page costs %.0f ns to fault back in", ace.refault_ns);
  }
  learn_restart(last);
  while (!ace_stop) {
    bool lazy = !ace.learning && ace.quiet_epochs >= 20;
    uint32_t wait = lazy ? LAZY_EPOCH_MS : EPOCH_MS;
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += wait / 1000;
    dl.tv_nsec += (long)(wait % 1000) * 1000000;
    if (dl.tv_nsec >= 1000000000) { dl.tv_sec++; dl.tv_nsec -= 1000000000; }
    while (!ace_stop && pthread_cond_timedwait(&ace_cond, &ace_lock, &dl) == 0) {}
    if (ace_stop) break;
    uint64_t now = hk_now_ms();
    bool busy = ace_epoch(now, (uint32_t)(now - last));
    ace.quiet_epochs = busy ? 0 : ace.quiet_epochs + 1;
    last = now;
  }
  hk_unlock(&ace_lock);
  return NULL;
}

/* ---- lifecycle ---------------------------------------------------------------- */

/* Called at process init (config read). */
void hk_ace_init(void) {
  ace.learning = hk_cfg.learning != 0;
  if (ace.learning) {
    unsigned sel = hk_cfg.strategy == HK_STRATEGY_UCB1 ? HK_SEL_UCB1 : HK_SEL_ELO;
    hk_learn_init(&ace.learn, HK_STRATEGIES, 2, sel, 0x9e3779b97f4a7c15u);
    if (hk_cfg.strategy >= 0) ace.learning = false;     /* a fixed candidate */
    apply_strategy(hk_cfg.strategy >= 0 ? (unsigned)hk_cfg.strategy : hk_learn_next(&ace.learn));
  }
  atomic_store_explicit(&hk_ace_state, hk_cfg.ace ? HK_ACE_IDLE : HK_ACE_OFF, memory_order_release);
}

/* Slow paths call this (through hk_ace_poke) when memory was freed: start
 * the thread once there is free memory worth purging. */
void hk_ace_start(void) {
  if (hk_heap_dirty_bytes_self() < START_BYTES && hk_arena_free_dirty_bytes() == 0 &&
      hk_pages_dirty_bytes() < START_BYTES)
    return;
  int expected = HK_ACE_IDLE;
  hk_lock(&ace_lock);           /* fork waits for the thread to exist or not */
  if (!atomic_compare_exchange_strong(&hk_ace_state, &expected, HK_ACE_RUNNING)) {
    hk_unlock(&ace_lock);
    return;
  }
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&ace_cond, &ca);
  pthread_condattr_destroy(&ca);
  ace_stop = false;
  sigset_t all, old;              /* the program's signals never land on it */
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  int err = pthread_create(&ace_thread, NULL, ace_main, NULL);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (!err) pthread_setname_np(ace_thread, "hakmem-ace");   /* before anyone looks */
  if (err) {
    atomic_store(&hk_ace_state, HK_ACE_FAILED);  /* the freeing threads purge, as in fast */
    if (hk_cfg.verbose) hk_log("ace: cannot start the background thread (error %d)", err);
  }
  hk_unlock(&ace_lock);
}

/* At exit: nothing left running or half done. */
__attribute__((destructor)) static void ace_exit(void) {
  hk_lock(&ace_lock);
  bool running = atomic_load(&hk_ace_state) == HK_ACE_RUNNING;
  if (running) {
    ace_stop = true;
    pthread_cond_signal(&ace_cond);
    atomic_store(&hk_ace_state, HK_ACE_STOPPED);
  }
  hk_unlock(&ace_lock);
  if (running && !pthread_equal(pthread_self(), ace_thread)) pthread_join(ace_thread, NULL);
}

/* Fork: the thread is between epochs while the lock is held; the child has
 * no thread and starts one when it needs it. */
void hk_ace_fork_prepare(void) { hk_lock(&ace_lock); }
void hk_ace_fork_parent(void) { hk_unlock(&ace_lock); }
void hk_ace_fork_child(void) {
  pthread_mutex_init(&ace_lock, NULL);
  if (atomic_load(&hk_ace_state) == HK_ACE_RUNNING) atomic_store(&hk_ace_state, HK_ACE_IDLE);
  ace.quiet_epochs = 0;
}

/* ---- statistics ----------------------------------------------------------------- */

void hk_ace_stats(struct hak_stats *st) {
  hk_lock(&ace_lock);
  st->ace_state = (uint32_t)atomic_load(&hk_ace_state);
  st->ace_learning = ace.learning ? (ace.learn.state == HK_LEARN_FROZEN ? 2 : 1) : 0;
  st->ace_strategy = ace.strategy;
  st->ace_leader = ace.learning ? ace.learn.winner : ace.strategy;
  st->ace_epochs = ace.epochs;
  st->ace_purged_bytes = ace.purged;
  st->ace_trimmed_bytes = ace.trimmed;
  st->ace_unmapped_bytes = ace.unmapped;
  st->ace_reopens = ace.learn.reopens;
  st->nstrategies = hk_cfg.learning ? HK_STRATEGIES : 0;
  for (unsigned i = 0; i < st->nstrategies; i++) {
    struct hak_stats_strategy *o = &st->strategies[i];
    const hk_learn_cand_t *c = &ace.learn.cand[i];
    snprintf(o->name, sizeof o->name, "%s", hk_strategy_names[i]);
    o->rating = c->rating;
    o->mean_cost = hk_learn_mean_cost(&ace.learn, i);
    o->plays = c->plays;
    o->wins = c->wins;
    o->losses = c->losses;
    o->draws = c->draws;
    o->alive = (ace.learn.alive >> i) & 1;
  }
  hk_unlock(&ace_lock);
}
