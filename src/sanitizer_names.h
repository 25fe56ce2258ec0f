/* sanitizer_names.h — the malloc family's names in a sanitizer build.
 *
 * Under TSan or ASan the sanitizer's runtime owns malloc and free, so the
 * sanitizer builds (make tsan, make asan: -DHK_SANITIZER_NAMES=1) give
 * hakmem's definitions of the family an hks_ prefix.  override.c includes
 * this header after the system headers and so defines hks_malloc, hks_free,
 * ...; tests/testutil.h includes it too, so a test's malloc() is hakmem's,
 * through the same code as the real exports, and the sanitizer sees every
 * access the test and hakmem make to the blocks.  The macros take
 * arguments, so the types (struct mallinfo2) keep their names. */
#ifndef HAKMEM_SANITIZER_NAMES_H
#define HAKMEM_SANITIZER_NAMES_H

#include <malloc.h>
#include <stdlib.h>

#define malloc(...)             hks_malloc(__VA_ARGS__)
#define free(...)               hks_free(__VA_ARGS__)
#define calloc(...)             hks_calloc(__VA_ARGS__)
#define realloc(...)            hks_realloc(__VA_ARGS__)
#define reallocarray(...)       hks_reallocarray(__VA_ARGS__)
#define posix_memalign(...)     hks_posix_memalign(__VA_ARGS__)
#define aligned_alloc(...)      hks_aligned_alloc(__VA_ARGS__)
#define memalign(...)           hks_memalign(__VA_ARGS__)
#define valloc(...)             hks_valloc(__VA_ARGS__)
#define pvalloc(...)            hks_pvalloc(__VA_ARGS__)
#define malloc_usable_size(...) hks_malloc_usable_size(__VA_ARGS__)
#define malloc_trim(...)        hks_malloc_trim(__VA_ARGS__)
#define malloc_stats(...)       hks_malloc_stats(__VA_ARGS__)
#define mallinfo(...)           hks_mallinfo(__VA_ARGS__)
#define mallinfo2(...)          hks_mallinfo2(__VA_ARGS__)
#define mallopt(...)            hks_mallopt(__VA_ARGS__)
#define malloc_info(...)        hks_malloc_info(__VA_ARGS__)
#define free_sized(...)         hks_free_sized(__VA_ARGS__)
#define free_aligned_sized(...) hks_free_aligned_sized(__VA_ARGS__)
#define __libc_malloc(...)      hks___libc_malloc(__VA_ARGS__)
#define __libc_free(...)        hks___libc_free(__VA_ARGS__)
#define __libc_calloc(...)      hks___libc_calloc(__VA_ARGS__)
#define __libc_realloc(...)     hks___libc_realloc(__VA_ARGS__)
#define __libc_memalign(...)    hks___libc_memalign(__VA_ARGS__)
#define __libc_valloc(...)      hks___libc_valloc(__VA_ARGS__)
#define __libc_pvalloc(...)     hks___libc_pvalloc(__VA_ARGS__)
#define __posix_memalign(...)   hks___posix_memalign(__VA_ARGS__)

/* The prototypes, through the macros above: these declare the hks_ names. */
void *malloc(size_t n);
void free(void *p);
void *calloc(size_t count, size_t size);
void *realloc(void *p, size_t n);
void *reallocarray(void *p, size_t count, size_t size);
int posix_memalign(void **out, size_t align, size_t n);
void *aligned_alloc(size_t align, size_t n);
void *memalign(size_t align, size_t n);
void *valloc(size_t n);
void *pvalloc(size_t n);
size_t malloc_usable_size(void *p);
int malloc_trim(size_t pad);
void malloc_stats(void);
struct mallinfo mallinfo(void);
struct mallinfo2 mallinfo2(void);
int mallopt(int param, int value);
int malloc_info(int options, FILE *fp);

#endif
