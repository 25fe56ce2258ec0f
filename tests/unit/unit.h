/* Shared by the unit tests: they link libhakmem.a and look at its internals. */
#ifndef HK_UNIT_H
#define HK_UNIT_H
#include "internal.h"
#include <stdio.h>
#include <stdlib.h>
#ifdef HK_SANITIZER_NAMES /* built by tests/sanitizers.mk: malloc is hks_malloc */
#include "sanitizer_names.h"
#endif

#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                              \
      fprintf(stderr, __VA_ARGS__);                                                                \
      fputc('\n', stderr);                                                                         \
      exit(1);                                                                                     \
    }                                                                                              \
  } while (0)

/* The slab metadata of a block handed out by malloc. */
static inline hk_slab_t *unit_slab_of(void *p) {
  hk_superslab_t *ss = hk_ss_of(p);
  return hk_slab_head(hk_slab_at(ss, p));
}
#endif
