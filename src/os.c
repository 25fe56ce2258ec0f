/* hakmem os: the only place that talks to the kernel about memory. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <time.h>

hk_os_counters_t hk_os_counters;

/* A small file (/proc, /sys) into buf, NUL-terminated, without allocating;
 * false if it cannot be read.  Opened each time: a kept descriptor could
 * be closed or reused by the program. */
bool hk_os_read_file(const char *path, char *buf, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = read(fd, buf, size - 1);
  close(fd);
  if (n <= 0) return false;
  buf[n] = 0;
  return true;
}

/* The process's resident set in bytes, from /proc/self/statm. */
uint64_t hk_os_resident_bytes(void) {
  char buf[128];
  if (!hk_os_read_file("/proc/self/statm", buf, sizeof buf)) return 0;
  const char *p = buf;
  while (*p && *p != ' ') p++; /* size, then resident */
  uint64_t pages = 0;
  for (p++; *p >= '0' && *p <= '9'; p++) pages = pages * 10 + (uint64_t)(*p - '0');
  return pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

uint64_t hk_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The CPU time the kernel takes to fault in a page hakmem gave back (trap,
 * zeroing, mapping): the least of three rounds of 64 fresh pages, timed on
 * the calling thread's clock.  From 0.1 to a few us depending on the machine
 * (and the hypervisor).  0 if it cannot be measured.  Its mapping is not
 * counted in hk_os_counters: it is not memory for the program. */
double hk_os_fault_ns(void) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE), n = 64;
  double best = 0.0;
  for (int round = 0; round < 3; round++) {
    volatile uint8_t *p =
        mmap(NULL, n * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) break;
    madvise((void *)p, n * page, MADV_NOHUGEPAGE); /* one fault per page */
    struct timespec a, b;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    for (size_t i = 0; i < n; i++) p[i * page] = 1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
    munmap((void *)p, n * page);
    double ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / (double)n;
    if (round == 0 || ns < best) best = ns;
  }
  return best > 0.0 ? best : 0.0;
}

static void count(_Atomic size_t *c) { atomic_fetch_add_explicit(c, 1, memory_order_relaxed); }

static void *map_raw(void *hint, size_t size, int extra_flags) {
  void *p = mmap(hint, size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | extra_flags, -1, 0);
  count(&hk_os_counters.mmap_calls);
  if (p == MAP_FAILED) return NULL;
  atomic_fetch_add_explicit(&hk_os_counters.mapped_bytes, size, memory_order_relaxed);
  atomic_fetch_add_explicit(&hk_os_counters.mapped_total, size, memory_order_relaxed);
  return p;
}

void *hk_os_map(size_t size) {
  void *p = map_raw(NULL, size, 0);
  if (!p) errno = ENOMEM;
  return p;
}

void hk_os_unmap(void *p, size_t size) {
  if (size == 0) return;
  munmap(p, size);
  count(&hk_os_counters.munmap_calls);
  atomic_fetch_sub_explicit(&hk_os_counters.mapped_bytes, size, memory_order_relaxed);
  atomic_fetch_add_explicit(&hk_os_counters.unmapped_total, size, memory_order_relaxed);
}

/* Map `size` bytes at an address x with (x + skew) % align == 0.
 * align is a power of two >= the page size; skew a multiple of the page size. */
void *hk_os_map_aligned(size_t size, size_t align, size_t skew) {
  /* Often the kernel hands out an aligned range anyway: try that first. */
  uint8_t *p = map_raw(NULL, size, 0);
  if (!p) {
    errno = ENOMEM;
    return NULL;
  }
  if ((((uintptr_t)p + skew) & (align - 1)) == 0) return p;
  hk_os_unmap(p, size);
  if (size > SIZE_MAX - align) {
    errno = ENOMEM;
    return NULL;
  }
  size_t over = size + align;
  uint8_t *raw = map_raw(NULL, over, 0);
  if (!raw) {
    errno = ENOMEM;
    return NULL;
  }
  uintptr_t x = (((uintptr_t)raw + skew + align - 1) & ~(uintptr_t)(align - 1)) - skew;
  if (x < (uintptr_t)raw) x += align;
  uint8_t *aligned = (uint8_t *)x;
  hk_os_unmap(raw, (size_t)(aligned - raw));
  hk_os_unmap(aligned + size, (size_t)(raw + over - (aligned + size)));
  return aligned;
}

/* Map exactly at addr, never replacing an existing mapping. */
bool hk_os_map_fixed(void *addr, size_t size) {
  void *p = map_raw(addr, size, MAP_FIXED_NOREPLACE);
  if (p == addr) return true;
  if (p) hk_os_unmap(p, size); /* old kernels treat the flag as a hint */
  return false;
}

/* Give the pages back; the range stays mapped and reads as zero. */
void hk_os_purge(void *p, size_t size) {
  if (size == 0) return;
  madvise(p, size, MADV_DONTNEED);
  count(&hk_os_counters.madvise_calls);
  atomic_fetch_add_explicit(&hk_os_counters.purged_total, size, memory_order_relaxed);
}

/* HAKMEM_THP: ask for transparent huge pages (on), refuse them (off), or
 * (auto) ask for them on page segments (`runs`: blocks of 32 KiB and more,
 * where a 2 MiB page is at most a few blocks) and elsewhere once the heap
 * holds HK_THP_AUTO_FROM, leaving the system's policy before.  A heap that
 * large pays a fault per 2 MiB instead of 512 (a build-up runs several
 * times faster) while a 2 MiB page is a small share of it; a program of
 * small blocks and a small heap keeps 4 KiB pages and stays lean. */
static _Atomic bool thp_wide; /* auto: past the threshold */

void hk_os_advise_thp(void *p, size_t size, bool runs) {
  if (hk_cfg.thp == HK_THP_AUTO && !runs && !atomic_load_explicit(&thp_wide, memory_order_relaxed))
    return;
  madvise(p, size, hk_cfg.thp == HK_THP_OFF ? MADV_NOHUGEPAGE : MADV_HUGEPAGE);
  count(&hk_os_counters.madvise_calls);
}

/* True once, when HAKMEM_THP=auto's heap (`held` bytes in use) crosses
 * the threshold (the caller then advises what was mapped before). */
bool hk_os_thp_crossed(size_t held) {
  if (hk_cfg.thp != HK_THP_AUTO || atomic_load_explicit(&thp_wide, memory_order_relaxed) ||
      held < HK_THP_AUTO_FROM)
    return false;
  return !atomic_exchange_explicit(&thp_wide, true, memory_order_relaxed);
}

bool hk_os_remap_inplace(void *p, size_t old_size, size_t new_size) {
  void *q = mremap(p, old_size, new_size, 0);
  count(&hk_os_counters.mremap_calls);
  if (q == MAP_FAILED) return false;
  if (new_size > old_size) {
    atomic_fetch_add_explicit(&hk_os_counters.mapped_bytes, new_size - old_size,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&hk_os_counters.mapped_total, new_size - old_size,
                              memory_order_relaxed);
  } else {
    atomic_fetch_sub_explicit(&hk_os_counters.mapped_bytes, old_size - new_size,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&hk_os_counters.unmapped_total, old_size - new_size,
                              memory_order_relaxed);
  }
  return true;
}

/* Move the pages of [p, p+old_size) to `to` (a mapping of new_size bytes we own). */
bool hk_os_remap_move(void *p, size_t old_size, size_t new_size, void *to) {
  void *q = mremap(p, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, to);
  count(&hk_os_counters.mremap_calls);
  if (q == MAP_FAILED) return false;
  /* the old range is gone; the target range was already counted */
  atomic_fetch_sub_explicit(&hk_os_counters.mapped_bytes, old_size, memory_order_relaxed);
  atomic_fetch_add_explicit(&hk_os_counters.unmapped_total, old_size, memory_order_relaxed);
  return true;
}
