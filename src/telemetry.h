/* hakmem telemetry: per-thread counters, updated on slow paths only.
 *
 * Each heap owns an hk_tel_t and is its only writer (plain adds, read by
 * hak_stats_get from any thread with relaxed loads, see HK_TEL_ADD); threads
 * without a heap count into a shared struct with atomic adds.  Totals are
 * the sum over every heap ever made, so nothing is lost when a thread exits.
 *
 * The fast paths count nothing.  Allocations from slabs are derived: a
 * block enters a slab's `free` list only on a slow path (carved, or moved
 * from `local_free`) and leaves it only by malloc, so the allocations are
 * carved + moved - dropped - (blocks on free lists now).  The last term is
 * walked for the calling thread when statistics are read; another running
 * thread's count runs ahead by what its free lists hold.  Local frees are
 * the blocks moved out of `local_free` (less the remote frees collected
 * there); remote frees are counted by the owner when it collects them, so
 * until then they count as in use (as in the slab's `used`).  The thread
 * cache's bins keep how many blocks went in and out (their count is the
 * difference), read at statistics time and added here when a heap retires;
 * what a bin gives back to the slabs is counted on that slow path, and
 * counted again by the local lists when it moves.
 *
 * Build with -DHK_TELEMETRY=0 to compile all of it out. */
#ifndef HK_TELEMETRY_H
#define HK_TELEMETRY_H

#ifndef HK_TELEMETRY
#define HK_TELEMETRY 1
#endif

/* Rows: the size classes, five large ranges (32 KiB-1 MiB, one per
 * doubling), then every block beyond 1 MiB. */
#define HK_TEL_ROW_LARGE  HK_NUM_CLASSES
#define HK_TEL_ROW_HUGE   (HK_NUM_CLASSES + 5)
#define HK_TEL_ROWS       (HK_NUM_CLASSES + 6)
#define HK_TEL_BINS       8  /* size sketch: bins per row      */
#define HK_TEL_LAT_BINS   32 /* latency: log2 of nanoseconds   */
#define HK_TEL_SIZE_EVERY 64 /* sample one slow malloc in 64 ...  */
#define HK_TEL_LAT_EVERY  4  /* ... and time one sample in 4     */
#define HK_TEL_STAGES     8  /* enum hak_stage                 */

/* Arrays per counter, indexed by row: one instruction to reach a row's. */
typedef struct hk_tel_s {
  uint64_t allocs[HK_TEL_ROWS];       /* counted directly: large spans, huge blocks   */
  uint64_t carved[HK_TEL_ROWS];       /* blocks carved, or adopted on a free list     */
  uint64_t dropped[HK_TEL_ROWS];      /* blocks on lists left at discard or exit      */
  uint64_t moved_local[HK_TEL_ROWS];  /* blocks taken from local_free lists           */
  uint64_t collected[HK_TEL_ROWS];    /* remote frees collected into local_free lists */
  uint64_t local_frees[HK_TEL_ROWS];  /* frees counted directly (large, huge)         */
  uint64_t remote_frees[HK_TEL_ROWS]; /* remote frees nobody collects: the lists of
                                          abandoned SuperSlabs given back            */
  uint64_t refills[HK_TEL_ROWS];
  uint64_t cache_pushed[HK_TEL_ROWS];  /* the thread cache's bins of exited
                                          threads: blocks in (frees) ...      */
  uint64_t cache_popped[HK_TEL_ROWS];  /* ... and out (mallocs and flushes)    */
  uint64_t cache_flushed[HK_TEL_ROWS]; /* blocks it gave back to their slabs   */
  uint32_t sizes[HK_TEL_ROWS][HK_TEL_BINS];
  uint64_t stage[HK_TEL_STAGES];
  uint64_t lat[HK_TEL_LAT_BINS];
  uint64_t lat_max;
  uint8_t tick;     /* slow mallocs x (256 / SIZE_EVERY): a sample when it wraps */
  uint8_t lat_tick; /* samples (owner only, never read by stats)     */
} hk_tel_t;

#if HK_TELEMETRY
/* Add to a counter of the calling thread's own hk_tel_t: a plain add (one
 * instruction; relaxed atomics kept the compiler from combining loads around
 * them and cost about twice as much per slow path).  A reader on another
 * thread loads with __atomic_load_n: aligned 8-byte stores do not tear on
 * the targets we build for, so it sees a recent value, never a torn one.
 * The race is meant, and declared here: under ThreadSanitizer (make tsan)
 * the add is the relaxed load and store it stands for. */
#if HK_TSAN
#define HK_TEL_ADD(field, n) ((void)HK_RELAXED_ADD(field, n))
#else
#define HK_TEL_ADD(field, n) ((field) += (n))
#endif
/* Whether this slow malloc is sampled: one add to a byte, one branch. */
#define HK_TEL_SAMPLE_NOW(t) \
  hk_unlikely(((t)->tick = (uint8_t)((t)->tick + 256 / HK_TEL_SIZE_EVERY)) == 0)
#else
#define HK_TEL_ADD(field, n) ((void)0)
#endif

#endif /* HK_TELEMETRY_H */
