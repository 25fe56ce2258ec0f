/* expect: free of an interior pointer */
/* free_interior.c — misuse test for tests/misuse.sh:
 * p = malloc(64); free(p + 16).
 * Prints the pointer it misuses, then misuses it once. */
#include "misuse.h"

int main(void)
{
    char *volatile p = malloc(64);
    char *volatile q = p + 16;
    announce(q);
    free(q);
    return survived();
}
