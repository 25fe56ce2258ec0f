/* hakmem — a general-purpose memory allocator for Linux.
 *
 * Linking libhakmem (or LD_PRELOAD=libhakmem.so) replaces malloc, free and the
 * rest of the C library's allocator.  This header declares hakmem's own API,
 * which works the same whether or not the malloc family is overridden.
 */
#ifndef HAKMEM_H
#define HAKMEM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ABI version: bumped when a public struct or a function's meaning changes. */
#define HAKMEM_ABI_VERSION 1

#if defined(__GNUC__)
#define HAK_API __attribute__((visibility("default")))
#define HAK_MALLOC_ATTR __attribute__((malloc, warn_unused_result))
#else
#define HAK_API
#define HAK_MALLOC_ATTR
#endif

HAK_API HAK_MALLOC_ATTR void *hak_malloc(size_t size);
HAK_API HAK_MALLOC_ATTR void *hak_calloc(size_t count, size_t size);
HAK_API void *hak_realloc(void *ptr, size_t size);
/* alignment: a power of two (any size is accepted, as C23 aligned_alloc). */
HAK_API HAK_MALLOC_ATTR void *hak_aligned_alloc(size_t alignment, size_t size);
HAK_API void hak_free(void *ptr);
/* Free with the size given at allocation (or any size up to hak_usable_size). */
HAK_API void hak_free_sized(void *ptr, size_t size);
/* Bytes usable at ptr (at least the size requested); 0 for NULL. */
HAK_API size_t hak_usable_size(const void *ptr);
/* The library's HAKMEM_ABI_VERSION: compare with the header's. */
HAK_API int hak_abi_version(void);

/* Nonzero when the library loaded at run time was built for this header. */
static inline int hak_abi_compatible(void) { return hak_abi_version() == HAKMEM_ABI_VERSION; }

#ifdef __cplusplus
}
#endif

#endif /* HAKMEM_H */
