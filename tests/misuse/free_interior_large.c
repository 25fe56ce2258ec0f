/* expect: free of an interior pointer */
/* free_interior_large.c — misuse test for tests/misuse.sh:
 * p = malloc(200000); free(p + 4096).
 * Prints the pointer it misuses, then misuses it once. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    char *volatile p = malloc(200000);
    char *volatile q = p + 4096;
    printf("0x%016lx\n", (unsigned long)(uintptr_t)q);
    fflush(stdout);
    free(q);
    puts("survived");
    return 0;
}
