/* expect: free of an interior pointer */
/* free_interior_huge.c — misuse test for tests/misuse.sh:
 * p = malloc(8 MiB); free(p + 4096).
 * Prints the pointer it misuses, then misuses it once. */
#include "misuse.h"

int main(void)
{
    char *volatile p = malloc((size_t)8 << 20);
    char *volatile q = p + 4096;
    announce(q);
    free(q);
    return survived();
}
