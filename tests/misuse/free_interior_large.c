/* expect: free of an interior pointer */
/* free_interior_large.c — misuse test for tests/misuse.sh:
 * p = malloc(200000); free(p + 4096).
 * Prints the pointer it misuses, then misuses it once. */
#include "misuse.h"

int main(void)
{
    char *volatile p = malloc(200000);
    char *volatile q = p + 4096;
    announce(q);
    free(q);
    return survived();
}
