/* expect: realloc of a freed block */
/* realloc_freed.c — misuse test for tests/misuse.sh:
 * p = malloc(32); free(p); realloc(p, 64).
 * Prints the pointer it misuses, then misuses it once. */
#include "misuse.h"

int main(void)
{
    char *volatile q = malloc(32);
    announce(q);
    free(q);
    void *volatile r = realloc(q, 64);
    (void)r;
    return survived();
}
