/* expect: malloc_usable_size of a freed block */
/* usable_size_freed.c — misuse test for tests/misuse.sh:
 * p = malloc(48); free(p); malloc_usable_size(p).
 * Prints the pointer it misuses, then misuses it once. */
#include "misuse.h"
#include <malloc.h>

int main(void)
{
    char *volatile q = malloc(48);
    announce(q);
    free(q);
    volatile size_t n = malloc_usable_size(q);
    (void)n;
    return survived();
}
