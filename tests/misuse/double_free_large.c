/* expect: double free */
/* double_free_large.c — misuse test for tests/misuse.sh:
 * malloc(200000) (a large span, < 1 MiB) freed twice.
 * Prints the pointer it misuses, then misuses it once. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    char *volatile q = malloc(200000);
    printf("0x%016lx\n", (unsigned long)(uintptr_t)q);
    fflush(stdout);
    free(q);
    free(q);
    puts("survived");
    return 0;
}
