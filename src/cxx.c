/* hakmem's C++ operators new and delete, all twenty forms (plain, array,
 * nothrow, aligned, sized), written in C under their Itanium-ABI names so
 * that the library needs no C++ compiler and no libstdc++.  They live in one
 * object: a program linked with libhakmem.a that calls one of them gets them
 * all, never our new with libstdc++'s delete.
 *
 * Out of memory, as the standard wants: the new-handler is called and the
 * allocation tried again while there is one; with none, the throwing forms
 * throw std::bad_alloc and the nothrow forms return NULL.  The C++ runtime's
 * std::get_new_handler and std::__throw_bad_alloc are weak references, there
 * when a C++ program runs (libstdc++ and libc++ both export them); a
 * new-handler that throws from a nothrow form unwinds through here.
 *
 * Sized deletes go to hk_free_sized_inline (through track.h): free's fast
 * path, which never looks up a size class; hardened mode and the debug
 * build check the size against the block first. */
#include "track.h"

#ifndef HK_SANITIZER_NAMES /* under a sanitizer its runtime owns new and delete */

/* The mangled names have no C declarations to come first. */
#pragma GCC diagnostic ignored "-Wmissing-prototypes"

#define HK_EXPORT __attribute__((visibility("default")))
#define HK_WEAK   __attribute__((weak))

typedef void (*hk_new_handler)(void);
HK_WEAK hk_new_handler _ZSt15get_new_handlerv(void); /* std::get_new_handler() */
HK_WEAK __attribute__((noreturn)) void
_ZSt17__throw_bad_allocv(void); /* std::__throw_bad_alloc() */

/* The allocation failed: the new-handler's loop.  NULL only for nothrow. */
static HK_NOINLINE void *new_failed(size_t n, size_t align, bool nothrow) {
  for (;;) {
    hk_new_handler handler = _ZSt15get_new_handlerv ? _ZSt15get_new_handlerv() : NULL;
    if (!handler) {
      if (nothrow) return NULL;
      if (_ZSt17__throw_bad_allocv) _ZSt17__throw_bad_allocv();
      hk_fatal("operator new: out of memory, and no C++ runtime to throw std::bad_alloc", NULL);
    }
    handler();
    void *p = align ? hk_api_aligned(align, n) : hk_api_malloc(n);
    if (p) return p;
  }
}

static HK_ALWAYS_INLINE void *new_plain(size_t n, bool nothrow) {
  void *p = hk_api_malloc(n);
  return hk_likely(p != NULL) ? p : new_failed(n, 0, nothrow);
}
/* An alignment not a power of two is undefined behaviour in C++; here it
 * fails as aligned_alloc does (NULL, or std::bad_alloc). */
static void *new_aligned(size_t n, size_t align, bool nothrow) {
  if (align <= HK_ALIGN_NATURAL) return new_plain(n, nothrow);
  if (align & (align - 1)) {
    if (nothrow) return NULL;
    if (_ZSt17__throw_bad_allocv) _ZSt17__throw_bad_allocv();
    hk_fatal("operator new: an alignment not a power of two", NULL);
  }
  void *p = hk_api_aligned(align, n);
  return p ? p : new_failed(n, align, nothrow);
}

/* nothrow_t is an empty struct, passed by reference; align_val_t a size_t. */
typedef struct hk_nothrow_s hk_nothrow_t;

HK_EXPORT void *_Znwm(size_t n) { return new_plain(n, false); }
HK_EXPORT void *_Znam(size_t n) { return new_plain(n, false); }
HK_EXPORT void *_ZnwmRKSt9nothrow_t(size_t n, const hk_nothrow_t *t) {
  (void)t;
  return new_plain(n, true);
}
HK_EXPORT void *_ZnamRKSt9nothrow_t(size_t n, const hk_nothrow_t *t) {
  (void)t;
  return new_plain(n, true);
}
HK_EXPORT void *_ZnwmSt11align_val_t(size_t n, size_t a) { return new_aligned(n, a, false); }
HK_EXPORT void *_ZnamSt11align_val_t(size_t n, size_t a) { return new_aligned(n, a, false); }
HK_EXPORT void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t n, size_t a, const hk_nothrow_t *t) {
  (void)t;
  return new_aligned(n, a, true);
}
HK_EXPORT void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t n, size_t a, const hk_nothrow_t *t) {
  (void)t;
  return new_aligned(n, a, true);
}

HK_EXPORT void _ZdlPv(void *p) { hk_api_free(p); }
HK_EXPORT void _ZdaPv(void *p) { hk_api_free(p); }
HK_EXPORT void _ZdlPvm(void *p, size_t n) { hk_api_free_sized(p, n); }
HK_EXPORT void _ZdaPvm(void *p, size_t n) { hk_api_free_sized(p, n); }
HK_EXPORT void _ZdlPvRKSt9nothrow_t(void *p, const hk_nothrow_t *t) {
  (void)t;
  hk_api_free(p);
}
HK_EXPORT void _ZdaPvRKSt9nothrow_t(void *p, const hk_nothrow_t *t) {
  (void)t;
  hk_api_free(p);
}
HK_EXPORT void _ZdlPvSt11align_val_t(void *p, size_t a) {
  (void)a;
  hk_api_free(p);
}
HK_EXPORT void _ZdaPvSt11align_val_t(void *p, size_t a) {
  (void)a;
  hk_api_free(p);
}
HK_EXPORT void _ZdlPvmSt11align_val_t(void *p, size_t n, size_t a) {
  (void)a;
  hk_api_free_sized(p, n);
}
HK_EXPORT void _ZdaPvmSt11align_val_t(void *p, size_t n, size_t a) {
  (void)a;
  hk_api_free_sized(p, n);
}
HK_EXPORT void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, size_t a, const hk_nothrow_t *t) {
  (void)a, (void)t;
  hk_api_free(p);
}
HK_EXPORT void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, size_t a, const hk_nothrow_t *t) {
  (void)a, (void)t;
  hk_api_free(p);
}

#endif
