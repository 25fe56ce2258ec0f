/* expect: free of a pointer hakmem did not allocate */
/* free_global.c — misuse test for tests/misuse.sh:
 * free of a 16-aligned element of a static global array.
 * Prints the pointer it misuses, then misuses it once. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static _Alignas(16) char global_buf[256];

int main(void)
{
    char *volatile q = &global_buf[32];
    printf("0x%016lx\n", (unsigned long)(uintptr_t)q);
    fflush(stdout);
    free(q);
    puts("survived");
    return 0;
}
