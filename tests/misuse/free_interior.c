/* expect: free of an interior pointer */
/* free_interior.c — misuse test for tests/misuse.sh:
 * p = malloc(64); free(p + 16).
 * Prints the pointer it misuses, then misuses it once. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    char *volatile p = malloc(64);
    char *volatile q = p + 16;
    printf("0x%016lx\n", (unsigned long)(uintptr_t)q);
    fflush(stdout);
    free(q);
    puts("survived");
    return 0;
}
