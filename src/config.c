/* hakmem config: HAKMEM_MODE sets every option's default, each HAKMEM_<NAME>
 * variable overrides one.  One table (options[], below) says, per option,
 * its name, what it accepts, its value in each mode and what it does: the
 * parsing, the warnings, HAKMEM_VERBOSE's listing and README's table
 * (hk_config_doc; tests/config.sh compares) all come from it.  A bad value
 * gets one warning line and changes nothing; an unknown HAKMEM_ name gets
 * one only when it looks like a misspelling of a known one (other programs'
 * and scripts' HAKMEM_* variables stay silent).  The program runs on. */
#include "internal.h"
#include "cache.h"
#include "hakmem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <unistd.h>

extern char **environ;

#define HK_MODES (HAK_MODE_RESEARCH + 1)

const char *const hk_mode_names[] = { "minimal", "fast", "balanced", "learning", "research" };
_Static_assert(sizeof hk_mode_names / sizeof hk_mode_names[0] == HK_MODES, "a name per mode");

/* What the mode itself turns on: the adaptive layer, and its learning. */
/* The tables below are laid out by hand, to read as tables. */
/* clang-format off */
static const struct { uint8_t ace, learning; } mode_traits[HK_MODES] = {
  [HAK_MODE_MINIMAL] = { 0, 0 }, [HAK_MODE_FAST] = { 0, 0 }, [HAK_MODE_BALANCED] = { 1, 0 },
  [HAK_MODE_LEARNING] = { 1, 1 }, [HAK_MODE_RESEARCH] = { 1, 1 },
};

enum { K_MODE, K_PURGE, K_RETAIN, K_CACHE, K_LIMIT, K_THP, K_STATS, K_VERBOSE, K_STRATEGY, K_LOG,
       K_HARDEN, K_ACE_THREAD, K_COUNT };
/* How a value is read: one of words[], a number 0..max, or a form of its own. */
enum opt_kind { OPT_WORDS, OPT_NUMBER, OPT_STATS, OPT_STRATEGY, OPT_PATH };

static const char *const off_auto_on[] = { "off", "auto", "on" };   /* HK_THP_*, HK_ACE_THREAD_* */
static const char *const zero_one[] = { "0", "1" };
static const char *const harden_names[] = { "0", "1", "zero" };     /* HK_HARDEN_* */
static const char *const selector_names[] = { "elo", "ucb1" };      /* HK_STRATEGY_ELO, _UCB1 */
static const char *const stats_forms[] = { "0", "1", "json:PATH" };   /* shown, parsed by set_knob */
static const char *const path_forms[] = { "PATH", "stderr" };

/* `make hardened`: HK_HARDEN_DEFAULT is HK_HARDEN_ON (config.h). */
#define HARDEN_DEFAULT (HK_HARDEN_DEFAULT == HK_HARDEN_ON ? "1" : "0")
#define WORDS(w) OPT_WORDS, w, sizeof w / sizeof w[0], 0

typedef struct hk_option_s {
  const char *name;
  enum opt_kind kind;
  const char *const *words;          /* the values (OPT_WORDS: parsed, in enum order) */
  unsigned nwords;
  uint32_t max;                      /* OPT_NUMBER */
  const char *value[HK_MODES];       /* per mode, as written in the environment */
  uint8_t unused_in;                 /* modes it has no effect in (README: —) */
  bool build_default;                /* the same in every mode: set by the build */
  const char *doc_accepted;          /* README: the values explained */
  const char *help;                  /* README: what it does */
} hk_option_t;

#define ALL(v) { v, v, v, v, v }
#define MODE_BIT(m) (1u << (m))

static const hk_option_t options[K_COUNT] = {
  [K_MODE] = { "HAKMEM_MODE", WORDS(hk_mode_names), { NULL }, 0, false, NULL,
               "the mode: every other option's default (below)" },
  [K_PURGE] = { "HAKMEM_PURGE_DELAY_MS", OPT_NUMBER, NULL, 0, 60000, { "0", "1000", "100", "100", "100" }, 0,
                false, NULL, "free memory stays resident this long before `madvise`" },
  [K_RETAIN] = { "HAKMEM_RETAIN_MB", OPT_NUMBER, NULL, 0, 4096, { "0", "64", "8", "8", "8" }, 0, false, NULL,
                 "free memory a thread heap keeps before any purge (the arena: as many 2 MiB SuperSlabs; "
                 "the page layer: this or half its live runs, whichever is more)" },
  [K_CACHE] = { "HAKMEM_CACHE_MB", OPT_NUMBER, NULL, 0, 1024, ALL("64"), MODE_BIT(HAK_MODE_MINIMAL), false, NULL,
                "free blocks of 1-32 KiB the threads' caches hold for their next mallocs, in all (a thread: "
                "its share, 0.5-16 MiB; 0: none)" },
  [K_LIMIT] = { "HAKMEM_LIMIT_MB", OPT_NUMBER, NULL, 0, 16777216, ALL("0"), 0, false, "0 (none), 1..16777216",
                "the process's resident memory: hakmem gives free memory back past 90 % of it and fails an "
                "allocation (ENOMEM) past it; without it, it gives back past 90 % of the memory cgroup's limit" },
  [K_THP] = { "HAKMEM_THP", WORDS(off_auto_on), { "off", "auto", "auto", "auto", "on" }, 0, false,
              "off, auto (for page runs, and for everything once the heap holds 32 MiB; the system's "
              "policy before), on", "transparent huge pages for hakmem's mappings" },
  [K_STATS] = { "HAKMEM_STATS", OPT_STATS, stats_forms, 3, 0, { "0", "0", "0", "0", "1" }, 0, false,
                "0, 1 (table on stderr), json:PATH", "statistics at exit" },
  [K_VERBOSE] = { "HAKMEM_VERBOSE", WORDS(zero_one), { "0", "0", "0", "0", "1" }, 0, false, NULL,
                  "print the configuration at start (research: and each decision of the adaptive layer)" },
  [K_STRATEGY] = { "HAKMEM_STRATEGY", OPT_STRATEGY, NULL, 0, 0, ALL("elo"),
                   MODE_BIT(HAK_MODE_MINIMAL) | MODE_BIT(HAK_MODE_FAST) | MODE_BIT(HAK_MODE_BALANCED), false, NULL,
                   "how learning picks its strategy: ELO ratings, UCB1, or one candidate run as is" },
  [K_LOG] = { "HAKMEM_LOG", OPT_PATH, path_forms, 2, 0, ALL("stderr"), 0, false, "a file path, or stderr",
              "where hakmem's messages go (appended)" },
  [K_HARDEN] = { "HAKMEM_HARDEN", WORDS(harden_names), ALL(HARDEN_DEFAULT), 0, true, NULL,
                 "hardened mode (below); `zero` also zeroes every freed block" },
  [K_ACE_THREAD] = { "HAKMEM_ACE_THREAD", WORDS(off_auto_on), { "off", "off", "auto", "auto", "auto" },
                     MODE_BIT(HAK_MODE_MINIMAL) | MODE_BIT(HAK_MODE_FAST), false,
                     "off (never), auto (once the program has two threads), on (once memory is freed)",
                     "when the adaptive layer gets a thread of its own (below)" },
};
/* clang-format on */
_Static_assert(sizeof options / sizeof options[0] == K_COUNT, "a row per option");
_Static_assert(sizeof off_auto_on / sizeof *off_auto_on == HK_THP_ON + 1 &&
                   (int)HK_ACE_THREAD_ON == (int)HK_THP_ON,
               "off|auto|on in enum order");
_Static_assert(sizeof harden_names / sizeof *harden_names == HK_HARDEN_ZERO + 1,
               "a word per HK_HARDEN_*");
_Static_assert(HK_STRATEGY_ELO == -1 && HK_STRATEGY_UCB1 == -2, "selector i is -i - 1");

/* Set from the table by hk_config_init, the first thing the library does
 * (before anything that may call malloc). */
hk_config_t hk_cfg = { .harden = HK_HARDEN_DEFAULT };
hk_tune_t hk_tune;
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

/* words[0..n) joined by sep into buf at n0; returns the new length. */
static size_t join(char *buf, size_t size, size_t n0, const char *const *words, unsigned n,
                   const char *sep) {
  for (unsigned i = 0; i < n && n0 < size; i++)
    n0 += (size_t)snprintf(buf + n0, size - n0, "%s%s", i ? sep : "", words[i]);
  return n0;
}

/* What option k accepts, its forms joined by sep: "off|auto|on" in a
 * warning, "off, auto, on" in README's table; "0..60000" for a number. */
static const char *accepted(int k, const char *sep, char *buf, size_t size) {
  const hk_option_t *o = &options[k];
  if (o->kind == OPT_NUMBER) {
    snprintf(buf, size, "0..%u", (unsigned)o->max);
  } else if (o->kind == OPT_STRATEGY) { /* a selector, or a candidate run as is */
    size_t n = join(buf, size, 0, selector_names, 2, sep);
    n += (size_t)snprintf(buf + n, size - n, "%s", sep);
    join(buf, size, n, hk_strategy_names, HK_STRATEGIES, sep);
  } else {
    join(buf, size, 0, o->words, o->nwords, sep);
  }
  return buf;
}

/* The current value of option k, as it would be written in the environment. */
static const char *knob_value(int k, char *buf, size_t size) {
  switch (k) {
    case K_MODE: return hk_mode_names[hk_cfg.mode];
    case K_PURGE: snprintf(buf, size, "%u", (unsigned)hk_cfg.purge_delay_ms); return buf;
    case K_RETAIN: snprintf(buf, size, "%u", (unsigned)hk_cfg.retain_mb); return buf;
    case K_CACHE: snprintf(buf, size, "%u", (unsigned)hk_cfg.cache_mb); return buf;
    case K_LIMIT: snprintf(buf, size, "%u", (unsigned)hk_cfg.limit_mb); return buf;
    case K_THP: return off_auto_on[hk_cfg.thp];
    case K_STATS:
      if (hk_cfg.stats != HK_STATS_JSON) return hk_cfg.stats ? "1" : "0";
      snprintf(buf, size, "json:%s", hk_cfg.stats_path);
      return buf;
    case K_VERBOSE: return zero_one[hk_cfg.verbose != 0];
    case K_STRATEGY:
      if (hk_cfg.strategy < 0) return selector_names[-hk_cfg.strategy - 1];
      return hk_strategy_names[hk_cfg.strategy];
    case K_LOG: return hk_cfg.log_path[0] ? hk_cfg.log_path : "stderr";
    case K_HARDEN: return harden_names[hk_cfg.harden];
    default: return off_auto_on[hk_cfg.ace_thread];
  }
}

static void apply_mode(unsigned mode);

/* Parse v for option k and store it; false (nothing changed) if invalid. */
static bool set_knob(int k, const char *v) {
  const hk_option_t *o = &options[k];
  uint32_t x = 0;
  int i = -1;
  switch (o->kind) {
    case OPT_WORDS:
      if ((i = word_index(v, o->words, (int)o->nwords)) < 0) return false;
      break;
    case OPT_NUMBER:
      if (!parse_number(v, o->max, &x)) return false;
      break;
    case OPT_STATS:
      if (strcmp(v, "0") == 0 || strcmp(v, "1") == 0) {
        hk_cfg.stats = v[0] == '1' ? HK_STATS_TABLE : HK_STATS_OFF;
        return true;
      }
      if (strncmp(v, "json:", 5) != 0 || v[5] == 0 || strlen(v + 5) >= sizeof hk_cfg.stats_path)
        return false;
      strcpy(hk_cfg.stats_path, v + 5);
      hk_cfg.stats = HK_STATS_JSON;
      return true;
    case OPT_STRATEGY:
      if ((i = word_index(v, selector_names, 2)) >= 0) {
        hk_cfg.strategy = -i - 1;
        return true;
      }
      if ((i = word_index(v, hk_strategy_names, HK_STRATEGIES)) < 0) return false;
      hk_cfg.strategy = i;
      return true;
    case OPT_PATH:
      if (*v == 0 || strlen(v) >= sizeof hk_cfg.log_path) return false;
      strcpy(hk_cfg.log_path, strcmp(v, "stderr") == 0 ? "" : v);
      return true;
  }
  switch (k) {
    case K_MODE: apply_mode((unsigned)i); break;
    case K_PURGE: hk_cfg.purge_delay_ms = x; break;
    case K_RETAIN: hk_cfg.retain_mb = x; break;
    case K_CACHE: hk_cfg.cache_mb = x; break;
    case K_LIMIT: hk_cfg.limit_mb = x; break;
    case K_THP: hk_cfg.thp = (unsigned)i; break;
    case K_VERBOSE: hk_cfg.verbose = (unsigned)i; break;
    case K_HARDEN: hk_cfg.harden = (unsigned)i; break;
    case K_ACE_THREAD: hk_cfg.ace_thread = (unsigned)i; break;
  }
  return true;
}

/* The mode and its value of every option (the table's values are valid). */
static void apply_mode(unsigned mode) {
  hk_cfg.mode = mode;
  hk_cfg.ace = mode_traits[mode].ace;
  hk_cfg.learning = mode_traits[mode].learning;
  for (int k = K_MODE + 1; k < K_COUNT; k++)
    if (k != K_LOG) set_knob(k, options[k].value[mode]);
}

static int knob_of(const char *entry, const char **value) {
  const char *eq = strchr(entry, '=');
  if (!eq) return -1;
  size_t len = (size_t)(eq - entry);
  *value = eq + 1;
  for (int k = 0; k < K_COUNT; k++)
    if (strlen(options[k].name) == len && memcmp(entry, options[k].name, len) == 0) return k;
  return -1;
}

/* At most 64 characters of a value in a message. */
static const char *shown(const char *v, char *buf, size_t size) {
  if (strlen(v) <= 64) return v;
  snprintf(buf, size, "%.61s...", v);
  return buf;
}

static char upper(char c) { return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c; }

/* Edit distance (insert, delete, substitute, swap two neighbours; case
 * ignored) between a[0..n) and b[0..m), both at most 40 characters. */
static unsigned distance(const char *a, size_t n, const char *b, size_t m) {
  unsigned d[41][41];
  for (size_t i = 0; i <= n; i++) d[i][0] = (unsigned)i;
  for (size_t j = 0; j <= m; j++) d[0][j] = (unsigned)j;
  for (size_t i = 1; i <= n; i++)
    for (size_t j = 1; j <= m; j++) {
      unsigned best = d[i - 1][j - 1] + (upper(a[i - 1]) != upper(b[j - 1]));
      if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
      if (i > 1 && j > 1 && upper(a[i - 1]) == upper(b[j - 2]) &&
          upper(a[i - 2]) == upper(b[j - 1]) && d[i - 2][j - 2] + 1 < best)
        best = d[i - 2][j - 2] + 1;
      d[i][j] = best;
    }
  return d[n][m];
}

/* The option an unknown HAKMEM_ name NAME[0..len) was likely meant to be, or
 * -1: the part after HAKMEM_ within 2 edits of an option's (1 for names of
 * up to 7 characters, so HAKMEM_SO is not HAKMEM_LOG), or one a prefix of
 * the other, 4 characters or more apart at most (HAKMEM_PURGE_DELAY). */
static int misspelt(const char *name, size_t len) {
  const char *s = name + 7;
  size_t n = len - 7;
  if (n == 0 || n > 40) return -1;
  for (int k = 0; k < K_COUNT; k++) {
    const char *t = options[k].name + 7;
    size_t m = strlen(t), shorter = n < m ? n : m;
    unsigned most = m <= 7 ? 1 : 2;
    if (distance(s, n, t, m) <= most) return k;
    if (shorter >= 4 && (n > m ? n - m : m - n) <= 4 && strncasecmp(s, t, shorter) == 0) return k;
  }
  return -1;
}

/* HAKMEM_LOG: messages go to PATH (appended) instead of stderr. */
static void open_log(void) {
  int fd = open(hk_cfg.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd >= 0) {
    hk_log_fd = fd;
    return;
  }
  int err = errno;
  hk_log("warning: HAKMEM_LOG=%s cannot be opened (errno %d); logging to stderr", hk_cfg.log_path,
         err);
  hk_cfg.log_path[0] = 0;
}

static void try_knob(int k, const char *v) {
  if (set_knob(k, v)) {
    from_env[k] = true;
    return;
  }
  char a[80], b[32], acc[128];
  hk_log("warning: %s=%s is not valid (accepted: %s); keeping %s", options[k].name,
         shown(v, a, sizeof a), accepted(k, "|", acc, sizeof acc), knob_value(k, b, sizeof b));
}

static void unknown_name(const char *entry) {
  const char *eq = strchr(entry, '=');
  size_t len = eq ? (size_t)(eq - entry) : strlen(entry);
  int k = misspelt(entry, len);
  if (k < 0) return;
  char a[80];
  hk_log("warning: unknown variable %.*s=%s ignored; did you mean %s?",
         (int)(len > 200 ? 200 : len), entry, shown(eq ? eq + 1 : "", a, sizeof a),
         options[k].name);
}

void hk_config_init(void) {
  static char *no_env[] = { NULL };
  char **env = environ ? environ : no_env;
  const char *v;
  apply_mode(HAK_MODE_BALANCED);
  for (char **e = env; *e; e++) /* where messages go, then the mode */
    if (knob_of(*e, &v) == K_LOG) try_knob(K_LOG, v);
  if (hk_cfg.log_path[0]) open_log();
  for (char **e = env; *e; e++) /* the mode sets the defaults */
    if (knob_of(*e, &v) == K_MODE) try_knob(K_MODE, v);
  for (char **e = env; *e; e++) {
    if (strncmp(*e, "HAKMEM_", 7) != 0) continue;
    int k = knob_of(*e, &v);
    if (k == K_MODE || k == K_LOG) continue;
    if (k >= 0) try_knob(k, v);
    else unknown_name(*e);
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
    else if (options[k].build_default) snprintf(src, sizeof src, "build default");
    else snprintf(src, sizeof src, "mode %s", hk_mode_names[hk_cfg.mode]);
    hk_log("config %s=%s (%s)", options[k].name, val, src);
  }
}

/* README's table of the options, in markdown, on fd (tests/config.sh checks
 * that README.md holds exactly these lines). */
void hk_config_doc(int fd) {
  char line[1024], acc[128];
  size_t n = (size_t)snprintf(line, sizeof line, "| option (variable) | accepted |");
  for (int m = 0; m < HK_MODES; m++)
    n += (size_t)snprintf(line + n, sizeof line - n, " %s |", hk_mode_names[m]);
  n += (size_t)snprintf(line + n, sizeof line - n, "\n| --- | --- |%s\n",
                        " ---: | ---: | ---: | ---: | ---: |");
  if (write(fd, line, n) < 0) return;
  for (int k = K_MODE + 1; k < K_COUNT; k++) {
    const hk_option_t *o = &options[k];
    n = (size_t)snprintf(line, sizeof line, "| `%s`: %s | %s |", o->name, o->help,
                         o->doc_accepted ? o->doc_accepted : accepted(k, ", ", acc, sizeof acc));
    for (int m = 0; m < HK_MODES; m++)
      n += (size_t)snprintf(line + n, sizeof line - n, " %s |",
                            o->unused_in & MODE_BIT(m) ? "—" : o->value[m]);
    line[n++] = '\n';
    if (write(fd, line, n) < 0) return;
  }
}

/* ---- options from the program (hak_option_get, hak_option_set) ----------- */

/* enum hak_option -> its row of options[]: the same values as the variable. */
static const int8_t program_options[HAK_OPTION_COUNT] = {
  [HAK_OPTION_PURGE_DELAY_MS] = K_PURGE, [HAK_OPTION_RETAIN_MB] = K_RETAIN,
  [HAK_OPTION_CACHE_MB] = K_CACHE,       [HAK_OPTION_STATS] = K_STATS,
  [HAK_OPTION_VERBOSE] = K_VERBOSE,      [HAK_OPTION_LIMIT_MB] = K_LIMIT,
};
static hk_lock_t option_lock = HK_LOCK_INIT; /* one change at a time; fork takes it */
void hk_config_fork_prepare(void) { hk_lock(&option_lock); }
void hk_config_fork_parent(void) { hk_unlock(&option_lock); }

HAK_API int hak_option_get(enum hak_option option, long *value) {
  if ((unsigned)option >= HAK_OPTION_COUNT || !value) return EINVAL;
  hk_thread_init(); /* the environment read first (a static constructor may call this) */
  switch (option) {
    case HAK_OPTION_PURGE_DELAY_MS: *value = HK_TUNE(purge_delay_ms); break; /* learning's, too */
    case HAK_OPTION_RETAIN_MB: *value = HK_TUNE(retain_mb); break;
    case HAK_OPTION_CACHE_MB: *value = __atomic_load_n(&hk_cfg.cache_mb, __ATOMIC_RELAXED); break;
    case HAK_OPTION_STATS: *value = __atomic_load_n(&hk_cfg.stats, __ATOMIC_RELAXED); break;
    case HAK_OPTION_LIMIT_MB: { /* hak_limit_set's too */
      size_t soft, hard;
      hak_limit_get(&soft, &hard);
      *value = (long)(hard >> 20);
      break;
    }
    default: *value = __atomic_load_n(&hk_cfg.verbose, __ATOMIC_RELAXED); break;
  }
  return 0;
}

/* The value goes through the variable's parser: what HAKMEM_<NAME> accepts
 * (the statistics' JSON, 2, only once HAKMEM_STATS=json:PATH gave a path). */
HAK_API int hak_option_set(enum hak_option option, long value) {
  if ((unsigned)option >= HAK_OPTION_COUNT || value < 0 || value > UINT32_MAX) return EINVAL;
  hk_thread_init(); /* the environment read first, not after this */
  int k = program_options[option];
  char text[16];
  snprintf(text, sizeof text, "%ld", value);
  hk_lock(&option_lock);
  bool ok = true;
  if (option == HAK_OPTION_STATS && value == HK_STATS_JSON) ok = hk_cfg.stats_path[0] != 0;
  else ok = set_knob(k, text);
  if (ok) {
    switch (option) {
      case HAK_OPTION_PURGE_DELAY_MS:
        HK_TUNE_SET(purge_delay_ms, hk_cfg.purge_delay_ms);
        HK_TUNE_SET(pinned, HK_TUNE(pinned) | HK_PIN_PURGE);
        break;
      case HAK_OPTION_RETAIN_MB:
        HK_TUNE_SET(retain_mb, hk_cfg.retain_mb);
        HK_TUNE_SET(pinned, HK_TUNE(pinned) | HK_PIN_RETAIN);
        break;
      case HAK_OPTION_CACHE_MB: hk_cache_resize(); break;
      case HAK_OPTION_STATS: hk_cfg.stats = (unsigned)value; break;
      case HAK_OPTION_LIMIT_MB: hak_limit_set(0, (size_t)value << 20); break;
      default: break;
    }
  }
  hk_unlock(&option_lock);
  return ok ? 0 : EINVAL;
}
