/* hakmem config: the mode and the few overrides, read once at process init
 * from the environment (without allocating).  Slow paths read hk_cfg. */
#ifndef HK_CONFIG_H
#define HK_CONFIG_H

#include <stdint.h>

enum { HK_THP_OFF, HK_THP_AUTO, HK_THP_ON };
enum { HK_STATS_OFF, HK_STATS_TABLE, HK_STATS_JSON };

typedef struct hk_config_s {
  unsigned mode;              /* enum hak_mode                                */
  uint32_t purge_delay_ms;    /* free memory stays resident this long         */
  uint32_t retain_mb;         /* per heap, free and resident before any purge */
  uint32_t bigcache_mb;       /* cached mappings of blocks > 1 MiB            */
  unsigned thp;               /* HK_THP_*                                     */
  unsigned stats;             /* HK_STATS_*: printed at exit                  */
  unsigned verbose;
  char stats_path[512];       /* HAKMEM_STATS=json:PATH                       */
} hk_config_t;

extern hk_config_t hk_cfg;
extern const char *const hk_mode_names[];

void hk_config_init(void);
/* One line "hakmem: ..." on stderr, formatted without allocating. */
void hk_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* HK_CONFIG_H */
