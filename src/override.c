/* hakmem override: the exported symbols.  The malloc family with glibc's
 * semantics, the __libc_* aliases, and hakmem's own hak_* API.  They all live
 * in this one object so that linking libhakmem.a pulls in the whole family
 * at once (never our malloc with the C library's free). */
#include "hakmem.h"
#include "track.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <unistd.h>

#ifdef HK_SANITIZER_NAMES /* make tsan, make asan: the sanitizer owns malloc */
#include "sanitizer_names.h"
#endif

#define HK_EXPORT __attribute__((visibility("default")))

static bool is_pow2(size_t x) { return x && !(x & (x - 1)); }

/* The two fast paths start on a cache line of their own: where the linker
 * happens to put them otherwise moved tiny_hot by 6% (a free path spread
 * over three lines instead of two), with the same instructions. */
#define HK_HOT __attribute__((aligned(64)))
HK_EXPORT HK_HOT void *malloc(size_t n) { return hk_api_malloc(n); }
HK_EXPORT HK_HOT void free(void *p) { hk_api_free(p); }
HK_EXPORT void *calloc(size_t count, size_t size) { return hk_api_calloc(count, size); }
HK_EXPORT void *realloc(void *p, size_t n) { return hk_api_realloc(p, n); }

HK_EXPORT void *reallocarray(void *p, size_t count, size_t size) {
  size_t n;
  if (__builtin_mul_overflow(count, size, &n)) {
    errno = ENOMEM;
    return NULL;
  }
  return hk_api_realloc(p, n);
}

HK_EXPORT int posix_memalign(void **out, size_t align, size_t n) {
  if (!is_pow2(align) || align % sizeof(void *) != 0) return EINVAL;
  int saved = errno; /* posix_memalign reports, errno stays */
  void *p = hk_api_aligned(align, n);
  errno = saved;
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}

HK_EXPORT void *aligned_alloc(size_t align, size_t n) {
  if (!is_pow2(align)) {
    errno = EINVAL;
    return NULL;
  }
  return hk_api_aligned(align, n);
}

/* memalign rounds an alignment that is not a power of two up, as glibc does. */
HK_EXPORT void *memalign(size_t align, size_t n) {
  if (align > HK_MAX_REQUEST / 2) {
    errno = EINVAL;
    return NULL;
  }
  if (!is_pow2(align)) {
    size_t a = 1;
    while (a < align) a <<= 1;
    align = a;
  }
  return hk_api_aligned(align, n);
}

HK_EXPORT void *valloc(size_t n) { return hk_api_aligned(HK_PAGE_SIZE, n); }

HK_EXPORT void *pvalloc(size_t n) {
  if (n > HK_MAX_REQUEST) {
    errno = ENOMEM;
    return NULL;
  }
  size_t rounded = (n + HK_PAGE_SIZE - 1) & ~(size_t)(HK_PAGE_SIZE - 1);
  return hk_api_aligned(HK_PAGE_SIZE, rounded ? rounded : HK_PAGE_SIZE);
}

HK_EXPORT size_t malloc_usable_size(void *p) { return hk_usable_size(p); }
HK_EXPORT int malloc_trim(size_t pad) {
  (void)pad;
  return hk_trim() > 0;
}
HK_EXPORT void malloc_stats(void) { hk_stats_print(2); }

/* glibc's mallopt.  One parameter has a meaning here: M_TRIM_THRESHOLD,
 * the free memory kept before any goes back, is HAKMEM_RETAIN_MB (rounded
 * up to MiB; a negative value, glibc's "never trim", the most).  Returns 1
 * for it; 0 for the others, as glibc does for a parameter it does not
 * know: hakmem has no arenas to count (M_ARENA_MAX, M_ARENA_TEST), no
 * fastbins (M_MXFAST), no heap top (M_TOP_PAD), a fixed size for direct
 * mappings (M_MMAP_THRESHOLD, M_MMAP_MAX), and aborts on every misuse it
 * detects (M_CHECK_ACTION, M_PERTURB). */
HK_EXPORT int mallopt(int param, int value) {
  if (param != M_TRIM_THRESHOLD) return 0;
  long mb = value < 0 ? 4096 : ((long)value + (1 << 20) - 1) >> 20;
  return hak_option_set(HAK_OPTION_RETAIN_MB, mb > 4096 ? 4096 : mb) == 0;
}

/* glibc's malloc_info: its XML, with hakmem's figures (stats.c).  Options
 * other than 0 give EINVAL, returned as glibc's does (and in errno). */
HK_EXPORT int malloc_info(int options, FILE *fp) {
  if (options != 0 || fp == NULL) {
    errno = EINVAL;
    return EINVAL;
  }
  hk_stats_malloc_info(fp);
  return 0;
}

HK_EXPORT struct mallinfo2 mallinfo2(void) {
  struct mallinfo2 mi;
  hk_stats_mallinfo(&mi);
  return mi;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
HK_EXPORT struct mallinfo mallinfo(void) {
  struct mallinfo2 m2;
  hk_stats_mallinfo(&m2);
  struct mallinfo m;
  m.arena = (int)m2.arena;
  m.ordblks = (int)m2.ordblks;
  m.smblks = 0;
  m.hblks = (int)m2.hblks;
  m.hblkhd = (int)m2.hblkhd;
  m.usmblks = 0;
  m.fsmblks = 0;
  m.uordblks = (int)m2.uordblks;
  m.fordblks = (int)m2.fordblks;
  m.keepcost = (int)m2.keepcost;
  return m;
}
#pragma GCC diagnostic pop

/* C23 sized frees (not yet declared by every libc): the size checked in
 * hardened mode and the debug build (hk_free_sized_inline). */
void free_sized(void *p, size_t n);
void free_aligned_sized(void *p, size_t align, size_t n);
HK_EXPORT void free_sized(void *p, size_t n) { hk_api_free_sized(p, n); }
HK_EXPORT void free_aligned_sized(void *p, size_t align, size_t n) {
  (void)align;
  hk_api_free_sized(p, n);
}

/* glibc's internal names, used by some programs and by libc itself. */
void *__libc_malloc(size_t n);
void __libc_free(void *p);
void *__libc_calloc(size_t c, size_t n);
void *__libc_realloc(void *p, size_t n);
void *__libc_memalign(size_t a, size_t n);
void *__libc_valloc(size_t n);
void *__libc_pvalloc(size_t n);
int __posix_memalign(void **out, size_t a, size_t n);
HK_EXPORT void *__libc_malloc(size_t n) { return hk_api_malloc(n); }
HK_EXPORT void __libc_free(void *p) { hk_api_free(p); }
HK_EXPORT void *__libc_calloc(size_t c, size_t n) { return hk_api_calloc(c, n); }
HK_EXPORT void *__libc_realloc(void *p, size_t n) { return hk_api_realloc(p, n); }
HK_EXPORT void *__libc_memalign(size_t a, size_t n) { return memalign(a, n); }
HK_EXPORT void *__libc_valloc(size_t n) { return valloc(n); }
HK_EXPORT void *__libc_pvalloc(size_t n) { return pvalloc(n); }
HK_EXPORT int __posix_memalign(void **out, size_t a, size_t n) { return posix_memalign(out, a, n); }

/* ---- hakmem's own API ----------------------------------------------------- */

HK_EXPORT void *hak_malloc(size_t n) { return hk_api_malloc(n); }
HK_EXPORT void hak_free(void *p) { hk_api_free(p); }
HK_EXPORT void hak_free_sized(void *p, size_t n) { hk_api_free_sized(p, n); }
HK_EXPORT void *hak_calloc(size_t count, size_t size) { return hk_api_calloc(count, size); }
HK_EXPORT void *hak_realloc(void *p, size_t n) { return hk_api_realloc(p, n); }
HK_EXPORT void *hak_aligned_alloc(size_t align, size_t n) { return aligned_alloc(align, n); }
HK_EXPORT size_t hak_usable_size(const void *p) { return hk_usable_size(p); }
HK_EXPORT int hak_abi_version(void) { return HAKMEM_ABI_VERSION; }
HK_EXPORT const char *hak_version(void) { return HAKMEM_VERSION_STRING; }
