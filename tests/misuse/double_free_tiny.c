/* expect: double free */
/* double_free_tiny.c — misuse test for tests/misuse.sh:
 * malloc(16) freed twice, nothing allocated in between.
 * Prints the pointer it misuses, then misuses it once. */
#include "misuse.h"

int main(void)
{
    char *volatile q = malloc(16);
    announce(q);
    free(q);
    free(q);
    return survived();
}
