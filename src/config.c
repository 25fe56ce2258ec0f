/* hakmem config: HAKMEM_MODE sets every knob's default, each HAKMEM_<KNOB>
 * variable overrides one.  A bad value or an unknown HAKMEM_ name gets one
 * warning line and changes nothing; the program runs on. */
#include "internal.h"
#include "hakmem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

extern char **environ;

enum { K_MODE, K_PURGE, K_RETAIN, K_THP, K_STATS, K_VERBOSE, K_STRATEGY, K_LOG,
       K_HARDEN, K_ACE_THREAD, K_COUNT };

static const char *const knob_names[K_COUNT] = {
  "HAKMEM_MODE", "HAKMEM_PURGE_DELAY_MS", "HAKMEM_RETAIN_MB", "HAKMEM_THP", "HAKMEM_STATS", "HAKMEM_VERBOSE", "HAKMEM_STRATEGY", "HAKMEM_LOG",
  "HAKMEM_HARDEN", "HAKMEM_ACE_THREAD",
};
static const char *const accepted[K_COUNT] = {
  "minimal|fast|balanced|learning|research", "0..60000", "0..4096", "off|auto|on", "0|1|json:PATH", "0|1", "elo|ucb1|lean|balanced|warm|hoard", "PATH",
  "0|1|zero", "off|auto|on",
};
static const uint32_t max_value[K_COUNT] = { 0, 60000, 4096, 0, 0, 1, 0, 0, 0, 0 };
static const char *const harden_names[] = { "0", "1", "zero" };
static const char *const strategy_names[] = { "elo", "ucb1" };

const char *const hk_mode_names[] = { "minimal", "fast", "balanced", "learning", "research" };
/* HAKMEM_THP and HAKMEM_ACE_THREAD (HK_THP_*, HK_ACE_THREAD_*) */
static const char *const off_auto_on[] = { "off", "auto", "on" };

/* Per mode: purge delay, retain, thp, stats, verbose, adaptive layer,
 * learning (the adaptive layer's thread: HAKMEM_ACE_THREAD, auto). */
static const uint32_t mode_defaults[5][7] = {
  [HAK_MODE_MINIMAL]  = { 0,    0,  HK_THP_OFF,  HK_STATS_OFF,   0, 0, 0 },
  [HAK_MODE_FAST]     = { 1000, 64, HK_THP_AUTO, HK_STATS_OFF,   0, 0, 0 },
  [HAK_MODE_BALANCED] = { 100,  8,  HK_THP_AUTO, HK_STATS_OFF,   0, 1, 0 },
  [HAK_MODE_LEARNING] = { 100,  8,  HK_THP_AUTO, HK_STATS_OFF,   0, 1, 1 },
  [HAK_MODE_RESEARCH] = { 100,  8,  HK_THP_ON,   HK_STATS_TABLE, 1, 1, 1 },
};

hk_config_t hk_cfg = { HAK_MODE_BALANCED, 100, 8, HK_THP_AUTO, HK_STATS_OFF, 0,
                       HK_STRATEGY_ELO, 1, HK_ACE_THREAD_AUTO, 0, HK_HARDEN_DEFAULT, "", "" };
hk_tune_t hk_tune = { 100, 8, { 0 } };
int hk_log_fd = 2;
static bool from_env[K_COUNT];

void hk_log(const char *fmt, ...) {
  char buf[768];
  memcpy(buf, "hakmem: ", 8);
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf + 8, sizeof buf - 9, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  size_t len = 8 + ((size_t)n < sizeof buf - 9 ? (size_t)n : sizeof buf - 10);
  buf[len++] = '\n';
  for (size_t off = 0; off < len;) {
    ssize_t w = write(hk_log_fd, buf + off, len - off);
    if (w <= 0) return;
    off += (size_t)w;
  }
}

static void apply_mode(unsigned mode) {
  const uint32_t *d = mode_defaults[mode];
  hk_cfg.mode = mode;
  hk_cfg.purge_delay_ms = d[0];
  hk_cfg.retain_mb = d[1];
  hk_cfg.thp = d[2];
  hk_cfg.stats = d[3];
  hk_cfg.verbose = d[4];
  hk_cfg.ace = d[5];
  hk_cfg.learning = d[6];
}

static int word_index(const char *v, const char *const *words, int n) {
  for (int i = 0; i < n; i++)
    if (strcmp(v, words[i]) == 0) return i;
  return -1;
}

/* A decimal number 0..max: digits only, no sign, no overflow. */
static bool parse_number(const char *v, uint32_t max, uint32_t *out) {
  uint64_t x = 0;
  if (*v == 0) return false;
  for (; *v; v++) {
    if (*v < '0' || *v > '9') return false;
    x = x * 10 + (uint64_t)(*v - '0');
    if (x > max) return false;
  }
  *out = (uint32_t)x;
  return true;
}

/* The current value of a knob, as it would be written in the environment. */
static const char *knob_value(int k, char *buf, size_t size) {
  switch (k) {
  case K_MODE: return hk_mode_names[hk_cfg.mode];
  case K_PURGE: snprintf(buf, size, "%u", (unsigned)hk_cfg.purge_delay_ms); return buf;
  case K_RETAIN: snprintf(buf, size, "%u", (unsigned)hk_cfg.retain_mb); return buf;
  case K_THP: return off_auto_on[hk_cfg.thp];
  case K_STATS:
    if (hk_cfg.stats != HK_STATS_JSON) return hk_cfg.stats ? "1" : "0";
    snprintf(buf, size, "json:%s", hk_cfg.stats_path);
    return buf;
  case K_STRATEGY:
    if (hk_cfg.strategy < 0) return strategy_names[-hk_cfg.strategy - 1];
    return hk_strategy_names[hk_cfg.strategy];
  case K_LOG: return hk_cfg.log_path[0] ? hk_cfg.log_path : "stderr";
  case K_HARDEN: return harden_names[hk_cfg.harden];
  case K_ACE_THREAD:   /* minimal, fast: no adaptive layer, no thread */
    return hk_cfg.ace || from_env[k] ? off_auto_on[hk_cfg.ace_thread] : "off";
  default: return hk_cfg.verbose ? "1" : "0";
  }
}

static bool set_knob(int k, const char *v) {
  uint32_t x;
  int i;
  switch (k) {
  case K_MODE:
    if ((i = word_index(v, hk_mode_names, 5)) < 0) return false;
    apply_mode((unsigned)i);
    return true;
  case K_THP:
    if ((i = word_index(v, off_auto_on, 3)) < 0) return false;
    hk_cfg.thp = (unsigned)i;
    return true;
  case K_STATS:
    if (strcmp(v, "0") == 0 || strcmp(v, "1") == 0) {
      hk_cfg.stats = v[0] == '1' ? HK_STATS_TABLE : HK_STATS_OFF;
      return true;
    }
    if (strncmp(v, "json:", 5) != 0 || v[5] == 0 || strlen(v + 5) >= sizeof hk_cfg.stats_path)
      return false;
    strcpy(hk_cfg.stats_path, v + 5);
    hk_cfg.stats = HK_STATS_JSON;
    return true;
  case K_STRATEGY:
    if ((i = word_index(v, strategy_names, 2)) >= 0) { hk_cfg.strategy = -i - 1; return true; }
    if ((i = word_index(v, hk_strategy_names, (int)HK_STRATEGIES)) < 0) return false;
    hk_cfg.strategy = i;
    return true;
  case K_HARDEN:
    if ((i = word_index(v, harden_names, 3)) < 0) return false;
    hk_cfg.harden = (unsigned)i;
    return true;
  case K_ACE_THREAD:
    if ((i = word_index(v, off_auto_on, 3)) < 0) return false;
    hk_cfg.ace_thread = (unsigned)i;
    return true;
  case K_LOG:
    if (*v == 0 || strlen(v) >= sizeof hk_cfg.log_path) return false;
    strcpy(hk_cfg.log_path, v);
    return true;
  default:
    if (!parse_number(v, max_value[k], &x)) return false;
    if (k == K_PURGE) hk_cfg.purge_delay_ms = x;
    else if (k == K_RETAIN) hk_cfg.retain_mb = x;
    else hk_cfg.verbose = x;
    return true;
  }
}

static int knob_of(const char *entry, const char **value) {
  const char *eq = strchr(entry, '=');
  if (!eq) return -1;
  size_t len = (size_t)(eq - entry);
  *value = eq + 1;
  for (int k = 0; k < K_COUNT; k++)
    if (strlen(knob_names[k]) == len && memcmp(entry, knob_names[k], len) == 0) return k;
  return -1;
}

/* At most 64 characters of a value in a message. */
static const char *shown(const char *v, char *buf, size_t size) {
  if (strlen(v) <= 64) return v;
  snprintf(buf, size, "%.61s...", v);
  return buf;
}

/* HAKMEM_LOG: messages go to PATH (appended) instead of stderr. */
static void open_log(void) {
  int fd = open(hk_cfg.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd >= 0) { hk_log_fd = fd; return; }
  int err = errno;
  hk_log("warning: HAKMEM_LOG=%s cannot be opened (errno %d); logging to stderr",
         hk_cfg.log_path, err);
  hk_cfg.log_path[0] = 0;
}

static void try_knob(int k, const char *v) {
  if (set_knob(k, v)) { from_env[k] = true; return; }
  char a[80], b[32];
  hk_log("warning: %s=%s is not valid (accepted: %s); keeping %s", knob_names[k],
         shown(v, a, sizeof a), accepted[k], knob_value(k, b, sizeof b));
}

void hk_config_init(void) {
  char **env = environ;
  if (!env) return;
  const char *v;
  for (char **e = env; *e; e++)            /* where messages go, then the mode */
    if (knob_of(*e, &v) == K_LOG) try_knob(K_LOG, v);
  if (hk_cfg.log_path[0]) open_log();
  for (char **e = env; *e; e++)            /* the mode sets the defaults */
    if (knob_of(*e, &v) == K_MODE) try_knob(K_MODE, v);
  for (char **e = env; *e; e++) {
    if (strncmp(*e, "HAKMEM_", 7) != 0) continue;
    int k = knob_of(*e, &v);
    if (k == K_MODE || k == K_LOG) continue;
    if (k >= 0) { try_knob(k, v); continue; }
    char a[80], known[300] = "";
    for (int i = 0; i < K_COUNT; i++) {
      strcat(known, knob_names[i]);
      if (i + 1 < K_COUNT) strcat(known, ", ");
    }
    const char *eq = strchr(*e, '=');
    int name_len = eq ? (int)(eq - *e) : (int)strlen(*e);
    hk_log("warning: unknown variable %.*s=%s ignored (known: %s)",
           name_len > 200 ? 200 : name_len, *e, shown(eq ? eq + 1 : "", a, sizeof a), known);
  }
  hk_tune.purge_delay_ms = hk_cfg.purge_delay_ms;
  hk_tune.retain_mb = hk_cfg.retain_mb;
  memset(hk_tune.refill_pages, 1, sizeof hk_tune.refill_pages);
  if (!hk_cfg.verbose) return;
  for (int k = 0; k < K_COUNT; k++) {
    char buf[600], src[32];
    const char *val = knob_value(k, buf, sizeof buf);
    if (from_env[k]) snprintf(src, sizeof src, "environment");
    else if (k == K_MODE) snprintf(src, sizeof src, "default");
    else if (k == K_HARDEN) snprintf(src, sizeof src, "build default");
    else snprintf(src, sizeof src, "mode %s", hk_mode_names[hk_cfg.mode]);
    hk_log("config %s=%s (%s)", knob_names[k], val, src);
  }
}
