/* expect: free of a misaligned pointer */
/* free_misaligned.c — misuse test for tests/misuse.sh:
 * p = malloc(64); free(p + 1).
 * Prints the pointer it misuses, then misuses it once. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    char *volatile p = malloc(64);
    char *volatile q = p + 1;
    printf("0x%016lx\n", (unsigned long)(uintptr_t)q);
    fflush(stdout);
    free(q);
    puts("survived");
    return 0;
}
