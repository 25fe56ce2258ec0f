/* expect: realloc of a freed block */
/* realloc_freed.c — misuse test for tests/misuse.sh:
 * p = malloc(32); free(p); realloc(p, 64).
 * Prints the pointer it misuses, then misuses it once. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    char *volatile q = malloc(32);
    printf("0x%016lx\n", (unsigned long)(uintptr_t)q);
    fflush(stdout);
    free(q);
    void *volatile r = realloc(q, 64);
    (void)r;
    puts("survived");
    return 0;
}
