/* expect: double free */
/* double_free_tiny.c — misuse test for tests/misuse.sh:
 * malloc(16) freed twice, nothing allocated in between.
 * Prints the pointer it misuses, then misuses it once. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    char *volatile q = malloc(16);
    printf("0x%016lx\n", (unsigned long)(uintptr_t)q);
    fflush(stdout);
    free(q);
    free(q);
    puts("survived");
    return 0;
}
