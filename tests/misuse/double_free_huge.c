/* expect: double free */
/* double_free_huge.c — misuse test for tests/misuse.sh:
 * malloc(8 MiB) (a direct mapping) freed twice.
 * Prints the pointer it misuses, then misuses it once. */
#include "misuse.h"

int main(void)
{
    char *volatile q = malloc((size_t)8 << 20);
    announce(q);
    free(q);
    free(q);
    return survived();
}
