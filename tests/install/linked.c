/* Built against an installed hakmem (pkg-config, or libhakmem.a): malloc must
 * be hakmem's, and the header must match the library. */
#include <hakmem.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  if (!hak_abi_compatible()) {
    fprintf(stderr, "header ABI %d, library ABI %d\n", HAKMEM_ABI_VERSION, hak_abi_version());
    return 1;
  }
  void *p = malloc(100);
  /* hakmem rounds 100 up to its 112-byte class; glibc would report 104 */
  if (!p || malloc_usable_size(p) != hak_usable_size(p) || hak_usable_size(p) != 112) {
    fprintf(stderr, "malloc is not hakmem's (usable %zu)\n", p ? malloc_usable_size(p) : 0);
    return 1;
  }
  free(p);
  puts("linked against hakmem: ok");
  return 0;
}
