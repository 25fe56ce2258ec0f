/* hakmem ace: the adaptive layer.  Every epoch it observes, decides and
 * applies:
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
 * It changes only parameters slow paths read (hk_tune).  Never in minimal
 * or fast mode.
 *
 * Where it runs (HAKMEM_ACE_THREAD).  A thread is something a program can
 * see: a process whose main thread called pthread_exit lives as long as any
 * thread does, and the kernel refuses unshare(CLONE_NEWUSER) and setns to a
 * multi-threaded process.  So by default (auto) a program runs the epochs
 * on its own slow paths (the free paths that poke the layer, one epoch per
 * EPOCH_MS at most) for as long as fewer than two of its threads have a
 * heap: what it frees goes back after the purge delay if it calls the
 * allocator again, and stays while it idles (a program that wants it back
 * anyway sets `on`).  Once two threads of its own hold heaps, a thread
 * named hakmem-ace starts at the next malloc slow path (never in free:
 * hk_ace_pending) and runs the epochs every 50 ms (every second when there
 * is nothing to do), also while the program makes no call; when the
 * program's threads with a heap drop below two again, the thread ends (and
 * is not started again for RESTART_MS).  `on`: the thread starts once
 * memory is freed (on that free while the process never had a second
 * thread, else at the next malloc slow path) and ends when the last thread
 * of the program with a heap ends; `off`: never a thread.
 * It holds ace_lock while it works, which fork takes first (the child has
 * no thread), and it is stopped and joined at exit. */
#include "internal.h"
#include "cache.h"
#include "learn.h"

#include "hakmem.h"

#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <sys/single_threaded.h>

#define EPOCH_MS      50                /* an epoch while there is work or learning   */
#define LAZY_EPOCH_MS 1000              /* ... and when the last ones found nothing    */
#define START_BYTES   ((size_t)1 << 20) /* free memory that starts the thread */
#define RESTART_MS    1000              /* a thread ended: none again for this long   */
#define MIN_EPOCH_OPS 2000              /* fewer allocations: the epoch is not scored  */

/* The candidates learning mode chooses from: each a vector of the knobs
 * (hk_tune) that the slow paths read. */
typedef struct strategy_s {
  uint32_t purge_delay_ms, retain_mb;
  uint8_t refill_max; /* pages carved per refill, at most          */
} strategy_t;

const char *const hk_strategy_names[HK_STRATEGIES] = { "lean", "balanced", "warm", "hoard" };
static const strategy_t strategies[HK_STRATEGIES] = {
  { 50, 0, 1 },
  { 100, 8, 4 },
  { 1000, 64, 4 },
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
#define FAULT_NS  200.0
#define MIB_MS_NS 150.0
#define DEBT_MS   1000.0

_Atomic int hk_ace_state;
_Atomic uint32_t hk_ace_remote;

static hk_lock_t ace_lock = HK_LOCK_INIT;
static pthread_cond_t ace_cond;
static pthread_t ace_thread;
static unsigned ace_gen;        /* a thread runs while this is its number    */
static bool ace_joining;        /* exit joins it: it must not detach itself  */
static _Atomic bool ace_failed; /* pthread_create failed: never tried again  */
static _Atomic int app_threads; /* the program's threads that have a heap    */
static __thread bool on_ace_thread __attribute__((tls_model("initial-exec")));
static _Atomic uint64_t next_call_ms; /* the next epoch on the program's calls */
static uint64_t last_epoch_ms;        /* the previous epoch, wherever it ran       */
/* both read unlocked by thread_wanted's first look, written under ace_lock */
static _Atomic uint64_t stopped_ms; /* the thread last ended for lack of threads */

/* The thread's state, under ace_lock. */
static struct {
  uint64_t last_decay_ms, last_unmap_ms;
  uint64_t pages_activity;                    /* page runs taken and freed at the last look */
  uint32_t pages_idle_ms;                     /* since when they stayed put */
  bool pages_trimmed;                         /* the idle trim went by since */
  uint64_t epochs, purged, trimmed, unmapped; /* bytes */
  uint64_t threads_started;
  uint64_t refill_prev[HK_NUM_CLASSES];
  /* learning */
  bool learning;
  unsigned strategy;
  hk_learn_t learn;
  uint64_t cpu_ns, self_ns, faults, ops; /* at the start of the epoch */
  bool self_on_thread;                   /* self_ns is the thread's CPU (not 0)          */
  uint64_t epoch_start_ms;
  bool started;                       /* the program's start-up epoch went by         */
  uint64_t purged_bytes, grown_bytes; /* in the epoch, from tick to tick  */
  uint64_t rss;                       /* resident bytes after the last tick           */
  double refault_ns;                  /* price of faulting a purged page back in     */
  double debt;                        /* purged bytes not yet faulted back in         */
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
  uint32_t pinned = HK_TUNE(pinned); /* what the program set stays */
  if (!(pinned & HK_PIN_PURGE)) HK_TUNE_SET(purge_delay_ms, s->purge_delay_ms);
  if (!(pinned & HK_PIN_RETAIN)) HK_TUNE_SET(retain_mb, s->retain_mb);
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
           l->last_cost_b,
           l->last_score_a == 1       ? "first wins"
               : l->last_score_a == 0 ? "second wins"
                                      : "draw",
           l->cand[l->last_a].rating, l->cand[l->last_b].rating);
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
          MIB_MS_NS * e->rss / (1 << 20) * e->wall_ms) /
      e->ops;
}

/* Start an epoch: what it is measured from. */
static void learn_restart(uint64_t now) {
  ace.cpu_ns = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
  ace.self_on_thread = on_ace_thread; /* on the program's calls: its cost */
  ace.self_ns = on_ace_thread ? clock_ns(CLOCK_THREAD_CPUTIME_ID) : 0;
  ace.faults = minor_faults();
  ace.ops = allocations();
  ace.epoch_start_ms = now;
  ace.purged_bytes = ace.grown_bytes = 0;
}

/* Score the epoch that ran ace.strategy, pick the next one (learning mode;
 * with a fixed candidate, only score it). */
static void learn_epoch(uint64_t now) {
  if (ace.self_on_thread != on_ace_thread) { /* moved to or from the thread */
    learn_restart(now);
    return;
  }
  uint64_t cpu = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
  uint64_t self = on_ace_thread ? clock_ns(CLOCK_THREAD_CPUTIME_ID) : 0;
  uint64_t faults = minor_faults(), ops = allocations();
  uint64_t d_ops = ops - ace.ops, wall = now - ace.epoch_start_ms;
  double d_cpu = (double)(cpu - ace.cpu_ns) - (double)(self - ace.self_ns);
  if (d_ops < MIN_EPOCH_OPS) {                     /* too quiet to score: the epoch goes on, */
    if (wall >= LAZY_EPOCH_MS) learn_restart(now); /* or starts over */
    return;
  }
  if (!ace.started) { /* the heap grew from nothing: the program's cost, whatever runs */
    ace.started = true;
    learn_restart(now);
    return;
  }
  hk_epoch_t e = { .cpu_ns = d_cpu,
                   .faults = (double)(faults - ace.faults),
                   .purged = (double)ace.purged_bytes,
                   .grown = (double)ace.grown_bytes,
                   .rss = (double)ace.rss,
                   .wall_ms = (double)wall,
                   .ops = (double)d_ops };
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
  } else { /* a fixed candidate: measured alike */
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
  if (hk_cfg.learning) { /* growth since the last tick: refaults among it */
    rss = hk_os_resident_bytes();
    ace.grown_bytes += rss > ace.rss ? rss - ace.rss : 0;
  }
  size_t heaps = 0, trimmed = 0, arena = 0, unmapped = 0;
  bool waiting = false; /* remote frees wait for an owner: look again soon */
  for (hk_heap_t *h = hk_heap_all(); h; h = h->all_next) {
    if (decay) hk_cache_sweep_ask(h);
    if (!__atomic_load_n(&h->ss_avail.first, __ATOMIC_RELAXED) &&
        !__atomic_load_n(&h->ss_full.first, __ATOMIC_RELAXED))
      continue;
    unsigned t;
    bool w;
    heaps += (size_t)hk_heap_tick(h, elapsed, decay, idle_ms, &t, &w) << HK_SLAB_SHIFT;
    waiting |= w;
    trimmed += (size_t)t << HK_SLAB_SHIFT;
  }
  if (!waiting) atomic_store_explicit(&hk_ace_remote, 0, memory_order_relaxed);
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
    hk_log("ace: purged %.1f MiB of heaps and page runs (%.1f MiB by idle trim), %.1f MiB of free "
           "SuperSlabs; "
           "unmapped %.1f MiB",
           (double)heaps / (1 << 20), (double)trimmed / (1 << 20), (double)arena / (1 << 20),
           (double)unmapped / (1 << 20));
  return acted || refills || waiting || hk_heap_any_dirty() || hk_arena_free_dirty_bytes() ||
      hk_pages_dirty_bytes();
}

/* One epoch, wherever it runs; under ace_lock.  The first measures what a
 * purged page costs to fault back in (learning). */
static bool run_epoch(uint64_t now) {
  if (hk_cfg.learning && ace.refault_ns == 0) {
    ace.refault_ns = FAULT_NS + hk_os_fault_ns();
    ace.rss = hk_os_resident_bytes();
    learn_restart(now);
    if (logs()) hk_log("ace: a purged page costs %.0f ns to fault back in", ace.refault_ns);
  }
  uint64_t elapsed = now - last_epoch_ms;
  last_epoch_ms = now;
  return ace_epoch(now, (uint32_t)(elapsed < 60000 ? elapsed : 60000));
}

/* ---- the thread ------------------------------------------------------------------ */

static void *ace_main(void *arg) {
  unsigned gen = (unsigned)(uintptr_t)arg;
  on_ace_thread = true; /* its heap, if it takes one, is not the program's */
  hk_lock(&ace_lock);
  learn_restart(hk_now_ms());
  uint32_t quiet = 0;
  while (ace_gen == gen) {
    uint32_t wait = !ace.learning && quiet >= 20 ? LAZY_EPOCH_MS : EPOCH_MS;
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += wait / 1000;
    dl.tv_nsec += (long)(wait % 1000) * 1000000;
    if (dl.tv_nsec >= 1000000000) {
      dl.tv_sec++;
      dl.tv_nsec -= 1000000000;
    }
    while (ace_gen == gen && pthread_cond_timedwait(&ace_cond, &ace_lock, &dl) == 0) {}
    if (ace_gen != gen) break;
    quiet = run_epoch(hk_now_ms()) ? 0 : quiet + 1;
  }
  hk_thread_forget();
  if (!ace_joining) pthread_detach(pthread_self()); /* nobody waits for it */
  hk_unlock(&ace_lock);
  return NULL;
}

/* The program's threads with a heap the thread needs: two in auto, one
 * in on. */
static int threads_needed(void) { return hk_cfg.ace_thread == HK_ACE_THREAD_AUTO ? 2 : 1; }

/* Whether the thread should run now: enough threads of the program, and
 * free memory worth purging. */
static bool thread_wanted(uint64_t now) {
  if (hk_cfg.ace_thread == HK_ACE_THREAD_OFF ||
      atomic_load_explicit(&ace_failed, memory_order_relaxed))
    return false;
  if (atomic_load_explicit(&app_threads, memory_order_seq_cst) < threads_needed()) return false;
  uint64_t stopped = atomic_load_explicit(&stopped_ms, memory_order_relaxed);
  if (stopped && now - stopped < RESTART_MS) return false;
  return hk_heap_dirty_bytes_self() >= START_BYTES || hk_arena_free_dirty_bytes() ||
      hk_pages_dirty_bytes() >= START_BYTES ||
      atomic_load_explicit(&hk_ace_remote, memory_order_relaxed);
}

/* The thread's wake-up, on the monotonic clock: at init, and in a forked
 * child (the parent's thread may have been waiting on it). */
static void cond_init(void) {
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&ace_cond, &ca);
  pthread_condattr_destroy(&ca);
}

/* Start the thread; under ace_lock, the state IDLE. */
static void start_thread(void) {
  atomic_store(&hk_ace_state, HK_ACE_RUNNING);
  sigset_t all, old; /* the program's signals never land on it */
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  int err = pthread_create(&ace_thread, NULL, ace_main, (void *)(uintptr_t)++ace_gen);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (!err) {
    pthread_setname_np(ace_thread, "hakmem-ace"); /* before anyone looks */
    ace.threads_started++;
    return;
  }
  atomic_store_explicit(&ace_failed, true,
                        memory_order_relaxed); /* the epochs stay on the program's calls */
  atomic_store(&hk_ace_state, HK_ACE_IDLE);
  if (hk_cfg.verbose) hk_log("ace: cannot start the background thread (error %d)", err);
}

/* End the thread (the program has too few threads left); under ace_lock. */
static void stop_thread(void) {
  ace_gen++;
  pthread_cond_signal(&ace_cond);
  atomic_store(&hk_ace_state, HK_ACE_IDLE);
  uint64_t now = hk_now_ms();
  atomic_store_explicit(&stopped_ms, now ? now : 1, memory_order_relaxed);
  atomic_store_explicit(&next_call_ms, 0, memory_order_relaxed);
}

/* ---- on the program's calls -------------------------------------------------------- */

/* The thread is wanted: it starts on the next malloc slow path
 * (hk_ace_start_pending).  Never from free: glibc frees a dead thread's TLS
 * with its stack cache locked (pthread_join), and pthread_create takes that
 * lock; a free there that started the thread would wait for itself. */
_Atomic uint32_t hk_ace_pending;

/* A malloc slow path found hk_ace_pending: start the thread if the
 * program still has threads enough (no memory needed: it sleeps until
 * there is work, and is there when a program frees its peak and idles). */
void hk_ace_start_pending(void) {
  atomic_store_explicit(&hk_ace_pending, 0, memory_order_relaxed);
  if (hk_cfg.ace_thread == HK_ACE_THREAD_OFF ||
      atomic_load_explicit(&ace_failed, memory_order_relaxed) ||
      atomic_load(&hk_ace_state) != HK_ACE_IDLE)
    return;
  if (pthread_mutex_trylock(&ace_lock) != 0) {
    atomic_store_explicit(&hk_ace_pending, 1, memory_order_relaxed); /* the next one */
    return;
  }
  /* again under the lock: a thread leaving counts itself out, then looks
   * for the thread under it */
  uint64_t stopped = atomic_load_explicit(&stopped_ms, memory_order_relaxed);
  bool delayed = stopped && hk_now_ms() - stopped < RESTART_MS;
  if (atomic_load(&hk_ace_state) == HK_ACE_IDLE && !delayed &&
      atomic_load_explicit(&app_threads, memory_order_seq_cst) >= threads_needed())
    start_thread();
  else if (delayed) atomic_store_explicit(&hk_ace_pending, 1, memory_order_relaxed);
  hk_unlock(&ace_lock);
}

/* Memory was freed (hk_ace_poke; the state is IDLE): ask for the thread
 * when it is wanted, and run an epoch here when one is due meanwhile.  A
 * process that never had a second thread (`on`) has no stack cache to
 * deadlock on: the thread starts here, as a program that frees its peak
 * and idles needs. */
void hk_ace_call(void) {
  uint64_t now = hk_now_ms();
  if (thread_wanted(now)) {
    if (!__libc_single_threaded) {
      atomic_store_explicit(&hk_ace_pending, 1, memory_order_relaxed);
    } else if (pthread_mutex_trylock(&ace_lock) == 0) {
      if (atomic_load(&hk_ace_state) == HK_ACE_IDLE && thread_wanted(now)) start_thread();
      hk_unlock(&ace_lock);
      return;
    }
  }
  if (now < atomic_load_explicit(&next_call_ms, memory_order_relaxed)) return;
  if (pthread_mutex_trylock(&ace_lock) != 0) return;
  if (atomic_load(&hk_ace_state) == HK_ACE_IDLE) {
    atomic_store_explicit(&next_call_ms, now + EPOCH_MS, memory_order_relaxed);
    run_epoch(now);
  }
  hk_unlock(&ace_lock);
  /* the epoch runs on this thread's call: its own cache's sweep too */
  if (hk_heap_tls != &hk_heap_empty) hk_cache_sweep(hk_heap_tls);
}

/* ---- lifecycle ---------------------------------------------------------------- */

/* Called at process init (config read). */
void hk_ace_init(void) {
  ace.learning = hk_cfg.learning != 0;
  if (ace.learning) {
    unsigned sel = hk_cfg.strategy == HK_STRATEGY_UCB1 ? HK_SEL_UCB1 : HK_SEL_ELO;
    hk_learn_init(&ace.learn, HK_STRATEGIES, 2, sel, 0x9e3779b97f4a7c15u);
    if (hk_cfg.strategy >= 0) ace.learning = false; /* a fixed candidate */
    apply_strategy(hk_cfg.strategy >= 0 ? (unsigned)hk_cfg.strategy : hk_learn_next(&ace.learn));
  }
  cond_init();
  last_epoch_ms = ace.last_decay_ms = ace.last_unmap_ms = hk_now_ms();
  learn_restart(last_epoch_ms);
  atomic_store_explicit(&hk_ace_state, hk_cfg.ace ? HK_ACE_IDLE : HK_ACE_OFF, memory_order_release);
}

/* A thread of the program took its heap, or gave it back (thread exit):
 * the thread ends when too few of them are left. */
void hk_ace_thread_joined(void) {
  if (on_ace_thread) return;
  int n = atomic_fetch_add_explicit(&app_threads, 1, memory_order_relaxed) + 1;
  if (n >= 2 && hk_cfg.ace && hk_cfg.ace_thread == HK_ACE_THREAD_AUTO)
    atomic_store_explicit(&hk_ace_pending, 1, memory_order_relaxed); /* the next malloc's */
}
void hk_ace_thread_left(void) {
  if (on_ace_thread) return;
  int n = atomic_fetch_sub_explicit(&app_threads, 1, memory_order_seq_cst) - 1;
  int need = threads_needed();
  if (n >= need || !hk_cfg.ace || hk_cfg.ace_thread == HK_ACE_THREAD_OFF) return;
  hk_lock(&ace_lock); /* at most one epoch's wait (and a start's) */
  if (atomic_load(&hk_ace_state) == HK_ACE_RUNNING &&
      atomic_load_explicit(&app_threads, memory_order_relaxed) < need)
    stop_thread();
  hk_unlock(&ace_lock);
}

/* At exit: nothing left running or half done. */
__attribute__((destructor)) static void ace_exit(void) {
  hk_lock(&ace_lock);
  bool running = atomic_load(&hk_ace_state) == HK_ACE_RUNNING;
  if (running) {
    ace_gen++;
    ace_joining = true;
    pthread_cond_signal(&ace_cond);
  }
  if (hk_cfg.ace) atomic_store(&hk_ace_state, HK_ACE_STOPPED);
  hk_unlock(&ace_lock);
  if (running && !on_ace_thread) pthread_join(ace_thread, NULL);
}

/* Fork: the thread is between epochs while the lock is held; the child has
 * no thread, and one thread of its own.  hk_ace_fork_child runs after the
 * locks are unlocked (init.c), before the child's thread goes on. */
void hk_ace_fork_prepare(void) { hk_lock(&ace_lock); }
void hk_ace_fork_parent(void) { hk_unlock(&ace_lock); }
void hk_ace_fork_child(void) {
  cond_init(); /* the parent's thread may have been waiting on it */
  if (atomic_load(&hk_ace_state) == HK_ACE_RUNNING) atomic_store(&hk_ace_state, HK_ACE_IDLE);
  atomic_store(&app_threads, hk_heap_tls != &hk_heap_empty);
  atomic_store_explicit(&stopped_ms, 0, memory_order_relaxed);
  atomic_store_explicit(&hk_ace_pending, 0, memory_order_relaxed); /* the parent's wish */
  atomic_store_explicit(&hk_ace_remote, 0, memory_order_relaxed);
  ace_joining = false;
  ace.self_on_thread = false;
  atomic_store_explicit(&next_call_ms, 0, memory_order_relaxed);
}

/* ---- statistics ----------------------------------------------------------------- */

void hk_ace_stats(struct hak_stats *st) {
  hk_lock(&ace_lock);
  st->ace_state = (uint32_t)atomic_load(&hk_ace_state);
  if (atomic_load_explicit(&ace_failed, memory_order_relaxed) && st->ace_state == HK_ACE_IDLE)
    st->ace_state = HK_ACE_FAILED;
  st->ace_threads_started = ace.threads_started;
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
