/* expect: free of an interior pointer */
/* free_interior_huge.c — misuse test for tests/misuse.sh:
 * p = malloc(8 MiB); free(p + 4096).
 * Prints the pointer it misuses, then misuses it once. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    char *volatile p = malloc((size_t)8 << 20);
    char *volatile q = p + 4096;
    printf("0x%016lx\n", (unsigned long)(uintptr_t)q);
    fflush(stdout);
    free(q);
    puts("survived");
    return 0;
}
