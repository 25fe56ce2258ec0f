/* expect: free of a pointer hakmem did not allocate */
/* free_global.c — misuse test for tests/misuse.sh:
 * free of a 16-aligned element of a static global array.
 * Prints the pointer it misuses, then misuses it once. */
#include "misuse.h"

static _Alignas(16) char global_buf[256];

int main(void)
{
    char *volatile q = &global_buf[32];
    announce(q);
    free(q);
    return survived();
}
