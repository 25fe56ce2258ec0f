/* hakmem config: the mode and the few overrides, read once at process init
 * from the environment (without allocating).  Slow paths read hk_cfg. */
#ifndef HK_CONFIG_H
#define HK_CONFIG_H

#include <stdint.h>

enum { HK_THP_OFF, HK_THP_AUTO, HK_THP_ON };
enum { HK_STATS_OFF, HK_STATS_TABLE, HK_STATS_JSON };
/* HAKMEM_STRATEGY: how learning mode picks its strategy (ace.c), or a
 * candidate (>= 0) run statically. */
enum { HK_STRATEGY_ELO = -1, HK_STRATEGY_UCB1 = -2 };
/* HAKMEM_HARDEN: off, on, on with every freed block zeroed. */
enum { HK_HARDEN_OFF, HK_HARDEN_ON, HK_HARDEN_ZERO };
/* HAKMEM_ACE_THREAD: where the adaptive layer runs: on the program's own
 * allocator calls only, in a thread once the program has two threads of its
 * own, or in a thread once memory is freed. */
enum { HK_ACE_THREAD_OFF, HK_ACE_THREAD_AUTO, HK_ACE_THREAD_ON };
/* `make hardened` builds a library whose default is HAKMEM_HARDEN=1. */
#ifndef HK_HARDEN_DEFAULT
#define HK_HARDEN_DEFAULT HK_HARDEN_OFF
#endif

typedef struct hk_config_s {
  unsigned mode;           /* enum hak_mode                                */
  uint32_t purge_delay_ms; /* free memory stays resident this long         */
  uint32_t retain_mb;      /* per heap, free and resident before any purge */
  uint32_t cache_mb;       /* the threads' caches of 1-32 KiB blocks, in all */
  uint32_t limit_mb;       /* the memory budget's hard limit (limit.c); 0: none */
  unsigned thp;            /* HK_THP_*                                     */
  unsigned stats;          /* HK_STATS_*: printed at exit                  */
  unsigned verbose;
  int strategy;         /* HK_STRATEGY_* or a candidate index           */
  unsigned ace;         /* the adaptive layer runs (mode)               */
  unsigned ace_thread;  /* HK_ACE_THREAD_*: ... and where               */
  unsigned learning;    /* it learns a strategy (learning, research)    */
  unsigned harden;      /* HK_HARDEN_*: misuse checks, encoded links     */
  char stats_path[512]; /* HAKMEM_STATS=json:PATH                       */
  char log_path[512];   /* HAKMEM_LOG=PATH: messages and decisions      */
} hk_config_t;

extern hk_config_t hk_cfg;
extern const char *const hk_mode_names[];
extern int hk_log_fd; /* stderr, or HAKMEM_LOG's file */

/* Learning mode's candidate strategies (ace.c). */
#define HK_STRATEGIES 4
extern const char *const hk_strategy_names[HK_STRATEGIES];

/* The knobs the adaptive layer changes while the program runs (a copy of
 * hk_cfg's at start).  Slow paths read them with HK_TUNE: a relaxed atomic
 * load, a plain mov. */
typedef struct hk_tune_s {
  uint32_t purge_delay_ms;
  uint32_t retain_mb;
  uint32_t pinned;          /* HK_PIN_*: set by the program, learning keeps off */
  uint8_t refill_pages[80]; /* per size class: pages carved per refill      */
} hk_tune_t;
enum { HK_PIN_PURGE = 1, HK_PIN_RETAIN = 2 };
extern hk_tune_t hk_tune;
#define HK_TUNE(field)        __atomic_load_n(&hk_tune.field, __ATOMIC_RELAXED)
#define HK_TUNE_SET(field, v) __atomic_store_n(&hk_tune.field, (v), __ATOMIC_RELAXED)

void hk_config_init(void);
/* README.md's table of the options (markdown) from the option table, on fd. */
void hk_config_doc(int fd);
/* One line "hakmem: ..." on stderr, formatted without allocating. */
void hk_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* HK_CONFIG_H */
