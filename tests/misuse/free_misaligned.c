/* expect: free of a misaligned pointer */
/* free_misaligned.c — misuse test for tests/misuse.sh:
 * p = malloc(64); free(p + 1).
 * Prints the pointer it misuses, then misuses it once. */
#include "misuse.h"

int main(void)
{
    char *volatile p = malloc(64);
    char *volatile q = p + 1;
    announce(q);
    free(q);
    return survived();
}
