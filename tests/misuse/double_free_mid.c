/* expect: double free */
/* double_free_mid.c — misuse test for tests/misuse.sh:
 * malloc(20000) (a small class near 20 KiB) freed twice.
 * Prints the pointer it misuses, then misuses it once. */
#include "misuse.h"

int main(void)
{
    char *volatile q = malloc(20000);
    announce(q);
    free(q);
    free(q);
    return survived();
}
