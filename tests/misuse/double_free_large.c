/* expect: double free */
/* double_free_large.c — misuse test for tests/misuse.sh:
 * malloc(200000) (a large span, < 1 MiB) freed twice.
 * Prints the pointer it misuses, then misuses it once. */
#include "misuse.h"

int main(void)
{
    char *volatile q = malloc(200000);
    announce(q);
    free(q);
    free(q);
    return survived();
}
