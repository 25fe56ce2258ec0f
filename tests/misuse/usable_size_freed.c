/* expect: malloc_usable_size of a freed block */
/* usable_size_freed.c — misuse test for tests/misuse.sh:
 * p = malloc(48); free(p); malloc_usable_size(p).
 * Prints the pointer it misuses, then misuses it once. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <malloc.h>

int main(void)
{
    char *volatile q = malloc(48);
    printf("0x%016lx\n", (unsigned long)(uintptr_t)q);
    fflush(stdout);
    free(q);
    volatile size_t n = malloc_usable_size(q);
    (void)n;
    puts("survived");
    return 0;
}
